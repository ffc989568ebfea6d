"""The yearly report for 100,000 members (a year of check-ins, activities, requests, ideas,
certificates): figures, PDF and XLSX timed apart, against a bare GROUP BY of the check-ins."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from benchmarks.common import Timer, fresh_database, groups_and_two_staff, settle, show
from benchmarks.console import _cities
from benchmarks.cycle import _postgresql
from messages.render import Renderer
from messages.year_report import year_report_pdf, year_report_xlsx
from storage.db import Database
from storage.models import (
    Activity,
    ActivityAnswer,
    ActivityInvitation,
    ActivityKind,
    Certificate,
    CertificateStatus,
    CheckIn,
    Consent,
    Idea,
    IdeaKind,
    IdeaStatus,
    Member,
    MemberStatus,
    RequestEventKind,
    RequestStatus,
    ServiceCategory,
    ServiceRequest,
    ServiceRequestEvent,
    WorkSituation,
    member_groups,
)
from storage.regions import default_index
from storage.year_report import YearReport, year_report

MEMBERS = int(os.environ.get("BENCH_YEAR_MEMBERS", "100000"))
GROUPS = 200
YEAR = 2026
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2027, 1, 8, 2, 0, tzinfo=UTC)
TARGET_SECONDS = 30.0
CHUNK = 5000
# In proportion to the programme's own figures: a service request from one member in twenty
# a year, an idea from one in a hundred, a certificate for one in two hundred; each group
# holds one activity, to which all its members are invited.
REQUEST_SHARE, IDEA_SHARE, CERTIFICATE_SHARE = 0.05, 0.01, 0.005
CATEGORIES = ("门面续租", "户籍办理", "就业创业", "法律维权", "子女入学", "其他")
TRADES = ("律师", "诊所", "茶叶", "建筑", "餐饮", "物流", "电商", "教育", None)
STATUSES = (MemberStatus.OUTFLOW, MemberStatus.OUTFLOW, MemberStatus.INFLOW, MemberStatus.LOCAL)


def _at(month: int, day: int, hour: int = 2) -> datetime:
    return datetime(YEAR, month, day, hour, tzinfo=UTC)


async def _fill(database: Database) -> None:
    rng = random.Random(15)
    start = datetime(YEAR - 2, 1, 1, tzinfo=UTC)
    # Origins and destinations as members type them: city names, some the index cannot read.
    places = [f"{province}{city}" for province, city in rng.sample(_cities(), 300)]
    places += ["老家", "外地", "不详"]
    async with database.session() as session:
        await groups_and_two_staff(session, start, GROUPS)
        session.add_all(
            ServiceCategory(
                code=f"c{n}", name_zh=name, name_en=f"Category {n}", position=n, updated_at=start
            )
            for n, name in enumerate(CATEGORIES)
        )
        await session.flush()
        await session.execute(
            insert(Activity),
            [
                {
                    "id": g,
                    "kind": list(ActivityKind)[g % len(ActivityKind)],
                    "title": f"活动{g}",
                    "starts_at": _at(g % 12 + 1, 15),
                    "ends_at": _at(g % 12 + 1, 15, 4),
                    "address": "江汉区",
                    "radius_m": 200,
                    "code": f"{g:04d}",
                    "created_by": "bench",
                    "organiser": "区委",
                    "created_at": _at(g % 12 + 1, 1),
                    "remind_at": _at(g % 12 + 1, 14),
                }
                for g in range(1, GROUPS + 1)
            ],
        )
    request_id = 0
    for first in range(1, MEMBERS + 1, CHUNK):
        ids = range(first, min(first + CHUNK, MEMBERS + 1))
        rows: dict[str, list[dict[str, Any]]] = {
            name: []
            for name in (
                "members",
                "groups",
                "checkins",
                "invitations",
                "requests",
                "events",
                "ideas",
                "certificates",
            )
        }
        for member_id in ids:
            registered = start + timedelta(days=rng.randrange(0, 1000))
            group = member_id % GROUPS + 1
            rows["members"].append(
                {
                    "id": member_id,
                    "name": f"党员{member_id}",
                    "phone": f"+86139{member_id:08d}",
                    "status": rng.choice(STATUSES),
                    "origin": rng.choice(places),
                    "destination": rng.choice(places),
                    "trade": rng.choice(TRADES),
                    "consent": Consent.GIVEN,
                    "registered_at": registered,
                    "updated_at": registered,
                    "lost_contact_at": _at(rng.randrange(1, 13), 20)
                    if rng.random() < 0.02
                    else None,
                }
            )
            rows["groups"].append({"member_id": member_id, "group_id": group})
            for month in range(1, 13):
                if rng.random() < 0.7:
                    rows["checkins"].append(
                        {
                            "member_id": member_id,
                            "period": f"{YEAR}-{month:02d}",
                            "checked_in_at": _at(month, 5),
                            "work_situation": WorkSituation.STABLE,
                            "needs_help": False,
                        }
                    )
            said = rng.random()
            rows["invitations"].append(
                {
                    "activity_id": group,
                    "member_id": member_id,
                    "invited_at": _at(1, 1),
                    "answer": ActivityAnswer.YES if said < 0.5 else None,
                    "attended_at": _at(1, 2) if said < 0.35 else None,
                }
            )
            if rng.random() < REQUEST_SHARE:
                request_id += 1
                opened = _at(rng.randrange(1, 13), rng.randrange(1, 28))
                taken = opened + timedelta(hours=rng.randrange(1, 72))
                closed = taken + timedelta(hours=rng.randrange(1, 400))
                status = rng.choice(
                    (
                        RequestStatus.RESOLVED,
                        RequestStatus.RESOLVED,
                        RequestStatus.CANNOT_HELP,
                        RequestStatus.REFERRED,
                        RequestStatus.IN_PROGRESS,
                    )
                )
                done = status is not RequestStatus.IN_PROGRESS
                rows["requests"].append(
                    {
                        "id": request_id,
                        "member_id": member_id,
                        "category_id": rng.randrange(1, len(CATEGORIES) + 1),
                        "description": "需要帮助",
                        "status": status,
                        "created_at": opened,
                        "updated_at": opened,
                        "due_at": opened + timedelta(days=14),
                        "closed_at": closed if done else None,
                        "satisfaction": rng.randrange(1, 6)
                        if done and rng.random() < 0.6
                        else None,
                    }
                )
                rows["events"] += [
                    {
                        "request_id": request_id,
                        "at": opened,
                        "kind": RequestEventKind.CREATED,
                        "actor": f"member:{member_id}",
                    },
                    {
                        "request_id": request_id,
                        "at": taken,
                        "kind": RequestEventKind.TAKEN,
                        "actor": "staff:1",
                    },
                ]
            if rng.random() < IDEA_SHARE:
                sent = _at(rng.randrange(1, 13), 10)
                adopted = rng.random() < 0.2
                rows["ideas"].append(
                    {
                        "member_id": member_id,
                        "kind": IdeaKind.IDEA if rng.random() < 0.6 else IdeaKind.OPINION,
                        "body": "建议",
                        "status": IdeaStatus.ADOPTED if adopted else IdeaStatus.NEW,
                        "created_at": sent,
                        "adopted_at": sent + timedelta(days=5) if adopted else None,
                    }
                )
            if rng.random() < CERTIFICATE_SHARE:
                issued = _at(rng.randrange(1, 13), 18)
                rows["certificates"].append(
                    {
                        "member_id": member_id,
                        "origin_organisation": "江汉区委",
                        "destination": "深圳",
                        "reason": "外出务工",
                        "expected_months": 12,
                        "status": CertificateStatus.ISSUED,
                        "created_at": issued,
                        "updated_at": issued,
                        "issued_at": issued,
                    }
                )
        async with database.session() as session:
            for model, name in (
                (Member, "members"),
                (member_groups, "groups"),
                (CheckIn, "checkins"),
                (ActivityInvitation, "invitations"),
                (ServiceRequest, "requests"),
                (ServiceRequestEvent, "events"),
                (Idea, "ideas"),
                (Certificate, "certificates"),
            ):
                if rows[name]:
                    await session.execute(insert(model), rows[name])


async def _scenario(database: Database, name: str) -> dict[str, Any]:
    with Timer() as fill:
        await _fill(database)
    show(f"{name}: filling {MEMBERS:,} members, a year", fill.seconds, "s")
    await settle(database)
    renderer = Renderer()

    with Timer() as baseline:
        async with database.session() as session:
            await session.execute(select(CheckIn.period, func.count()).group_by(CheckIn.period))

    async def compute(staff_id: int) -> YearReport:
        async with database.session() as session:
            return await year_report(
                session,
                NOW,
                YEAR,
                zone=ZONE,
                regions=default_index(),
                staff_id=staff_id,
                actor="bench",
                subject="bench",
            )

    with Timer() as total:
        with Timer() as figures:
            report = await compute(1)
        with Timer() as pdf_time:
            pdf = year_report_pdf(report, renderer, "zh_CN", ZONE)
        with Timer() as xlsx_time:
            xlsx = year_report_xlsx(report, renderer, "zh_CN", ZONE)
    assert report.members == MEMBERS, report.members
    with Timer() as liaison:
        mine = await compute(2)
    assert 0 < mine.members < MEMBERS
    results = {
        "baseline_checkin_group_by_s": baseline.seconds,
        "compute_s": figures.seconds,
        "pdf_s": pdf_time.seconds,
        "xlsx_s": xlsx_time.seconds,
        "total_s": total.seconds,
        "liaison_compute_s": liaison.seconds,
        "pdf_kb": len(pdf) // 1024,
        "xlsx_kb": len(xlsx) // 1024,
        "target_met": total.seconds < TARGET_SECONDS,
    }
    for label, key, unit in (
        ("bare COUNT(*) GROUP BY period (baseline)", "baseline_checkin_group_by_s", "s"),
        ("figures, administrator (the district)", "compute_s", "s"),
        ("PDF", "pdf_s", "s"),
        ("XLSX", "xlsx_s", "s"),
        (f"total (target < {TARGET_SECONDS:.0f} s)", "total_s", "s"),
        ("figures, liaison of one group", "liaison_compute_s", "s"),
    ):
        show(f"{name}: {label}", results[key], unit)
    return results


async def run() -> dict[str, Any]:
    figures: dict[str, Any] = {"members": MEMBERS, "target_seconds": TARGET_SECONDS}
    async with fresh_database() as database:
        figures["sqlite"] = await _scenario(database, "SQLite")
    async with _postgresql() as database:
        if database is not None:
            figures["postgresql"] = await _scenario(database, "PostgreSQL")
    return figures
