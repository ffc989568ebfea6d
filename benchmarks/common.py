"""Helpers shared by the benchmarks: a fresh migrated SQLite database, timing, reporting."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base, Group, GroupKind, Staff, StaffRole, staff_groups


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


async def groups_and_two_staff(session: AsyncSession, start: datetime, groups: int) -> None:
    """Groups 1..groups, an administrator over everything (staff 1) and the liaison of
    group 1 (staff 2): the staff whose views the console's benchmarks time."""
    await session.execute(
        insert(Group),
        [
            {"id": g, "name": f"党小组{g}", "kind": GroupKind.WORKPLACE, "created_at": start}
            for g in range(1, groups + 1)
        ],
    )
    await session.execute(
        insert(Staff),
        [
            {"id": 1, "name": "管理员", "telegram_user_id": 1, "role": StaffRole.ADMIN,
             "created_at": start},
            {"id": 2, "name": "联络员", "telegram_user_id": 2, "role": StaffRole.LIAISON,
             "created_at": start},
        ],
    )  # fmt: skip
    await session.execute(insert(staff_groups), [{"staff_id": 2, "group_id": 1}])


async def settle(db: Database, *, stats: bool = True) -> None:
    """PostgreSQL: VACUUM ANALYZE the tables, as autovacuum would have after bulk writes
    (so index-only scans see a visibility map, as they do in a live database).

    stats False: VACUUM only, to clear away the benchmark's own deletions without
    changing the planner's statistics. SQLite is left as the service leaves it (the
    service never runs ANALYZE).
    """
    if db.engine.dialect.name != "postgresql":
        return
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    command = "VACUUM ANALYZE" if stats else "VACUUM"
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text(f"{command} {tables}"))
