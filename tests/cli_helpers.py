"""Running the `liaison` command in tests, and reaching its database from the test."""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from functools import cache
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


@cache
def _migrated() -> Path:
    """A database `liaison db upgrade` migrated, once per test process: each test gets a
    copy (migrating from nothing takes seconds, a copy milliseconds)."""
    folder = Path(tempfile.mkdtemp(prefix="liaison-cli-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "cli.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIAISON_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
        assert liaison("db", "upgrade").exit_code == 0
    return path


def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, demo: bool = False) -> str:
    """A migrated SQLite file the `liaison` command uses (with the sample district if demo)."""
    path = tmp_path / "cli.db"
    shutil.copy(_migrated(), path)
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("LIAISON_DATABASE_URL", url)
    if demo:
        assert liaison("demo").exit_code == 0
    return url
