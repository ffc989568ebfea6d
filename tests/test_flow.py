"""The conversation engine (bot/flow.py) as a member meets it: the open conversation lives
in the database, what is left there when it ends, and what happens to a draft nobody
finished or that an older version of the bot wrote."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from telegram import Update

from bot.app import FEATURES, build_application
from bot.botapi import LocalBotApi, LocalBotApiRequest
from bot.commands import Audience, Command, Feature
from bot.context import LiaisonApplication, LiaisonContext, Services
from bot.flow import END, Flow, Start, Step, typed
from bot.updates import message_text
from storage import conversations
from storage.clock import FakeClock, FakeMonotonic
from storage.db import Database
from storage.models import Consent, Conversation
from tests.chat import Person, talk
from tests.factories import make_member

ALICE = 830_001


@pytest.fixture
async def alice(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> Person:
    await make_member(db, clock.now(), telegram_user_id=ALICE, consent=Consent.GIVEN)
    return Person(application, bot_api, ALICE)


async def open_conversations(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = await session.scalars(select(Conversation))
        return [(row.flow, row.step) for row in rows]


async def test_the_open_conversation_is_in_the_database_until_it_ends(
    alice: Person, db: Database
) -> None:
    await talk(alice, [("/checkin", "您现在在哪里")])
    assert await open_conversations(db) == [("checkin", "place")]
    await talk(alice, [("武汉市江汉区", "工作情况怎么样")])
    assert await open_conversations(db) == [("checkin", "work")]
    await talk(alice, [("/cancel", "已取消")])
    assert await open_conversations(db) == []


async def test_a_command_that_is_not_a_conversation_leaves_it_open(
    alice: Person, db: Database
) -> None:
    await talk(
        alice,
        [
            ("/checkin", "您现在在哪里"),
            ("/help", "可用命令"),
            ("武汉市江汉区", "工作情况怎么样"),
        ],
    )
    assert await open_conversations(db) == [("checkin", "work")]


async def test_a_draft_left_past_the_idle_limit_is_deleted_when_the_member_comes_back(
    alice: Person, db: Database, clock: FakeClock
) -> None:
    await talk(alice, [("/checkin", "您现在在哪里")])
    clock.advance(timedelta(hours=13))
    # A command after the pause is simply that command: the old draft goes quietly.
    await talk(alice, [("/help", "可用命令")])
    assert await open_conversations(db) == []
    await talk(alice, [("武汉市江汉区", "如需报到")])


async def test_the_purge_deletes_expired_drafts_only(
    alice: Person,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
) -> None:
    await talk(alice, [("/checkin", "您现在在哪里")])
    other = 830_002
    await make_member(db, clock.now(), name="李娜", phone="+8613800138111", telegram_user_id=other)
    clock.advance(timedelta(hours=6))
    await talk(Person(application, bot_api, other), [("/checkin", "同意")])
    clock.advance(timedelta(hours=7))
    async with db.session() as session:
        purged = await conversations.purge_expired(session, clock.now())
    assert purged == 1
    assert await open_conversations(db) == [("checkin", "consent")]


async def test_a_draft_an_older_bot_wrote_is_dropped_not_misread(
    alice: Person, db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    async with db.session() as session:
        await session.execute(
            insert(Conversation).values(
                chat_id=ALICE,
                user_id=ALICE,
                flow="checkin",
                step="work",
                draft={"period": 2026},  # no longer the shape of a check-in draft
                question_id=None,
                started_at=now,
                touched_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    # Not taken as an answer to a question nobody can show any more.
    await talk(alice, [("工作稳定", "如需报到")])
    assert await open_conversations(db) == []


async def test_a_conversation_of_a_flow_that_is_gone_is_dropped(
    alice: Person, db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    async with db.session() as session:
        await session.execute(
            insert(Conversation).values(
                chat_id=ALICE,
                user_id=ALICE,
                flow="survey",
                step="colour",
                draft={},
                question_id=None,
                started_at=now,
                touched_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    await talk(alice, [("/checkin", "您现在在哪里"), ("武汉市江汉区", "工作情况怎么样")])
    assert await open_conversations(db) == [("checkin", "work")]


# A second conversation beside the check-in, as a feature would declare it: a one-step
# note whose answer is kept where the test can read it.
NOTED: list[str] = []


@dataclass(slots=True)
class NoteDraft:
    period: str


async def _start_note(update: Update, context: LiaisonContext) -> str:
    return await NOTE.begin(update, context, NoteDraft(period="2026-11"), "note")


async def _note_typed(update: Update, context: LiaisonContext, draft: NoteDraft) -> str:
    NOTED.append(message_text(update))
    return END


NOTE: Flow[NoteDraft] = Flow(
    "note",
    NoteDraft,
    audience=Audience.MEMBERS,
    templates="checkin",
    idle_limit=timedelta(hours=1),
    starts=[Start(_start_note, command="note")],
    steps={"note": Step("checkin/ask_note", [typed(_note_typed)], values=lambda c, d: {})},
    values=lambda context, draft: {"period": draft.period},
)


@pytest.fixture
async def with_note(
    services: Services, bot_api: LocalBotApi, monotonic: FakeMonotonic
) -> AsyncIterator[LiaisonApplication]:
    NOTED.clear()
    features = (*FEATURES, Feature("note", (Command("note", Audience.MEMBERS),), list, (NOTE,)))
    app = build_application(
        services, request=LocalBotApiRequest(bot_api), features=features, monotonic=monotonic
    )
    await app.initialize()
    yield app
    await app.shutdown()


@pytest.mark.parametrize(
    ("language", "ended"),
    [("zh_CN", "未完成的报到已结束"), ("en", "The check-in you had open has ended")],
)
async def test_a_command_that_starts_another_conversation_ends_the_open_one(
    with_note: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    language: str,
    ended: str,
) -> None:
    await make_member(
        db, clock.now(), telegram_user_id=ALICE, consent=Consent.GIVEN, locale=language
    )
    alice = Person(with_note, bot_api, ALICE)
    await alice.say("/checkin")
    assert await open_conversations(db) == [("checkin", "place")]
    await talk(alice, [("/note", ended)])
    # The one line comes alone, taking the place question's keyboard (last place, "send my
    # location") away: the note's question must not sit above the check-in's buttons.
    assert len(alice.messages) == 2
    assert "remove_keyboard" in str(alice.messages[0].params["reply_markup"])
    assert await open_conversations(db) == [("note", "note")]
    # What is typed next belongs to the new conversation, not to the check-in's place.
    await alice.say("武汉市江汉区")
    assert NOTED == ["武汉市江汉区"]
    assert await open_conversations(db) == []


async def test_ended_at_a_question_with_buttons_the_one_line_opens_the_new_question(
    with_note: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await make_member(db, clock.now(), telegram_user_id=ALICE, consent=Consent.GIVEN)
    alice = Person(with_note, bot_api, ALICE)
    await talk(alice, [("/checkin", "您现在在哪里"), ("武汉市江汉区", "工作情况怎么样")])
    work_question = alice.messages[-1]
    await talk(alice, [("/note", ["未完成的报到已结束", "想补充说明吗"])])
    assert len(alice.messages) == 1
    # The check-in's buttons are gone: pressing one cannot answer a question no one asks.
    assert [
        params
        for method, params in bot_api.calls
        if method == "editMessageReplyMarkup" and params["message_id"] == work_question.message_id
    ]
