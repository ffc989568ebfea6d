"""Helpers shared by the benchmarks: a fresh migrated SQLite database, timing, reporting."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from storage.db import Database
from storage.migrate import upgrade


@asynccontextmanager
async def fresh_database() -> AsyncIterator[Database]:
    """A new SQLite database file, migrated, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        database = Database.from_url(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        await upgrade(database.engine)
        try:
            yield database
        finally:
            await database.dispose()


class Timer:
    """Wall-clock seconds of a with-block."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.start


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples)


def show(label: str, value: float, unit: str) -> None:
    print(f"  {label:<48} {value:>12,.2f} {unit}", flush=True)
