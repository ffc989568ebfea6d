"""The monthly check-in and /where, as members live them (both languages, the real bot)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from bot.app import build_application
from bot.botapi import LocalBotApi, LocalBotApiRequest
from bot.context import LiaisonApplication, Services
from storage.clock import FakeClock, FakeMonotonic
from storage.consent import set_consent
from storage.db import Database
from storage.models import (
    AuditEvent,
    CheckIn,
    Consent,
    LocationReport,
    LocationSource,
    Member,
    WorkSituation,
    member_groups,
)
from tests.chat import Person, talk
from tests.factories import make_group, make_member, make_staff, make_unit

ALICE = 810_001  # a member, Chinese
BOB = 810_002  # a member, English
STRANGER = 810_003

# The whole check-in after the place, accepting the defaults: stable, no note, no needs.
ZH_REST = [
    ("工作稳定", ["工作情况：工作稳定", "想补充说明吗"]),
    ("跳过", "3/3 有没有需要组织帮忙的事"),
    ("不需要", ["请核对您的报到", "不需要"]),
    ("✅ 确认提交", ["已保存，谢谢您", "2026年11月的报到完成了"]),
]
EN_REST = [
    ("Stable", ["Work: Stable", "Anything to add?"]),
    ("Skip", "3/3 Is there anything you need help with?"),
    ("No", ["Please check your check-in", "Help needed: none"]),
    ("✅ Confirm", ["Saved, thank you!", "check-in for 2026-11 is done"]),
]


async def checkins(db: Database) -> list[CheckIn]:
    async with db.session() as session:
        rows = await session.scalars(select(CheckIn).order_by(CheckIn.id))
        return list(rows)


async def location_reports(db: Database) -> list[LocationReport]:
    async with db.session() as session:
        rows = await session.scalars(select(LocationReport).order_by(LocationReport.id))
        return list(rows)


async def member(
    db: Database,
    clock: FakeClock,
    user_id: int,
    *,
    consent: Consent = Consent.GIVEN,
    locale: str | None = None,
    timezone: str | None = None,
) -> int:
    record = await make_member(
        db,
        clock.now(),
        name=f"成员{user_id}",
        phone=f"+86138{user_id:08d}",
        telegram_user_id=user_id,
        consent=consent,
        locale=locale,
        timezone=timezone,
    )
    return record.id


async def audit_actions(db: Database) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture
async def alice(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> Person:
    await member(db, clock, ALICE)
    return Person(application, bot_api, ALICE)


@pytest.fixture
async def bob(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> Person:
    await member(db, clock, BOB, locale="en")
    return Person(application, bot_api, BOB, language_code="en")


# --- a whole check-in ---------------------------------------------------------------------


async def test_a_checkin_by_typing_the_place(alice: Person, db: Database) -> None:
    await talk(
        alice,
        [
            ("/checkin", ["2026年11月 月度报到", "1/3 您现在在哪里", "/cancel"]),
            ("武汉市江汉区", ["所在地：湖北省 武汉市 江汉区", "2/3 工作情况怎么样"]),
            *ZH_REST[:2],
            ("不需要", ["请核对", "所在地：湖北省 武汉市 江汉区", "工作：工作稳定"]),
            ZH_REST[3],
        ],
    )
    (checkin,) = await checkins(db)
    assert checkin.period == "2026-11"
    assert checkin.work_situation is WorkSituation.STABLE
    assert (checkin.work_note, checkin.needs_help, checkin.needs_text) == (None, False, None)
    (report,) = await location_reports(db)
    assert checkin.location_report_id == report.id
    assert (report.text, report.province, report.city, report.district) == (
        "武汉市江汉区",
        "湖北省",
        "武汉市",
        "江汉区",
    )
    assert report.source is LocationSource.TYPED


async def test_a_checkin_in_english_with_a_shared_location_a_note_and_a_need(
    bob: Person, db: Database
) -> None:
    await talk(bob, [("/checkin", ["Monthly check-in, 2026-11", "1/3 Where are you now?"])])
    assert bob.buttons[0].request_location  # consent given: the share button is offered
    assert bob.button_texts == ["📍 Send my location"]
    await talk(
        bob,
        [
            ("/loc 22.54 113.93", ["Place: 广东省 深圳市 南山区", "2/3 How is work?"]),
        ],
    )
    # The place noted and the next question: one message, the work buttons under it.
    [answer] = bob.last
    assert answer.method == "sendMessage" and len(answer.flat_buttons) == len(WorkSituation)
    await talk(
        bob,
        [
            ("Changed job", ["Work: Changed job", "Anything to add?"]),
            ("Now at a clinic in Nanshan", "3/3"),
            ("Yes, I need help", ["Help: Yes, I need help", "say briefly what you need"]),
            (
                "School for my daughter",
                ["Place: 广东省 深圳市 南山区", "Note: Now at a clinic", "School for my daughter"],
            ),
            ("✅ Confirm", ["Saved, thank you!", "passed to your liaison"]),
        ],
    )
    (checkin,) = await checkins(db)
    assert checkin.work_situation is WorkSituation.CHANGED_JOB
    assert checkin.work_note == "Now at a clinic in Nanshan"
    assert (checkin.needs_help, checkin.needs_text) == (True, "School for my daughter")
    (report,) = await location_reports(db)
    assert report.source is LocationSource.SHARED
    assert (report.city, report.district) == ("深圳市", "南山区")
    # LIAISON_STORE_COORDINATES is off by default: the district only.
    assert (report.latitude, report.longitude) == (None, None)


@pytest.fixture
async def storing_application(
    services: Services, bot_api: LocalBotApi, monotonic: FakeMonotonic
) -> AsyncIterator[LiaisonApplication]:
    """The bot of a district that keeps exact coordinates (LIAISON_STORE_COORDINATES=true)."""
    settings = services.settings.model_copy(update={"store_coordinates": True})
    app = build_application(
        dataclasses.replace(services, settings=settings),
        request=LocalBotApiRequest(bot_api),
        monotonic=monotonic,
    )
    await app.initialize()
    yield app
    await app.shutdown()


@pytest.mark.parametrize(("consent", "stored"), [(Consent.GIVEN, True), (Consent.DECLINED, False)])
async def test_coordinates_are_kept_only_with_the_setting_and_consent(
    storing_application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    consent: Consent,
    stored: bool,
) -> None:
    await member(db, clock, ALICE, consent=consent)
    alice = Person(storing_application, bot_api, ALICE)
    await talk(alice, [("/checkin", "1/3"), ("/loc 22.54 113.93", None)])
    if not stored:
        assert "没有保存" in alice.last_text
        await talk(alice, [("深圳南山", "所在地：广东省 深圳市 南山区")])
    await talk(alice, ZH_REST)
    (report,) = await location_reports(db)
    assert (report.city, report.district) == ("深圳市", "南山区")
    if stored:
        assert (report.latitude, report.longitude) == (22.54, 113.93)
        assert report.source is LocationSource.SHARED
    else:
        assert (report.latitude, report.longitude) == (None, None)
        assert (report.source, report.text) == (LocationSource.TYPED, "深圳南山")


async def test_a_member_who_declined_sees_no_location_button_and_a_pin_is_discarded(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await member(db, clock, ALICE, consent=Consent.DECLINED)
    alice = Person(application, bot_api, ALICE)
    await talk(alice, [("/checkin", "1/3 您现在在哪里")])
    assert "发送我的位置" not in alice.last_text
    assert not any(button.request_location for button in alice.buttons)
    await talk(
        alice,
        [
            (
                "/loc 22.54 113.93",
                ["您没有同意记录位置", "这个位置没有保存", "/privacy", "1/3 您现在在哪里"],
            ),
            ("武汉江汉", "所在地：湖北省 武汉市 江汉区"),
            *ZH_REST,
        ],
    )
    (report,) = await location_reports(db)
    assert (report.source, report.text, report.district) == (
        LocationSource.TYPED,
        "武汉江汉",
        "江汉区",
    )
    assert (report.latitude, report.longitude) == (None, None)


async def test_an_unknown_place_is_kept_as_typed(bob: Person, alice: Person, db: Database) -> None:
    await talk(
        alice,
        [
            ("/checkin", "1/3"),
            ("火星基地三号楼", ["没有认出“火星基地三号楼”", "按您输入的原样记下", "2/3"]),
            *ZH_REST[:2],
            ("不需要", "所在地：火星基地三号楼（按原样记下）"),
            ZH_REST[3],
        ],
    )
    await talk(
        bob,
        [
            ("/checkin", "1/3"),
            ("Mars base 3", ["did not recognise “Mars base 3”", "kept exactly as you typed"]),
            *EN_REST[:2],
            ("No", "Place: Mars base 3 (kept as typed)"),
            EN_REST[3],
        ],
    )
    reports = await location_reports(db)
    assert [(r.text, r.city) for r in reports] == [("火星基地三号楼", None), ("Mars base 3", None)]


async def test_markup_typed_by_a_member_is_shown_escaped(alice: Person, db: Database) -> None:
    await talk(
        alice,
        [
            ("/checkin", "1/3"),
            ("<b>x</b>", "没有认出“<b>x</b>”"),
            ("其他", "想补充说明吗"),
            ("<i>y</i> & <a href='t.me'>z</a>", "3/3"),
            ("需要帮助", "请简单说说"),
            ("<code>w</code>", ["请核对", "<b>x</b>", "<i>y</i> & <a href='t.me'>z</a>"]),
        ],
    )
    summary = alice.last[-1].text
    assert "&lt;b&gt;x&lt;/b&gt;" in summary
    assert "&lt;i&gt;y&lt;/i&gt; &amp; &lt;a href=&#39;t.me&#39;&gt;z&lt;/a&gt;" in summary
    assert "&lt;code&gt;w&lt;/code&gt;" in summary
    await talk(alice, [("✅ 确认提交", "已保存")])
    (checkin,) = await checkins(db)
    assert checkin.work_note == "<i>y</i> & <a href='t.me'>z</a>"
    assert checkin.needs_text == "<code>w</code>"


async def test_overlong_answers_are_refused_and_asked_again(alice: Person, db: Database) -> None:
    await talk(
        alice,
        [
            ("/checkin", "1/3"),
            ("长" * 201, ["太长了：最多 200 个字", "这条有 201 个字", "1/3 您现在在哪里"]),
            ("武汉市江汉区", "2/3"),
            ("换了工作", "想补充说明吗"),
            ("字" * 5000, ["太长了：最多 1000 个字", "5000", "没有保存", "想补充说明吗"]),
            ("在汉口开了家小店", "3/3"),
            ("需要帮助", "请简单说说"),
            ("难" * 1001, ["太长了", "1001", "请简单说说"]),
            ("门面续租", ["请核对", "工作：换了工作", "在汉口开了家小店", "门面续租"]),
            ("✅ 确认提交", "已保存"),
        ],
    )
    (checkin,) = await checkins(db)
    assert (checkin.work_note, checkin.needs_text) == ("在汉口开了家小店", "门面续租")


async def test_overlong_note_in_english(bob: Person) -> None:
    await talk(
        bob,
        [
            ("/checkin", "1/3"),
            ("Wuhan Jianghan", "Place: 湖北省 武汉市 江汉区"),
            ("Other", "Anything to add?"),
            ("x" * 5000, ["Too long: at most 1000 characters", "5000", "Anything to add?"]),
        ],
    )


async def test_start_over_forgets_the_first_answers(alice: Person, db: Database) -> None:
    await talk(
        alice,
        [
            ("/checkin", "1/3"),
            ("火星基地", "2/3"),
            ("正在找工作", "想补充说明吗"),
            ("打错了", "3/3"),
            ("需要帮助", "请简单说说"),
            ("也打错了", ["请核对", "火星基地", "打错了"]),
            ("🔄 重新填写", "1/3 您现在在哪里"),
            ("武汉市江汉区", "2/3"),
            *ZH_REST[:2],
            ("不需要", ["请核对", "湖北省 武汉市 江汉区", "工作稳定"]),
        ],
    )
    assert "打错了" not in alice.last_text
    assert await checkins(db) == []
    await talk(alice, [ZH_REST[3]])
    (checkin,) = await checkins(db)
    assert (checkin.work_situation, checkin.work_note) == (WorkSituation.STABLE, None)
    assert (checkin.needs_help, checkin.needs_text) == (False, None)
    (report,) = await location_reports(db)
    assert report.text == "武汉市江汉区"


CANCEL_AFTER = [
    ("/checkin", "1/3"),
    ("武汉市江汉区", "2/3"),
    ("工作稳定", "想补充说明吗"),
    ("跳过", "3/3"),
    ("需要帮助", "请简单说说"),
    ("孩子上学", "请核对"),
]


@pytest.mark.parametrize("steps", range(1, len(CANCEL_AFTER) + 1))
async def test_cancel_at_any_step_saves_nothing(alice: Person, db: Database, steps: int) -> None:
    await talk(alice, [*CANCEL_AFTER[:steps], ("/cancel", ["已取消", "没有保存"])])
    assert await checkins(db) == []
    assert await location_reports(db) == []
    # The conversation is over: a typed line is no longer taken as an answer.
    await talk(alice, [("✅ 确认提交", "如需报到请发送 /checkin"), ("/cancel", "没有正在进行")])
    assert await checkins(db) == []


async def test_cancel_in_english(bob: Person, db: Database) -> None:
    await talk(
        bob,
        [
            ("/checkin", "1/3"),
            ("/cancel", ["Cancelled", "Nothing from this check-in was saved"]),
            ("/cancel", "nothing to cancel"),
        ],
    )
    assert await checkins(db) == []


async def test_old_buttons_after_a_checkin_are_removed_not_acted_on(
    alice: Person, bot_api: LocalBotApi, db: Database
) -> None:
    await talk(alice, [("/checkin", "1/3"), ("武汉市江汉区", "2/3")])
    work_question = alice.last[-1]
    await talk(alice, [("/cancel", "已取消")])
    stale = await alice.send_update(
        alice.updates.press(alice.user, work_question, work_question.flat_buttons[0])
    )
    assert "这个按钮已经失效" in "\n".join(r.text for r in stale)
    # /cancel took the buttons away already: the message is left as it is.
    assert bot_api.current[(ALICE, work_question.message_id)][1] is None
    assert not any(r.method.startswith("edit") for r in stale)
    assert await checkins(db) == []


async def test_unexpected_input_is_answered_with_the_question_again(alice: Person) -> None:
    await talk(alice, [("/checkin", "1/3")])
    sticker = await alice.send_update(alice.updates.sticker(alice.user))
    assert "请输入所在的城市和区县" in sticker[0].text
    await talk(
        alice,
        [
            ("武汉市江汉区", "2/3"),
            ("稳定吧", ["请按消息下面的按钮选择", "2/3 工作情况怎么样"]),
            ("1", "想补充说明吗"),
        ],
    )
    photo = await alice.send_update(alice.updates.photo(alice.user))
    # What to do and the question again, in one message with the buttons under it.
    [again] = [o for o in photo if o.method == "sendMessage"]
    assert "请输入文字回答" in again.text
    assert [b.text for b in again.flat_buttons] == ["跳过"]
    # Commands of other features still answer in the middle of a check-in.
    await talk(alice, [("/help", "可用命令"), ("跳过", "3/3")])


async def test_an_edited_message_is_not_taken_as_an_answer(alice: Person, db: Database) -> None:
    await talk(alice, [("/checkin", "1/3")])
    edited = await alice.send_update(alice.updates.edited_text(alice.user, "武汉"))
    assert "修改过的消息" in edited[0].text
    await talk(alice, [("武汉市江汉区", "2/3")])


async def test_an_abandoned_checkin_expires(alice: Person, clock: FakeClock, db: Database) -> None:
    await talk(alice, [("/checkin", "1/3"), ("武汉市江汉区", "2/3"), ("工作稳定", "想补充说明")])
    clock.advance(timedelta(days=2))
    await talk(alice, [("你好", ["很久没有完成", "没有保存", "/checkin"])])
    assert await checkins(db) == []
    await talk(alice, [("/checkin", "1/3"), ("武汉市江汉区", "2/3"), *ZH_REST])
    assert len(await checkins(db)) == 1


async def test_checkin_again_midway_starts_over(alice: Person, db: Database) -> None:
    await talk(
        alice,
        [
            ("/checkin", "1/3"),
            ("火星基地", "2/3"),
            ("/checkin", "1/3 您现在在哪里"),
            ("武汉市江汉区", "2/3"),
            *ZH_REST,
        ],
    )
    (report,) = await location_reports(db)
    assert report.text == "武汉市江汉区"


# --- who may check in -------------------------------------------------------------------


async def test_an_unbound_account_is_told_to_register(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    stranger = Person(application, bot_api, STRANGER)
    await talk(
        stranger,
        [
            ("/checkin", ["需要先绑定", "/start 邀请码"]),
            ("/where", ["还没有绑定", "/start 邀请码"]),
            ("武汉市江汉区", "邀请码"),  # no conversation was started
        ],
    )
    english = Person(application, bot_api, STRANGER + 1, language_code="en")
    await talk(english, [("/lang", None), ("English", "English")])
    await talk(english, [("/checkin", "/start CODE"), ("/where", "/start CODE")])
    # A liaison who is not a member has no check-in either.
    await make_staff(db, clock.now(), telegram_user_id=STRANGER + 2)
    liaison = Person(application, bot_api, STRANGER + 2)
    await talk(liaison, [("/checkin", "需要先绑定")])
    assert await checkins(db) == []


async def test_the_first_checkin_asks_for_consent_then_carries_on(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await member(db, clock, ALICE, consent=Consent.PENDING)
    alice = Person(application, bot_api, ALICE)
    await talk(
        alice,
        [
            ("/checkin", ["报到前，请先回答一个问题", "我们保存什么", "谁能看到"]),
            ("同意", ["位置记录授权：同意", "按下面的“发送我的位置”按钮"]),
        ],
    )
    assert alice.buttons[0].request_location
    await talk(alice, [("/cancel", None), ("/where", "位置记录授权：已同意")])
    audit = await audit_actions(db)
    assert "consent.given" in audit


async def test_declining_consent_in_the_checkin_still_checks_in_by_typed_city(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await member(db, clock, ALICE, consent=Consent.PENDING, locale="en")
    alice = Person(application, bot_api, ALICE)
    await talk(
        alice,
        [
            ("/checkin", ["Before your check-in, one question", "Who sees it"]),
            ("I do not agree", "Location consent: I do not agree"),
            ("/loc 30.6015 114.2709", "this location was not saved"),
            ("Wuhan Jianghan", ["湖北省 武汉市 江汉区", "How is work?"]),
        ],
    )
    assert not any(b.request_location for b in alice.buttons)


# --- periods and /where -----------------------------------------------------------------


async def test_a_second_checkin_in_the_month_is_kept_and_where_shows_the_latest(
    alice: Person, db: Database, clock: FakeClock
) -> None:
    await talk(
        alice, [("/where", ["最近报到：还没有报到过", "现在所在地：还不知道", "本月还没有报到"])]
    )
    await talk(alice, [("/checkin", "1/3"), ("武汉市江汉区", "2/3"), *ZH_REST])
    clock.advance(timedelta(days=10))
    await talk(
        alice,
        [
            ("/checkin", "如果还在原地，按“湖北省 武汉市 江汉区”"),
            ("深圳市南山区", "2/3"),
            ("正在找工作", "想补充"),
            *ZH_REST[1:],
        ],
    )
    assert [c.period for c in await checkins(db)] == ["2026-11", "2026-11"]
    await talk(
        alice,
        [
            (
                "/where",
                [
                    "我的登记信息",
                    "姓名：成员810001",
                    "类别：流出党员",
                    "手机：+86 138****0001",
                    "最近报到：2026-11-25，正在找工作",
                    "现在所在地：广东省 深圳市 南山区（2026-11-25 登记）",
                    "位置记录授权：已同意",
                ],
            )
        ],
    )
    assert "本月还没有报到" not in alice.last_text
    assert "13800810001" not in alice.last_text
    # "Still there": the last place is one button away.
    await talk(
        alice, [("/checkin", "1/3"), ("广东省 深圳市 南山区", "所在地：广东省 深圳市 南山区")]
    )


async def test_where_in_english_shows_the_whole_registration(
    bob: Person, db: Database, clock: FakeClock
) -> None:
    unit = await make_unit(db, clock.now(), "江汉区民意街道党工委")
    group = await make_group(db, clock.now(), "驻深圳流动党员党小组")
    async with db.session() as session:
        record = await session.scalar(select(Member).where(Member.telegram_user_id == BOB))
        assert record is not None
        record.home_unit_id = unit.id
        record.origin = "湖北省武汉市江汉区"
        record.destination = "广东省深圳市"
        record.workplace = "南山医院"
        await session.execute(insert(member_groups).values(member_id=record.id, group_id=group.id))
    await talk(
        bob,
        [
            (
                "/where",
                [
                    "My registration",
                    "Status: outflow member",
                    "Home unit: 江汉区民意街道党工委",
                    "Groups: 驻深圳流动党员党小组",
                    "Origin: 湖北省武汉市江汉区",
                    "Destination: 广东省深圳市",
                    "Workplace: 南山医院",
                    "Last check-in: none yet",
                    "Location consent: given",
                    "No check-in yet this month",
                ],
            ),
            ("/checkin", "1/3"),
            ("Shenzhen Nanshan", "2/3"),
            *EN_REST,
            (
                "/where",
                ["Last check-in: 2026-11-15, Stable", "Current location: 广东省 深圳市 南山区"],
            ),
        ],
    )


async def test_the_period_is_the_month_in_the_members_own_time_zone(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    # 01:00 on 1 December in Wuhan; still 18:00 on 30 November in Berlin.
    clock.set(datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    await member(db, clock, ALICE)
    await member(db, clock, BOB, locale="en", timezone="Europe/Berlin")
    alice = Person(application, bot_api, ALICE)
    bob = Person(application, bot_api, BOB, language_code="en")
    await talk(
        alice,
        [
            ("/checkin", "2026年12月 月度报到"),
            ("武汉", "2/3"),
            *ZH_REST[:3],
            ("✅ 确认提交", "2026年12月的报到完成了"),
            ("/where", "最近报到：2026-12-01"),
        ],
    )
    await talk(
        bob,
        [
            ("/checkin", "Monthly check-in, 2026-11"),
            ("Berlin Mitte", "kept exactly as you typed"),
            *EN_REST,
            ("/where", "Last check-in: 2026-11-30"),
        ],
    )
    assert [c.period for c in await checkins(db)] == ["2026-12", "2026-11"]


async def test_consent_withdrawn_during_the_checkin_keeps_the_pin_out(
    alice: Person, db: Database, clock: FakeClock
) -> None:
    await talk(alice, [("/checkin", "1/3"), ("/loc 22.54 113.93", "南山区"), *ZH_REST[:3]])
    async with db.session() as session:
        record = await session.scalar(select(Member).where(Member.telegram_user_id == ALICE))
        assert record is not None
        await set_consent(session, clock.now(), record.id, Consent.DECLINED)
    await talk(alice, [("✅ 确认提交", ["没有保存", "撤回了位置授权", "/checkin"])])
    assert await checkins(db) == []
    assert await location_reports(db) == []


async def test_checkin_in_a_group_chat_points_to_a_private_chat(
    alice: Person, db: Database
) -> None:
    replies = await alice.send_update(alice.updates.group_text(alice.user, "/checkin"))
    assert "请私聊我" in replies[0].text
    assert await checkins(db) == []


# --- the member's own time zone -------------------------------------------------------------


def toast(bot_api: LocalBotApi) -> str | None:
    """What the last button press answered (the small notice over the chat)."""
    answers = [params for method, params in bot_api.calls if method == "answerCallbackQuery"]
    return answers[-1].get("text") if answers else None


async def member_zone_of(db: Database, user_id: int) -> str | None:
    async with db.session() as session:
        return await session.scalar(
            select(Member.timezone).where(Member.telegram_user_id == user_id)
        )


async def test_a_checkin_from_abroad_offers_the_local_time_and_a_second_press_does_nothing(
    alice: Person, bot_api: LocalBotApi, db: Database
) -> None:
    # 2026-11-15 10:00 in Wuhan is 06:00 in Dubai.
    await talk(
        alice,
        [
            ("/checkin", "1/3 您现在在哪里"),
            ("阿联酋迪拜", ["没有认出“阿联酋迪拜”这个地名", "2/3"]),
            *ZH_REST[:3],
            (
                "✅ 确认提交",
                [
                    "2026年11月的报到完成了",
                    "您所在的地方是 Asia/Dubai 时间（当地现在 06:00）",
                    "要按当地时间给您发每月报到提醒吗",
                ],
            ),
        ],
    )
    saved = alice.last[-1]
    assert alice.button_texts == ["🕘 改用当地时间", "保持不变"]
    await alice.say("🕘 改用当地时间")
    assert toast(bot_api) == "好的，以后按 Asia/Dubai 时间提醒您报到（当地现在 06:00）。"
    assert alice.buttons == []  # the offer is gone from the confirmation
    assert await member_zone_of(db, ALICE) == "Asia/Dubai"
    assert (await audit_actions(db))[-1] == "member.timezone"

    # The same button again (a double tap): answered, nothing stored or edited.
    again = await alice.send_update(alice.updates.press(alice.user, saved, saved.flat_buttons[0]))
    assert [o.method for o in again if o.method != "answerCallbackQuery"] == []
    assert toast(bot_api) == "您已经在用 Asia/Dubai 时间了。"
    assert (await audit_actions(db)).count("member.timezone") == 1
    # /where says so, with the time there.
    await talk(
        alice, [("/where", "时区：Asia/Dubai（当地现在 06:00），月度报到提醒按当地时间发送")]
    )


async def test_a_pin_abroad_is_kept_as_the_country_and_keep_changes_nothing(
    bob: Person, bot_api: LocalBotApi, db: Database
) -> None:
    await talk(
        bob,
        [
            ("/checkin", "1/3"),
            ("/loc 52.52 13.40", ["Germany", "2/3"]),
            *EN_REST[:3],
            (
                "✅ Confirm",
                ["check-in for 2026-11 is done", "Where you are, the time zone is Europe/Berlin"],
            ),
        ],
    )
    assert bob.button_texts == ["🕘 Use local time", "Keep as it is"]
    await bob.say("Keep as it is")
    assert toast(bot_api) == "Fine, your reminder times stay as they are."
    assert bob.buttons == []
    assert await member_zone_of(db, BOB) is None
    [report] = await location_reports(db)
    assert (report.source, report.text, report.province) == (
        LocationSource.SHARED,
        "Germany",
        None,
    )


async def test_back_home_from_berlin_offers_china_time_and_the_service_request_stays(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await member(db, clock, ALICE, timezone="Europe/Berlin")
    alice = Person(application, bot_api, ALICE)
    await talk(
        alice,
        [
            ("/checkin", "1/3"),
            ("深圳南山", "广东省 深圳市 南山区"),
            *ZH_REST[:2],
            ("需要帮助", "请简单说说"),
            ("孩子上学", "请核对"),
            ("✅ 确认提交", ["Asia/Shanghai 时间（当地现在 10:00）", "服务申请"]),
        ],
    )
    assert alice.button_texts == ["📝 转为服务申请", "🕘 改用当地时间", "保持不变"]
    await alice.say("🕘 改用当地时间")
    assert alice.button_texts == ["📝 转为服务申请"]
    assert await member_zone_of(db, ALICE) == "Asia/Shanghai"


async def test_a_place_on_the_members_own_clock_offers_nothing(alice: Person, db: Database) -> None:
    # Hong Kong has a zone name of its own, but China's clock: nothing to switch.
    await talk(alice, [("/checkin", "1/3"), ("香港", "2/3"), *ZH_REST[:3]])
    await talk(alice, [ZH_REST[3]])
    assert "时间" not in alice.last_text
    assert alice.buttons == []


async def test_part_of_a_button_is_a_typed_place_not_a_press(alice: Person, db: Database) -> None:
    await talk(alice, [("/checkin", "1/3"), ("深圳福田", "广东省 深圳市 福田区"), *ZH_REST[:4]])
    await talk(alice, [("/checkin", "1/3")])
    assert alice.button_texts == ["📍 发送我的位置", "广东省 深圳市 福田区"]
    # "深圳" is what she typed: the city, not the district on the button that contains it.
    await talk(alice, [("深圳", "所在地：广东省 深圳市")])
    assert "福田区" not in alice.last_text
    # The button's whole text (or its number) presses it.
    await talk(alice, [("/checkin", "1/3"), ("2", "所在地：广东省 深圳市 福田区")])
