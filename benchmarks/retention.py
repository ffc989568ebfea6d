"""The nightly retention purge: 20,000 members, 4 years of check-ins, 18 months of deliveries."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    cast,
    delete,
    insert,
    literal,
    null,
    select,
    text,
)
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import SQLAlchemyError

from benchmarks.common import Timer, fresh_database, settle, show
from storage.calendar import add_months
from storage.db import Database, create_engine
from storage.migrate import upgrade
from storage.models import (
    ChannelName,
    CheckIn,
    Consent,
    Delivery,
    DeliveryStatus,
    LocationReport,
    LocationSource,
    Member,
    MemberStatus,
    MessageKind,
    Notice,
    NoticeStatus,
    UTCDateTime,
    WorkSituation,
)
from storage.outbox import cast_table
from storage.retention import PurgeReport, Retention, months_before, purge

MEMBERS = int(os.environ.get("BENCH_RETENTION_MEMBERS", "20000"))
PG_URL = os.environ.get(
    "LIAISON_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# The defaults of LIAISON_RETENTION_* (storage/settings.py), not a developer's environment.
RETENTION = Retention()
# 03:00 on the 8th in Shanghai: the nightly purge's hour.
NOW = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)
CHECKINS_CUTOFF = months_before(NOW, RETENTION.checkins_months)  # 2023-12-07
DELIVERIES_CUTOFF = months_before(NOW, RETENTION.deliveries_months)  # 2025-12-07

# Check-ins every month from December 2022 to November 2026, between the 8th and the 26th:
# the first twelve months (a quarter) are past the 36 months kept.
CHECKIN_MONTHS = [add_months(date(2022, 12, 1), k) for k in range(48)]
# One member in a hundred went silent in September 2023: their latest check-in is past its
# time and is kept as a date only.
SILENT_EVERY, SILENT_MONTHS = 100, 10
# Check-in prompts from July 2025 to December 2026 (on the 1st), and a first reminder for one
# member in ten: the first six months (a third) are past the 12 months kept.
DELIVERY_MONTHS = [add_months(date(2025, 7, 1), k) for k in range(18)]
REMINDED_EVERY = 10
# A notice to everyone each quarter (on the 15th, two of six past their time); for one member
# in thirty Telegram failed and an SMS followed (the superseded attempt goes, the SMS stays).
NOTICE_MONTHS = [add_months(date(2025, 8, 1), 3 * k) for k in range(6)]
RETRIED_EVERY = 30
VARIANTS = 10  # check-in days and hours, spread over the members

# Helper tables, outside the schema's metadata: the instants the set-based INSERTs take.
_helpers = MetaData()
checkin_slots = Table(
    "bench_checkin_slots",
    _helpers,
    Column("k", Integer),
    Column("variant", Integer),
    Column("period", String(7)),
    Column("at", UTCDateTime()),
)
delivery_slots = Table(
    "bench_delivery_slots",
    _helpers,
    Column("k", Integer),
    Column("period", String(7)),
    Column("at", UTCDateTime()),
)
notice_slots = Table(
    "bench_notice_slots",
    _helpers,
    Column("notice_id", Integer),
    Column("at", UTCDateTime()),
)


def _typed(value: Any, column: Any) -> Any:
    return literal(value, column.type)


def _expected() -> dict[str, int]:
    """What the purge must report, worked out from the plan rather than from SQL."""
    silent = MEMBERS // SILENT_EVERY
    # The earliest check-in of a month is on the 8th.
    past_months = sum(
        1 for m in CHECKIN_MONTHS if _month_start(m) + timedelta(days=7) < CHECKINS_CUTOFF
    )
    past_checkins = (MEMBERS - silent) * past_months + silent * min(past_months, SILENT_MONTHS)
    past_deliveries = sum(1 for m in DELIVERY_MONTHS if _month_start(m) < DELIVERIES_CUTOFF)
    reminded = sum(
        1
        for k, m in enumerate(DELIVERY_MONTHS)
        if _month_start(m) < DELIVERIES_CUTOFF
        for member in range(1, MEMBERS + 1)
        if (member + k) % REMINDED_EVERY == 0
    )
    past_notices = sum(
        1 for m in NOTICE_MONTHS if _month_start(m) + timedelta(days=14) < DELIVERIES_CUTOFF
    )
    retried = MEMBERS // RETRIED_EVERY
    return {
        "checkins_deleted": past_checkins - silent,
        "checkins_anonymised": silent,
        "places_deleted": past_checkins,
        "deliveries_deleted": MEMBERS * past_deliveries + reminded + past_notices * retried,
        "deliveries_anonymised": MEMBERS * past_notices,
    }


def _month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


async def _build(db: Database) -> int:
    """The district, with set-based INSERT … SELECTs over the members; returns rows written."""
    at = datetime(2022, 6, 1, tzinfo=UTC)
    async with db.engine.begin() as connection:
        await connection.run_sync(_helpers.create_all)
    async with db.session() as session:
        await session.execute(
            insert(checkin_slots),
            [
                {
                    "k": k,
                    "variant": v,
                    "period": f"{m:%Y-%m}",
                    "at": datetime(m.year, m.month, 8 + 2 * v, 3 + v, 5 * v, tzinfo=UTC),
                }
                for k, m in enumerate(CHECKIN_MONTHS)
                for v in range(VARIANTS)
            ],
        )
        await session.execute(
            insert(delivery_slots),
            [
                {"k": k, "period": f"{m:%Y-%m}", "at": datetime(m.year, m.month, 1, 1, tzinfo=UTC)}
                for k, m in enumerate(DELIVERY_MONTHS)
            ],
        )
        notices = [
            {
                "id": n + 1,
                "author": "cli:bench",
                "author_name": "区委组织部",
                "body": "季度通知",
                "everyone": True,
                "urgent": False,
                "status": NoticeStatus.SENT,
                "send_at": datetime(m.year, m.month, 15, 2, tzinfo=UTC),
                "created_at": datetime(m.year, m.month, 15, 2, tzinfo=UTC),
                "enqueued_at": datetime(m.year, m.month, 15, 2, tzinfo=UTC),
            }
            for n, m in enumerate(NOTICE_MONTHS)
        ]
        await session.execute(insert(cast_table(Notice.__table__)), notices)
        await session.execute(
            insert(notice_slots), [{"notice_id": n["id"], "at": n["send_at"]} for n in notices]
        )
        await session.execute(
            insert(cast_table(Member.__table__)),
            [
                {
                    "id": i,
                    "name": f"党员{i:06d}",
                    "phone": f"+86138{i:08d}",
                    "status": MemberStatus.OUTFLOW,
                    "telegram_user_id": 1_000_000 + i,
                    "consent": Consent.GIVEN,
                    "registered_at": at,
                    "bound_at": at,
                    "updated_at": at,
                }
                for i in range(1, MEMBERS + 1)
            ],
        )

    m, s = Member.__table__.c, checkin_slots.c
    # Report ids worked out from member and month, so that each check-in names its own.
    report_id = (m.id - 1) * len(CHECKIN_MONTHS) + s.k + 1
    checked_in = (
        select()
        .select_from(Member.__table__)
        .join(checkin_slots, s.variant == m.id % VARIANTS)
        .where((m.id % SILENT_EVERY != 0) | (s.k < SILENT_MONTHS))
        # Ids in the order of time, as check-ins made live get them: purge keeps each
        # member's highest id as their latest (PostgreSQL numbers an unordered SELECT's
        # rows in no particular order).
        .order_by(s.k, m.id)
    )
    lr, ci = LocationReport.__table__.c, CheckIn.__table__.c
    d, ds, ns = Delivery.__table__.c, delivery_slots.c, notice_slots.c
    written = MEMBERS + len(notices)
    async with db.session() as session:
        result = await session.execute(
            insert(LocationReport.__table__).from_select(
                [
                    "id",
                    "member_id",
                    "reported_at",
                    "source",
                    "text",
                    "province",
                    "city",
                    "district",
                ],
                checked_in.add_columns(
                    report_id,
                    m.id,
                    s.at,
                    _typed(LocationSource.TYPED, lr.source),
                    literal("深圳市南山区"),
                    literal("广东省"),
                    literal("深圳市"),
                    literal("南山区"),
                ),
            )
        )
        written += _count(result)
        result = await session.execute(
            insert(CheckIn.__table__).from_select(
                [
                    "member_id",
                    "period",
                    "checked_in_at",
                    "location_report_id",
                    "work_situation",
                    "needs_help",
                ],
                checked_in.add_columns(
                    m.id,
                    s.period,
                    s.at,
                    report_id,
                    _typed(WorkSituation.STABLE, ci.work_situation),
                    literal(False),
                ),
            )
        )
        written += _count(result)
    columns = [
        "dedupe_key",
        "kind",
        "topic",
        "payload",
        "notice_id",
        "member_id",
        "channel",
        "address",
        "status",
        "rank",
        "attempts",
        "parts_sent",
        "next_attempt_at",
        "created_at",
        "sent_at",
    ]

    def scheduled(step: str, kind: MessageKind, where: Any) -> Any:
        topic = literal("chk:") + ds.period + literal(f":{step}")
        return (
            select(
                topic + literal(":m") + cast(m.id, String) + literal(":telegram"),
                _typed(kind, d.kind),
                topic,
                cast(literal({"reminder": 0 if step == "prompt" else 1}, JSON()), JSON()),
                null(),
                m.id,
                _typed(ChannelName.TELEGRAM, d.channel),
                cast(1_000_000 + m.id, String),
                _typed(DeliveryStatus.SENT, d.status),
                literal(0),
                literal(1),
                literal(1),
                ds.at,
                ds.at,
                ds.at,
            )
            .select_from(Member.__table__)
            .join(delivery_slots, literal(True))
            .where(where)
        )

    def notified(channel: ChannelName, status: DeliveryStatus, where: Any) -> Any:
        return (
            select(
                literal("notice:")
                + cast(ns.notice_id, String)
                + literal(":m")
                + cast(m.id, String)
                + literal(f":{channel.value}"),
                _typed(MessageKind.NOTICE, d.kind),
                literal("notice:") + cast(ns.notice_id, String),
                null(),
                ns.notice_id,
                m.id,
                _typed(channel, d.channel),
                cast(1_000_000 + m.id, String),
                _typed(status, d.status),
                literal(0),
                literal(1),
                literal(1 if status == DeliveryStatus.SENT else 0),
                ns.at,
                ns.at,
                ns.at if status == DeliveryStatus.SENT else null(),
            )
            .select_from(Member.__table__)
            .join(notice_slots, literal(True))
            .where(where)
        )

    parts = [
        scheduled("prompt", MessageKind.CHECKIN_PROMPT, literal(True)),
        scheduled("r1", MessageKind.CHECKIN_REMINDER, (m.id + ds.k) % REMINDED_EVERY == 0),
        # The failed Telegram attempt first (a lower id), then the SMS that reached them.
        notified(ChannelName.TELEGRAM, DeliveryStatus.FAILED, m.id % RETRIED_EVERY == 0),
        notified(ChannelName.TELEGRAM, DeliveryStatus.SENT, m.id % RETRIED_EVERY != 0),
        notified(ChannelName.SMS, DeliveryStatus.SENT, m.id % RETRIED_EVERY == 0),
    ]
    for part in parts:
        async with db.session() as session:
            written += _count(
                await session.execute(insert(Delivery.__table__).from_select(columns, part))
            )
    async with db.engine.begin() as connection:
        await connection.run_sync(_helpers.drop_all)
    return written


def _count(result: object) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


async def _purge(db: Database) -> tuple[float, PurgeReport]:
    """One nightly purge, in one transaction, committed (as the scheduler's job runs it)."""
    with Timer() as timer:
        async with db.session() as session:
            report = await purge(session, NOW, RETENTION)
    return timer.seconds, report


async def _bare_delete(db: Database) -> tuple[float, int, int]:
    """The baseline: every check-in before the cutoff and the places before it, nothing kept."""
    with Timer() as timer:
        async with db.session() as session:
            checkins = _count(
                await session.execute(
                    delete(CheckIn).where(CheckIn.checked_in_at < CHECKINS_CUTOFF)
                )
            )
            places = _count(
                await session.execute(
                    delete(LocationReport).where(LocationReport.reported_at < CHECKINS_CUTOFF)
                )
            )
    return timer.seconds, checkins, places


async def _scenario(backend: str, purged: Database, bare: Database) -> dict[str, Any]:
    expected = _expected()
    with Timer() as setup:
        written = await _build(purged)
        await settle(purged)
    show(f"{backend}: setting up {MEMBERS:,} members (purge copy)", setup.seconds, "s")
    show("  rows written", written, "")
    with Timer() as setup_bare:
        assert await _build(bare) == written
        await settle(bare)
    show(f"{backend}: setting up the identical copy (baseline)", setup_bare.seconds, "s")

    seconds, report = await _purge(purged)
    counts = report.counts()
    got = {
        "checkins_deleted": counts["checkins"]["deleted"],
        "checkins_anonymised": counts["checkins"]["anonymised"],
        "places_deleted": counts["places"]["deleted"],
        "deliveries_deleted": counts["deliveries"]["deleted"],
        "deliveries_anonymised": counts["deliveries"]["anonymised"],
    }
    assert got == expected, (got, expected)
    assert report.total == sum(expected.values()), counts
    show(f"{backend}: purge at {NOW:%Y-%m-%d %H:%M} UTC", seconds, "s")
    for kind in report.kinds:
        if kind.total:
            print(f"      {kind.line()}", flush=True)
    again_seconds, again = await _purge(purged)
    assert again.total == 0, again.counts()
    show(f"{backend}: purge again at the same instant (nothing to do)", again_seconds, "s")

    bare_seconds, bare_checkins, bare_places = await _bare_delete(bare)
    # Everything before the cutoff, the silent members' latest check-ins too.
    assert bare_checkins == expected["checkins_deleted"] + expected["checkins_anonymised"]
    assert bare_places == expected["places_deleted"]
    show(f"{backend}: baseline, bare DELETE of check-ins and places", bare_seconds, "s")
    show("  check-ins / places deleted", bare_checkins, f"/ {bare_places:,}")
    show("  purge vs. the bare DELETE", seconds / bare_seconds, "x")
    return {
        "members": MEMBERS,
        "setup_seconds": setup.seconds,
        "rows_written": written,
        "purge_seconds": seconds,
        "purged": counts,
        "purge_again_seconds": again_seconds,
        "bare_delete_seconds": bare_seconds,
        "bare_delete_rows": {"checkins": bare_checkins, "places": bare_places},
    }


@asynccontextmanager
async def _postgresql(suffix: str) -> AsyncIterator[Database | None]:
    """A migrated schema of this run's own on LIAISON_BENCH_DATABASE_URL, dropped afterwards.

    None (and a printed note) when the server cannot be reached.
    """
    schema = f"liaison_bench_{os.getpid()}_{suffix}"
    shown = make_url(PG_URL).render_as_string(hide_password=True)
    admin = create_engine(PG_URL, connect_args={"timeout": 5})
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            await connection.execute(text(f"CREATE SCHEMA {schema}"))
    except (OSError, SQLAlchemyError) as error:
        await admin.dispose()
        print(f"  PostgreSQL skipped: cannot use {shown} ({type(error).__name__}: {error})")
        yield None
        return
    database = Database.from_url(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        await upgrade(database.engine)
        yield database
    finally:
        await database.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await admin.dispose()


async def run() -> dict[str, Any]:
    figures: dict[str, Any] = {"members": MEMBERS, "now": NOW.isoformat()}
    async with fresh_database() as purged, fresh_database() as bare:
        figures["sqlite"] = await _scenario("SQLite", purged, bare)
    async with _postgresql("purge") as pg_purged, _postgresql("bare") as pg_bare:
        if pg_purged is not None and pg_bare is not None:
            figures["postgresql"] = await _scenario("PostgreSQL", pg_purged, pg_bare)
    return figures
