"""The monthly cycle on a fake clock: prompts, reminders, escalation, lost contact, quiet
hours, catch-up after an outage, and the timers rebuilt from the schedule rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.botapi import BotApiError, LocalBotApi
from bot.context import LiaisonApplication, Services
from bot.terminal import html_to_text
from messages.sms_text import encode_sms
from scheduler.jobs import RunReport
from scheduler.timers import CycleScheduler
from storage.calendar import CycleError, CycleRule, QuietHours, add_months
from storage.checkins import Whereabouts, record_checkin
from storage.clock import FakeClock
from storage.cycles import (
    CycleRequest,
    LostContactError,
    changed_rule,
    confirm_lost_contact,
    parse_cycle_request,
    set_group_cycle,
)
from storage.db import Database
from storage.models import (
    Consent,
    Delivery,
    DeliveryStatus,
    Group,
    Member,
    MessageKind,
    StaffRole,
    WorkSituation,
)
from storage.notices import create_notice
from storage.settings import ConfigError, load_settings
from tests.chat import Person, talk
from tests.cycle_harness import SHANGHAI, District, local
from tests.factories import make_checkin, make_group, make_member, make_staff, make_unit

BERLIN = ZoneInfo("Europe/Berlin")
DUBAI = ZoneInfo("Asia/Dubai")
NOV = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def district(
    services: Services, application: LiaisonApplication, bot_api: LocalBotApi, clock: FakeClock
) -> District:
    return District(services, application, bot_api, clock)


async def _group(db: Database) -> Group:
    return await make_group(db, NOV, "驻深圳流动党员党小组")


def _texts(api: LocalBotApi, chat_id: int) -> list[str]:
    return [html_to_text(o.text) for o in api.sent if o.chat_id == chat_id and o.text]


# --- prompts -------------------------------------------------------------------------------


async def test_the_prompt_goes_on_the_first_at_nine_in_each_members_own_time_zone(
    db: Database, district: District, bot_api: LocalBotApi
) -> None:
    group = await _group(db)
    wuhan = await make_member(
        db, NOV, name="张伟", telegram_user_id=1001, groups=[group], phone="+8613800000001"
    )
    berlin = await make_member(
        db,
        NOV,
        name="李娜",
        telegram_user_id=1002,
        groups=[group],
        phone="+8613800000002",
        timezone="Europe/Berlin",
    )
    sms_only = await make_member(db, NOV, name="王强", groups=[group], phone="+8613800000003")
    await make_checkin(db, wuhan, NOV, city="深圳市", situation=WorkSituation.CHANGED_JOB)

    early = await district.at(local(SHANGHAI, 2026, 12, 1, 8, 59))
    assert early.messages == 0

    report = await district.at(local(SHANGHAI, 2026, 12, 1, 9, 0))
    assert report.messages == 2  # Wuhan on Telegram, the member without Telegram by SMS
    [prompt] = [o for o in bot_api.sent if o.chat_id == wuhan.telegram_user_id]
    text = html_to_text(prompt.text)
    assert "2026-12 的月度报到开始了" in text
    assert "上次（2026-11）：深圳市，换了工作" in text
    assert [b.text for b in prompt.flat_buttons] == ["✅ 与上月相同", "📝 现在报到"]
    [(_, sms)] = district.sms.sent
    assert sms.address == sms_only.phone
    # 王强 has no bot to send /checkin in: he is told how to check in by answering the SMS
    # (no "same as last month": he has no check-in to repeat).
    assert sms.text == (
        "【月度报到】2026-12月度报到开始了。请回复“报到 所在地”，如“报到 深圳南山”。"
    )
    # One SMS part (70 characters in UCS-2), as before.
    assert len(encode_sms(sms.text, 0).parts) == 1

    # The same instant again (a timer that fired twice, a restart): nothing new.
    again = await district.at(local(SHANGHAI, 2026, 12, 1, 9, 0))
    assert again.messages == 0
    assert len(bot_api.sent) == 1 and len(district.sms.sent) == 1

    # 09:00 in Berlin is seven hours later; her prompt has no "same" button (no history).
    await district.at(local(BERLIN, 2026, 12, 1, 9, 0))
    [berlin_prompt] = [o for o in bot_api.sent if o.chat_id == berlin.telegram_user_id]
    assert [b.text for b in berlin_prompt.flat_buttons] == ["📝 现在报到"]
    assert await district.kinds(berlin.id) == {"chk:2026-12:prompt": 1}


async def test_a_member_who_switched_to_dubai_time_at_the_checkin_is_prompted_at_nine_there(
    db: Database,
    district: District,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    clock: FakeClock,
) -> None:
    group = await _group(db)
    await make_member(
        db,
        NOV,
        name="张伟",
        telegram_user_id=1001,
        groups=[group],
        phone="+8613800000001",
        consent=Consent.GIVEN,
    )
    clock.set(NOV)
    zhang = Person(application, bot_api, 1001)
    await talk(
        zhang,
        [
            ("/checkin", "您现在在哪里"),
            ("迪拜", "2/3"),
            ("工作稳定", None),
            ("跳过", None),
            ("不需要", None),
            ("✅ 确认提交", "要按当地时间给您发每月报到提醒吗"),
            ("🕘 改用当地时间", None),
        ],
    )

    # 09:00 in Wuhan is 05:00 in Dubai: nothing for him yet.
    assert (await district.at(local(SHANGHAI, 2026, 12, 1, 9, 0))).messages == 0
    await district.at(local(DUBAI, 2026, 12, 1, 8, 59))
    assert _texts(bot_api, 1001)[-1].startswith("✅ 已保存")  # still the check-in's answer
    report = await district.at(local(DUBAI, 2026, 12, 1, 9, 0))
    assert report.messages == 1
    assert "2026-12 的月度报到开始了" in _texts(bot_api, 1001)[-1]
    assert await district.kinds(await _member_id(db, 1001)) == {"chk:2026-12:prompt": 1}


async def _member_id(db: Database, telegram_user_id: int) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(Member.id).where(Member.telegram_user_id == telegram_user_id)
        )
    assert found is not None
    return found


async def test_english_members_get_the_prompt_in_english(
    db: Database, district: District, bot_api: LocalBotApi
) -> None:
    group = await _group(db)
    anna = await make_member(
        db, NOV, name="Anna", telegram_user_id=1003, groups=[group], locale="en", phone=None
    )
    await make_checkin(db, anna, NOV, city="深圳市")
    await district.at(local(SHANGHAI, 2026, 12, 1, 9, 0))
    [prompt] = _texts(bot_api, 1003)
    assert "Monthly check-in: the check-in for 2026-12 has started." in prompt
    assert "Last time (2026-11): 深圳市, Stable." in prompt
    assert [b.text for b in bot_api.sent[0].flat_buttons] == [
        "✅ Same as last month",
        "📝 Check in now",
    ]


# --- reminders -----------------------------------------------------------------------------


async def test_reminders_after_three_and_seven_days_reach_only_the_silent(
    db: Database, district: District, bot_api: LocalBotApi
) -> None:
    group = await _group(db)
    silent = await make_member(db, NOV, name="沉默", telegram_user_id=1001, groups=[group])
    prompt_taker = await make_member(
        db, NOV, name="及时", telegram_user_id=1002, groups=[group], phone="+8613800000002"
    )
    await district.at(local(SHANGHAI, 2026, 12, 1, 9, 0))
    await make_checkin(db, prompt_taker, local(SHANGHAI, 2026, 12, 2, 20, 0), city="武汉市")
    for day in (4, 8):
        await district.at(local(SHANGHAI, 2026, 12, day, 9, 0))
    assert await district.kinds(silent.id) == {
        "chk:2026-12:prompt": 1,
        "chk:2026-12:r1": 1,
        "chk:2026-12:r2": 1,
    }
    assert await district.kinds(prompt_taker.id) == {"chk:2026-12:prompt": 1}
    reminders = _texts(bot_api, 1001)[1:]
    assert all("您还没有完成 2026-12 的月度报到" in text for text in reminders)


async def test_checking_in_drops_a_reminder_still_waiting_for_the_morning(
    db: Database, district: District, services: Services
) -> None:
    group = await _group(db)
    member = await make_member(db, NOV, name="夜班", telegram_user_id=1001, groups=[group])
    async with db.session() as session:
        await set_group_cycle(
            session,
            NOV,
            group_id=group.id,
            rule=CycleRule(prompt_time=time(22, 0)),
            actor="staff:1",
        )
    # 22:00 is inside quiet hours: the prompt waits for 08:00.
    await district.at(local(SHANGHAI, 2026, 12, 1, 22, 0))
    [waiting] = await district.pending()
    assert waiting.next_attempt_at == local(SHANGHAI, 2026, 12, 2, 8, 0)
    await district.send_due(local(SHANGHAI, 2026, 12, 1, 23, 30))
    assert district.telegram_times == []
    await district.send_due(local(SHANGHAI, 2026, 12, 2, 8, 0))
    assert district.telegram_times == [local(SHANGHAI, 2026, 12, 2, 8, 0)]

    # The first reminder is due at 22:00 on the 4th and waits; she checks in at 07:00.
    await district.at(local(SHANGHAI, 2026, 12, 4, 22, 0))
    async with db.session() as session:
        await record_checkin(
            session,
            local(SHANGHAI, 2026, 12, 5, 7, 0),
            member_id=member.id,
            zone=services.settings.zone,
            location=Whereabouts.typed("武汉", None),
            work_situation=WorkSituation.STABLE,
        )
    await district.send_due(local(SHANGHAI, 2026, 12, 5, 8, 0))
    assert len(district.telegram_times) == 1
    [dropped] = await district.member_topic(member.id, "chk:2026-12:r1")
    assert dropped.status is DeliveryStatus.SUPPRESSED
    assert dropped.last_error == "checked in meanwhile"


# --- catch-up ------------------------------------------------------------------------------


async def test_a_week_late_prompt_still_goes_but_not_the_reminders_it_overtook(
    db: Database, district: District
) -> None:
    group = await _group(db)
    member = await make_member(db, NOV, name="张伟", telegram_user_id=1001, groups=[group])
    # The service was down from 30 November to 9 December.
    await district.at(local(SHANGHAI, 2026, 12, 9, 10, 0))
    assert await district.kinds(member.id) == {"chk:2026-12:prompt": 1}
    for day in range(10, 32):
        await district.at(local(SHANGHAI, 2026, 12, day, 9, 0))
    assert await district.kinds(member.id) == {"chk:2026-12:prompt": 1}


async def test_a_reminder_overtaken_during_an_outage_is_skipped_the_next_one_goes(
    db: Database, district: District
) -> None:
    group = await _group(db)
    member = await make_member(db, NOV, name="张伟", telegram_user_id=1001, groups=[group])
    await district.at(local(SHANGHAI, 2026, 12, 1, 9, 0))
    # Down from the 3rd to 10:00 on the 9th: the first reminder (4th) was overtaken.
    await district.at(local(SHANGHAI, 2026, 12, 9, 10, 0))
    await district.at(local(SHANGHAI, 2026, 12, 9, 10, 0))
    assert await district.kinds(member.id) == {"chk:2026-12:prompt": 1, "chk:2026-12:r2": 1}


# --- quiet hours ---------------------------------------------------------------------------


async def test_notices_wait_for_the_morning_unless_marked_urgent(
    db: Database, district: District, bot_api: LocalBotApi
) -> None:
    group = await _group(db)
    await make_member(db, NOV, name="张伟", telegram_user_id=1001, groups=[group])
    await make_member(
        db,
        NOV,
        name="Max",
        telegram_user_id=1002,
        groups=[group],
        phone="+8613800000002",
        timezone="Europe/Berlin",
    )
    late = local(SHANGHAI, 2026, 11, 20, 23, 0)  # 16:00 in Berlin
    async with db.session() as session:
        for body, urgent in (("明早开会", False), ("暴雨停工，注意安全", True)):
            await create_notice(
                session,
                late,
                author="staff:1",
                author_name="李联络",
                body=body,
                groups=[group.name],
                urgent=urgent,
            )
    await district.send_due(late)
    assert any("暴雨停工" in t for t in _texts(bot_api, 1001))
    assert not any("明早开会" in t for t in _texts(bot_api, 1001))
    # Berlin is in the afternoon: both reach Max straight away.
    assert sum(1 for t in _texts(bot_api, 1002) if "明早开会" in t or "暴雨停工" in t) == 2
    await district.send_due(local(SHANGHAI, 2026, 11, 21, 7, 59))
    assert not any("明早开会" in t for t in _texts(bot_api, 1001))
    await district.send_due(local(SHANGHAI, 2026, 11, 21, 8, 0))
    assert any("明早开会" in t for t in _texts(bot_api, 1001))
    # Holding it through the night was not a failed attempt.
    async with db.session() as session:
        held = await session.scalar(
            select(Delivery).where(Delivery.address == "1001", Delivery.topic == "n1")
        )
    assert held is not None and held.status is DeliveryStatus.DELIVERED
    assert held.attempts == 1 and held.last_error is None


def test_quiet_hours_cover_the_night_in_the_zone_given() -> None:
    quiet = QuietHours(time(21, 0), time(8, 0))
    assert quiet.contains(local(SHANGHAI, 2026, 12, 1, 21, 0), SHANGHAI)
    assert quiet.contains(local(SHANGHAI, 2026, 12, 1, 7, 59), SHANGHAI)
    assert not quiet.contains(local(SHANGHAI, 2026, 12, 1, 8, 0), SHANGHAI)
    late = local(SHANGHAI, 2026, 12, 1, 23, 0)
    assert quiet.next_open(late, SHANGHAI) == local(SHANGHAI, 2026, 12, 2, 8, 0)
    # 23:00 in Wuhan is 16:00 in Berlin: open there.
    assert quiet.next_open(late, BERLIN) == late
    assert not QuietHours(time(0, 0), time(0, 0)).contains(late, SHANGHAI)
    day_shift = QuietHours(time(12, 0), time(14, 0))
    assert day_shift.next_open(local(SHANGHAI, 2026, 12, 1, 13, 0), SHANGHAI) == local(
        SHANGHAI, 2026, 12, 1, 14, 0
    )


# --- escalation ----------------------------------------------------------------------------


async def test_on_day_ten_liaisons_get_one_list_of_their_silent_members(
    db: Database, district: District, bot_api: LocalBotApi
) -> None:
    unit = await make_unit(db, NOV)
    group = await make_group(db, NOV, "驻深圳流动党员党小组", unit=unit)
    lonely = await make_group(db, NOV, "无人联络的小组", unit=unit)
    liaison = await make_staff(db, NOV, telegram_user_id=900, groups=[group])
    admin = await make_staff(
        db, NOV, telegram_user_id=901, name="王书记", role=StaffRole.ADMIN, units=[unit]
    )
    never = await make_member(
        db, NOV, name="从未报到", telegram_user_id=1001, groups=[group], phone=None
    )
    once = await make_member(
        db, NOV, name="老李", telegram_user_id=1002, groups=[group], phone="+8613800000002"
    )
    good = await make_member(
        db, NOV, name="按时", telegram_user_id=1003, groups=[group], phone="+8613800000003"
    )
    await make_member(
        db, NOV, name="<b>孤</b>", telegram_user_id=1004, groups=[lonely], phone="+8613800000004"
    )
    await make_checkin(db, once, local(SHANGHAI, 2026, 11, 2, 9, 0), city="武汉市")
    await make_checkin(db, good, local(SHANGHAI, 2026, 12, 3, 9, 0), city="武汉市")
    await district.at(local(SHANGHAI, 2026, 12, 10, 8, 0))
    assert await district.staff_messages(liaison.id, MessageKind.ESCALATION) == []
    await district.at(local(SHANGHAI, 2026, 12, 10, 9, 0))
    await district.at(local(SHANGHAI, 2026, 12, 10, 9, 0))
    [sent] = [o for o in bot_api.sent if o.chat_id == 900]
    text = html_to_text(sent.text)
    assert "【未报到名单】驻深圳流动党员党小组" in text
    assert "2026-12 有 2 名党员还没有报到" in text
    # Longest silent first (since the last check-in, or since registration); the member
    # who checked in this month is not listed.
    assert text.index("老李（已 38 天未报到）") < text.index("从未报到（从未报到）")
    assert "按时" not in text
    assert [(b.text, b.callback_data) for b in sent.flat_buttons] == [
        ("老李（38 天）", f"staff:card:{once.id}"),
        ("从未报到（30 天）", f"staff:card:{never.id}"),
    ]
    # A group without a liaison escalates to the administrator over it; names are escaped.
    [to_admin] = [o for o in bot_api.sent if o.chat_id == 901]
    assert "无人联络的小组" in to_admin.text and "&lt;b&gt;孤&lt;/b&gt;" in to_admin.text
    assert len(await district.staff_messages(admin.id, MessageKind.ESCALATION)) == 1


# --- lost contact --------------------------------------------------------------------------


async def test_six_months_of_silence_flags_lost_contact_and_only_an_admin_stops_the_prompts(
    db: Database, district: District, bot_api: LocalBotApi, services: Services
) -> None:
    unit = await make_unit(db, NOV)
    group = await make_group(db, NOV, "驻深圳流动党员党小组", unit=unit)
    liaison = await make_staff(db, NOV, telegram_user_id=900, groups=[group])
    admin = await make_staff(
        db, NOV, telegram_user_id=901, name="王书记", role=StaffRole.ADMIN, units=[unit]
    )
    member = await make_member(
        db,
        NOV,
        name="失联者",
        telegram_user_id=1001,
        groups=[group],
        unit=unit,
        registered_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    await make_checkin(db, member, local(SHANGHAI, 2026, 5, 20, 10, 0), city="深圳市")
    await district.at(local(SHANGHAI, 2026, 11, 20, 9, 0))
    async with db.session() as session:
        fresh = await session.get(Member, member.id)
        assert fresh is not None and fresh.lost_contact_at is None
    await district.at(local(SHANGHAI, 2026, 11, 21, 9, 0))
    async with db.session() as session:
        fresh = await session.get(Member, member.id)
        assert fresh is not None and fresh.lost_contact_at == local(SHANGHAI, 2026, 11, 21, 9, 0)
    # (November's silent list went out too: its day 10 had passed, within the month.)
    [to_liaison] = [o for o in bot_api.sent if o.chat_id == 900 and "失联提醒" in o.text]
    [to_admin] = [o for o in bot_api.sent if o.chat_id == 901 and "失联提醒" in o.text]
    assert "失联者 已 6 个月没有报到（最后一次：2026-05-20）" in html_to_text(to_liaison.text)
    assert [b.callback_data for b in to_liaison.flat_buttons] == [f"staff:card:{member.id}"]
    assert [b.callback_data for b in to_admin.flat_buttons] == [
        f"staff:card:{member.id}",
        f"cycle:lost:{member.id}",
    ]
    # Flagged once: later days add nothing.
    await district.at(local(SHANGHAI, 2026, 11, 22, 9, 0))
    assert len(await district.staff_messages(liaison.id, MessageKind.LOST_CONTACT)) == 1

    # Not confirmed yet: December's prompt still goes.
    await district.at(local(SHANGHAI, 2026, 12, 1, 9, 0))
    assert (await district.kinds(member.id))["chk:2026-12:prompt"] == 1
    async with db.session() as session:
        with pytest.raises(LostContactError):
            await confirm_lost_contact(
                session, NOV, member_id=member.id, staff_id=liaison.id, actor="staff:900"
            )
        await confirm_lost_contact(
            session,
            local(SHANGHAI, 2026, 12, 2, 10, 0),
            member_id=member.id,
            staff_id=admin.id,
            actor="staff:901",
        )
    await district.at(local(SHANGHAI, 2027, 1, 1, 9, 0))
    await district.at(local(SHANGHAI, 2027, 1, 4, 9, 0))
    assert not any(topic.startswith("chk:2027-01") for topic in await district.kinds(member.id))

    # Back in touch: the flag goes, and February's prompt comes again.
    async with db.session() as session:
        await record_checkin(
            session,
            local(SHANGHAI, 2027, 1, 15, 12, 0),
            member_id=member.id,
            zone=services.settings.zone,
            location=Whereabouts.typed("深圳", None),
            work_situation=WorkSituation.STABLE,
        )
        fresh = await session.get(Member, member.id)
        assert fresh is not None
        assert fresh.lost_contact_at is None and fresh.lost_contact_confirmed_at is None
    await district.at(local(SHANGHAI, 2027, 2, 1, 9, 0))
    assert (await district.kinds(member.id))["chk:2027-02:prompt"] == 1


# --- blocked the bot -----------------------------------------------------------------------


async def test_a_member_who_blocked_the_bot_gets_the_prompt_by_sms_from_then_on(
    db: Database, district: District, bot_api: LocalBotApi
) -> None:
    group = await _group(db)
    member = await make_member(
        db, NOV, name="张伟", telegram_user_id=1001, groups=[group], phone="+8613800000001"
    )
    bot_api.fail_next("sendMessage", BotApiError(403, "Forbidden: bot was blocked by the user"))
    await district.at(local(SHANGHAI, 2026, 12, 1, 9, 0))
    [(_, sms)] = district.sms.sent
    assert "2026-12月度报到开始了" in sms.text
    await district.at(local(SHANGHAI, 2026, 12, 4, 9, 0))
    assert len(district.sms.sent) == 2
    assert "您还没有完成2026-12的月度报到" in district.sms.sent[1][1].text
    assert await district.kinds(member.id) == {"chk:2026-12:prompt": 2, "chk:2026-12:r1": 1}


# --- settings and the timers ---------------------------------------------------------------


def test_cycle_settings_that_cannot_work_are_refused_with_the_reason() -> None:
    rule = CycleRule()
    assert changed_rule(rule, {"day": "2", "time": "8:30", "reminders": "3，6"}) == CycleRule(
        prompt_day=2, prompt_time=time(8, 30), reminder_days=(3, 6)
    )
    for changes, reason in (
        ({"day": "30"}, "between 1 and 28"),
        ({"day": "20", "reminders": "3,9"}, r"the last reminder \(day 29\)"),
        ({"time": "25:00"}, "not a time of day"),
        ({"reminders": "7,3"}, "increasing"),
        ({"escalation": "1"}, "after the prompt day"),
        ({"lost": "0"}, "between 1 and 60"),
        ({"colour": "red"}, "unknown setting 'colour'"),
        ({"day": "x"}, "whole number"),
    ):
        with pytest.raises(CycleError, match=reason):
            changed_rule(rule, changes)
    with pytest.raises(ConfigError, match="LIAISON_CHECKIN_PROMPT_TIME"):
        load_settings(checkin_prompt_time="9 o'clock")
    with pytest.raises(ConfigError, match="escalation day"):
        load_settings(checkin_escalation_day=1)
    assert add_months(date(2026, 8, 31), -6).isoformat() == "2026-02-28"


async def test_the_timers_are_rebuilt_from_the_rows_without_a_restart(
    db: Database, services: Services
) -> None:
    group = await _group(db)
    await make_member(db, NOV, name="张伟", groups=[group])
    scheduler = CycleScheduler(db, services.settings, services.clock)
    await scheduler.start()
    try:
        ids = {job_id for job_id, _ in scheduler.jobs()}
        assert {
            "cycle:default:Asia/Shanghai:prompt",
            "cycle:default:Asia/Shanghai:r1",
            "cycle:default:Asia/Shanghai:r2",
            "cycle:default:escalation",
            "lost-contact",
        } <= ids
        when = dict(scheduler.jobs())["cycle:default:Asia/Shanghai:prompt"]
        assert when is not None
        local_when = when.astimezone(SHANGHAI)
        assert (local_when.day, local_when.hour, local_when.minute) == (1, 9, 0)
        assert await scheduler.refresh() is False

        # A change made elsewhere (the command line) and a member abroad: picked up.
        async with db.session() as session:
            await set_group_cycle(
                session,
                NOV,
                group_id=group.id,
                rule=CycleRule(prompt_day=2, reminder_days=(5,)),
                actor="cli:admin",
            )
        await make_member(db, NOV, name="Max", phone=None, timezone="Europe/Berlin")
        assert await scheduler.refresh() is True
        jobs = dict(scheduler.jobs())
        assert f"cycle:group:{group.id}:Asia/Shanghai:r1" in jobs
        assert f"cycle:group:{group.id}:Asia/Shanghai:r2" not in jobs
        assert "cycle:default:Europe/Berlin:prompt" in jobs
        group_prompt = jobs[f"cycle:group:{group.id}:Asia/Shanghai:prompt"]
        assert group_prompt is not None and group_prompt.astimezone(SHANGHAI).day == 2
        upcoming = await scheduler.upcoming(within=timedelta(days=40))
        assert [when for _, when in upcoming] == sorted(when for _, when in upcoming)
    finally:
        await scheduler.stop()


async def test_timers_that_fire_together_share_one_run(
    db: Database, services: Services, clock: FakeClock
) -> None:
    """The 09:00 timers (prompt, daily checks, certificate reviews) cost one run_due, not three."""
    runs: list[datetime] = []

    async def counted(report: RunReport) -> None:
        runs.append(report.now)

    scheduler = CycleScheduler(db, services.settings, services.clock, on_run=counted)
    await asyncio.gather(*(scheduler._fire() for _ in range(3)))
    assert len(runs) == 1
    # Also when they fire while an earlier run still holds the database.
    clock.advance(timedelta(minutes=1))
    async with scheduler._running:
        timers = [asyncio.create_task(scheduler._fire()) for _ in range(3)]
        await asyncio.sleep(0)
    await asyncio.gather(*timers)
    assert len(runs) == 2
    # A timer that fires later runs again.
    clock.advance(timedelta(minutes=15))
    await scheduler._fire()
    assert len(runs) == 3


def test_what_follows_schedule_is_read_as_a_group_its_changes_or_a_reset() -> None:
    typed = parse_cycle_request("建筑 党小组 Day＝2 time=8:30")
    assert typed == CycleRequest("建筑 党小组", {"day": "2", "time": "8:30"}, reset=False)
    assert parse_cycle_request("建筑党小组 默认").reset
    # "默认" alone is not a reset of nothing: it is read as a group's name.
    assert parse_cycle_request("默认") == CycleRequest("默认", {}, reset=False)
