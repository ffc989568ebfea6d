"""Study completion on the dashboard for 100,000 members: 13 weeks of weekly pushes to 200
groups, three in five members pressing "studied" (about 780,000 receipts)."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from benchmarks.common import Timer, fresh_database, groups_and_two_staff, settle, show
from benchmarks.cycle import _postgresql
from storage.db import Database
from storage.models import (
    Consent,
    Member,
    MemberStatus,
    StudyMaterial,
    StudyPush,
    StudyReceipt,
    member_groups,
)
from storage.study import study_completion

MEMBERS = int(os.environ.get("BENCH_STUDY_MEMBERS", "100000"))
GROUPS = 200
WEEKS = 13
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
TARGET_SECONDS = 0.5
RUNS = 5
CHUNK = 5000


async def _fill(database: Database) -> tuple[int, int]:
    """The registry and its study; returns (the administrator's id, a liaison's id)."""
    rng = random.Random(14)
    start = NOW - timedelta(days=400)
    weeks = [NOW - timedelta(weeks=WEEKS - w) for w in range(WEEKS)]
    async with database.session() as session:
        await groups_and_two_staff(session, start, GROUPS)
        await session.execute(
            insert(StudyMaterial),
            [
                {"id": m, "title": f"资料{m}", "body": "正文", "created_by": "cli:bench",
                 "created_at": start}
                for m in range(1, WEEKS + 1)
            ],
        )  # fmt: skip
        await session.execute(
            insert(StudyPush),
            [
                {"occurrence": f"{at:%Y-%m-%dT%H:%M}", "group_id": g, "material_id": w + 1,
                 "pushed_at": at}
                for g in range(1, GROUPS + 1)
                for w, at in enumerate(weeks)
            ],
        )  # fmt: skip
    for first in range(1, MEMBERS + 1, CHUNK):
        ids = range(first, min(first + CHUNK, MEMBERS + 1))
        members, groups, receipts = [], [], []
        for member_id in ids:
            members.append(
                {
                    "id": member_id,
                    "name": f"党员{member_id}",
                    "phone": f"+86139{member_id:08d}",
                    "status": MemberStatus.OUTFLOW,
                    "consent": Consent.GIVEN,
                    "registered_at": start,
                    "updated_at": start,
                }
            )
            groups.append({"member_id": member_id, "group_id": member_id % GROUPS + 1})
            for w, at in enumerate(weeks):
                if rng.random() < 0.6:
                    receipts.append(
                        {"material_id": w + 1, "member_id": member_id,
                         "studied_at": at + timedelta(days=1)}
                    )  # fmt: skip
        async with database.session() as session:
            await session.execute(insert(Member), members)
            await session.execute(insert(member_groups), groups)
            await session.execute(insert(StudyReceipt), receipts)
    return 1, 2


async def _scenario(database: Database, name: str) -> dict[str, Any]:
    with Timer() as fill:
        admin, liaison = await _fill(database)
    show(f"{name}: filling {MEMBERS:,} members, {WEEKS} weeks of study", fill.seconds, "s")
    await settle(database)

    async def best(staff_id: int) -> float:
        seconds = []
        for _ in range(RUNS):
            with Timer() as timer:
                async with database.session() as session:
                    await study_completion(session, NOW, staff_id=staff_id)
            seconds.append(timer.seconds)
        return min(seconds)

    figures = {
        "study_completion_admin_seconds": await best(admin),
        "study_completion_liaison_seconds": await best(liaison),
    }
    for label, key in (
        ("study completion, administrator (every group)", "study_completion_admin_seconds"),
        ("study completion, liaison of one group", "study_completion_liaison_seconds"),
    ):
        show(f"{name}: {label}", figures[key] * 1000, "ms")
    figures["target_met"] = max(figures.values()) < TARGET_SECONDS
    return figures


async def run() -> dict[str, Any]:
    figures: dict[str, Any] = {"members": MEMBERS, "target_seconds": TARGET_SECONDS}
    async with fresh_database() as database:
        figures["sqlite"] = await _scenario(database, "SQLite")
    async with _postgresql() as database:
        if database is not None:
            figures["postgresql"] = await _scenario(database, "PostgreSQL")
    return figures


if __name__ == "__main__":
    import asyncio

    asyncio.run(run())
