"""`liaison console link` and `liaison console url`: a login link for the terminal mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.demo import LIAISON_TELEGRAM_IDS
from storage.models import AuditEvent, ConsoleLink
from tests.cli_helpers import cli_database, liaison, on_database


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return cli_database(tmp_path, monkeypatch, demo=True)


def test_a_link_for_a_staff_member_on_the_last_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIAISON_CONSOLE_URL", "https://console.example.org/")
    result = liaison("console", "link", "--user", str(LIAISON_TELEGRAM_IDS[0]))
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("https://console.example.org/login/")

    async def stored(database: Database) -> tuple[int, list[str]]:
        async with database.session() as session:
            links = len(list(await session.scalars(select(ConsoleLink))))
            actions = list(await session.scalars(select(AuditEvent.action)))
        return links, actions

    links, actions = on_database(database_url, stored)
    assert links == 1
    assert "console.link" in actions


def test_no_link_for_someone_not_staff_or_with_the_console_off(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = liaison("console", "link", "--user", "424242")
    assert result.exit_code == 1
    assert "no staff member has Telegram id 424242" in result.output
    assert liaison("console", "url").output.strip() == "Web console: http://127.0.0.1:8080"
    monkeypatch.setenv("LIAISON_CONSOLE_LISTEN", "")
    result = liaison("console", "link", "--user", str(LIAISON_TELEGRAM_IDS[0]))
    assert result.exit_code == 2
    assert "the web console is off" in result.output
    assert "off" in liaison("console", "url").output
