"""The staff drafts (/notice, /material) as conversations of the engine: kept in the database
between turns (and across a restart), one open at a time, /cancel, a button pressed twice,
and commands that are not conversations in between."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import build_application
from bot.botapi import LocalBotApi, LocalBotApiRequest
from bot.context import LiaisonApplication, Services
from storage.clock import FakeClock, FakeMonotonic
from storage.db import Database
from storage.models import Conversation, Notice, StudyMaterial
from tests.chat import Person, said, talk
from tests.factories import make_group, make_member, make_staff

LIAISON = 9301
LIAISON_EN = 9302
MEMBER = 9401
SHENZHEN = "驻深圳党小组"


@pytest.fixture(autouse=True)
async def district(db: Database, clock: FakeClock) -> None:
    shenzhen = await make_group(db, clock.now(), SHENZHEN)
    await make_member(
        db, clock.now(), name="张伟", telegram_user_id=MEMBER, phone=None, groups=[shenzhen]
    )
    await make_staff(db, clock.now(), telegram_user_id=LIAISON, groups=[shenzhen])
    await make_staff(
        db, clock.now(), telegram_user_id=LIAISON_EN, name="Li Wei", groups=[shenzhen], locale="en"
    )


@pytest.fixture
def liaison(application: LiaisonApplication, bot_api: LocalBotApi) -> Person:
    return Person(application, bot_api, LIAISON)


@pytest.fixture
def liaison_en(application: LiaisonApplication, bot_api: LocalBotApi) -> Person:
    return Person(application, bot_api, LIAISON_EN, language_code="en")


async def stored(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    """The open conversations in the database: flow, step and draft."""
    async with db.session() as session:
        rows = await session.scalars(select(Conversation))
        return [(row.flow, row.step, dict(row.draft)) for row in rows]


async def steps(db: Database) -> list[tuple[str, str]]:
    return [(flow, step) for flow, step, _ in await stored(db)]


async def notices(db: Database) -> list[Notice]:
    async with db.session() as session:
        return list(await session.scalars(select(Notice)))


async def materials(db: Database) -> list[StudyMaterial]:
    async with db.session() as session:
        return list(await session.scalars(select(StudyMaterial)))


@pytest.fixture
async def restarted(
    services: Services, bot_api: LocalBotApi, monotonic: FakeMonotonic
) -> AsyncIterator[LiaisonApplication]:
    """A second Application on the same database: nothing of the first one's memory."""
    app = build_application(services, request=LocalBotApiRequest(bot_api), monotonic=monotonic)
    await app.initialize()
    yield app
    await app.shutdown()


# --- the draft lives in the database --------------------------------------------------------


async def test_a_notice_draft_is_in_the_database_between_turns_and_survives_a_restart(
    liaison: Person,
    application: LiaisonApplication,
    restarted: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
) -> None:
    await talk(liaison, [("/notice", "发通知 1/3")])
    assert await steps(db) == [("notice", "choose")]
    await talk(liaison, [(SHENZHEN, None), ("下一步 ➡️", "发通知 2/3")])
    [(_, step, draft)] = await stored(db)
    assert step == "write"
    assert draft["chosen"] == [draft["groups"][0][0]]
    await talk(liaison, [("周六上午九点开会", "发通知 3/3：预览")])
    [(_, step, draft)] = await stored(db)
    assert (step, draft["body"]) == ("preview", "周六上午九点开会")

    # The service stops; another one, which never saw this chat, takes the next press.
    await application.shutdown()
    liaison.application = restarted
    await talk(liaison, [("⚠️ 标为紧急", "【紧急通知】"), ("📤 立即发送", "正在发给：驻深圳党小组")])
    [notice] = await notices(db)
    assert (notice.body, notice.urgent) == ("周六上午九点开会", True)
    assert await stored(db) == []


async def test_a_material_draft_is_in_the_database_between_turns(
    liaison: Person, db: Database
) -> None:
    await talk(liaison, [("/material", "1/5"), ("党课讲稿", "2/5")])
    [(flow, step, draft)] = await stored(db)
    assert (flow, step, draft["title"]) == ("material", "write", "党课讲稿")
    await talk(liaison, [("讲" * 20, "3/5"), ("跳过 ➡️", "4/5")])
    assert await steps(db) == [("material", "tags")]
    await talk(liaison, [("党课", "5/5"), ("💾 保存", "已放入资料库")])
    assert await stored(db) == []
    assert [m.title for m in await materials(db)] == ["党课讲稿"]


# --- one open conversation per chat -----------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "ended", "write"),
    [
        (LIAISON, "未完成的通知已结束，没有保存", "新学习资料 2/5"),
        (LIAISON_EN, "The notice you had open has ended, without saving", "2/5: text"),
    ],
)
async def test_material_during_a_notice_ends_the_notice_and_takes_the_next_text(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    who: int,
    ended: str,
    write: str,
) -> None:
    staff = Person(application, bot_api, who)
    await talk(staff, [("/notice", None), (SHENZHEN, None)])
    await talk(staff, [(staff.button_texts[-2], None)])  # "next"
    assert await steps(db) == [("notice", "write")]
    written = staff.last[-1]
    # One message: the line that says the notice ended, then the material's first question.
    await talk(staff, [("/material", ended)])
    assert len(staff.messages) == 1
    assert await steps(db) == [("material", "title")]
    # The notice's question lost its cancel button.
    assert any(
        method == "editMessageReplyMarkup" and params["message_id"] == written.message_id
        for method, params in bot_api.calls
    )
    # The text typed next is the material's title, not the notice's text.
    await talk(staff, [("周六上午九点开会", write)])
    [(_, step, draft)] = await stored(db)
    assert (step, draft["title"]) == ("write", "周六上午九点开会")
    assert await notices(db) == []


async def test_a_notice_during_a_material_ends_the_material_and_takes_the_next_answers(
    liaison: Person, db: Database
) -> None:
    await talk(liaison, [("/material", None), ("党课讲稿", "2/5")])
    await talk(liaison, [("/notice", ["未完成的学习资料已结束", "发通知 1/3"])])
    assert len(liaison.messages) == 1
    await talk(
        liaison,
        [(SHENZHEN, None), ("下一步 ➡️", "发通知 2/3"), ("党课改到周六", "发通知 3/3")],
    )
    [(_, step, draft)] = await stored(db)
    assert (step, draft["body"]) == ("preview", "党课改到周六")
    assert await materials(db) == []


async def test_the_same_draft_again_starts_over_without_saying_another_ended(
    liaison: Person, db: Database
) -> None:
    await talk(liaison, [("/material", None), ("党课讲稿", "2/5")])
    await talk(liaison, [("/material", "新学习资料 1/5")])
    assert "已结束" not in liaison.last_text
    assert await steps(db) == [("material", "title")]


async def test_a_checkin_refused_to_staff_leaves_the_notice_open(
    liaison: Person, db: Database
) -> None:
    # Staff are not members: /checkin is not theirs, and the draft they have open stays.
    await talk(liaison, [("/notice", None), (SHENZHEN, None), ("下一步 ➡️", "发通知 2/3")])
    await talk(liaison, [("/checkin", "报到前需要先绑定党员身份")])
    assert "已结束" not in liaison.last_text
    assert await steps(db) == [("notice", "write")]
    await talk(liaison, [("党课改到周六", "发通知 3/3")])


# --- /cancel, a command in between, a button pressed twice ----------------------------------


async def test_cancel_ends_either_draft_and_deletes_it(
    liaison: Person, liaison_en: Person, db: Database
) -> None:
    await talk(
        liaison, [("/notice", None), (SHENZHEN, None), ("/cancel", "已取消，这条通知没有发出")]
    )
    assert await stored(db) == []
    await talk(
        liaison_en,
        [("/material", None), ("Party rules", "2/5"), ("/cancel", "Cancelled; this study")],
    )
    assert await stored(db) == []


async def test_help_in_the_middle_leaves_the_draft_open(liaison: Person, db: Database) -> None:
    await talk(
        liaison,
        [
            ("/notice", None),
            (SHENZHEN, None),
            ("下一步 ➡️", None),
            ("/help", "/notice"),
            ("/notices", "还没有通知"),
            ("周六开会", "发通知 3/3"),
        ],
    )
    assert await steps(db) == [("notice", "preview")]
    await talk(
        liaison,
        [("/material", None), ("/help", "/material"), ("党课讲稿", "新学习资料 2/5")],
    )
    assert await steps(db) == [("material", "write")]


async def test_buttons_pressed_twice_do_their_work_once(
    liaison: Person, bot_api: LocalBotApi, db: Database
) -> None:
    await talk(liaison, [("/notice", None), (SHENZHEN, None), ("下一步 ➡️", None)])
    await talk(liaison, [("周六开会", "发通知 3/3")])
    preview = liaison.last[-1]
    await talk(liaison, [("📤 立即发送", "正在发给")])
    # The same button again (a double tap, or the old message): nothing more is sent.
    again = await liaison.send_update(
        liaison.updates.press(liaison.user, preview, preview.buttons[0][0])
    )
    assert "这个按钮已经失效" in said(again)
    assert len(await notices(db)) == 1

    await talk(liaison, [("/material", None), ("党课讲稿", None), ("讲稿正文", None)])
    await talk(liaison, [("跳过 ➡️", "4/5"), ("跳过 ➡️", "5/5")])
    saved = liaison.last[-1]
    await talk(liaison, [("💾 保存", "已放入资料库")])
    again = await liaison.send_update(
        liaison.updates.press(liaison.user, saved, saved.buttons[0][0])
    )
    assert "这个按钮已经失效" in said(again)
    assert len(await materials(db)) == 1
    assert await stored(db) == []
