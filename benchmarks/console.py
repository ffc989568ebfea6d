"""The console for 100,000 members (12 months of check-ins): the dashboard vs a bare GROUP BY,
and the members area: search by name and phone, a page further on, a member's page."""

from __future__ import annotations

import csv
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from benchmarks.common import Timer, fresh_database, groups_and_two_staff, settle, show
from benchmarks.cycle import _postgresql
from storage.dashboard import dashboard, last_periods
from storage.db import Database
from storage.models import (
    CheckIn,
    Consent,
    LocationReport,
    LocationSource,
    Member,
    MemberStatus,
    RequestStatus,
    ServiceCategory,
    ServiceRequest,
    WorkSituation,
    member_groups,
)
from storage.scope import search_members
from storage.timeline import open_member_page

MEMBERS = int(os.environ.get("BENCH_CONSOLE_MEMBERS", "100000"))
GROUPS = 200
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")
TARGET_SECONDS = 0.5
# One search (a page of the members area) or one member's page.
SEARCH_TARGET_SECONDS = 0.2
RUNS = 5
CHUNK = 5000
REGIONS = Path(__file__).resolve().parent.parent / "storage" / "data" / "regions.csv"


async def _fill(database: Database) -> tuple[int, int]:
    """The registry; returns (the administrator's staff id, one liaison's staff id)."""
    rng = random.Random(14)
    start = NOW - timedelta(days=800)
    async with database.session() as session:
        await groups_and_two_staff(session, start, GROUPS)
        category = ServiceCategory(code="b", name_zh="类", name_en="Cat", updated_at=start)
        session.add(category)
        await session.flush()
        category_id = category.id
    periods = last_periods(NOW, ZONE)
    cities = _cities()
    for first in range(1, MEMBERS + 1, CHUNK):
        ids = range(first, min(first + CHUNK, MEMBERS + 1))
        members, groups, checkins, requests, places = [], [], [], [], []
        for member_id in ids:
            registered = start + timedelta(days=rng.randrange(0, 790))
            members.append(
                {
                    "id": member_id,
                    "name": f"党员{member_id}",
                    "phone": f"+86139{member_id:08d}",
                    "status": MemberStatus.OUTFLOW,
                    "consent": Consent.GIVEN,
                    "registered_at": registered,
                    "updated_at": registered,
                    "lost_contact_at": NOW if rng.random() < 0.02 else None,
                }
            )
            groups.append({"member_id": member_id, "group_id": member_id % GROUPS + 1})
            # Most members told a place once or twice (a move); some never did.
            for moved in range(rng.choice((0, 1, 1, 2))):
                province, city = rng.choice(cities)
                places.append(
                    {
                        "member_id": member_id,
                        "reported_at": registered + timedelta(days=moved),
                        "source": LocationSource.TYPED,
                        "province": province,
                        "city": city,
                    }
                )
            for period in periods:
                if rng.random() < 0.7:
                    year, month = int(period[:4]), int(period[5:])
                    checkins.append(
                        {
                            "member_id": member_id,
                            "period": period,
                            "checked_in_at": datetime(year, month, 5, 2, tzinfo=UTC),
                            "work_situation": WorkSituation.STABLE,
                            "needs_help": False,
                        }
                    )
            if rng.random() < 0.05:
                opened = NOW - timedelta(days=rng.randrange(0, 60))
                requests.append(
                    {
                        "member_id": member_id,
                        "category_id": category_id,
                        "description": "需要帮助",
                        "status": RequestStatus.RECEIVED,
                        "created_at": opened,
                        "updated_at": opened,
                        "due_at": opened + timedelta(days=14),
                    }
                )
        async with database.session() as session:
            await session.execute(insert(Member), members)
            await session.execute(insert(member_groups), groups)
            await session.execute(insert(CheckIn), checkins)
            if requests:
                await session.execute(insert(ServiceRequest), requests)
            await session.execute(insert(LocationReport), places)
    return 1, 2


def _cities() -> list[tuple[str, str]]:
    """(province, city) of the region index's cities, the places members report."""
    with REGIONS.open(encoding="utf-8") as handle:
        return [
            (row["province"], row["city"])
            for row in csv.DictReader(handle)
            if row["level"] == "city"
        ]


async def _best(call: Any) -> float:
    seconds = []
    for _ in range(RUNS):
        with Timer() as timer:
            await call()
        seconds.append(timer.seconds)
    return min(seconds)


async def _scenario(database: Database, name: str) -> dict[str, Any]:
    with Timer() as fill:
        admin, liaison = await _fill(database)
    show(f"{name}: filling {MEMBERS:,} members, 12 months", fill.seconds, "s")
    await settle(database)

    async def baseline() -> None:
        async with database.session() as session:
            await session.execute(
                select(member_groups.c.group_id, func.count()).group_by(member_groups.c.group_id)
            )

    def board(staff_id: int) -> Any:
        async def call() -> None:
            async with database.session() as session:
                await dashboard(session, NOW, staff_id=staff_id, zone=ZONE)

        return call

    figures = {
        "baseline_group_count_seconds": await _best(baseline),
        "dashboard_admin_seconds": await _best(board(admin)),
        "dashboard_liaison_seconds": await _best(board(liaison)),
    }
    for label, key in (
        ("bare COUNT(*) GROUP BY group (baseline)", "baseline_group_count_seconds"),
        ("dashboard, administrator (every group)", "dashboard_admin_seconds"),
        ("dashboard, liaison of one group", "dashboard_liaison_seconds"),
    ):
        show(f"{name}: {label}", figures[key] * 1000, "ms")
    figures["target_met"] = (
        max(figures["dashboard_admin_seconds"], figures["dashboard_liaison_seconds"])
        < TARGET_SECONDS
    )
    figures.update(await _members_area(database, name, admin, liaison))
    return figures


# (label, key, query, page): what staff type into the members area. Names are 党员<id>;
# the liaison's group 1 holds the ids that are multiples of GROUPS.
SEARCHES = (
    ("one name", "name_one", f"党员{MEMBERS - GROUPS}", 1),
    ("many names, page 1", "name_many", "党员1", 1),
    ("many names, page 50", "name_page_50", "党员1", 50),
    ("nobody's name", "name_none", "没有这个人", 1),
    ("a phone", "phone", f"139 {MEMBERS - GROUPS:08d}", 1),
)


async def _members_area(database: Database, name: str, admin: int, liaison: int) -> dict[str, Any]:
    def search(staff_id: int, query: str, page: int) -> Any:
        async def call() -> None:
            async with database.session() as session:
                await search_members(
                    session,
                    NOW,
                    staff_id=staff_id,
                    actor=f"staff:{staff_id}",
                    query=query,
                    default_zone=ZONE,
                    limit=20,
                    offset=(page - 1) * 20,
                )

        return call

    def member_page(staff_id: int, member_id: int) -> Any:
        async def call() -> None:
            async with database.session() as session:
                found = await open_member_page(
                    session,
                    NOW,
                    staff_id=staff_id,
                    actor=f"staff:{staff_id}",
                    member_id=member_id,
                    requested=str(member_id),
                    default_zone=ZONE,
                )
                assert found is not None

        return call

    figures: dict[str, Any] = {}
    for who, staff_id in (("admin", admin), ("liaison", liaison)):
        for label, key, query, page in SEARCHES:
            seconds = await _best(search(staff_id, query, page))
            figures[f"search_{key}_{who}_seconds"] = seconds
            show(f"{name}: search {label} ({who})", seconds * 1000, "ms")
        seconds = await _best(member_page(staff_id, MEMBERS - GROUPS))
        figures[f"member_page_{who}_seconds"] = seconds
        show(f"{name}: a member's page ({who})", seconds * 1000, "ms")
    figures["search_target_met"] = max(figures.values()) < SEARCH_TARGET_SECONDS
    return figures


async def run() -> dict[str, Any]:
    figures: dict[str, Any] = {
        "members": MEMBERS,
        "target_seconds": TARGET_SECONDS,
        "search_target_seconds": SEARCH_TARGET_SECONDS,
    }
    async with fresh_database() as database:
        figures["sqlite"] = await _scenario(database, "SQLite")
    async with _postgresql() as database:
        if database is not None:
            figures["postgresql"] = await _scenario(database, "PostgreSQL")
    return figures
