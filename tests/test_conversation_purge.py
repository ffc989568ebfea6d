"""The scheduler's nightly purge: a conversation draft left past its idle limit is deleted at
the purge time; until then the member who comes back hears that it expired."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.botapi import LocalBotApi
from bot.context import LiaisonApplication, Services
from scheduler.jobs import PURGE_AT, job_specs, run_due, upcoming
from storage import qq_choices
from storage.clock import FakeClock
from storage.db import Database
from storage.models import Consent, Conversation
from tests.chat import Person, talk
from tests.factories import make_member

ALICE = 831_001
BOB = 831_002


@pytest.fixture
async def alice(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> Person:
    await make_member(db, clock.now(), telegram_user_id=ALICE, consent=Consent.GIVEN)
    return Person(application, bot_api, ALICE)


@pytest.fixture
async def bob(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> Person:
    await make_member(
        db,
        clock.now(),
        name="李娜",
        phone="+8613800138111",
        telegram_user_id=BOB,
        consent=Consent.GIVEN,
    )
    return Person(application, bot_api, BOB)


async def drafts(db: Database) -> list[int]:
    """Whose conversations are stored, by chat."""
    async with db.session() as session:
        return sorted(await session.scalars(select(Conversation.chat_id)))


def next_purge(clock: FakeClock, services: Services) -> datetime:
    local = clock.now().astimezone(services.settings.zone)
    return datetime.combine(local.date() + timedelta(days=1), PURGE_AT, tzinfo=local.tzinfo)


async def test_the_nightly_run_deletes_the_drafts_past_their_idle_limit_and_keeps_live_ones(
    alice: Person, bob: Person, db: Database, clock: FakeClock, services: Services
) -> None:
    # Alice starts a check-in in the morning and leaves it; Bob starts his late in the evening.
    await talk(alice, [("/checkin", "您现在在哪里")])
    clock.advance(timedelta(hours=11))
    await talk(bob, [("/checkin", "您现在在哪里")])
    purge_time = next_purge(clock, services)
    clock.set(purge_time - timedelta(hours=2))

    # Past Alice's idle limit, but before the purge: a run leaves the draft where it is.
    early = await run_due(db, clock.now(), services.settings)
    assert not [line for line in early.lines if "purge" in line]
    assert await drafts(db) == [ALICE, BOB]

    clock.set(purge_time)
    report = await run_due(db, clock.now(), services.settings)
    assert "conversation purge: 1 expired draft(s) deleted" in report.lines
    assert report.messages == 0
    assert await drafts(db) == [BOB]
    # Running again (a second timer, a catch-up) finds nothing more to delete.
    again = await run_due(db, clock.now(), services.settings)
    assert not [line for line in again.lines if "purge" in line]

    # Bob's draft was still live: his answer continues his check-in.
    await talk(bob, [("武汉市江汉区", "工作")])
    # Alice's is gone: what she types now is not taken for her old check-in's place.
    await talk(alice, [("武汉市江汉区", "如需报到")])


async def test_before_the_purge_a_member_back_at_an_expired_draft_is_told_it_expired(
    alice: Person, db: Database, clock: FakeClock, services: Services
) -> None:
    await talk(alice, [("/checkin", "您现在在哪里")])
    clock.advance(timedelta(hours=13))
    await run_due(db, clock.now(), services.settings)
    await talk(alice, [("武汉市江汉区", "已经作废")])


async def test_the_purge_is_one_of_the_daily_timers(
    db: Database, clock: FakeClock, services: Services
) -> None:
    specs = await job_specs(db, services.settings, clock.now())
    [(spec, when)] = [(s, w) for s, w in upcoming(specs, clock.now()) if s.kind == "purge"]
    assert when == next_purge(clock, services)
    assert spec.description == "expired conversation drafts purge (daily at 04:00)"


async def test_a_qq_chats_choices_are_kept_a_month(
    db: Database, clock: FakeClock, services: Services
) -> None:
    choices = qq_choices.Shown(7, "请看完后按“收到”。", [[{"text": "✅ 收到"}]], inline=True)
    async with db.session() as session:
        await qq_choices.save(session, clock.now(), 1_234_567, choices)
        await qq_choices.save(session, clock.now() + timedelta(days=20), 7_654_321, choices)
    clock.set(next_purge(clock, services) + timedelta(days=31))
    report = await run_due(db, clock.now(), services.settings)
    assert "conversation purge: 1 stale QQ choice list(s) deleted" in report.lines
    async with db.session() as session:
        assert await qq_choices.load(session, 1_234_567) is None
        assert await qq_choices.load(session, 7_654_321) == choices
