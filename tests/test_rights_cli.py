"""`liaison member erase`: an operator lists the deletion requests and carries one out."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEvent, Member
from storage.rights import request_deletion
from tests.cli_helpers import cli_database, liaison, on_database
from tests.conftest import START
from tests.factories import make_member


def test_the_command_line_lists_and_carries_out_a_deletion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = cli_database(tmp_path, monkeypatch)

    async def asks(database: Database) -> None:
        zhang = await make_member(database, START, name="张伟", telegram_user_id=8301)
        await make_member(database, START, name="王芳", phone="+8613800000002")
        async with database.session() as session:
            await request_deletion(session, START, member_id=zhang.id)

    on_database(url, asks)
    listed = liaison("member", "erase")
    assert listed.exit_code == 0
    assert "#1" in listed.output and "member 1" in listed.output
    done = liaison("member", "erase", "--confirm", "1")
    assert done.exit_code == 0, done.output
    assert "deletion request #1 carried out" in done.output
    assert "members: 1" in done.output
    # Once only: the request is decided.
    again = liaison("member", "erase", "--confirm", "1")
    assert again.exit_code == 1
    assert "deletion request #1: data request 1 is approved" in again.stderr
    assert liaison("member", "erase").output.strip() == "no deletion requests waiting"

    async def left(database: Database) -> tuple[list[str], list[str]]:
        async with database.session() as session:
            names = list(await session.scalars(select(Member.name)))
            erasures = list(
                await session.scalars(
                    select(AuditEvent.actor).where(AuditEvent.action == "member.erase")
                )
            )
            return names, erasures

    names, erasures = on_database(url, left)
    assert names == ["王芳"]
    assert len(erasures) == 1 and erasures[0].startswith("cli:")
