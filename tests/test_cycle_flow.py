"""The monthly cycle as members and staff live it: the prompt's buttons, the day-10 list,
the lost-contact alert and /schedule, through the real Application and the dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import select

from bot.botapi import Button, LocalBotApi, Outgoing
from bot.context import LiaisonApplication, Services
from bot.terminal import html_to_text
from scheduler.timers import CycleScheduler
from storage.calendar import CycleRule
from storage.clock import FakeClock
from storage.cycles import set_group_cycle
from storage.db import Database
from storage.models import (
    AuditEvent,
    CheckIn,
    CheckInCycle,
    Consent,
    Group,
    Member,
    Staff,
    StaffRole,
    StudySchedule,
    WorkSituation,
)
from tests.chat import Person, said, talk
from tests.cycle_harness import SHANGHAI, District, local
from tests.factories import make_checkin, make_group, make_member, make_staff, make_unit

NOV = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
DEC_PROMPT = local(SHANGHAI, 2026, 12, 1, 9, 0)
DEC_REMINDER = local(SHANGHAI, 2026, 12, 4, 9, 0)
DEC_LIST = local(SHANGHAI, 2026, 12, 10, 9, 0)

UNIT = "江汉区委组织部"
OTHER_UNIT = "花楼街道党工委"
SHENZHEN = "驻深圳流动党员党小组"  # the liaisons' group, in the admins' unit
LAWYERS = "律师行业党小组"  # in the admins' unit, no liaison, no members
SHANGHAI_GROUP = "驻上海党小组"  # another unit: out of everyone's scope here

ADMIN = 9001  # 王书记, administrator of UNIT, Chinese
ADMIN_EN = 9002  # Ada, administrator of UNIT, English
LIAISON = 9101  # 李联络, liaison of SHENZHEN, Chinese
LIAISON_EN = 9102  # Li Wei, liaison of SHENZHEN, English
ZHANG = 1001  # 张伟, SHENZHEN, checked in in November (深圳市, changed job)
LI_NA = 1002  # 李娜, SHENZHEN, never checked in
ANNA = 1003  # Anna, SHENZHEN, English, checked in in November (深圳市, stable)
ZHAO = 1004  # 赵敏, SHANGHAI_GROUP, checked in in November
STRANGER = 424242

STAFF_REFUSAL = "抱歉，这个命令只供联络员使用"
NOT_FOUND = "在您负责的党小组和单位中没有找到这位党员"
DEFAULT_RULE = (
    "每月 1 日 09:00 提醒报到；4 日、8 日再次提醒；10 日把未报到名单发给联络员；"
    "6 个月未报到标记失联"
)
DEFAULT_RULE_EN = (
    "prompt on day 1 at 09:00; reminders on the 4th and 8th; silent list to liaisons on "
    "day 10; lost contact after 6 months"
)


@pytest.fixture(autouse=True)
async def members(db: Database) -> dict[str, int]:
    """Two units, three groups, four members, two admins and two liaisons; name → id."""
    unit = await make_unit(db, NOV, UNIT)
    other_unit = await make_unit(db, NOV, OTHER_UNIT)
    shenzhen = await make_group(db, NOV, SHENZHEN, unit=unit)
    await make_group(db, NOV, LAWYERS, unit=unit)
    shanghai = await make_group(db, NOV, SHANGHAI_GROUP, unit=other_unit)
    await make_staff(
        db, NOV, telegram_user_id=ADMIN, name="王书记", role=StaffRole.ADMIN, units=[unit]
    )
    await make_staff(
        db,
        NOV,
        telegram_user_id=ADMIN_EN,
        name="Ada",
        role=StaffRole.ADMIN,
        units=[unit],
        locale="en",
    )
    await make_staff(db, NOV, telegram_user_id=LIAISON, groups=[shenzhen])
    await make_staff(
        db, NOV, telegram_user_id=LIAISON_EN, name="Li Wei", groups=[shenzhen], locale="en"
    )
    ids: dict[str, int] = {}
    for name, user_id, phone, groups, home, locale in (
        ("张伟", ZHANG, "+8613800000001", [shenzhen], unit, None),
        ("李娜", LI_NA, "+8613800000002", [shenzhen], unit, None),
        ("Anna", ANNA, "+8613800000003", [shenzhen], unit, "en"),
        ("赵敏", ZHAO, "+8613800000004", [shanghai], other_unit, None),
    ):
        member = await make_member(
            db,
            NOV,
            name=name,
            phone=phone,
            telegram_user_id=user_id,
            consent=Consent.GIVEN,
            groups=groups,
            unit=home,
            locale=locale,
        )
        ids[name] = member.id
        if name != "李娜":
            situation = WorkSituation.CHANGED_JOB if name == "张伟" else WorkSituation.STABLE
            await make_checkin(db, member, NOV, city="深圳市", situation=situation)
    return ids


@pytest.fixture
def district(
    services: Services, application: LiaisonApplication, bot_api: LocalBotApi, clock: FakeClock
) -> District:
    return District(services, application, bot_api, clock)


@pytest.fixture
def person(application: LiaisonApplication, bot_api: LocalBotApi) -> Callable[[int], Person]:
    """person(ZHANG) is 张伟's Telegram account on this test's bot."""

    def account(user_id: int) -> Person:
        return Person(application, bot_api, user_id)

    return account


def inbox(api: LocalBotApi, user_id: int) -> list[Outgoing]:
    """Every message sent to user_id (not edits), in order."""
    return [o for o in api.sent if o.chat_id == user_id and o.method == "sendMessage"]


def texts(api: LocalBotApi, user_id: int) -> list[str]:
    return [html_to_text(o.text) for o in inbox(api, user_id)]


async def press(who: Person, message: Outgoing, data: str) -> str:
    """Press a button (maybe an old or forged one) under message; what the bot said."""
    return said(await who.send_update(who.updates.press(who.user, message, Button("x", data))))


async def staff_id(db: Database, telegram_user_id: int) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(Staff.id).where(Staff.telegram_user_id == telegram_user_id)
        )
    assert found is not None
    return found


async def group_id(db: Database, name: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Group.id).where(Group.name == name))
    assert found is not None
    return found


async def checkins_of(db: Database, member_id: int) -> list[CheckIn]:
    async with db.session() as session:
        rows = await session.scalars(
            select(CheckIn).where(CheckIn.member_id == member_id).order_by(CheckIn.id)
        )
        return list(rows)


async def audit(db: Database, action: str) -> list[AuditEvent]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return list(rows)


async def fresh_member(db: Database, member_id: int) -> Member:
    async with db.session() as session:
        member = await session.get(Member, member_id)
        assert member is not None
        return member


# --- the prompt's buttons ------------------------------------------------------------------


async def test_same_as_last_month_in_one_tap_and_no_reminder_after_it(
    db: Database,
    district: District,
    bot_api: LocalBotApi,
    person: Callable[[int], Person],
    members: dict[str, int],
) -> None:
    zhang = person(ZHANG)
    await district.at(DEC_PROMPT)
    [prompt] = inbox(bot_api, ZHANG)
    assert "2026-12 的月度报到开始了" in html_to_text(prompt.text)
    assert "上次（2026-11）：深圳市，换了工作" in html_to_text(prompt.text)
    assert zhang.button_texts == ["✅ 与上月相同", "📝 现在报到"]

    await talk(zhang, [("✅ 与上月相同", ["✅ 已记录您 2026-12 的报到：深圳市，换了工作。谢谢！"])])
    [november, december] = await checkins_of(db, members["张伟"])
    assert (december.period, december.work_situation) == ("2026-12", WorkSituation.CHANGED_JOB)
    assert december.location_report_id != november.location_report_id
    # The prompt's buttons are gone, so it cannot be pressed twice by accident.
    assert zhang.buttons == []

    # Day 4: the reminder goes to those still silent, not to him.
    await district.at(DEC_REMINDER)
    assert await district.kinds(members["张伟"]) == {"chk:2026-12:prompt": 1}
    assert len(inbox(bot_api, ZHANG)) == 2  # the prompt and the answer to his tap
    assert "您还没有完成 2026-12 的月度报到" in texts(bot_api, LI_NA)[-1]

    # An old copy of the button (another device) says so and records nothing more.
    assert "您已经完成了 2026-12 的报到，不需要再报" in await press(
        zhang, prompt, "cycle:same:2026-12"
    )
    assert len(await checkins_of(db, members["张伟"])) == 2


async def test_without_history_only_check_in_now_which_opens_the_whole_checkin(
    db: Database,
    district: District,
    bot_api: LocalBotApi,
    person: Callable[[int], Person],
    members: dict[str, int],
) -> None:
    group = await make_group(db, NOV, SHENZHEN)
    wang = await make_member(
        db, NOV, name="王强", phone="+8613800000005", telegram_user_id=1005, groups=[group]
    )
    await make_checkin(db, wang, NOV)  # a check-in without a place: nothing to repeat
    li_na, wang_qiang = person(LI_NA), person(1005)
    await district.at(DEC_PROMPT)
    [prompt] = texts(bot_api, LI_NA)
    assert "2026-12 的月度报到开始了" in prompt and "上次" not in prompt
    assert li_na.button_texts == ["📝 现在报到"]
    assert wang_qiang.button_texts == ["📝 现在报到"]
    # An old "same" button from an earlier prompt: there is no place to repeat.
    assert "还没有您以前的报到记录，无法“与上月相同”。请发送 /checkin" in await press(
        wang_qiang, inbox(bot_api, 1005)[0], "cycle:same:2026-12"
    )
    assert len(await checkins_of(db, wang.id)) == 1

    await talk(
        li_na,
        [
            ("📝 现在报到", ["2026年12月 月度报到", "1/3 您现在在哪里"]),
            ("武汉市江汉区", ["所在地：湖北省 武汉市 江汉区", "2/3 工作情况怎么样"]),
            ("工作稳定", "想补充说明吗"),
            ("跳过", "3/3 有没有需要组织帮忙的事"),
            ("不需要", ["请核对您的报到", "湖北省 武汉市 江汉区"]),
            ("✅ 确认提交", ["已保存，谢谢您", "2026年12月的报到完成了"]),
        ],
    )
    [checkin] = await checkins_of(db, members["李娜"])
    assert checkin.period == "2026-12"
    await district.at(DEC_REMINDER)
    assert await district.kinds(members["李娜"]) == {"chk:2026-12:prompt": 1}
    assert await district.kinds(wang.id) == {"chk:2026-12:prompt": 1, "chk:2026-12:r1": 1}


async def test_the_prompt_buttons_in_english_and_by_sms(
    db: Database,
    district: District,
    bot_api: LocalBotApi,
    person: Callable[[int], Person],
    members: dict[str, int],
) -> None:
    group = await make_group(db, NOV, SHENZHEN)
    await make_member(db, NOV, name="Ben", phone="+8613800000009", groups=[group], locale="en")
    cleo = await make_member(
        db,
        NOV,
        name="Cleo",
        phone="+8613800000006",
        telegram_user_id=1006,
        groups=[group],
        locale="en",
    )
    await make_checkin(db, cleo, NOV)
    anna = person(ANNA)
    await district.at(DEC_PROMPT)
    [prompt] = texts(bot_api, ANNA)
    assert "Monthly check-in: the check-in for 2026-12 has started." in prompt
    assert anna.button_texts == ["✅ Same as last month", "📝 Check in now"]
    [(_, sms)] = district.sms.sent
    assert sms.address == "+8613800000009"
    # Ben has no Telegram: the SMS says how to check in by answering it.
    assert sms.text == (
        'Monthly check-in for 2026-12 has started. Reply "CHECKIN <place>", e.g. '
        '"CHECKIN Shenzhen".'
    )
    await talk(
        anna,
        [("✅ Same as last month", "✅ Your check-in for 2026-12 is recorded: 深圳市, Stable.")],
    )
    assert "You have already checked in for 2026-12." in await press(
        anna, inbox(bot_api, ANNA)[0], "cycle:same:2026-12"
    )
    assert "There is no earlier check-in to repeat yet." in await press(
        person(1006), inbox(bot_api, 1006)[0], "cycle:same:2026-12"
    )


async def test_only_a_member_can_use_the_prompt_buttons(
    district: District, bot_api: LocalBotApi, person: Callable[[int], Person]
) -> None:
    await district.at(DEC_PROMPT)
    [prompt] = inbox(bot_api, ZHANG)
    stranger = person(STRANGER)
    assert "报到前需要先绑定党员身份" in await press(stranger, prompt, "cycle:same:2026-12")
    assert "报到前需要先绑定党员身份" in await press(stranger, prompt, "cycle:checkin")


# --- the day-10 list -----------------------------------------------------------------------


async def test_the_day_ten_list_opens_each_silent_members_card(
    db: Database,
    district: District,
    bot_api: LocalBotApi,
    person: Callable[[int], Person],
    members: dict[str, int],
) -> None:
    liaison, liaison_en = person(LIAISON), person(LIAISON_EN)
    await district.at(DEC_PROMPT)
    await make_checkin(db, await fresh_member(db, members["Anna"]), DEC_REMINDER, city="深圳市")
    await district.at(local(SHANGHAI, 2026, 12, 10, 8, 59))
    assert inbox(bot_api, LIAISON) == []
    await district.at(DEC_LIST)
    [listing] = texts(bot_api, LIAISON)
    assert "【未报到名单】驻深圳流动党员党小组" in listing
    assert "2026-12 有 2 名党员还没有报到" in listing
    assert "张伟（已 30 天未报到）" in listing and "李娜（从未报到）" in listing
    assert "Anna" not in listing
    assert liaison.button_texts == ["张伟（30 天）", "李娜（30 天）"]
    # Nobody else's groups: the admins hear nothing while a group has its liaisons.
    assert inbox(bot_api, ADMIN) == []

    await talk(
        liaison,
        [
            (
                "李娜（30 天）",
                ["李娜", "党小组：驻深圳流动党员党小组", "电话：+86 138****0002", "暂无报到记录"],
            )
        ],
    )
    [viewed] = await audit(db, "member.view")
    assert (viewed.actor, viewed.subject) == (
        f"staff:{await staff_id(db, LIAISON)}",
        f"member:{members['李娜']}",
    )

    # A forged button for a member of another unit reads like one for nobody at all.
    outside = await press(liaison, inbox(bot_api, LIAISON)[0], f"staff:card:{members['赵敏']}")
    missing = await press(liaison, inbox(bot_api, LIAISON)[0], "staff:card:999999")
    assert NOT_FOUND in outside and outside == missing
    assert "赵敏" not in outside
    assert [(e.subject, (e.detail or {}).get("found")) for e in await audit(db, "member.view")] == [
        (f"member:{members['李娜']}", True),
    ]
    refused = await audit(db, "member.view.refused")
    assert [(e.subject, (e.detail or {}).get("reason")) for e in refused] == [
        (f"member:{members['赵敏']}", "out_of_scope"),
        ("member:999999", "not_found"),
    ]

    [listing_en] = texts(bot_api, LIAISON_EN)
    assert "Not checked in: 驻深圳流动党员党小组" in listing_en
    assert "As of today, 2 member(s) have not checked in for 2026-12:" in listing_en
    assert "• 李娜 (never checked in)" in listing_en
    assert "• 张伟 (silent for 30 days)" in listing_en
    assert liaison_en.button_texts == ["张伟 (30 days)", "李娜 (30 days)"]


async def test_a_long_list_names_fifty_and_offers_thirty_buttons(
    db: Database, district: District, bot_api: LocalBotApi, person: Callable[[int], Person]
) -> None:
    unit = await make_unit(db, NOV, UNIT)
    big = await make_group(db, NOV, "汉正街市场党小组", unit=unit)
    await make_staff(db, NOV, telegram_user_id=9103, name="钱联络", groups=[big])
    for number in range(1, 52):
        await make_member(db, NOV, name=f"商户{number:02d}", phone=None, groups=[big])
    liaison = person(9103)
    await district.at(DEC_LIST)
    [listing] = texts(bot_api, 9103)
    assert "2026-12 有 51 名党员还没有报到" in listing
    assert "商户50（从未报到）" in listing and "商户51" not in listing
    assert "……另有 1 人，请用 /overdue 查看。" in listing
    assert len(liaison.buttons) == 30
    assert liaison.button_texts[0] == "商户01（30 天）"


# --- lost contact --------------------------------------------------------------------------


async def silent_since_may(db: Database, name: str, user_id: int, day: int) -> int:
    """A member of SHENZHEN whose last check-in was in May 2026."""
    unit = await make_unit(db, NOV, UNIT)
    group = await make_group(db, NOV, SHENZHEN)
    member = await make_member(
        db,
        NOV,
        name=name,
        phone=f"+86138000{user_id:05d}",
        telegram_user_id=user_id,
        groups=[group],
        unit=unit,
        registered_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    await make_checkin(db, member, local(SHANGHAI, 2026, 5, day, 10, 0), city="深圳市")
    return member.id


def alerts(api: LocalBotApi, user_id: int, name: str) -> list[Outgoing]:
    return [
        o
        for o in inbox(api, user_id)
        if name in o.text and ("失联提醒" in o.text or "Lost contact:" in o.text)
    ]


async def press_button(who: Person, message: Outgoing, index: int) -> str:
    """Press the index-th button of message as it was sent."""
    button = message.flat_buttons[index]
    return said(await who.send_update(who.updates.press(who.user, message, button)))


async def test_an_admin_confirms_lost_contact_and_the_prompts_stop(
    db: Database,
    district: District,
    bot_api: LocalBotApi,
    person: Callable[[int], Person],
    members: dict[str, int],
) -> None:
    zhou = await silent_since_may(db, "老周", 1007, 18)
    wu = await silent_since_may(db, "老吴", 1008, 20)
    admin, liaison, stranger = person(ADMIN), person(LIAISON), person(ZHANG)
    await district.at(local(SHANGHAI, 2026, 11, 21, 9, 0))
    [to_liaison] = alerts(bot_api, LIAISON, "老周")
    assert "老周 已 6 个月没有报到（最后一次：2026-05-18），已标记为“失联”" in html_to_text(
        to_liaison.text
    )
    assert "请尽快设法联系，并报告管理员" in to_liaison.text
    assert [b.text for b in to_liaison.flat_buttons] == ["👤 老周 的信息"]
    [alert] = alerts(bot_api, ADMIN, "老周")
    assert "确认失联后按“确认失联”" in alert.text
    assert [(b.text, b.callback_data) for b in alert.flat_buttons] == [
        ("👤 老周 的信息", f"staff:card:{zhou}"),
        ("⚠️ 确认失联", f"cycle:lost:{zhou}"),
    ]

    # The card first: the admin looks before confirming.
    assert "老周" in await press_button(admin, alert, 0)
    reply = await press_button(admin, alert, 1)
    assert "已确认 老周 失联，系统将不再向其发送月度报到提醒" in reply
    # Both buttons come off the alert.
    assert any(
        o.method == "editMessageReplyMarkup" and o.message_id == alert.message_id and not o.buttons
        for o in bot_api.sent
    )
    confirmed = await fresh_member(db, zhou)
    assert confirmed.lost_contact_confirmed_by == f"staff:{await staff_id(db, ADMIN)}"
    [audited] = await audit(db, "member.lost_contact_confirm")
    assert (audited.actor, audited.subject, audited.detail) == (
        f"staff:{await staff_id(db, ADMIN)}",
        f"member:{zhou}",
        None,
    )

    # Only an administrator confirms: a liaison's forged button and a member's are refused.
    assert STAFF_REFUSAL in await press(liaison, to_liaison, f"cycle:lost:{wu}")
    assert STAFF_REFUSAL in await press(stranger, to_liaison, f"cycle:lost:{wu}")
    # A member outside the admin's units looks exactly like one that does not exist.
    outside = await press(admin, alert, f"cycle:lost:{members['赵敏']}")
    assert "没有找到这位党员" in outside
    assert outside == await press(admin, alert, "cycle:lost:999999")
    assert (await fresh_member(db, wu)).lost_contact_confirmed_at is None
    assert [
        (e.detail or {}).get("refused") for e in await audit(db, "member.lost_contact_confirm")
    ][1:] == ["not_admin", "not_found", "not_found"]

    # December: no prompt for the confirmed member, one for the merely flagged one …
    wu_person = person(1008)
    await district.at(DEC_PROMPT)
    assert "chk:2026-12:prompt" not in await district.kinds(zhou)
    assert not any("2026-12" in text for text in texts(bot_api, 1007))
    assert await district.kinds(wu) == {"chk:2026-11:prompt": 1, "chk:2026-12:prompt": 1}
    # … who is back in touch with one tap, so there is nothing left to confirm.
    await talk(wu_person, [("✅ 与上月相同", "已记录您 2026-12 的报到：深圳市")])
    assert (await fresh_member(db, wu)).lost_contact_at is None
    [wu_alert] = alerts(bot_api, ADMIN, "老吴")
    assert "这位党员目前没有失联标记（可能已经重新报到），无需确认" in await press_button(
        admin, wu_alert, 1
    )
    assert (await fresh_member(db, wu)).lost_contact_confirmed_at is None


async def test_lost_contact_alerts_and_answers_in_english(
    db: Database, district: District, bot_api: LocalBotApi, person: Callable[[int], Person]
) -> None:
    zhou = await silent_since_may(db, "老周", 1007, 18)
    await silent_since_may(db, "老吴", 1008, 20)
    await make_member(
        db,
        NOV,
        name="老孙",
        phone=None,
        groups=[await make_group(db, NOV, SHENZHEN)],
        unit=await make_unit(db, NOV, UNIT),
        registered_at=datetime(2026, 5, 1, tzinfo=UTC),
    )
    ada = person(ADMIN_EN)
    await district.at(local(SHANGHAI, 2026, 11, 21, 9, 0))
    [never] = alerts(bot_api, ADMIN_EN, "老孙")
    assert "老孙 has not checked in for 6 months (never checked in)" in never.text
    [never_zh] = alerts(bot_api, ADMIN, "老孙")
    assert "老孙 已 6 个月没有报到（从未报到）" in never_zh.text
    [alert] = alerts(bot_api, ADMIN_EN, "老周")
    assert (
        "Lost contact: 老周 has not checked in for 6 months (last time: 2026-05-18) and is now "
        'flagged "lost contact".'
    ) in html_to_text(alert.text)
    assert [b.text for b in alert.flat_buttons] == ["👤 老周's card", "⚠️ Confirm lost contact"]
    [to_liaison] = alerts(bot_api, LIAISON_EN, "老周")
    assert "Please try to reach them soon and tell your administrator." in to_liaison.text
    assert "Lost contact with 老周 is confirmed; the monthly prompts to them stop." in (
        await press_button(ada, alert, 1)
    )
    assert (await fresh_member(db, zhou)).lost_contact_confirmed_at is not None

    [wu_alert] = alerts(bot_api, ADMIN_EN, "老吴")
    wu = person(1008)
    await district.at(DEC_PROMPT)
    await talk(wu, [("✅ 与上月相同", "已记录")])
    assert "This member is no longer flagged as lost contact" in await press_button(
        ada, wu_alert, 1
    )


# --- /schedule -----------------------------------------------------------------------------


async def own_cycle(db: Database, group_name: str, rule: CycleRule) -> int:
    async with db.session() as session:
        group = await session.scalar(select(Group).where(Group.name == group_name))
        assert group is not None
        await set_group_cycle(session, NOV, group_id=group.id, rule=rule, actor="cli:admin")
        return group.id


async def cycle_rows(db: Database) -> list[tuple[int, int, str, str, bool]]:
    async with db.session() as session:
        rows = await session.scalars(select(CheckInCycle).order_by(CheckInCycle.group_id))
        return [(r.group_id, r.prompt_day, r.prompt_time, r.reminder_days, r.enabled) for r in rows]


async def test_a_liaison_sees_the_cycles_of_their_groups_but_cannot_change_them(
    db: Database, person: Callable[[int], Person]
) -> None:
    await own_cycle(db, SHENZHEN, CycleRule(prompt_day=2, reminder_days=(5,)))
    await own_cycle(db, SHANGHAI_GROUP, CycleRule(prompt_day=3))
    before = await cycle_rows(db)
    liaison = person(LIAISON)
    await talk(
        liaison,
        [
            (
                "/schedule",
                [
                    "月度报到安排",
                    f"• 默认：{DEFAULT_RULE}",
                    "• 驻深圳流动党员党小组：每月 2 日 09:00 提醒报到；7 日再次提醒；",
                    "免打扰时段：21:00–08:00（按党员所在时区）",
                ],
            ),
            (
                f"/schedule {SHENZHEN}",
                ["驻深圳流动党员党小组（本小组自己的安排）", "每月 2 日 09:00 提醒报到"],
            ),
        ],
    )
    # Another unit's group is not among theirs, and the list does not mention it.
    await talk(liaison, [("/schedule", None)])
    assert SHANGHAI_GROUP not in liaison.last_text
    assert "修改某个党小组" not in liaison.last_text  # the how-to is for admins
    outside = said(await liaison.say(f"/schedule {SHANGHAI_GROUP}"))
    assert outside == "没有找到您负责的党小组“驻上海党小组”。发送 /schedule 查看全部。"
    for name in ("没有这个组", LAWYERS):  # missing, and an admin's group without them
        assert said(await liaison.say(f"/schedule {name}")) == outside.replace(SHANGHAI_GROUP, name)
    # Changing is for administrators.
    await talk(
        liaison,
        [
            (f"/schedule {SHENZHEN} day=5", "只有管理员可以修改月度报到安排"),
            (f"/schedule {SHENZHEN} 默认", "只有管理员可以修改月度报到安排"),
        ],
    )
    assert await cycle_rows(db) == before
    # Nothing the liaison did changed a cycle: the only changes are the two set up above.
    changes = await audit(db, "schedule.set") + await audit(db, "schedule.reset")
    assert [event.actor for event in changes] == ["cli:admin", "cli:admin"]


async def test_only_staff_may_ask(person: Callable[[int], Person]) -> None:
    for user_id in (ZHANG, STRANGER):
        await talk(
            person(user_id),
            [("/schedule", STAFF_REFUSAL), (f"/schedule {SHENZHEN}", STAFF_REFUSAL)],
        )


async def test_an_admin_changes_a_groups_cycle_and_resets_it(
    db: Database, person: Callable[[int], Person]
) -> None:
    admin = person(ADMIN)
    await talk(
        admin,
        [
            (
                "/schedule",
                [
                    "修改某个党小组：/schedule 小组名 day=1",
                    "即 4 日、8 日",
                    "恢复默认：/schedule 小组名 默认",
                ],
            )
        ],
    )
    await talk(
        admin,
        [
            (
                f"/schedule {LAWYERS} day=2 time=8:30 reminders=4，9 escalation=12 lost=3",
                [
                    "✅ 已保存。律师行业党小组（本小组自己的安排）：",
                    "每月 2 日 08:30 提醒报到；6 日、11 日再次提醒；"
                    "12 日把未报到名单发给联络员；3 个月未报到标记失联",
                ],
            ),
        ],
    )
    lawyers = await group_id(db, LAWYERS)
    assert await cycle_rows(db) == [(lawyers, 2, "08:30", "4,9", True)]
    [changed] = await audit(db, "schedule.set")
    assert changed.subject == f"group:{lawyers}"
    assert changed.detail == {
        "day": "2",
        "time": "8:30",
        "reminders": "4，9",
        "escalation": "12",
        "lost": "3",
    }
    # Settings that cannot work are refused with the reason, and nothing changes.
    for line, reason in (
        (f"/schedule {LAWYERS} day=30", "报到提醒日要在 1 到 28 日之间"),
        (f"/schedule {LAWYERS} time=25:00", "“25:00”不是时间，请写成 09:00 这样"),
        (f"/schedule {LAWYERS} reminders=7,3", "“7,3”不对：提醒天数要写成 3,7 这样，从小到大"),
        (f"/schedule {LAWYERS} colour=red", "没有“colour”这一项"),
        (f"/schedule {LAWYERS} enabled=maybe", "enabled 只能是 on 或 off，不是“maybe”"),
    ):
        await talk(
            admin,
            [
                (
                    line,
                    [
                        f"没有保存：{reason}",
                        "可以修改的项目：day、time、reminders、escalation、lost、enabled",
                    ],
                )
            ],
        )
    assert await cycle_rows(db) == [(lawyers, 2, "08:30", "4,9", True)]
    assert len(await audit(db, "schedule.set")) == 1

    await talk(
        admin,
        [
            (f"/schedule {LAWYERS} enabled=off", "已关闭（不发报到提醒，不催报，不标记失联）"),
            (
                f"/schedule {LAWYERS} 默认",
                f"✅ 已保存。律师行业党小组（按默认安排）：\n{DEFAULT_RULE}",
            ),
        ],
    )
    assert await cycle_rows(db) == []
    [reset] = await audit(db, "schedule.reset")
    assert (reset.actor, reset.subject) == (
        f"staff:{await staff_id(db, ADMIN)}",
        f"group:{lawyers}",
    )
    # An admin's scope holds too: another unit's group is "not found", not changed.
    await talk(
        admin, [(f"/schedule {SHANGHAI_GROUP} day=2", "没有找到您负责的党小组“驻上海党小组”")]
    )
    assert await cycle_rows(db) == []


async def test_schedule_in_english(db: Database, person: Callable[[int], Person]) -> None:
    liaison_en, ada = person(LIAISON_EN), person(ADMIN_EN)
    await talk(
        liaison_en,
        [
            (
                "/schedule",
                [
                    "Monthly check-in cycle",
                    f"• Default: {DEFAULT_RULE_EN}",
                    "Quiet hours: 21:00–08:00 (each member's time zone)",
                ],
            ),
            (f"/schedule {SHENZHEN}", f"{SHENZHEN} (the default cycle):\n{DEFAULT_RULE_EN}"),
            ("/schedule Nowhere", 'No group named "Nowhere" among yours.'),
            (f"/schedule {SHENZHEN} day=2", "Only administrators can change a check-in cycle."),
        ],
    )
    await talk(
        ada,
        [
            (
                "/schedule",
                [
                    "Change a group: /schedule GROUP day=1",
                    "Back to the default: /schedule GROUP default",
                ],
            ),
            (
                f"/schedule {SHENZHEN} reminders=none",
                [
                    f"✅ Saved. {SHENZHEN} (its own cycle):",
                    "prompt on day 1 at 09:00; no reminders; silent list to liaisons on day 10",
                ],
            ),
            (
                f"/schedule {SHENZHEN} day=x",
                [
                    "Not saved: day must be a whole number, not 'x'",
                    "What can be changed: day, time, reminders, escalation, lost, enabled.",
                ],
            ),
            (
                f"/schedule {SHENZHEN} enabled=off",
                "off (no prompts, reminders or lost-contact flags)",
            ),
            (f"/schedule {SHENZHEN} default", f"✅ Saved. {SHENZHEN} (the default cycle):"),
            # A change without a group changes nothing and says what is missing.
            ("/schedule day=2", "Please name the group to change"),
        ],
    )
    assert await cycle_rows(db) == []
    [answer] = await person(ADMIN).say("/schedule day=2")
    assert "请写上要修改的党小组" in answer.text


async def test_markup_in_a_group_name_is_shown_as_typed(
    db: Database, bot_api: LocalBotApi, person: Callable[[int], Person]
) -> None:
    unit = await make_unit(db, NOV, UNIT)
    await make_group(db, NOV, "<b>夜班</b>&组", unit=unit)
    admin = person(ADMIN)
    [answer] = await admin.say("/schedule <b>夜班</b>&组 day=3")
    assert "<b>&lt;b&gt;夜班&lt;/b&gt;&amp;组</b>（本小组自己的安排）" in answer.text
    [listing] = await admin.say("/schedule")
    assert "• &lt;b&gt;夜班&lt;/b&gt;&amp;组：每月 3 日" in listing.text
    [missing] = await admin.say("/schedule <i>无</i>")
    assert "“&lt;i&gt;无&lt;/i&gt;”" in missing.text


# --- /schedule with the service's timers running -------------------------------------------


@pytest.fixture
async def scheduler(
    application: LiaisonApplication, services: Services
) -> AsyncIterator[CycleScheduler]:
    """The running service's timers, as the composition root attaches them."""
    running = CycleScheduler(services.db, services.settings, services.clock)
    await running.start()
    application.bot_data.scheduler = running
    try:
        yield running
    finally:
        application.bot_data.scheduler = None
        await running.stop()


def job_day(scheduler: CycleScheduler, job_id: str) -> int | None:
    when = dict(scheduler.jobs()).get(job_id)
    return None if when is None else when.astimezone(SHANGHAI).day


async def test_schedule_shows_the_timers_and_a_change_takes_effect_at_once(
    db: Database, person: Callable[[int], Person], scheduler: CycleScheduler
) -> None:
    admin = person(ADMIN)
    await talk(
        admin,
        [
            (
                "/schedule",
                [
                    "接下来",
                    "• 2026-11-16 09:00 失联检查（每天）",
                    "• 2026-11-16 09:00 活动证年审提醒（每天检查）",
                    "• 2026-12-01 09:00 月度报到提醒（默认安排，Asia/Shanghai）",
                ],
            )
        ],
    )
    lawyers = await group_id(db, LAWYERS)
    prompt_job = f"cycle:group:{lawyers}:Asia/Shanghai:prompt"
    assert prompt_job not in dict(scheduler.jobs())

    await talk(admin, [(f"/schedule {LAWYERS} day=2 time=07:30", "✅ 已保存")])
    when = dict(scheduler.jobs())[prompt_job]
    assert when is not None
    assert (when.astimezone(SHANGHAI).day, when.astimezone(SHANGHAI).time()) == (2, time(7, 30))
    await talk(
        admin, [("/schedule", "2026-12-02 07:30 月度报到提醒（律师行业党小组，Asia/Shanghai）")]
    )

    await talk(admin, [(f"/schedule {LAWYERS} enabled=off", "已关闭")])
    assert prompt_job not in dict(scheduler.jobs())
    await talk(admin, [(f"/schedule {LAWYERS} day=3 enabled=on", "每月 3 日 07:30")])
    assert job_day(scheduler, prompt_job) == 3
    await talk(admin, [(f"/schedule {LAWYERS} 默认", "按默认安排")])
    assert prompt_job not in dict(scheduler.jobs())
    assert job_day(scheduler, "cycle:default:Asia/Shanghai:prompt") == 1


async def test_a_liaison_sees_no_timers_of_groups_outside_their_scope(
    db: Database, person: Callable[[int], Person], scheduler: CycleScheduler
) -> None:
    await own_cycle(db, SHANGHAI_GROUP, CycleRule(prompt_day=3))
    await own_cycle(db, SHENZHEN, CycleRule(prompt_day=2))
    async with db.session() as session:
        for name, weekday in ((SHANGHAI_GROUP, 0), (SHENZHEN, 1)):
            session.add(
                StudySchedule(
                    group_id=await group_id(db, name),
                    weekday=weekday,
                    at_time="19:00",
                    created_by="cli:admin",
                    created_at=NOV,
                )
            )
    await scheduler.refresh()
    liaison, admin = person(LIAISON), person(ADMIN_EN)
    await talk(
        liaison,
        [
            (
                "/schedule",
                [
                    "接下来",
                    "2026-11-17 19:00 推送学习资料（驻深圳流动党员党小组）",
                    "月度报到提醒（驻深圳流动党员党小组，Asia/Shanghai）",
                ],
            )
        ],
    )
    assert SHANGHAI_GROUP not in liaison.last_text
    # An administrator without that unit does not see it either.
    await talk(admin, [("/schedule", "Coming up")])
    assert SHANGHAI_GROUP not in admin.last_text
