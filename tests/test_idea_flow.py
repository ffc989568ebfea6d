"""/idea, /myideas and /ideas as members and liaisons live them, in Chinese and English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.botapi import Button, LocalBotApi, Outgoing
from bot.context import LiaisonApplication, Services
from storage.clock import FakeClock
from storage.db import Database
from storage.ideas import MAX_REPLY_LENGTH, MAX_TEXT_LENGTH, submit
from storage.models import (
    AuditEvent,
    CheckIn,
    Consent,
    Delivery,
    Idea,
    IdeaKind,
    IdeaStatus,
    Member,
    MessageKind,
)
from tests.chat import Person, said, talk
from tests.conftest import START
from tests.cycle_harness import District
from tests.factories import make_group, make_member, make_staff
from tests.test_flow import open_conversations

ZHANG = 8201  # 张伟, 驻深圳, Chinese
WANG = 8202  # 王芳, 驻深圳, English
LI_NA = 8203  # 李娜, 律师
LIAISON = 8101  # 李联络: 驻深圳, Chinese
LIAISON_EN = 8102  # Li Wei: 驻深圳, English
LAWYERS_LIAISON = 8103  # 刘联络: 律师 only
STRANGER = 434343

MARKUP = "<b>多办</b>夜校 & <a href='x'>讲座</a>"
MARKUP_ESCAPED = "&lt;b&gt;多办&lt;/b&gt;夜校 &amp; &lt;a href=&#39;x&#39;&gt;讲座&lt;/a&gt;"


@pytest.fixture(autouse=True)
async def district(db: Database) -> None:
    shenzhen = await make_group(db, START, "驻深圳党小组")
    lawyers = await make_group(db, START, "律师党小组")
    await make_member(
        db, START, name="张伟", phone="+8613800000001", telegram_user_id=ZHANG, groups=[shenzhen]
    )
    await make_member(
        db,
        START,
        name="王芳",
        phone="+8613800000002",
        telegram_user_id=WANG,
        groups=[shenzhen],
        locale="en",
    )
    await make_member(
        db, START, name="李娜", phone="+8613800000003", telegram_user_id=LI_NA, groups=[lawyers]
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await make_staff(
        db, START, telegram_user_id=LIAISON_EN, name="Li Wei", groups=[shenzhen], locale="en"
    )
    await make_staff(db, START, telegram_user_id=LAWYERS_LIAISON, name="刘联络", groups=[lawyers])


@pytest.fixture
def world(
    services: Services, application: LiaisonApplication, bot_api: LocalBotApi, clock: FakeClock
) -> District:
    return District(services, application, bot_api, clock)


def person(application: LiaisonApplication, bot_api: LocalBotApi, user_id: int) -> Person:
    return Person(application, bot_api, user_id)


async def press(who: Person, message: Outgoing, data: str) -> list[Outgoing]:
    """Press a button (maybe an old or forged one) under message."""
    return await who.send_update(who.updates.press(who.user, message, Button("x", data)))


def toast(api: LocalBotApi) -> str | None:
    answers = [params for method, params in api.calls if method == "answerCallbackQuery"]
    return answers[-1].get("text") if answers else None


async def stored_ideas(db: Database) -> list[Idea]:
    async with db.session() as session:
        return list(await session.scalars(select(Idea).order_by(Idea.id)))


async def audit_actions(db: Database) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def member_id(db: Database, name: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Member.id).where(Member.name == name))
        assert found is not None
        return found


# --- members: /idea and /myideas --------------------------------------------------------------


async def test_a_member_sends_an_idea_and_finds_it_in_myideas(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, world: District
) -> None:
    zhang = person(application, bot_api, ZHANG)
    await talk(zhang, [("/idea", ["金点子和意见建议 1/3", "/myideas"])])
    assert zhang.button_texts == ["💡 金点子", "💬 意见建议", "✖️ 取消"]
    await talk(zhang, [("💡 金点子", ["金点子 2/3：内容", f"最多 {MAX_TEXT_LENGTH} 字"])])
    await talk(zhang, [(MARKUP, ["金点子 3/3：请确认", "发送", "重写"])])
    # The member's own words come back escaped: shown as typed, never as markup.
    assert MARKUP_ESCAPED in zhang.last[-1].text
    assert zhang.button_texts == ["📨 发送", "✏️ 重写", "✖️ 取消"]
    await talk(zhang, [("📨 发送", ["已收到您的金点子，编号 #1", "/myideas"])])
    [saved] = await stored_ideas(db)
    assert (saved.kind, saved.body, saved.status) == (
        IdeaKind.IDEA,
        MARKUP,
        IdeaStatus.NEW,
    )
    # The liaisons of 驻深圳 are told, each in their language, with a button to open it.
    alerts = await world.send_due(START)
    [chinese], [english] = alerts[LIAISON], alerts[LIAISON_EN]
    assert "新的金点子 #1" in said([chinese]) and MARKUP_ESCAPED in chinese.text
    assert "A new idea #1" in said([english])
    assert [b.text for b in chinese.flat_buttons] == ["📋 打开 #1"]
    assert LAWYERS_LIAISON not in alerts
    await talk(zhang, [("/myideas", ["我的金点子和意见建议", "#1 💡 金点子", "⏳ 待回复"])])
    assert MARKUP_ESCAPED in zhang.last[-1].text
    await talk(zhang, [("#1 <b>多办</b>夜校 & <a href='…", ["#1 💡 金点子", "还没有回复"])])
    # The draft is over: its buttons no longer work, and nothing is sent twice.
    stale = await press(zhang, zhang.last[-1], "idea:new:send")
    assert "这个按钮已经失效" in said(stale)
    assert len(await stored_ideas(db)) == 1


async def test_an_opinion_in_english_too_long_then_rewritten(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    wang = person(application, bot_api, WANG)
    await talk(
        wang,
        [
            ("/idea", ["Ideas and opinions 1/3", "Please choose"]),
            ("💬 Opinion", ["Opinion 2/3: your text", f"at most {MAX_TEXT_LENGTH} characters"]),
            (
                "字" * (MAX_TEXT_LENGTH + 1),
                [
                    f"Too long: at most {MAX_TEXT_LENGTH} characters",
                    f"this had {MAX_TEXT_LENGTH + 1}",
                    "Opinion 2/3",
                ],
            ),
        ],
    )
    # The rest of that paste, arriving at once, is dropped unread rather than sent.
    await talk(wang, [("the tail of the long paste", None)])
    assert wang.last == []
    clock.advance(timedelta(seconds=10))
    await talk(
        wang,
        [
            ("Fewer meetings on weekdays", ["Opinion 3/3: please check", "(26 characters)"]),
            ("✏️ Rewrite", "Opinion 2/3"),
            ("Fewer meetings, more talks", "Opinion 3/3"),
            ("📨 Send", ["Thank you! Your opinion is number #1", "/myideas"]),
            ("/myideas", ["My ideas and opinions", "#1 💬 Opinion", "awaiting a reply"]),
        ],
    )
    stale = await press(wang, wang.last[-1], "idea:new:rewrite")
    assert "This button no longer works" in said(stale)
    [saved] = await stored_ideas(db)
    assert (saved.kind, saved.body) == (IdeaKind.OPINION, "Fewer meetings, more talks")


async def test_unexpected_input_cancel_and_expiry(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    for user_id, words in (
        (
            ZHANG,
            (
                "请按消息下面的按钮",
                "请用文字写下内容",
                "已取消，这条建议没有发送",
                "作废",
                "太长了",
            ),
        ),
        (
            WANG,
            (
                "Please choose with the buttons",
                "Please type it as text",
                "Cancelled",
                "dropped",
                "Too long",
            ),
        ),
    ):
        member = person(application, bot_api, user_id)
        await talk(member, [("/idea", None), ("hello there", [words[0], "1/3"]), ("1", "2/3")])
        photo = await member.send_update(member.updates.photo(member.user))
        assert words[1] in said(photo)
        await talk(member, [("<i>长</i>" * 300, [words[4], "2400", "2/3"])])
        clock.advance(timedelta(seconds=10))
        await talk(member, [("/cancel", words[2]), ("不要了吧", "/help")])
        await talk(member, [("/idea", None), ("1", "2/3")])
        clock.advance(timedelta(hours=13))
        await talk(member, [("十三个小时以后", words[3])])
    assert await stored_ideas(db) == []


async def test_only_bound_members_send_ideas(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    for user_id, words in (
        (STRANGER, ("只收已绑定身份的党员", "/start 邀请码")),
        (LIAISON, ("只收已绑定身份的党员", "/ideas")),
        (LIAISON_EN, ("taken from members who have bound their account", "/ideas")),
    ):
        someone = person(application, bot_api, user_id)
        await talk(someone, [("/idea", words), ("/myideas", words)])
    assert await stored_ideas(db) == []


async def test_a_member_sees_only_their_own(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    async with db.session() as session:
        theirs = await submit(
            session,
            START,
            member_id=await member_id(db, "王芳"),
            kind=IdeaKind.IDEA,
            text="王芳的秘密建议",
        )
    wang = person(application, bot_api, WANG)
    await talk(
        wang,
        [
            ("/myideas", ["My ideas and opinions", "王芳的秘密建议"]),
            (f"#{theirs.id} 王芳的秘密建议", ["💡 Idea", "王芳的秘密建议", "No reply yet"]),
        ],
    )
    zhang = person(application, bot_api, ZHANG)
    await talk(zhang, [("/myideas", "您还没有提过")])
    replies = await press(
        zhang, Outgoing("sendMessage", ZHANG, 1, "", None), f"idea:show:{theirs.id}"
    )
    assert "王芳的秘密建议" not in said(replies)
    assert toast(bot_api) == "这个按钮只对提建议的党员本人有效。"


# --- staff: /ideas, the card, reply and adopt --------------------------------------------------


async def test_a_liaison_replies_and_adopts_and_the_member_hears_both(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, world: District
) -> None:
    zhang = person(application, bot_api, ZHANG)
    liaison = person(application, bot_api, LIAISON)
    await talk(zhang, [("/idea", None), ("1", None), (MARKUP, None), ("📨 发送", "#1")])
    await world.send_due(START)
    # The alert's button opens the card.
    await talk(
        liaison,
        [("📋 打开 #1", ["#1 💡 金点子", "⏳ 待回复", "党员：张伟", "党小组：驻深圳党小组"])],
    )
    assert MARKUP_ESCAPED in liaison.last[-1].text
    assert "党员：张伟（+86 138****0001）" in liaison.last_text
    assert "13800000001" not in liaison.last_text
    assert liaison.button_texts == ["✍️ 回复", "🏅 采纳"]
    await talk(
        liaison,
        [
            ("✍️ 回复", ["回复建议 #1", "张伟：", f"最多 {MAX_REPLY_LENGTH} 字"]),
            (
                "谢谢！<i>下月</i>开始办夜校",
                ["党组织回复了您的金点子 #1", "回复：", "回复 #1：预览"],
            ),
        ],
    )
    # The reply as the member will read it, and the choices: one message.
    [preview] = liaison.messages
    assert "&lt;i&gt;下月&lt;/i&gt;" in preview.text
    await talk(liaison, [("📨 发送", "已回复建议 #1，党员张伟会收到您的回复")])
    await world.send_due(START + timedelta(minutes=1))
    await talk(zhang, [])
    told = [o for o in bot_api.sent if o.chat_id == ZHANG and "党组织回复了" in o.text]
    assert len(told) == 1 and "&lt;i&gt;下月&lt;/i&gt;开始办夜校" in told[0].text
    # The member opens it from the button under the reply.
    await talk(zhang, [("📋 查看 #1", ["党组织的回复", "开始办夜校"])])
    # The liaison opens the card again from /ideas and adopts it.
    await talk(
        liaison, [("/ideas", ["党员的金点子和意见建议", "待回复 0 条", "#1 💡 张伟", "✉️ 已回复"])]
    )
    await talk(
        liaison,
        [
            ("✉️ #1 张伟：<b>多办</b>夜校 & <a href='…", ["回复", "李联络"]),
            ("🏅 采纳", "已采纳建议 #1，会通知党员张伟"),
        ],
    )
    assert liaison.button_texts == ["✍️ 修改回复"]
    await world.send_due(START + timedelta(minutes=2))
    adopted = [o for o in bot_api.sent if o.chat_id == ZHANG and "被采纳" in o.text]
    assert len(adopted) == 1
    await talk(zhang, [("/myideas", "🏅 已采纳")])
    [row] = await stored_ideas(db)
    assert (row.status, row.reply) == (IdeaStatus.ADOPTED, "谢谢！<i>下月</i>开始办夜校")
    assert await audit_actions(db) == [
        "idea.view",
        "idea.reply",
        "idea.list.view",
        "idea.view",
        "idea.adopt",
    ]


async def test_in_english_a_too_long_reply_then_a_replacement(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    world: District,
    clock: FakeClock,
) -> None:
    async with db.session() as session:
        idea = await submit(
            session,
            START,
            member_id=await member_id(db, "王芳"),
            kind=IdeaKind.OPINION,
            text="More evening classes",
        )
    staff = person(application, bot_api, LIAISON_EN)
    await talk(
        staff,
        [
            ("/ideas", ["Members' ideas and opinions", "1 awaiting a reply", "王芳"]),
            (
                f"⏳ #{idea.id} 王芳: More evening classes",
                ["💬 Opinion", "awaiting a reply", "Member: 王芳"],
            ),
            ("✍️ Reply", [f"Reply to suggestion #{idea.id}", "More evening classes"]),
            ("r" * (MAX_REPLY_LENGTH + 1), ["Too long", f"Reply to suggestion #{idea.id}"]),
        ],
    )
    clock.advance(timedelta(seconds=10))
    photo = await staff.send_update(staff.updates.photo(staff.user))
    assert "Please type it as text" in said(photo)
    await talk(
        staff,
        [
            ("We will try", ["The organisation replied to your opinion", "preview"]),
            ("📨 Send", f"Replied to suggestion #{idea.id}; 王芳 will get your reply"),
            (f"/ideas {idea.id}", ["Reply", "Li Wei", "We will try"]),
            ("✍️ Change the reply", "It already has a reply: the new one replaces it"),
            ("Starting in January", ["A new reply to your opinion", "preview"]),
            ("📨 Send", "Replied"),
        ],
    )
    await world.send_due(START + timedelta(minutes=1))
    told = [said([o]) for o in bot_api.sent if o.chat_id == WANG]
    # Both replies were written before anything was sent: the member gets the newer one.
    assert len(told) == 1 and "Starting in January" in told[0]
    await talk(
        staff,
        [
            (f"/ideas {idea.id}", "Starting in January"),
            ("🏅 Adopt", [f"Suggestion #{idea.id} is adopted; 王芳 will be told"]),
        ],
    )
    [row] = await stored_ideas(db)
    assert (row.reply, row.status) == ("Starting in January", IdeaStatus.ADOPTED)


async def test_cancelling_a_reply_and_its_stale_buttons(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    async with db.session() as session:
        idea = await submit(
            session,
            START,
            member_id=await member_id(db, "张伟"),
            kind=IdeaKind.IDEA,
            text="建议",
        )
    for user_id, words in (
        (LIAISON, ("✍️ 回复", "预览", "已取消，回复没有发送", "这个按钮已经失效", "回复放了太久")),
        (
            LIAISON_EN,
            ("✍️ Reply", "preview", "the reply was not sent", "no longer works", "left too long"),
        ),
    ):
        staff = person(application, bot_api, user_id)
        await talk(staff, [(f"/ideas {idea.id}", None), (words[0], None), ("好", words[1])])
        preview = staff.last[-1]
        await talk(staff, [("/cancel", words[2])])
        assert words[3] in said(await press(staff, preview, "ideas:draft:send"))
        await talk(staff, [(f"/ideas {idea.id}", None), (words[0], None)])
        clock.advance(timedelta(hours=13))
        await talk(staff, [("好的", words[4])])
    [row] = await stored_ideas(db)
    assert (row.reply, row.status) == (None, IdeaStatus.NEW)
    async with db.session() as session:
        assert (
            list(
                await session.scalars(
                    select(Delivery).where(Delivery.kind == MessageKind.IDEA_REPLY)
                )
            )
            == []
        )


async def test_staff_see_and_change_only_their_scope(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    async with db.session() as session:
        idea = await submit(
            session,
            START,
            member_id=await member_id(db, "张伟"),
            kind=IdeaKind.IDEA,
            text="驻深圳的建议",
        )
    other = person(application, bot_api, LAWYERS_LIAISON)
    await talk(
        other,
        [
            ("/ideas", "您负责的党员还没有提过"),
            (f"/ideas {idea.id}", f"没有找到编号为 #{idea.id} 的建议"),
            ("/ideas 不是编号", "用法：/ideas"),
            # "²" passes str.isdigit() but is no number: the usage again, not a crash.
            ("/ideas ²", "用法：/ideas"),
        ],
    )
    card = Outgoing("sendMessage", LAWYERS_LIAISON, 1, "", None)
    for data in (f"ideas:card:{idea.id}", f"ideas:adopt:{idea.id}", f"ideas:reply:{idea.id}"):
        replies = await press(other, card, data)
        assert f"没有找到编号为 #{idea.id} 的建议" in said(replies)
        assert "驻深圳的建议" not in said(replies)
    lawyer = await member_id(db, "李娜")
    async with db.session() as session:
        theirs = await submit(
            session, START, member_id=lawyer, kind=IdeaKind.OPINION, text="律师的意见"
        )
    await talk(
        person(application, bot_api, LIAISON_EN),
        [
            (f"/ideas {theirs.id}", f"There is no suggestion #{theirs.id} among those"),
            ("/ideas 1 2", "Usage: /ideas lists"),
        ],
    )
    # Members and strangers get the staff refusal for /ideas and for a forged button.
    for user_id in (ZHANG, STRANGER):
        someone = person(application, bot_api, user_id)
        await talk(someone, [("/ideas", "这个命令只供联络员使用")])
        for data in (f"ideas:card:{idea.id}", f"ideas:adopt:{idea.id}", f"ideas:reply:{idea.id}"):
            replies = await press(someone, card, data)
            assert "这个命令只供联络员使用" in said(replies)
    row = (await stored_ideas(db))[0]
    assert (row.status, row.reply, row.adopted_at) == (IdeaStatus.NEW, None, None)
    # Views in scope are audited as views; the refused ones (the typed /ideas N, the card
    # button, the card of the lawyers' idea) as refusals; refusals change nothing.
    assert await audit_actions(db) == [
        "idea.list.view",
        "idea.view.refused",
        "idea.view.refused",
        "idea.view.refused",
    ]


async def test_adopting_twice_is_refused(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    async with db.session() as session:
        idea = await submit(
            session,
            START,
            member_id=await member_id(db, "张伟"),
            kind=IdeaKind.IDEA,
            text="建议",
        )
    liaison = person(application, bot_api, LIAISON)
    await talk(liaison, [(f"/ideas {idea.id}", None)])
    card = liaison.last[-1]
    await talk(liaison, [("🏅 采纳", "已采纳")])
    replies = await press(liaison, card, f"ideas:adopt:{idea.id}")
    assert f"建议 #{idea.id} 已经采纳过了" in said(replies)
    async with db.session() as session:
        told = list(
            await session.scalars(select(Delivery).where(Delivery.kind == MessageKind.IDEA_REPLY))
        )
    assert len(told) == 1


# --- the conversations on the engine (bot/flow.py) ----------------------------------------------

ZHAO = 8204  # 赵强, 驻深圳, has agreed to the location question (for /checkin)


@pytest.fixture
async def zhao(application: LiaisonApplication, bot_api: LocalBotApi, db: Database) -> Person:
    await make_member(
        db,
        START,
        name="赵强",
        phone="+8613800000005",
        telegram_user_id=ZHAO,
        consent=Consent.GIVEN,
    )
    return person(application, bot_api, ZHAO)


async def test_the_idea_is_kept_in_the_database_at_every_question(
    zhao: Person, db: Database
) -> None:
    await talk(zhao, [("/idea", "1/3")])
    assert await open_conversations(db) == [("idea", "kind")]
    await talk(zhao, [("💡 金点子", "2/3")])
    assert await open_conversations(db) == [("idea", "write")]
    # /help in the middle is answered by /help; the idea stays open at its step.
    await talk(zhao, [("/help", "可用命令"), ("多办夜校", "3/3")])
    assert await open_conversations(db) == [("idea", "preview")]
    await talk(zhao, [("/cancel", "已取消，这条建议没有发送")])
    assert await open_conversations(db) == []
    assert await stored_ideas(db) == []


async def test_a_checkin_left_open_ends_when_the_member_writes_an_idea(
    zhao: Person, db: Database
) -> None:
    await talk(
        zhao,
        [
            ("/checkin", "您现在在哪里"),
            ("/idea", ["（未完成的报到已结束，没有保存。）", "金点子和意见建议 1/3"]),
        ],
    )
    # The one line comes alone, taking the place question's keyboard away; then the question.
    ended, question = zhao.messages
    assert said([ended]).strip() == "（未完成的报到已结束，没有保存。）"
    assert "remove_keyboard" in str(ended.params["reply_markup"])
    assert "金点子和意见建议 1/3" in said([question])
    await talk(zhao, [("💡 金点子", "2/3")])
    # What is typed next is the idea's text, not a place for the check-in.
    await talk(zhao, [("武汉市江汉区多办夜校", ["金点子 3/3：请确认", "武汉市江汉区多办夜校"])])
    assert "按您输入的原样记下" not in zhao.last_text
    assert await open_conversations(db) == [("idea", "preview")]
    await talk(zhao, [("📨 发送", "已收到您的金点子")])
    [saved] = await stored_ideas(db)
    assert saved.body == "武汉市江汉区多办夜校"
    async with db.session() as session:
        assert (await session.scalars(select(CheckIn))).all() == []


async def test_an_idea_left_open_ends_when_the_member_checks_in(zhao: Person, db: Database) -> None:
    await talk(
        zhao,
        [
            ("/idea", "1/3"),
            ("💬 意见建议", "2/3"),
            ("/checkin", ["（未完成的金点子或意见建议已结束，没有保存。）", "您现在在哪里"]),
        ],
    )
    # The idea's question had buttons of its own: the one line opens the check-in's question.
    assert len(zhao.messages) == 1
    await talk(zhao, [("广东省深圳市南山区", "工作情况怎么样")])
    assert await open_conversations(db) == [("checkin", "work")]
    assert await stored_ideas(db) == []


async def test_a_kind_pressed_twice_is_taken_once(zhao: Person, db: Database) -> None:
    await talk(zhao, [("/idea", "1/3")])
    question = zhao.last[-1]
    await talk(zhao, [("💡 金点子", "2/3")])
    again = await press(zhao, question, "idea:new:opinion")
    assert "这个按钮已经失效" in said(again)
    assert await open_conversations(db) == [("idea", "write")]
    await talk(zhao, [("多办夜校", "金点子 3/3")])


async def test_a_reply_sent_twice_is_sent_once(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    async with db.session() as session:
        idea = await submit(
            session,
            START,
            member_id=await member_id(db, "张伟"),
            kind=IdeaKind.IDEA,
            text="建议",
        )
    liaison = person(application, bot_api, LIAISON)
    await talk(liaison, [(f"/ideas {idea.id}", None), ("✍️ 回复", "回复建议")])
    assert await open_conversations(db) == [("idea_reply", "write")]
    await talk(liaison, [("谢谢", "预览")])
    assert await open_conversations(db) == [("idea_reply", "preview")]
    preview = liaison.last[-1]
    await talk(liaison, [("📨 发送", "已回复建议")])
    assert await open_conversations(db) == []
    again = await press(liaison, preview, "ideas:draft:send")
    assert "这个按钮已经失效" in said(again)
    async with db.session() as session:
        told = list(
            await session.scalars(select(Delivery).where(Delivery.kind == MessageKind.IDEA_REPLY))
        )
    assert len(told) == 1
