"""Running the `liaison` command in tests, and reaching its database from the test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from storage.db import Database

T = TypeVar("T")


def liaison(*args: str) -> Result:
    """`liaison ARGS…` in-process, as an operator would type it."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def on_database(url: str, operation: Callable[[Database], Coroutine[Any, Any, T]]) -> T:
    """Run operation against the command's database (its own engine, closed afterwards)."""

    async def run() -> T:
        database = Database.from_url(url)
        try:
            return await operation(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, demo: bool = False) -> str:
    """A migrated SQLite file the `liaison` command uses (with the sample district if demo)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LIAISON_DATABASE_URL", url)
    assert liaison("db", "upgrade").exit_code == 0
    if demo:
        assert liaison("demo").exit_code == 0
    return url
