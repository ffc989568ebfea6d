"""The request conversations on the engine (bot/flow.py): each is kept in the database,
one is open per chat — starting another ends it and says so in one line — /cancel ends it,
a button pressed twice does nothing twice, and a command such as /help leaves it open."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import build_application
from bot.botapi import Button, LocalBotApi, LocalBotApiRequest, Outgoing
from bot.context import LiaisonApplication, Services
from bot.features import notices
from storage.clock import FakeClock, FakeMonotonic
from storage.db import Database
from storage.models import (
    CheckIn,
    Consent,
    Conversation,
    Member,
    RequestEventKind,
    RequestStatus,
    ServiceCategory,
    ServiceRequest,
    ServiceRequestEvent,
    Staff,
)
from storage.requests import create_request, set_status
from tests.chat import Person, said, talk
from tests.conftest import START
from tests.delivery import Deliver
from tests.factories import make_group, make_member, make_request_catalogue, make_staff

ZHANG = 9501  # 张伟, a member of 驻深圳
WANG = 9502  # 王芳, a member of 驻深圳 who reads English
LIAISON = 9601  # 李联络, liaison of 驻深圳 and a member too (he checks in like anyone)


@pytest.fixture(autouse=True)
async def district(db: Database) -> None:
    await make_request_catalogue(db, START)
    shenzhen = await make_group(db, START, "驻深圳党小组")
    await make_member(
        db,
        START,
        name="张伟",
        phone="+8613800000001",
        telegram_user_id=ZHANG,
        groups=[shenzhen],
        consent=Consent.GIVEN,
    )
    await make_member(
        db,
        START,
        name="王芳",
        phone="+8613800000002",
        telegram_user_id=WANG,
        groups=[shenzhen],
        consent=Consent.GIVEN,
        locale="en",
    )
    await make_member(
        db,
        START,
        name="李联络",
        phone="+8613800000009",
        telegram_user_id=LIAISON,
        groups=[shenzhen],
        consent=Consent.GIVEN,
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])


@pytest.fixture
def zhang(application: LiaisonApplication, bot_api: LocalBotApi) -> Person:
    return Person(application, bot_api, ZHANG)


@pytest.fixture
def liaison(application: LiaisonApplication, bot_api: LocalBotApi) -> Person:
    return Person(application, bot_api, LIAISON)


async def open_conversations(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        return [(row.flow, row.step) for row in await session.scalars(select(Conversation))]


async def saved_requests(db: Database) -> list[ServiceRequest]:
    async with db.session() as session:
        return list(await session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)))


async def checkins(db: Database) -> list[CheckIn]:
    async with db.session() as session:
        return list(await session.scalars(select(CheckIn)))


async def notes(db: Database) -> list[str | None]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(ServiceRequestEvent.note).where(
                    ServiceRequestEvent.kind == RequestEventKind.NOTE
                )
            )
        )


async def press(who: Person, message: Outgoing, data: str) -> list[Outgoing]:
    who.last = await who.send_update(who.updates.press(who.user, message, Button("x", data)))
    return who.last


async def two_requests(db: Database, clock: FakeClock, owner: int = ZHANG) -> None:
    """#1 and #2, both the owner's (张伟's), filed straight into storage."""
    async with db.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == owner))
        category = await session.scalar(select(ServiceCategory).order_by(ServiceCategory.id))
        assert member is not None and category is not None
        for text in ("房东要涨租", "营业执照要变更地址"):
            await create_request(
                session,
                clock.now(),
                member_id=member.id,
                category_id=category.id,
                description=text,
                zone=ZoneInfo("Asia/Shanghai"),
            )


# --- the member's /request --------------------------------------------------------------------


async def test_the_request_is_in_the_database_at_every_step_until_it_is_sent(
    zhang: Person, db: Database
) -> None:
    await talk(zhang, [("/request", "申请服务 1/5：类别")])
    assert await open_conversations(db) == [("request", "category")]
    await talk(zhang, [("门面续租", "2/5")])
    assert await open_conversations(db) == [("request", "measure")]
    await talk(zhang, [("🤔 不确定，直接说明情况", "3/5")])
    assert await open_conversations(db) == [("request", "describe")]
    await talk(zhang, [("房东要涨租", "4/5")])
    assert await open_conversations(db) == [("request", "attach")]
    await talk(zhang, [("跳过 ➡️", "5/5")])
    assert await open_conversations(db) == [("request", "preview")]
    await talk(zhang, [("📨 提交申请", "您的服务申请编号是 #1")])
    assert await open_conversations(db) == []


async def test_a_request_goes_on_in_another_application_on_the_same_database(
    zhang: Person, db: Database, services: Services, bot_api: LocalBotApi, monotonic: FakeMonotonic
) -> None:
    await talk(zhang, [("/request", "1/5"), ("其他", "3/5")])
    # A restart, or another process: nothing of the draft is in the first one's memory.
    again = build_application(services, request=LocalBotApiRequest(bot_api), monotonic=monotonic)
    await again.initialize()
    try:
        same = Person(again, bot_api, ZHANG)
        await talk(
            same,
            [
                ("房东要涨租", ["4/5", "类别：其他", "您的需求：房东要涨租"]),
                ("跳过 ➡️", "5/5"),
                ("📨 提交申请", "#1（其他）"),
            ],
        )
    finally:
        await again.shutdown()
    [saved] = await saved_requests(db)
    assert saved.description == "房东要涨租"


async def test_checkin_then_request_the_text_is_the_requests_not_the_checkins_place(
    zhang: Person, db: Database
) -> None:
    await talk(zhang, [("/checkin", "您现在在哪里")])
    await talk(zhang, [("/request", ["未完成的报到已结束，没有保存", "申请服务 1/5：类别"])])
    # One line says so; alone, because it takes the place question's keyboard away (a
    # question with buttons of its own could not), then the request's first question.
    ended, question = zhang.messages
    assert "未完成的报到已结束" in said([ended]) and "1/5" in said([question])
    assert "remove_keyboard" in str(ended.params["reply_markup"])
    await talk(
        zhang,
        [
            ("其他", "3/5：说明情况"),
            ("孩子明年上小学，想了解入学手续", ["4/5", "您的需求：孩子明年上小学"]),
        ],
    )
    assert "地名" not in zhang.last_text
    await talk(zhang, [("跳过 ➡️", "5/5"), ("📨 提交申请", "#1（其他）")])
    [saved] = await saved_requests(db)
    assert saved.description == "孩子明年上小学，想了解入学手续"
    assert await checkins(db) == []


async def test_request_then_checkin_the_next_text_is_the_place(zhang: Person, db: Database) -> None:
    await talk(zhang, [("/request", "1/5"), ("其他", "3/5")])
    await talk(zhang, [("/checkin", ["未完成的服务申请已结束，没有保存", "您现在在哪里"])])
    await talk(zhang, [("武汉市江汉区", "工作情况怎么样")])
    assert await open_conversations(db) == [("checkin", "work")]
    assert await saved_requests(db) == []


async def test_help_leaves_the_request_open_and_cancel_ends_it(zhang: Person, db: Database) -> None:
    await talk(zhang, [("/request", "1/5"), ("其他", "3/5"), ("/help", "可用命令")])
    await talk(zhang, [("房东要涨租", "4/5：照片或文件")])
    await talk(zhang, [("/cancel", "已取消，这份服务申请没有提交")])
    assert await open_conversations(db) == []
    await talk(zhang, [("/cancel", None)])
    assert "这份服务申请" not in zhang.last_text


async def test_a_button_pressed_twice_counts_once(zhang: Person, db: Database) -> None:
    await talk(zhang, [("/request", "1/5")])
    categories = zhang.last[-1]
    await talk(zhang, [("其他", "3/5")])
    # The category question's buttons are gone; a second tap on it (a slow phone) is old.
    assert "这个按钮已经失效" in said(await press(zhang, categories, "request:new:cat:2"))
    assert await open_conversations(db) == [("request", "describe")]
    await talk(zhang, [("房东要涨租", "4/5"), ("跳过 ➡️", "5/5")])
    preview = zhang.last[-1]
    await talk(zhang, [("📨 提交申请", "#1")])
    assert "这个按钮已经失效" in said(await press(zhang, preview, "request:new:send"))
    assert len(await saved_requests(db)) == 1


# --- the member's comment after unhappy feedback -----------------------------------------------


async def _closed_unhappily(
    who: Person,
    db: Database,
    clock: FakeClock,
    deliver: Deliver,
    words: tuple[tuple[str, str], ...] = (("👎 没有解决", "请打分"), ("1⭐", "哪里还没有解决")),
) -> None:
    """Request #1 closed as "cannot help"; its member says "not solved", and 1 star."""
    await two_requests(db, clock, who.user_id)
    async with db.session() as session:
        staff = await session.scalar(select(Staff).where(Staff.telegram_user_id == LIAISON))
        assert staff is not None
        await set_status(
            session,
            clock.now(),
            1,
            staff_id=staff.id,
            status=RequestStatus.CANNOT_HELP,
            answer="本区没有这项服务。",
        )
    await deliver()
    await talk(who, words)


async def test_the_comment_is_a_conversation_of_its_own(
    zhang: Person, db: Database, clock: FakeClock, deliver: Deliver
) -> None:
    await _closed_unhappily(zhang, db, clock, deliver)
    assert await open_conversations(db) == [("request_comment", "comment")]
    skip = zhang.last[-1]
    # A photo is not a comment: said, and asked again.
    zhang.last = await zhang.send_update(zhang.updates.photo(zhang.user))
    assert "请用文字写下服务申请 #1 哪里还没有解决" in zhang.last_text
    await talk(zhang, [("/help", "可用命令"), ("中心周末不开门", "您的意见已经转给服务申请 #1")])
    assert await open_conversations(db) == []
    # The skip button of the comment already given is old.
    assert "您对这份服务申请的评价已经记下了" in said(
        await press(zhang, skip, "request:comment:1:skip")
    )


async def test_request_during_the_comment_ends_it_and_cancel_is_skip(
    zhang: Person, db: Database, clock: FakeClock, deliver: Deliver
) -> None:
    await _closed_unhappily(zhang, db, clock, deliver)
    await talk(zhang, [("/request", ["未完成的对服务申请的意见已结束", "1/5"])])
    assert await open_conversations(db) == [("request", "category")]
    await talk(zhang, [("/cancel", "已取消，这份服务申请没有提交")])
    assert await open_conversations(db) == []


async def test_cancel_during_the_comment_is_skip(
    zhang: Person, db: Database, clock: FakeClock, deliver: Deliver
) -> None:
    await _closed_unhappily(zhang, db, clock, deliver)
    await talk(zhang, [("/cancel", "办理人和联络员会知道服务申请 #1 没有让您满意")])
    assert await open_conversations(db) == []
    async with db.session() as session:
        row = await session.get(ServiceRequest, 1)
        assert row is not None and (row.solved, row.satisfaction) == (False, 1)


async def test_the_conversations_end_each_other_in_english(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    deliver: Deliver,
) -> None:
    wang = Person(application, bot_api, WANG, language_code="en")
    await talk(
        wang,
        [
            ("/checkin", "Where are you now?"),
            ("/request", ["(The check-in you had open has ended, without saving.)", "1/5"]),
        ],
    )
    await _closed_unhappily(
        wang,
        db,
        clock,
        deliver,
        (
            ("👎 Not solved", "How satisfied are you"),
            ("1⭐", ["The service request you had open has ended", "What is still unsolved?"]),
        ),
    )
    skip = wang.last[-1]
    wang.last = await wang.send_update(wang.updates.photo(wang.user))
    assert "Please write in words what is still unsolved about service request #1" in (
        wang.last_text
    )
    await talk(wang, [("Skip ➡️", "Whoever handled service request #1")])
    assert "your feedback on that service request has been recorded" in said(
        await press(wang, skip, "request:comment:1:skip")
    )


# --- staff: the typed note and answer ----------------------------------------------------------


async def test_a_note_half_typed_ends_when_the_liaison_turns_to_another_request(
    liaison: Person, db: Database, clock: FakeClock
) -> None:
    await two_requests(db, clock)
    await talk(liaison, [("/requests", "待办的服务申请（2 件"), ("1", "服务申请 #1")])
    first = liaison.last[-1]
    await talk(liaison, [("/requests", None), ("2", "服务申请 #2")])
    second = liaison.last[-1]
    await press(liaison, first, "request:note:1")
    assert "请输入服务申请 #1 的内部备注" in liaison.last_text
    assert await open_conversations(db) == [("request_note", "note")]
    # Another card's button: the note on #1 ends, in one line before the answer.
    taken = said(await press(liaison, second, "request:take:2"))
    assert "未完成的服务申请的内部备注已结束，没有保存" in taken
    assert "服务申请 #2 由您办理" in taken
    assert await open_conversations(db) == []
    await talk(liaison, [("房东周五来面谈", None)])
    assert await notes(db) == []
    # The note of another request: the same.
    await press(liaison, first, "request:note:1")
    await press(liaison, second, "request:note:2")
    assert "未完成的服务申请的内部备注已结束" in liaison.last_text
    assert "请输入服务申请 #2 的内部备注" in liaison.last_text
    await talk(liaison, [("营业执照的材料已收到", "已为服务申请 #2 添加内部备注")])
    assert await notes(db) == ["营业执照的材料已收到"]
    # A button of the same request's card leaves it open (the note is about it).
    await press(liaison, first, "request:note:1")
    await press(liaison, first, "request:status:1")
    assert "已结束" not in liaison.last_text
    # Closing it: the answer is a conversation of its own, which ends the note.
    await press(liaison, liaison.last[-1], "request:close:1:resolved")
    assert "未完成的服务申请的内部备注已结束" in liaison.last_text
    assert await open_conversations(db) == [("request_answer", "answer")]
    await talk(liaison, [("/help", None), ("房东同意续租", "状态已改为“已解决”")])
    assert await open_conversations(db) == []


async def test_a_note_half_typed_ends_with_checkin_and_the_next_text_is_the_place(
    liaison: Person, db: Database, clock: FakeClock
) -> None:
    await two_requests(db, clock)
    await talk(liaison, [("/requests", None), ("1", "服务申请 #1")])
    await press(liaison, liaison.last[-1], "request:note:1")
    await talk(liaison, [("/checkin", ["未完成的服务申请的内部备注已结束", "您现在在哪里"])])
    await talk(liaison, [("深圳南山", "工作情况怎么样")])
    assert await notes(db) == []


async def test_a_note_pressed_twice_asks_once_more_and_saves_once(
    liaison: Person, db: Database, clock: FakeClock
) -> None:
    await two_requests(db, clock)
    await talk(liaison, [("/requests", None), ("1", "服务申请 #1")])
    card = liaison.last[-1]
    await press(liaison, card, "request:note:1")
    await press(liaison, card, "request:note:1")
    assert "已结束" not in liaison.last_text
    assert len(liaison.messages) == 1
    await talk(liaison, [("已联系房东", "已为服务申请 #1 添加内部备注"), ("再说一句", None)])
    assert await notes(db) == ["已联系房东"]


async def test_a_file_asked_for_another_request_says_the_note_ended(
    liaison: Person, zhang: Person, db: Database, clock: FakeClock
) -> None:
    await two_requests(db, clock)
    await talk(liaison, [("/requests", None), ("2", "服务申请 #2")])
    await press(liaison, liaison.last[-1], "request:note:2")
    # 张伟's request #3 comes with a photo.
    await talk(zhang, [("/request", None), ("其他", None), ("房东要涨租", None)])
    zhang.last = await zhang.send_update(zhang.updates.photo(zhang.user))
    await talk(zhang, [("📨 提交申请", "#3")])
    got = await press(liaison, liaison.last[-1], "request:file:3")
    assert "未完成的服务申请的内部备注已结束" in said(got)
    assert [o.method for o in got if o.method.startswith("send")] == ["sendMessage", "sendPhoto"]


@pytest.mark.skipif(
    not getattr(notices, "FLOWS", ()), reason="/notice is not on the conversation engine yet"
)
async def test_a_note_half_typed_ends_with_notice(
    liaison: Person, db: Database, clock: FakeClock
) -> None:
    await two_requests(db, clock)
    await talk(liaison, [("/requests", None), ("1", "服务申请 #1")])
    await press(liaison, liaison.last[-1], "request:note:1")
    await talk(liaison, [("/notice", "未完成的服务申请的内部备注已结束")])
    assert [flow for flow, _ in await open_conversations(db)] == ["notice"]
    clock.advance(timedelta(seconds=1))
    assert await notes(db) == []
