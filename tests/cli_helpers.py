"""Running the `liaison` command in tests, and reaching its database from the test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

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
