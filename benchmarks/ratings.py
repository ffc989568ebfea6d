"""Yearly ratings: the ranked list of 10,000 members with a year of records (SQLite)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from benchmarks.common import Timer, fresh_database, show
from storage.models import (
    Activity,
    ActivityInvitation,
    ActivityKind,
    AttendanceSource,
    CheckIn,
    Idea,
    IdeaKind,
    IdeaStatus,
    Member,
    MemberStatus,
    StudyMaterial,
    StudyReceipt,
    Unit,
    WorkSituation,
)
from storage.ratings import my_score, ranking, workbook
from storage.settings import Settings

MEMBERS = int(os.environ.get("BENCH_RATINGS_MEMBERS", "10000"))
ZONE = ZoneInfo("Asia/Shanghai")
CYCLE = Settings().default_cycle
YEAR = 2026
START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)
ACTIVITIES = 20
MATERIALS = 10


async def _fill(database: Any) -> int:
    """MEMBERS members in three streets (one with a community below it), twelve check-ins
    each (one in four late), study, activities attended and adopted ideas. Returns the rows
    written."""
    units = [
        {"id": 1, "name": "江汉区", "parent_id": None, "created_at": START},
        {"id": 2, "name": "民族街", "parent_id": 1, "created_at": START},
        {"id": 3, "name": "民意社区", "parent_id": 2, "created_at": START},
        {"id": 4, "name": "花楼街", "parent_id": 1, "created_at": START},
    ]
    members = [
        {
            "id": i,
            "name": f"党员{i:05d}",
            "phone": f"+86138{i:08d}",
            "status": MemberStatus.OUTFLOW,
            "home_unit_id": 2 + i % 3,
            "timezone": "Europe/Berlin" if i % 50 == 0 else None,
            "registered_at": START,
            "updated_at": START,
        }
        for i in range(1, MEMBERS + 1)
    ]
    checkins = [
        {
            "member_id": i,
            "period": f"{YEAR}-{month:02d}",
            "checked_in_at": datetime(YEAR, month, 13 if (i + month) % 4 == 0 else 4, 2, 0,
                                      tzinfo=UTC),
            "work_situation": WorkSituation.STABLE,
            "needs_help": False,
        }
        for i in range(1, MEMBERS + 1)
        for month in range(1, 13)
    ]  # fmt: skip
    materials = [
        {"id": n, "title": f"第{n}课", "body": "学习", "created_by": "bench", "created_at": START}
        for n in range(1, MATERIALS + 1)
    ]
    receipts = [
        {"material_id": n, "member_id": i, "studied_at": START + timedelta(days=10 * n)}
        for i in range(1, MEMBERS + 1)
        for n in range(1, MATERIALS + 1)
        if (i + n) % 3
    ]
    activities = [
        {
            "id": a,
            "kind": ActivityKind.SERVICE if a % 4 == 0 else ActivityKind.FORUM,
            "title": f"活动{a}",
            "starts_at": START + timedelta(days=15 * a),
            "ends_at": START + timedelta(days=15 * a, hours=2),
            "address": "民意四路 12 号",
            "radius_m": 300,
            "code": f"{a:06d}",
            "created_by": "bench",
            "organiser": "bench",
            "created_at": START,
            "remind_at": START,
        }
        for a in range(1, ACTIVITIES + 1)
    ]
    invitations = [
        {
            "activity_id": a,
            "member_id": i,
            "invited_at": START,
            "attended_at": START + timedelta(days=15 * a) if (i + a) % 2 else None,
            "attendance_source": AttendanceSource.CODE if (i + a) % 2 else None,
        }
        for a in range(1, ACTIVITIES + 1)
        for i in range(1 + a % 4, MEMBERS + 1, 4)
    ]
    ideas = [
        {
            "member_id": i,
            "kind": IdeaKind.IDEA,
            "body": "好主意",
            "status": IdeaStatus.ADOPTED,
            "created_at": START,
            "adopted_at": START + timedelta(days=100),
            "adopted_by": "bench",
        }
        for i in range(1, MEMBERS + 1, 20)
    ]
    async with database.session() as session:
        for model, rows in (
            (Unit, units),
            (Member, members),
            (CheckIn, checkins),
            (StudyMaterial, materials),
            (StudyReceipt, receipts),
            (Activity, activities),
            (ActivityInvitation, invitations),
            (Idea, ideas),
        ):
            await session.execute(insert(model), rows)
    return sum(map(len, (members, checkins, receipts, invitations, ideas)))


async def run() -> dict[str, Any]:
    results: dict[str, Any] = {"members": MEMBERS}
    async with fresh_database() as database:
        results["rows"] = await _fill(database)
        with Timer() as baseline:
            async with database.session() as session:
                counted = await session.execute(
                    select(CheckIn.member_id, func.count()).group_by(CheckIn.member_id)
                )
                assert len(counted.all()) == MEMBERS
        with Timer() as whole:
            async with database.session() as session:
                found = await ranking(
                    session, NOW, year=YEAR, zone=ZONE, cycle=CYCLE, staff_id=None,
                    actor="bench",
                )  # fmt: skip
        assert found.total == MEMBERS
        with Timer() as street:
            async with database.session() as session:
                part = await ranking(
                    session, NOW, year=YEAR, zone=ZONE, cycle=CYCLE, staff_id=None,
                    actor="bench", unit="民族街",
                )  # fmt: skip
        assert 0 < part.total < MEMBERS
        with Timer() as one:
            async with database.session() as session:
                mine = await my_score(session, member_id=1, year=YEAR, zone=ZONE, cycle=CYCLE)
        assert mine is not None
        with Timer() as book:
            data = workbook(found)
        results.update(
            baseline_s=baseline.seconds,
            district_s=whole.seconds,
            street_s=street.seconds,
            street_members=part.total,
            member_s=one.seconds,
            workbook_s=book.seconds,
            workbook_bytes=len(data),
        )
        show("one GROUP BY of the check-ins (baseline)", baseline.seconds, "s")
        show(f"ranked list of the district, {MEMBERS:,} members", whole.seconds, "s")
        show(f"ranked list of a street and below, {part.total:,}", street.seconds, "s")
        show("one member's /myscore", one.seconds * 1000, "ms")
        show("the district's list as .xlsx", book.seconds, "s")
    return results
