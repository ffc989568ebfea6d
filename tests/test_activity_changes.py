"""An activity cancelled or changed, and its waiting list.

The liaison cancels a forum from its card (the reason typed, then confirmed; the
confirmation pressed twice cancels once): everyone invited who had not said no hears it on
their own channel, in their language, with the reason escaped; no reminder follows, answers
and check-ins are refused, and the members' and the staff's lists say it is cancelled. A
change of time moves the reminder (sent again only for a new day); a "yes" beyond the
capacity waits in line, and a "no" or more places give the first in line the place.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.botapi import Button, LocalBotApi, Outgoing, _buttons
from bot.context import LiaisonApplication, Services
from messages.activities import activity_cancel, activity_change, activity_place
from messages.render import Reader, Renderer
from scheduler.jobs import job_specs, run_due
from storage.activities import (
    KEEP,
    ActivityError,
    Answered,
    answer,
    cancel_activity,
    change_activity,
    create_activity,
    view_activity,
)
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    ActivityAnswer,
    ActivityKind,
    AuditEvent,
    ChannelName,
    Delivery,
    Member,
    MessageKind,
    Staff,
)
from storage.mydata import as_json, member_data
from storage.payloads import ActivityCancel, ActivityChange, ActivityPlace
from tests.chat import Person, talk
from tests.delivery import Deliver, RecordingSms, make_dispatcher
from tests.factories import make_group, make_member, make_staff

WUHAN = ZoneInfo("Asia/Shanghai")
ZHANG = 9901  # 张伟, Telegram, Chinese
WANG = 9902  # 王芳, Telegram, Chinese
LIU = 9903  # 刘洋, Telegram, English
LIAISON = 9904  # 李联络, liaison of 驻深圳
ZHAO = "+8613900000021"  # 赵敏: SMS only
QIAN = "+8613900000022"  # 钱军: SMS only
# 2026-12-05 14:00 in Wuhan, two hours.
STARTS = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
REASON = "<b>暴雨</b>预警 & 场地关闭"


@pytest.fixture(autouse=True)
async def district(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    shenzhen = await make_group(db, now, "驻深圳党小组")
    for user_id, name, phone, locale in (
        (ZHANG, "张伟", "+8613800000001", None),
        (WANG, "王芳", "+8613800000002", None),
        (LIU, "刘洋", "+8613800000003", "en"),
    ):
        await make_member(
            db,
            now,
            name=name,
            phone=phone,
            telegram_user_id=user_id,
            groups=[shenzhen],
            locale=locale,
        )
    for name, phone in (("赵敏", ZHAO), ("钱军", QIAN)):
        await make_member(db, now, name=name, phone=phone, groups=[shenzhen])
    await make_staff(db, now, telegram_user_id=LIAISON, name="李联络", groups=[shenzhen])


async def people(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {name: id_ for id_, name in await session.execute(select(Member.id, Member.name))}


async def forum(db: Database, clock: FakeClock, *, capacity: int | None = None) -> int:
    async with db.session() as session:
        created = await create_activity(
            session,
            clock.now(),
            kind=ActivityKind.FORUM,
            title="流动党员座谈会",
            starts_at=STARTS,
            ends_at=STARTS + timedelta(hours=2),
            groups=["驻深圳党小组"],
            actor="cli:test",
            organiser="区委组织部",
            zone=WUHAN,
            address="武汉市江汉区民意四路 12 号",
            capacity=capacity,
        )
    return created.activity.id


async def says(
    db: Database, clock: FakeClock, activity_id: int, name: str, choice: ActivityAnswer
) -> Answered:
    async with db.session() as session:
        outcome = await answer(
            session,
            clock.now(),
            activity_id=activity_id,
            member_id=(await people(db))[name],
            choice=choice,
            zone=WUHAN,
        )
    return outcome.result


async def kinds_to(db: Database, kind: MessageKind) -> dict[str, str | None]:
    """Who got a message of kind, and its topic."""
    async with db.session() as session:
        rows = await session.execute(
            select(Member.name, Delivery.topic)
            .join(Member, Member.id == Delivery.member_id)
            .where(Delivery.kind == kind)
        )
        return {name: topic for name, topic in rows}


async def press(who: Person, message: Outgoing, text: str) -> str:
    """who presses the button labelled text under message; the toast it showed."""
    _, markup = who.api.current.get((message.chat_id, message.message_id), ("", None))
    shown = [b for row in _buttons(markup)[0] for b in row] if markup else message.flat_buttons
    button = next(b for b in shown if b.text == text)
    toasts = len(who.api.toasts)
    who.last = await who.send_update(who.updates.press(who.user, message, button))
    return " ".join(t.text for t in who.api.toasts[toasts:])


async def test_a_cancellation_reaches_everyone_invited_who_had_not_said_no(
    db: Database,
    clock: FakeClock,
    services: Services,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
) -> None:
    sms = RecordingSms()
    deliver = Deliver(make_dispatcher(services, application.bot, sms=sms), bot_api)
    activity_id = await forum(db, clock)
    invitations = await deliver()
    await says(db, clock, activity_id, "张伟", ActivityAnswer.YES)
    await says(db, clock, activity_id, "王芳", ActivityAnswer.NO)
    await says(db, clock, activity_id, "钱军", ActivityAnswer.NO)

    # The liaison: the card's "cancel", the reason, the confirmation.
    liaison = Person(application, bot_api, LIAISON)
    await talk(
        liaison,
        [
            (f"/activities {activity_id}", ["活动 #1", "签到码"]),
            ("❌ 取消活动", "请输入取消的原因"),
            ("长" * 301, "原因太长了"),
            # Shown as typed: escaped, not taken for markup.
            (REASON, ["请确认", f"原因：{REASON}"]),
        ],
    )
    confirmation = next(o for o in reversed(liaison.last) if o.buttons)
    await talk(liaison, [("❌ 确认取消活动并通知", "已取消，取消通知正在发给 3 人")])
    # Pressed again (a double tap): an old button; nothing more happens.
    again = liaison.updates.press(liaison.user, confirmation, Button("❌", "act:chgok"))
    liaison.last = await liaison.send_update(again)
    assert "这个按钮已经失效" in liaison.last_text
    async with db.session() as session:
        cancels = await session.scalar(
            select(func.count()).where(AuditEvent.action == "activity.cancel")
        )
    assert cancels == 1

    # 张伟 (coming) and 刘洋 (no answer) on Telegram, 赵敏 (no answer) by SMS; not 王芳 nor
    # 钱军, who said no.
    got = await deliver()
    assert set(got) == {ZHANG, LIU}
    (zhang_told,) = got[ZHANG]
    assert "【活动取消】流动党员座谈会" in zhang_told.text
    assert "原因：&lt;b&gt;暴雨&lt;/b&gt;预警 &amp; 场地关闭" in zhang_told.text
    assert zhang_told.flat_buttons == []
    (liu_told,) = got[LIU]
    assert "[Cancelled] 流动党员座谈会" in liu_told.text
    assert "Reason: &lt;b&gt;暴雨" in liu_told.text
    assert sms.to(ZHAO)[-1] == (
        "【活动取消】流动党员座谈会（原定2026-12-05 14:00）取消，不再举行。"
        f"原因：{REASON}。——区委组织部"
    )
    assert len(sms.to(QIAN)) == 1  # the invitation only

    # No reminder the day before.
    assert f"activity:{activity_id}:remind" not in [
        spec.id for spec in await job_specs(db, services.settings, clock.now())
    ]
    clock.set(STARTS - timedelta(days=1))
    await run_due(db, clock.now(), services.settings)
    assert await kinds_to(db, MessageKind.ACTIVITY_REMIND) == {}

    # An answer now is told it is cancelled; the lists say so.
    zhang = Person(application, bot_api, ZHANG)
    (invitation,) = invitations[ZHANG]
    assert "活动已经取消" in await press(zhang, invitation, "✖️ 我不能参加")
    await talk(zhang, [("/activities", ["流动党员座谈会", "❌ 已取消：", "暴雨"])])
    assert zhang.button_texts == []
    await talk(liaison, [("/activities", ["流动党员座谈会", "❌ 已取消"])])
    await talk(liaison, [(f"/activities {activity_id}", "❌ 已取消")])
    assert "❌ 取消活动" not in liaison.button_texts
    # Nor a check-in with the code, at the time it would have started.
    async with db.session() as session:
        card = await view_activity(session, clock.now(), activity_id, staff_id=None, actor="t")
    assert card is not None
    clock.set(STARTS)
    await talk(zhang, [(f"/attend {card.activity.code}", "已经取消，不能签到")])
    assert len(sms.to(ZHAO)) == 2  # the invitation and the cancellation


async def test_a_change_tells_what_changed_and_the_reminder_follows_the_new_day(
    db: Database, clock: FakeClock, services: Services, deliver: Deliver
) -> None:
    activity_id = await forum(db, clock)
    await deliver()
    await says(db, clock, activity_id, "张伟", ActivityAnswer.YES)
    await says(db, clock, activity_id, "王芳", ActivityAnswer.NO)

    async def change(when: datetime, **values: object) -> tuple[str, ...]:
        async with db.session() as session:
            changed = await change_activity(
                session,
                clock.now(),
                activity_id,
                actor="cli:test",
                zone=WUHAN,
                staff_id=None,
                starts_at=when,
                **values,  # type: ignore[arg-type]
            )
        return changed.changed

    # A start in the past is refused; nothing changes.
    with pytest.raises(ActivityError) as refused:
        await change(clock.now() - timedelta(hours=1))
    assert refused.value.reason == "past"

    # Moved a week on before any reminder: the timer follows.
    assert await change(STARTS + timedelta(days=7)) == ("time",)
    (timer,) = [
        spec
        for spec in await job_specs(db, services.settings, clock.now())
        if spec.id == f"activity:{activity_id}:remind"
    ]
    assert timer.next_time(clock.now()) == STARTS + timedelta(days=6)
    got = await deliver()
    # Those coming or not answered are told old → new; 王芳, who said no, is not.
    assert set(got) == {ZHANG, LIU}
    (told,) = got[ZHANG]
    assert "【活动变更】流动党员座谈会" in told.text
    assert "<s>2026-12-05 14:00–16:00</s> → <b>2026-12-12 14:00–16:00</b>" in told.text
    assert [b.text for b in told.flat_buttons] == ["✅ 我参加", "✖️ 我不能参加"]
    # Whatever they had answered stands: the buttons are only to change it.
    assert "您原来的回复不变" in told.text
    assert "When: <s>2026-12-05 14:00–16:00</s> → <b>2026-12-12 14:00–16:00</b>" in (
        got[LIU][0].text
    )

    # The reminder goes the day before the new date.
    clock.set(STARTS + timedelta(days=6))
    await run_due(db, clock.now(), services.settings)
    assert await kinds_to(db, MessageKind.ACTIVITY_REMIND) == {"张伟": f"act{activity_id}:remind1"}
    # Later the same day: already reminded for that day, not again.
    assert await change(STARTS + timedelta(days=7, hours=3)) == ("time",)
    await run_due(db, clock.now(), services.settings)
    assert len(await kinds_to(db, MessageKind.ACTIVITY_REMIND)) == 1
    # Another day: reminded again, the day before it.
    assert await change(STARTS + timedelta(days=9)) == ("time",)
    await run_due(db, clock.now(), services.settings)
    assert len(await kinds_to(db, MessageKind.ACTIVITY_REMIND)) == 1
    clock.set(STARTS + timedelta(days=8))
    await run_due(db, clock.now(), services.settings)
    async with db.session() as session:
        topics = sorted(
            await session.scalars(
                select(Delivery.topic).where(Delivery.kind == MessageKind.ACTIVITY_REMIND)
            )
        )
    assert topics == [f"act{activity_id}:remind1", f"act{activity_id}:remind3"]
    got = await deliver()
    assert any("【活动提醒】明天" in m.text and "2026-12-14 14:00" in m.text for m in got[ZHANG])
    # The same values again change nothing and tell nobody.
    assert await change(STARTS + timedelta(days=9), capacity=KEEP) == ()


async def test_the_waiting_list_moves_when_someone_says_no_or_places_are_added(
    db: Database,
    clock: FakeClock,
    services: Services,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
) -> None:
    sms = RecordingSms()
    deliver = Deliver(make_dispatcher(services, application.bot, sms=sms), bot_api)
    activity_id = await forum(db, clock, capacity=1)
    await deliver()
    assert await says(db, clock, activity_id, "张伟", ActivityAnswer.YES) is Answered.YES
    assert await says(db, clock, activity_id, "刘洋", ActivityAnswer.YES) is Answered.WAITING
    assert await says(db, clock, activity_id, "赵敏", ActivityAnswer.YES) is Answered.WAITING
    assert await says(db, clock, activity_id, "王芳", ActivityAnswer.YES) is Answered.WAITING
    # 王芳 stops waiting: she is off the list, and 赵敏 stays second.
    assert await says(db, clock, activity_id, "王芳", ActivityAnswer.NO) is Answered.NO

    async with db.session() as session:
        card = await view_activity(session, clock.now(), activity_id, staff_id=None, actor="t")
    assert card is not None and (card.activity.yes, card.activity.waiting) == (1, 2)
    assert [(line.name, line.waiting) for line in card.roster][:3] == [
        ("张伟", None),
        ("刘洋", 1),
        ("赵敏", 2),
    ]
    # The member's copy of their data says they wait.
    async with db.session() as session:
        data = await member_data(session, clock.now(), (await people(db))["赵敏"])
    assert data is not None
    [record] = as_json(data)["activities"]
    assert record["answer"] is None and record["waiting_since"] is not None
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [(f"/activities {activity_id}", "候补 2")])
    await talk(liaison, [("📋 名单", ["刘洋", "候补第 1 位", "赵敏", "候补第 2 位"])])

    # 张伟 cannot come after all: 刘洋, first in line, has the place and is told.
    assert await says(db, clock, activity_id, "张伟", ActivityAnswer.NO) is Answered.NO
    got = await deliver()
    assert set(got) == {LIU}
    assert "[A place for you] 流动党员座谈会" in got[LIU][0].text
    assert [b.text for b in got[LIU][0].flat_buttons] == ["✖️ I can't come after all"]

    # More places go to the waiting list, in its order.
    async with db.session() as session:
        changed = await change_activity(
            session,
            clock.now(),
            activity_id,
            actor="cli:test",
            zone=WUHAN,
            staff_id=None,
            capacity=3,
        )
    assert changed.changed == ("capacity",)
    assert changed.promoted == ((await people(db))["赵敏"],)
    got = await deliver()
    assert sms.to(ZHAO)[-1] == (
        "【候补成功】流动党员座谈会（2026-12-05 14:00，武汉市江汉区民意四路 12 号）有名额空出，"
        f"已登记您参加。来不了请回复“不参加{activity_id}”。"
    )
    # 刘洋, coming, hears that the places changed; 赵敏 only that she has one.
    assert "Places: 1 → <b>3</b>" in got[LIU][0].text
    assert len([t for t in sms.to(ZHAO) if "【活动变更】" in t]) == 0
    async with db.session() as session:
        card = await view_activity(session, clock.now(), activity_id, staff_id=None, actor="t")
    assert card is not None and (card.activity.yes, card.activity.waiting) == (2, 0)
    # Fewer places than those coming is refused.
    async with db.session() as session:
        with pytest.raises(ActivityError) as refused:
            await change_activity(
                session,
                clock.now(),
                activity_id,
                actor="cli:test",
                zone=WUHAN,
                staff_id=None,
                capacity=1,
            )
    assert refused.value.reason == "below_coming"


async def test_a_cancellation_twice_tells_once(db: Database, clock: FakeClock) -> None:
    activity_id = await forum(db, clock)
    for attempt in (1, 2):
        async with db.session() as session:
            done = await cancel_activity(
                session,
                clock.now(),
                activity_id,
                reason="场地维修",
                actor="cli:test",
                zone=WUHAN,
                staff_id=None,
            )
        assert done.already is (attempt == 2)
    told = await kinds_to(db, MessageKind.ACTIVITY_CANCEL)
    assert set(told) == {"张伟", "王芳", "刘洋", "赵敏", "钱军"}
    # The invitations not yet sent are not sent now.
    async with db.session() as session:
        pending = await session.scalar(
            select(func.count()).where(
                Delivery.kind == MessageKind.ACTIVITY_INVITE, Delivery.status == "pending"
            )
        )
    assert pending == 0


# --- the rest of every turn, in both languages ------------------------------------------------

# What each language says: (Chinese, English).
SAYS = {
    "ask_time": ("请输入新的时间", "Type the new time"),
    "unexpected": ("请用文字输入", "Please type it as text"),
    "cancelled": ("已取消，活动没有改动", "Cancelled: the activity is unchanged"),
    "stale": ("这个按钮已经失效", "This button no longer works"),
    "ask_place": ("请输入新的地点", "Type the new place"),
    "expired": ("修改活动放了太久", "The change you were making was left too long"),
    "ask_capacity": ("请输入新的名额人数", "Type the new number of places"),
    "bad_capacity": ("不是人数", "is not a number of people"),
    "confirm": ("名额：不限 → 5 人", "Places: no limit → 5"),
    "done": ("活动 #1“流动党员座谈会”已修改", "Activity #1 “流动党员座谈会” changed"),
}
LABELS = {
    "time": ("🕒 改时间", "🕒 Change time"),
    "place": ("📍 改地点", "📍 Change place"),
    "capacity": ("👥 改名额", "👥 Change places"),
    "quit": ("✖️ 取消", "✖️ Cancel"),
    "confirm": ("✅ 确认修改并通知", "✅ Confirm and tell them"),
}


@pytest.mark.parametrize("language", [0, 1])
async def test_every_turn_of_a_change_says_what_to_do_in_each_language(
    db: Database,
    clock: FakeClock,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    language: int,
) -> None:
    said = {key: pair[language] for key, pair in SAYS.items()}
    labels = {key: pair[language] for key, pair in LABELS.items()}
    async with db.session() as session:
        for staff in await session.scalars(select(Staff)):
            staff.locale = ("zh_CN", "en")[language]
    activity_id = await forum(db, clock)
    liaison = Person(application, bot_api, LIAISON)
    card = f"/activities {activity_id}"
    # A sticker where text is asked, then the cancel button.
    await talk(liaison, [(card, None), (labels["time"], said["ask_time"])])
    liaison.last = await liaison.send_update(liaison.updates.sticker(liaison.user))
    assert said["unexpected"] in liaison.last_text
    await talk(liaison, [(labels["quit"], said["cancelled"])])
    stale = liaison.updates.press(liaison.user, liaison.last[-1], Button("x", "act:chgok"))
    liaison.last = await liaison.send_update(stale)
    assert said["stale"] in liaison.last_text
    # A long pause.
    await talk(liaison, [(card, None), (labels["place"], said["ask_place"])])
    clock.advance(timedelta(hours=13))
    await talk(liaison, [("民意街道党员之家", said["expired"])])
    # A number that is none, then one, confirmed.
    await talk(
        liaison,
        [
            (card, None),
            (labels["capacity"], said["ask_capacity"]),
            ("许多", said["bad_capacity"]),
            ("5", said["confirm"]),
            (labels["confirm"], said["done"]),
        ],
    )


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_messages_of_a_change_on_each_channel(renderer: Renderer, locale: str) -> None:
    base = {
        "activity_id": 7,
        "kind": "meeting",
        "title": "<b>全体</b> & 会议",
        "starts": "2026-12-06 09:00",
        "ends": "11:00",
        "address": "民意四路 <12> 号",
        "capacity": 30,
        "organiser": "李<i>联络</i>",
    }
    messages = (
        (activity_cancel, ActivityCancel(**base, reason="<暴雨>")),
        (
            activity_change,
            ActivityChange(
                **base,
                changed=["time", "place", "capacity"],
                was_starts="2026-12-05 14:00",
                was_ends="16:00",
                was_place="民意街道党员之家",
                was_address="民意四路 12 号",
                was_capacity=20,
            ),
        ),
        (activity_place, ActivityPlace(**base)),
    )
    for render, payload in messages:
        html, _ = render(Reader(renderer, locale, WUHAN, ChannelName.TELEGRAM), payload)  # type: ignore[operator]
        text, none = render(Reader(renderer, locale, WUHAN, ChannelName.SMS), payload)  # type: ignore[operator]
        # Telegram escapes what staff typed; the SMS is plain text, as typed.
        assert "&lt;b&gt;全体&lt;/b&gt; &amp; 会议" in html and "<b>全体</b> & 会议" in text
        assert none == ()
        assert "2026-12-06 09:00" in text
    cancel_sms = activity_cancel(
        Reader(renderer, locale, WUHAN, ChannelName.SMS), ActivityCancel(**base, reason="<暴雨>")
    )[0]
    assert "<暴雨>" in cancel_sms


async def test_another_liaisons_activity_cannot_be_changed_or_cancelled(
    db: Database, clock: FakeClock, application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    shanghai = await make_group(db, clock.now(), "驻上海党小组")
    await make_staff(db, clock.now(), telegram_user_id=9905, name="陈联络", groups=[shanghai])
    activity_id = await forum(db, clock)
    other = Person(application, bot_api, 9905)
    await talk(other, [("/activities", None)])
    forged = other.updates.press(
        other.user, other.last[-1], Button("x", f"act:chg:{activity_id}:cancel")
    )
    other.last = await other.send_update(forged)
    assert f"没有找到活动 #{activity_id}" in other.last_text
    async with db.session() as session:
        refused = await session.scalar(
            select(func.count()).where(AuditEvent.action == "activity.cancel.refused")
        )
        cancelled = await session.scalar(
            select(func.count()).where(Delivery.kind == MessageKind.ACTIVITY_CANCEL)
        )
    assert (refused, cancelled) == (1, 0)
