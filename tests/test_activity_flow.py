"""An activity in Telegram, from the liaison's /activities to the members' attendance.

The liaison makes a forum at a members' home for one group, with two places; the
invitations go out through the outbox with "I'll come / I can't"; the members answer (one
twice, one when it is full, one changes her mind); the day before, those coming are
reminded; at the venue one checks in with the code, one in reply to the invitation, one is
too far away and then marked by the liaison; afterwards each sees their own record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert, select

from bot.botapi import Button, LocalBotApi, Outgoing, _buttons
from bot.context import LiaisonApplication, Services
from scheduler.jobs import job_specs, run_due
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    Activity,
    ActivityAnswer,
    ActivityInvitation,
    AttendanceSource,
    AuditEvent,
    Conversation,
    Group,
    Member,
    Staff,
    staff_groups,
)
from storage.places import haversine_m
from tests.chat import Person, said, talk
from tests.delivery import Deliver, Received
from tests.factories import make_group, make_member, make_place, make_staff

ZHANG = 9801  # 张伟, of 驻深圳
WANG = 9802  # 王芳, of 驻深圳
LIU = 9803  # 刘洋, of 驻深圳
LIAISON = 9804  # 李联络, liaison of 驻深圳
OTHER_LIAISON = 9805  # 陈联络, liaison of 驻上海 only
SHANGHAI_MEMBER = 9806  # 孙丽, of 驻上海

# The members' home of the sample data: where the forum is.
HOME = (30.5840, 114.2745)
# 2026-12-05 in Wuhan (+08:00): the forum from 14:00 to 16:30.
STARTS = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
ENDS = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
async def district(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    shenzhen = await make_group(db, now, "驻深圳党小组")
    shanghai = await make_group(db, now, "驻上海党小组")
    for user_id, name, phone in (
        (ZHANG, "张伟", "+8613800000001"),
        (WANG, "王芳", "+8613800000002"),
        (LIU, "刘洋", "+8613800000003"),
    ):
        await make_member(
            db, now, name=name, phone=phone, telegram_user_id=user_id, groups=[shenzhen]
        )
    await make_member(
        db,
        now,
        name="孙丽",
        phone="+8613800000006",
        telegram_user_id=SHANGHAI_MEMBER,
        groups=[shanghai],
    )
    await make_staff(db, now, telegram_user_id=LIAISON, name="李联络", groups=[shenzhen])
    await make_staff(db, now, telegram_user_id=OTHER_LIAISON, name="陈联络", groups=[shanghai])
    await make_place(db, now, latitude=HOME[0], longitude=HOME[1])
    await make_place(db, now, name="民权街道党员之家", address="武汉市江汉区民权路 3 号")


def person(application: LiaisonApplication, bot_api: LocalBotApi, user_id: int) -> Person:
    return Person(application, bot_api, user_id)


async def press(who: Person, message: Outgoing, text: str) -> str:
    """who presses the button labelled text under message (wherever it is in their chat);
    the toast it showed ("" for none). What the bot sent is who.last."""
    # The buttons as they are now (a press may have changed their labels since).
    _, markup = who.api.current.get((message.chat_id, message.message_id), ("", None))
    shown = [b for row in _buttons(markup)[0] for b in row] if markup else message.flat_buttons
    button = next(b for b in shown if b.text == text)
    toasts = len(who.api.toasts)
    who.last = await who.send_update(who.updates.press(who.user, message, button))
    return " ".join(t.text for t in who.api.toasts[toasts:])


async def make_forum(liaison: Person, *, capacity: str = "2") -> str:
    """The liaison's whole /activities → new activity; returns the check-in code."""
    await talk(
        liaison,
        [
            ("/activities", ["还没有活动", "新活动"]),
            ("➕ 新活动", "新活动 1/7"),
            ("座谈会", "活动名称"),
            ("2026年流动党员座谈会", ["新活动 3/7", "2026年流动党员座谈会"]),
            # A time that passed is refused with its reason, and asked again.
            ("2026-11-01 14:00", ["已经过去了", "什么时候"]),
            ("2026-12-05 14:00-16:30", ["新活动 4/7", "2026-12-05 14:00–16:30"]),
            # Part of two places' names: which one, or the text as an address.
            ("党员之家", ["是哪一个", "对应 2 个场所"]),
        ],
    )
    assert liaison.button_texts == [
        "📍 民意街道党员之家（武汉市江汉区）",
        "📍 民权街道党员之家（武汉市江汉区）",
        "📝 不是这些，就用我输入的地址",
        "✖️ 取消",
    ]
    await talk(
        liaison,
        [
            ("📍 民意街道党员之家（武汉市江汉区）", ["新活动 5/7", "民意四路 12 号"]),
            ("驻深圳党小组", None),
            ("下一步 ➡️", "新活动 6/7"),
            ("两个", ["不是人数", "限多少人"]),
            (
                capacity,
                [
                    "【活动邀请】2026年流动党员座谈会",
                    "类型：座谈会",
                    "名额：2 人",
                    "新活动 7/7：预览",
                    "收件人：3 人",
                ],
            ),
            ("📤 发出邀请", ["活动 #1", "邀请正在发给 3 人", "签到码"]),
        ],
    )
    async with liaison.application.bot_data.services.db.session() as session:
        code = await session.scalar(select(Activity.code))
    assert code is not None and code in liaison.last_text
    return code


def reminded(got: Received, heading: str) -> dict[int, Outgoing]:
    """The activity reminder each chat received (the run also sends the month's prompts)."""
    found = {}
    for chat, messages in got.items():
        ours = [m for m in messages if heading in said([m])]
        if ours:
            (found[chat],) = ours
    return found


async def answers(db: Database) -> dict[str, ActivityAnswer | None]:
    async with db.session() as session:
        rows = await session.execute(
            select(Member.name, ActivityInvitation.answer).join(
                ActivityInvitation, ActivityInvitation.member_id == Member.id
            )
        )
        return {name: answer for name, answer in rows}


async def test_an_activity_from_the_liaisons_invitation_to_the_members_attendance(
    db: Database,
    clock: FakeClock,
    services: Services,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    deliver: Deliver,
) -> None:
    liaison = person(application, bot_api, LIAISON)
    zhang, wang, liu = (person(application, bot_api, u) for u in (ZHANG, WANG, LIU))
    code = await make_forum(liaison)

    # The invitations, on each member's Telegram, with the two buttons; 孙丽 of 驻上海 none.
    got = await deliver()
    assert SHANGHAI_MEMBER not in got
    invitations = {}
    for user_id in (ZHANG, WANG, LIU):
        (message,) = got[user_id]
        assert "【活动邀请】2026年流动党员座谈会" in message.text
        assert "民意街道党员之家" in message.text
        assert [b.text for b in message.flat_buttons] == ["✅ 我参加", "✖️ 我不能参加"]
        invitations[user_id] = message

    # 张伟 comes, and presses again: recorded once.
    assert "已登记：您参加" in (await press(zhang, invitations[ZHANG], "✅ 我参加"))
    again = await press(zhang, invitations[ZHANG], "✅ 我参加（已选）")
    assert "已经登记过了" in again
    # 王芳 comes too: the two places are taken.
    assert "已登记：您参加" in (await press(wang, invitations[WANG], "✅ 我参加"))
    # 刘洋 is told it is full, and goes on the waiting list (first in line).
    assert "候补名单" in await press(liu, invitations[LIU], "✅ 我参加")
    assert "您是第 1 位" in liu.last_text
    assert await answers(db) == {"张伟": "yes", "王芳": "yes", "刘洋": None}
    # 王芳 changes her mind; 刘洋, first in line, gets the place and is told.
    assert "您不能参加" in (await press(wang, invitations[WANG], "✖️ 我不能参加"))
    assert await answers(db) == {"张伟": "yes", "王芳": "no", "刘洋": "yes"}
    got = await deliver()
    (place,) = got[LIU]
    assert "【候补成功】2026年流动党员座谈会" in place.text
    assert [b.text for b in place.flat_buttons] == ["✖️ 我来不了了"]
    assert set(got) == {LIU}
    async with db.session() as session:
        audited = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action.startswith("activity."))
            )
        )
    # 张伟 once, 王芳 twice; 刘洋 waited and got the place; the repeated press none.
    assert audited.count("activity.answer") == 3
    assert audited.count("activity.wait") == audited.count("activity.place") == 1

    # A member's own list: the answer on record, buttons to change it.
    await talk(wang, [("/activities", ["我的活动", "2026年流动党员座谈会", "我的回复：不能参加"])])
    assert wang.button_texts == ["✅ #1 参加", "✖️ #1 不参加（已选）"]

    # The reminder, the day before (a timer of its own), to those coming only; once.
    specs = await job_specs(db, services.settings, clock.now())
    (timer,) = [spec for spec in specs if spec.kind == "activity"]
    assert timer.next_time(clock.now()) == STARTS - timedelta(days=1)
    clock.set(STARTS - timedelta(days=1))
    report = await run_due(db, clock.now(), services.settings)
    assert any("activity reminder for #1" in line for line in report.lines)
    assert (await run_due(db, clock.now(), services.settings)).messages == 0
    # (The month's check-in prompts of December go in the same run: not ours to count.)
    reminders = reminded(await deliver(), "【活动提醒】")
    assert set(reminders) == {ZHANG, LIU}
    reminder = reminders[ZHANG]
    assert "【活动提醒】明天：2026年流动党员座谈会" in reminder.text
    assert [b.text for b in reminder.flat_buttons] == ["📍 我到了，签到", "✖️ 我来不了了"]
    # Answers close when it starts, not at the reminder.
    await talk(zhang, [("/attend", "现在没有您可以签到的活动")])

    # At the venue, half an hour before: a wrong code is refused and nothing recorded.
    clock.set(STARTS - timedelta(minutes=20))
    await talk(
        zhang,
        [
            ("/attend 000000" if code != "000000" else "/attend 111111", "签到码不对"),
            (f"/attend {code}", "签到成功"),
            (f"/attend {code}", "已经签到过"),
        ],
    )
    # 刘洋 replies to the invitation with the code (the message it was about counts).
    typed = liu.updates.text(liu.user, code)
    typed["message"]["reply_to_message"] = {
        "message_id": invitations[LIU].message_id,
        "date": 1,
        "chat": {"id": LIU, "type": "private"},
        "from": bot_api.bot_user,
        "text": invitations[LIU].text,
    }
    assert "签到成功" in said(await liu.send_update(typed))
    # 王芳 said no but comes anyway; "I'm here" is not hers (no reminder), /attend asks. A
    # location 1.8 km north is too far.
    far = round(haversine_m(30.6, HOME[1], *HOME))
    await talk(
        wang,
        [
            ("/attend", ["活动签到", "签到码", "发送我的位置"]),
            ("/loc 30.6000 114.2745", [f"约 {far} 米", "300 米内", "签到码"]),
        ],
    )
    async with db.session() as session:
        assert await session.scalar(select(Conversation.flow)) == "attend"
    await talk(wang, [("/cancel", "已取消签到")])

    # The liaison's card, roster and marking sheet; 王芳 marked by hand.
    await talk(
        liaison,
        [
            ("/activities", ["即将举行和正在进行", "参加 2/2"]),
            ("#1 12-05 2026年流动党员座谈会", ["活动 #1", f"签到码：{code}", "到场：2 人"]),
            ("📋 名单", ["✅ 张伟", "✅ 刘洋", "· 王芳", "不能参加", "签到码"]),
        ],
    )
    # (The roster has no buttons: the card's are still the last shown.)
    await talk(liaison, [("✅ 登记到场", "按名字登记到场")])
    assert liaison.button_texts == ["☑ 刘洋", "☑ 张伟", "☐ 王芳"]
    sheet = next(o for o in reversed(liaison.last) if o.buttons)
    await press(liaison, sheet, "☐ 王芳")
    assert liaison.button_texts == ["☑ 刘洋", "☑ 张伟", "☑ 王芳"]
    # The old button pressed again (a double tap): the same state, nothing new.
    await liaison.send_update(
        liaison.updates.press(
            liaison.user, sheet, next(b for b in sheet.flat_buttons if b.text == "☐ 王芳")
        )
    )
    async with db.session() as session:
        rows = await session.execute(
            select(Member.name, ActivityInvitation.attendance_source).join(
                ActivityInvitation, ActivityInvitation.member_id == Member.id
            )
        )
        sources = dict(rows.all())
        marks = list(
            await session.scalars(
                select(AuditEvent.subject).where(AuditEvent.action == "activity.attendance.mark")
            )
        )
    assert sources == {
        "张伟": AttendanceSource.CODE,
        "刘洋": AttendanceSource.CODE,
        "王芳": AttendanceSource.STAFF,
    }
    assert len(marks) == 1

    # Afterwards each member sees their own record.
    clock.set(ENDS + timedelta(days=1))
    await talk(zhang, [("/activities", ["已经结束", "2026年流动党员座谈会", "✅ 已到场"])])
    await talk(wang, [("/activities", ["已经结束", "✅ 已到场"])])
    # …and in all their data, with who looked at the roster it was on.
    await talk(
        wang,
        [
            (
                "/mydata",
                [
                    "活动（1 次）",
                    "2026年流动党员座谈会：不能参加，已到场",
                    "李联络（联络员）查看了活动名单（其中有您） #1",
                ],
            )
        ],
    )
    # Answers are closed once it started: an old button says so.
    assert "活动已经开始" in await press(zhang, invitations[ZHANG], "✅ 我参加（已选）")


async def test_the_liaisons_flow_ends_cleanly_at_any_step(
    db: Database, application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    liaison = person(application, bot_api, LIAISON)
    await talk(
        liaison,
        [
            ("/activities", "新活动"),
            ("➕ 新活动", "新活动 1/7"),
            ("会议", "活动名称"),
            # A command that starts nothing leaves the flow where it was…
            ("/help", "/cancel"),
            ("支部会议", "什么时候"),
            # … a sticker-like surprise is told what to do …
            ("12-05 14:00-13:00", ["结束时间早于开始时间", "什么时候"]),
            ("12-05 9:00", "在哪里"),
            # … and another conversation's command ends it in one line.
            ("/notice", ["未完成的新活动已结束", "发给谁"]),
            ("/cancel", "已取消"),
        ],
    )
    await talk(liaison, [("/activities", "新活动"), ("➕ 新活动", "1/7"), ("✖️ 取消", "已取消")])
    async with db.session() as session:
        assert list(await session.scalars(select(Activity))) == []
        assert list(await session.scalars(select(Conversation))) == []


async def test_another_liaisons_activity_reads_as_none_and_its_members_are_not_offered(
    db: Database,
    clock: FakeClock,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    deliver: Deliver,
) -> None:
    code = await make_forum(person(application, bot_api, LIAISON))
    other = person(application, bot_api, OTHER_LIAISON)
    # Only their own group to invite, and not 驻深圳's activity in their list or by number.
    await talk(other, [("/activities", "还没有活动"), ("/activities 1", "没有找到活动 #1")])
    await talk(other, [("➕ 新活动", "1/7"), ("会议", "名称"), ("小组会", "什么时候")])
    await talk(other, [("12-06 9:00", "在哪里"), ("武汉市江汉区某路 1 号", "邀请哪些党小组")])
    assert "驻深圳党小组" not in other.button_texts
    assert "驻上海党小组" in other.button_texts
    # A forged press of the other group's card is refused the same way, and audited.
    other.last = await other.send_update(
        other.updates.press(other.user, other.last[-1], Button("x", "act:card:1"))
    )
    assert "没有找到活动 #1" in other.last_text
    async with db.session() as session:
        refused = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action == "activity.view.refused")
            )
        )
    assert len(refused) == 2
    # Members of another group cannot check in with the code: they were not invited.
    await deliver()
    clock.set(STARTS - timedelta(minutes=5))
    await talk(person(application, bot_api, SHANGHAI_MEMBER), [(f"/attend {code}", "签到码不对")])


async def test_the_liaison_cannot_mark_before_check_in_opens(
    db: Database, clock: FakeClock, application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    liaison = person(application, bot_api, LIAISON)
    await make_forum(liaison)
    await talk(liaison, [("/activities 1", "活动 #1"), ("✅ 登记到场", ["签到从 13:30 开始"])])
    sheet = next(o for o in reversed(liaison.last) if o.buttons)
    await press(liaison, sheet, "☐ 张伟")
    assert "还没有开始签到" in liaison.last_text


async def test_in_english_the_liaison_and_the_member_read_every_step(
    db: Database,
    clock: FakeClock,
    services: Services,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    deliver: Deliver,
) -> None:
    async with db.session() as session:
        for member in await session.scalars(select(Member).where(Member.telegram_user_id == ZHANG)):
            member.locale = "en"
        for staff in await session.scalars(select(Staff).where(Staff.telegram_user_id == LIAISON)):
            staff.locale = "en"
    liaison = person(application, bot_api, LIAISON)
    await talk(
        liaison,
        [
            ("/activities", ["No activities yet", "New activity"]),
            ("➕ New activity", "New activity 1/7"),
            ("Forum", "its title"),
            ("Members' forum", "when?"),
            ("someday", ["cannot read", "when?"]),
            ("2027-12-05 14:00", ["more than a year away"]),
            ("2026-12-05 14:00", ["New activity 4/7", "14:00–16:00"]),
            # No place is named so: the text is the address, as typed.
            ("Jianghan party school, 1 Xinhua Road", ["New activity 5/7", "1 Xinhua Road"]),
            ("Next ➡️", None),
        ],
    )
    # Nothing ticked yet: a toast says so, and the question stays.
    assert "choose at least one group" in bot_api.toasts[-1].text
    await talk(
        liaison,
        [
            ("驻深圳党小组", None),
            ("Next ➡️", "how many places"),
            ("0", ["[Invitation] Members' forum", "New activity 7/7", "Recipients: 3"]),
            ("📤 Send the invitations", ["Activity #1", "Check-in code"]),
            ("/activities", ["Coming and under way", "coming 0"]),
            ("#1 12-05 Members' forum", ["Activity #1", "no limit", "1 Xinhua Road"]),
            ("📋 Roster", ["Roster of activity #1", "no answer"]),
        ],
    )
    got = await deliver()
    (invitation,) = got[ZHANG]
    assert "[Invitation] Members' forum" in said([invitation])
    zhang = person(application, bot_api, ZHANG)
    assert "Noted: you will come" in (await press(zhang, invitation, "✅ I'll come"))
    await talk(zhang, [("/activities", ["My activities", "My answer: coming"])])
    clock.set(STARTS - timedelta(days=1))
    await run_due(db, clock.now(), services.settings)
    reminder = reminded(await deliver(), "[Reminder]")[ZHANG]
    assert "[Reminder] Tomorrow: Members' forum" in said([reminder])
    await talk(zhang, [("/attend", "None of your activities is open")])
    clock.set(STARTS)
    # "I'm here" under the reminder: the code only (a typed address has no position).
    await press(zhang, reminder, "📍 I'm here: check in")
    assert "Please type the check-in code" in zhang.last_text
    await talk(
        zhang,
        [
            ("/loc 30.58 114.27", ["no position on the map"]),
            ("123", ["not right", "check-in code"]),
            ("/cancel", "Check-in cancelled"),
        ],
    )
    async with db.session() as session:
        code = await session.scalar(select(Activity.code))
    await talk(zhang, [(f"/attend {code}", "Checked in")])
    await talk(
        liaison,
        [("/activities 1", "Attended: 1"), ("✅ Mark attendance", "Press a name")],
    )
    assert liaison.button_texts[0] == "☑ 张伟"
    clock.set(ENDS + timedelta(minutes=1))
    await talk(zhang, [(f"/attend {code}", "is not open now")])
    await talk(zhang, [("/activities", ["Over", "✅ attended"])])


# --- the rest of every turn, in both languages ------------------------------------------------

# What each language says: (Chinese, English).
SAYS = {
    "not_member": ("活动邀请只发给已绑定身份的党员", "Invitations to activities go to registered"),
    "ask": ("请输入现场公布的签到码", "Please type the check-in code"),
    "unexpected": ("请输入现场公布的签到码（数字）", "Please type the check-in code shown"),
    "attend_expired": ("上次的签到放了太久", "The check-in you started was left too long"),
    "new_unexpected": ("请用文字输入", "Please type it as text"),
    "new_cancelled": ("已取消，活动没有建立", "Cancelled: no activity was made"),
    "new_stale": ("这个按钮已经失效。要建活动", "This button no longer works. To make"),
    "new_expired": ("上次建的活动放了太久", "The activity you were making was left too long"),
    "pick_place": ("对应 2 个场所", "matches 2 place(s)"),
    "not_created": ("所选的党小组已不在您负责的范围里", "no longer among those you look after"),
    "not_found": ("没有找到活动 #99", "No activity #99 was found"),
    "mark_refused": ("还没有开始签到", "has not opened yet"),
    "waiting": ("已把您排进候补名单：您是第 1 位", "you are on the waiting list, number 1"),
}
LABELS = {
    "new": ("➕ 新活动", "➕ New activity"),
    "meeting": ("会议", "Meeting"),
    "cancel": ("✖️ 取消", "✖️ Cancel"),
    "group": ("驻深圳党小组", "驻深圳党小组"),
    "next": ("下一步 ➡️", "Next ➡️"),
    "send": ("📤 发出邀请", "📤 Send the invitations"),
    "marking": ("✅ 登记到场", "✅ Mark attendance"),
    "yes": ("✅ 我参加", "✅ I'll come"),
}


@pytest.mark.parametrize("language", [0, 1])
async def test_every_other_turn_says_what_to_do_in_each_language(
    db: Database,
    clock: FakeClock,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    deliver: Deliver,
    language: int,
) -> None:
    says = {key: pair[language] for key, pair in SAYS.items()}
    labels = {key: pair[language] for key, pair in LABELS.items()}
    locale = ("zh_CN", "en")[language]
    async with db.session() as session:
        for member in await session.scalars(select(Member)):
            member.locale = locale
        for staff in await session.scalars(select(Staff)):
            staff.locale = locale
    stranger = person(application, bot_api, 4242)
    stranger.user["language_code"] = ("zh-hans", "en")[language]
    await talk(stranger, [("/lang", None), (("中文", "English")[language], None)])
    await talk(stranger, [("/activities", says["not_member"]), ("/attend", says["not_member"])])

    # The liaison: a sticker where text is asked, a cancel, an old button, a long pause.
    liaison = person(application, bot_api, LIAISON)
    await talk(liaison, [("/activities", None), (labels["new"], None), (labels["meeting"], None)])
    liaison.last = await liaison.send_update(liaison.updates.sticker(liaison.user))
    assert says["new_unexpected"] in liaison.last_text
    await talk(liaison, [(labels["cancel"], says["new_cancelled"])])
    stale = liaison.updates.press(liaison.user, liaison.last[-1], Button("x", "act:new:kind:forum"))
    liaison.last = await liaison.send_update(stale)
    assert says["new_stale"] in liaison.last_text
    await talk(liaison, [("/activities", None), (labels["new"], None), (labels["meeting"], None)])
    clock.advance(timedelta(hours=13))
    await talk(liaison, [("会议", says["new_expired"])])
    clock.advance(timedelta(hours=11))  # the next morning: out of the members' quiet hours

    # Two places named alike; then the group is taken out of their scope before "send".
    await talk(
        liaison,
        [
            ("/activities", None),
            (labels["new"], None),
            (labels["meeting"], None),
            ("会议", None),
            ("2026-12-05 14:00", None),
            ("党员之家", says["pick_place"]),
            ("1", None),
            (labels["group"], None),
            (labels["next"], None),
            ("1", None),
        ],
    )
    async with db.session() as session:
        group_id = await session.scalar(select(Group.id).where(Group.name == "驻深圳党小组"))
        staff_id = await session.scalar(select(Staff.id).where(Staff.telegram_user_id == LIAISON))
        await session.execute(
            delete(staff_groups).where(
                staff_groups.c.staff_id == staff_id, staff_groups.c.group_id == group_id
            )
        )
    await talk(liaison, [(labels["send"], says["not_created"])])
    async with db.session() as session:
        await session.execute(insert(staff_groups).values(staff_id=staff_id, group_id=group_id))
    await talk(
        liaison,
        [
            ("/activities", None),
            (labels["new"], None),
            (labels["meeting"], None),
            ("会议", None),
            ("2026-12-05 14:00", None),
            ("民意街道党员之家", None),
            (labels["group"], None),
            (labels["next"], None),
            ("1", None),
            (labels["send"], None),
            ("/activities 99", says["not_found"]),
            ("/activities 1", None),
            (labels["marking"], None),
        ],
    )
    sheet = next(o for o in reversed(liaison.last) if o.buttons)
    await press(liaison, sheet, sheet.flat_buttons[0].text)
    assert says["mark_refused"] in liaison.last_text

    # Two members for one place: the second is told it is full, and waits.
    got = await deliver()
    zhang, wang = person(application, bot_api, ZHANG), person(application, bot_api, WANG)
    await press(zhang, got[ZHANG][0], labels["yes"])
    await press(wang, got[WANG][0], labels["yes"])
    assert says["waiting"] in wang.last_text

    # At the venue: /attend asks; a sticker is told what to do; a long pause ends it.
    clock.set(STARTS)
    await talk(zhang, [("/attend", says["ask"])])
    zhang.last = await zhang.send_update(zhang.updates.sticker(zhang.user))
    assert says["unexpected"] in zhang.last_text
    clock.advance(timedelta(hours=13))
    await talk(zhang, [("123456", says["attend_expired"])])
