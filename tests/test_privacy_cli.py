"""`liaison privacy purge [--dry-run]`: what goes per kind; a dry run the same counts and
nothing deleted; both audited."""

from __future__ import annotations

import asyncio
import getpass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from messages.channels.base import OutboundMessage
from messages.channels.sms_log import SmsLogChannel
from storage.db import Database
from storage.models import (
    AuditEvent,
    ChannelName,
    CheckIn,
    CodeScheme,
    Idea,
    IdeaKind,
    IdeaStatus,
    Invite,
    Member,
)
from storage.retention import months_before
from tests.cli_helpers import cli_database, liaison, on_database
from tests.factories import make_checkin

DAY = timedelta(days=1)


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return cli_database(tmp_path, monkeypatch, demo=True)


def old_records(url: str, now: datetime) -> None:
    """A member's check-in of four years ago and one of last month; audit events of six and
    four years ago; an SMS logged 31 days ago and one of yesterday."""

    async def add(database: Database) -> None:
        async with database.session() as session:
            member = (await session.scalars(select(Member).order_by(Member.id))).first()
            assert member is not None
            for years in (6, 4):
                session.add(
                    AuditEvent(at=now - years * 365 * DAY, actor="staff:1", action=f"old.{years}")
                )
        await make_checkin(database, member, now - 4 * 365 * DAY, city="深圳市")
        await make_checkin(database, member, now - 30 * DAY, city="广州市")

    on_database(url, add)
    for days, delivery_id in ((31, 1), (1, 2)):
        channel = SmsLogChannel("sms-outbox.log", now=lambda days=days: now - days * DAY)
        message = OutboundMessage(delivery_id, ChannelName.SMS, "+8613800138000", "请报到")
        asyncio.run(channel.send(message))


def state(url: str) -> tuple[int, list[str], list[tuple[str, str]]]:
    """How many check-ins of three years ago, the old audit actions left, and the purge's
    audit records."""

    async def read(database: Database) -> tuple[int, list[str], list[tuple[str, str]]]:
        async with database.session() as session:
            cutoff = datetime.now(UTC) - 3 * 365 * DAY
            checkins = len(
                list(await session.scalars(select(CheckIn).where(CheckIn.checked_in_at < cutoff)))
            )
            actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
            purges = (
                await session.execute(
                    select(AuditEvent.action, AuditEvent.actor)
                    .where(AuditEvent.action.startswith("privacy."))
                    .order_by(AuditEvent.id)
                )
            ).all()
        return checkins, [a for a in actions if a.startswith("old.")], [tuple(p) for p in purges]

    return on_database(url, read)


def test_a_dry_run_prints_what_would_go_and_deletes_nothing_then_the_purge_takes_it(
    database_url: str,
) -> None:
    now = datetime.now(UTC)
    old_records(database_url, now)
    actor = f"cli:{getpass.getuser()}"

    dry = liaison("privacy", "purge", "--dry-run")

    assert dry.exit_code == 0, dry.output
    lines = dry.output.splitlines()
    assert lines[0] == "dry run: what a purge would take now (nothing was deleted)"
    assert (
        f"check-ins before {months_before(now, 36):%Y-%m-%d}: 1 deleted, "
        "0 kept as a date only (each member's latest)"
    ) in lines
    assert f"places (location reports) before {months_before(now, 36):%Y-%m-%d}: 1 deleted" in lines
    assert f"audit events before {months_before(now, 60):%Y-%m-%d}: 1 deleted" in lines
    assert f"SMS log entries before {(now - 30 * DAY):%Y-%m-%d}: 1 deleted" in lines
    assert state(database_url) == (1, ["old.6", "old.4"], [("privacy.purge.dry_run", actor)])
    assert "delivery 1" in Path("sms-outbox.log").read_text(encoding="utf-8")

    real = liaison("privacy", "purge")

    assert real.exit_code == 0, real.output
    # The same counts as the dry run said.
    assert real.output.splitlines()[:-1] == lines[1:]
    assert real.output.splitlines()[-1].startswith("purged: ")
    assert state(database_url) == (
        0,
        ["old.4"],
        [("privacy.purge.dry_run", actor), ("privacy.purge", actor)],
    )
    log = Path("sms-outbox.log").read_text(encoding="utf-8")
    assert "delivery 1" not in log and "delivery 2" in log

    # Nothing is left to purge.
    again = liaison("privacy", "purge")
    assert again.output.splitlines()[-1] == "purged: 0 record(s)"


def test_a_dry_run_of_the_other_kinds_says_what_the_purge_then_takes(database_url: str) -> None:
    now = datetime.now(UTC)

    async def add(database: Database) -> None:
        async with database.session() as session:
            member = (await session.scalars(select(Member).order_by(Member.id))).first()
            assert member is not None
            session.add(
                Idea(
                    member_id=member.id,
                    kind=IdeaKind.IDEA,
                    body="建议开设夜校",
                    status=IdeaStatus.NEW,
                    created_at=now - 4 * 365 * DAY,
                )
            )
            session.add(
                Invite(
                    member_id=member.id,
                    code_hash="used-long-ago",
                    code_scheme=CodeScheme.HMAC_SHA256,
                    created_at=now - 200 * DAY,
                    expires_at=now - 190 * DAY,
                    used_at=now - 195 * DAY,
                    created_by="cli:test",
                )
            )

    async def left(database: Database) -> tuple[int, int]:
        async with database.session() as session:
            ideas = len(list(await session.scalars(select(Idea.id))))
            invites = len(
                list(
                    await session.scalars(
                        select(Invite.id).where(Invite.code_hash == "used-long-ago")
                    )
                )
            )
        return ideas, invites

    on_database(database_url, add)
    expected = [
        f"ideas (unanswered deleted) before {months_before(now, 36):%Y-%m-%d}: 1 deleted, "
        "0 anonymised (texts erased, counts kept)",
        f"used or expired invites before {months_before(now, 3):%Y-%m-%d}: 1 deleted",
    ]

    dry = liaison("privacy", "purge", "--dry-run")

    assert dry.exit_code == 0, dry.output
    assert all(line in dry.output.splitlines() for line in expected), dry.output
    assert on_database(database_url, left) == (1, 1)

    real = liaison("privacy", "purge")

    assert real.exit_code == 0, real.output
    assert real.output.splitlines()[:-1] == dry.output.splitlines()[1:]
    assert on_database(database_url, left) == (0, 0)
