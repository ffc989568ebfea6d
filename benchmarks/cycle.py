"""The monthly check-in cycle for 100,000 members (run_due): prompts, reminders, escalation."""

from __future__ import annotations

import gc
import os
import random
import re
import resource
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    String,
    cast,
    delete,
    event,
    func,
    insert,
    literal,
    null,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from benchmarks.common import Timer, fresh_database, settle, show
from scheduler.jobs import run_due
from storage.calendar import add_months, at_local
from storage.db import Database, create_engine
from storage.migrate import upgrade
from storage.models import (
    ChannelName,
    CheckIn,
    CheckInCycle,
    Consent,
    Delivery,
    DeliveryStatus,
    Group,
    GroupKind,
    LocationReport,
    LocationSource,
    Member,
    MemberStatus,
    MessageKind,
    Staff,
    StaffRole,
    UTCDateTime,
    WorkSituation,
    member_groups,
    staff_groups,
)
from storage.outbox import cast_table
from storage.settings import Settings

MEMBERS = int(os.environ.get("BENCH_CYCLE_MEMBERS", "100000"))
# Months of check-ins and scheduler messages already in the database before December.
HISTORY_MONTHS = max(int(os.environ.get("BENCH_CYCLE_HISTORY_MONTHS", "6")), 3)
PG_URL = os.environ.get(
    "LIAISON_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# "off" or "on" to override the server's jit setting for the benchmark's connections.
PG_JIT = os.environ.get("BENCH_CYCLE_PG_JIT", "").strip()
TARGET_SECONDS = 2.0

GROUPS = 200  # two liaisons each; one administrator over everyone
# Ten groups with cycles of their own: six prompt on the 2nd (reminders 3 and 7 days
# later), four on the 3rd (3 and 6 days later); all escalate on the 10th like the default.
CYCLE_GROUPS = frozenset(range(20, GROUPS + 1, 20))
OWN_CYCLE = {g: (2, "3,7") if g <= 120 else (3, "3,6") for g in CYCLE_GROUPS}
ADMIN_ID = 2 * GROUPS + 1
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
PERIOD = "2026-12"
PROMPT = at_local(date(2026, 12, 1), time(9, 0), SHANGHAI)
REMINDER = at_local(date(2026, 12, 4), time(9, 0), SHANGHAI)
ESCALATION = at_local(date(2026, 12, 10), time(9, 0), SHANGHAI)
REGISTERED = datetime(2024, 1, 1, tzinfo=UTC)
CHUNK = 2_000

# Member kinds: checks in most months; silent 7+ months and not yet flagged (the first run
# after the cycle was switched on flags them); flagged long ago and confirmed by an admin.
REGULAR, SILENT, CONFIRMED = 0, 1, 2
# Channel flags per member.
TELEGRAM, PHONE, SMS_FIRST, BLOCKED = 1, 2, 4, 8

PLACES = (
    ("深圳市南山区", "广东省", "深圳市", "南山区"),
    ("上海市浦东新区", "上海市", "上海市", "浦东新区"),
    ("广州市天河区", "广东省", "广州市", "天河区"),
    ("杭州市西湖区", "浙江省", "杭州市", "西湖区"),
    ("武汉市江汉区", "湖北省", "武汉市", "江汉区"),
)


@dataclass(slots=True)
class District:
    """The generated members, compact: enough to build the rows and to expect the counts."""

    zones: list[str | None] = field(default_factory=list)
    groups: list[tuple[int, ...]] = field(default_factory=list)
    flags: bytearray = field(default_factory=bytearray)
    kinds: bytearray = field(default_factory=bytearray)
    # When each member checks in this December, if they do.
    december: list[datetime | None] = field(default_factory=list)

    def channel(self, index: int) -> str | None:
        """The channel enqueue_to_members picks (storage.outbox.member_channel)."""
        flags = self.flags[index]
        if flags & SMS_FIRST and flags & PHONE:
            return ChannelName.SMS.value
        if flags & TELEGRAM and not flags & BLOCKED:
            return ChannelName.TELEGRAM.value
        return ChannelName.SMS.value if flags & PHONE else None

    def prompted_on_day_one_in_shanghai(self, index: int) -> bool:
        """Follows the default cycle, in the default zone, not confirmed lost."""
        return (
            self.zones[index] in (None, "Asia/Shanghai")
            and not CYCLE_GROUPS.intersection(self.groups[index])
            and self.kinds[index] != CONFIRMED
        )

    def silent_at(self, index: int, now: datetime) -> bool:
        when = self.december[index]
        return when is None or when >= now


def _plan(members: int) -> District:
    rng = random.Random(4)
    district = District()
    for i in range(members):
        r = rng.random()
        district.zones.append(
            BERLIN if r < 0.025 else NEW_YORK if r < 0.05 else "Asia/Shanghai" if r < 0.06 else None
        )
        first = i % GROUPS + 1
        second = rng.randrange(GROUPS) + 1 if rng.random() < 0.1 else first
        district.groups.append(tuple(sorted({first, second})))
        flags = 0 if rng.random() < 0.005 else PHONE
        if rng.random() < 0.7:
            flags |= TELEGRAM
            flags |= SMS_FIRST if rng.random() < 0.03 else 0
            flags |= BLOCKED if rng.random() < 0.01 else 0
        district.flags.append(flags)
        r = rng.random()
        kind = SILENT if r < 0.03 else CONFIRMED if r < 0.04 else REGULAR
        district.kinds.append(kind)
        # Of all members: 70 % check in by the first reminder, 10 % more by the escalation.
        r = rng.random()
        december = None
        if kind == REGULAR and r < 0.70 / 0.96:
            december = datetime(2026, 12, 1, 6, tzinfo=UTC) + timedelta(
                seconds=rng.randrange(66 * 3600)
            )
        elif kind == REGULAR and r < 0.80 / 0.96:
            december = datetime(2026, 12, 4, 2, tzinfo=UTC) + timedelta(
                seconds=rng.randrange(141 * 3600)
            )
        district.december.append(december)
    return district


def _history_months() -> list[date]:
    """The months before December with history, newest first."""
    return [add_months(date(2026, 11, 1), -k) for k in range(HISTORY_MONTHS)]


def _member_row(district: District, i: int) -> dict[str, Any]:
    flags = district.flags[i]
    confirmed = district.kinds[i] == CONFIRMED
    lost_at = datetime(2026, 8, 1, 1, tzinfo=UTC) if confirmed else None
    return {
        "id": i + 1,
        "name": f"党员{i:06d}",
        "phone": f"+86138{i:08d}" if flags & PHONE else None,
        "status": MemberStatus.OUTFLOW if i % 3 else MemberStatus.INFLOW,
        "telegram_user_id": 1_000_000 + i if flags & TELEGRAM else None,
        "timezone": district.zones[i],
        "consent": Consent.GIVEN,
        "channels": "sms,telegram" if flags & SMS_FIRST else None,
        "telegram_unreachable_at": REGISTERED if flags & BLOCKED else None,
        "lost_contact_at": lost_at,
        "lost_contact_confirmed_at": lost_at + timedelta(days=3) if lost_at else None,
        "lost_contact_confirmed_by": "bench-admin" if confirmed else None,
        "registered_at": REGISTERED,
        "bound_at": REGISTERED if flags & TELEGRAM else None,
        "updated_at": REGISTERED,
    }


@dataclass(slots=True)
class Rows:
    """One chunk's rows, table by table, in foreign key order."""

    members: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)
    locations: list[dict[str, Any]] = field(default_factory=list)
    checkins: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    next_location: int = 1

    def check_in(self, member_id: int, at: datetime, rng: random.Random) -> None:
        place = PLACES[rng.randrange(len(PLACES))]
        self.locations.append(
            {
                "id": self.next_location,
                "member_id": member_id,
                "reported_at": at,
                "source": LocationSource.TYPED,
                "text": place[0],
                "province": place[1],
                "city": place[2],
                "district": place[3],
            }
        )
        self.checkins.append(
            {
                "member_id": member_id,
                "period": at.strftime("%Y-%m"),  # 04:00 UTC on day 2+: the same month anywhere
                "checked_in_at": at,
                "location_report_id": self.next_location,
                "work_situation": WorkSituation.STABLE,
                "needs_help": False,
            }
        )
        self.next_location += 1

    def message(self, member_id: int, channel: str | None, month: date, step: int) -> None:
        period = month.strftime("%Y-%m")
        name = f"r{step}" if step else "prompt"
        at = datetime.combine(month, time(1, 0), UTC) + timedelta(days=(0, 3, 7)[step])
        self.deliveries.append(
            {
                "dedupe_key": f"chk:{period}:{name}:m{member_id}:{channel or 'none'}",
                "kind": MessageKind.CHECKIN_REMINDER if step else MessageKind.CHECKIN_PROMPT,
                "topic": f"chk:{period}:{name}",
                "payload": {"period": period, "reminder": step},
                "member_id": member_id,
                "channel": ChannelName(channel) if channel else None,
                "address": str(member_id),
                "status": DeliveryStatus.SENT if channel else DeliveryStatus.SUPPRESSED,
                "rank": 0,
                "attempts": 1 if channel else 0,
                "next_attempt_at": at,
                "created_at": at,
                "sent_at": at if channel else None,
            }
        )


def _chunk(district: District, start: int, stop: int, rows: Rows, rng: random.Random) -> None:
    """Members start..stop with their groups, check-in history and past scheduler messages."""
    months = _history_months()
    for i in range(start, stop):
        member_id = i + 1
        rows.members.append(_member_row(district, i))
        rows.memberships += [{"member_id": member_id, "group_id": g} for g in district.groups[i]]
        kind = district.kinds[i]
        checked: set[date] = set()
        if kind == REGULAR:
            r = rng.random()
            last = 0 if r < 0.92 else 1 if r < 0.97 else 2
            checked = {months[last]}
            checked |= {m for m in months[last + 1 :] if rng.random() < 0.85}
        else:
            # Silent since at least April (7+ months); confirmed ones for longer still.
            back = rng.randint(8, 12) if kind == SILENT else rng.randint(10, 14)
            checked = {add_months(date(2026, 12, 1), -back)}
        for month in sorted(checked):
            day = datetime.combine(month.replace(day=rng.randint(2, 25)), time(4), UTC)
            rows.check_in(member_id, day + timedelta(seconds=rng.randrange(3600)), rng)
        if kind == CONFIRMED:
            continue  # no prompts since an admin confirmed them lost
        channel = district.channel(i)
        for month in months:
            rows.message(member_id, channel, month, 0)
            if month not in checked:
                rows.message(member_id, channel, month, 1)
                rows.message(member_id, channel, month, 2)


async def _load(db: Database, district: District) -> int:
    """Everything before December, inserted in bulk; returns the rows written."""
    async with db.session() as session:
        await session.execute(
            insert(cast_table(Group.__table__)),
            [
                {
                    "id": g,
                    "name": f"党小组{g:03d}",
                    "kind": list(GroupKind)[g % 4],
                    "created_at": REGISTERED,
                }
                for g in range(1, GROUPS + 1)
            ],
        )
        staff = [
            {
                "id": s,
                "name": f"联络员{s:03d}",
                "telegram_user_id": 9_000_000 + s,
                "role": StaffRole.LIAISON,
                "created_at": REGISTERED,
            }
            for s in range(1, 2 * GROUPS + 1)
        ]
        staff.append(
            {
                "id": ADMIN_ID,
                "name": "区委组织部",
                "telegram_user_id": 9_000_000 + ADMIN_ID,
                "role": StaffRole.ADMIN,
                "created_at": REGISTERED,
            }
        )
        await session.execute(insert(cast_table(Staff.__table__)), staff)
        await session.execute(
            insert(staff_groups),
            [{"staff_id": s, "group_id": (s + 1) // 2} for s in range(1, 2 * GROUPS + 1)],
        )
        await session.execute(
            insert(cast_table(CheckInCycle.__table__)),
            [
                {
                    "group_id": g,
                    "enabled": True,
                    "prompt_day": OWN_CYCLE[g][0],
                    "prompt_time": "09:00",
                    "reminder_days": OWN_CYCLE[g][1],
                    "escalation_day": 10,
                    "lost_contact_months": 6,
                    "updated_at": REGISTERED,
                    "updated_by": "bench-admin",
                }
                for g in sorted(CYCLE_GROUPS)
            ],
        )
    rng = random.Random(5)
    written = GROUPS + len(staff) + 2 * GROUPS + len(CYCLE_GROUPS)
    next_location = 1
    for start in range(0, len(district.zones), CHUNK):
        rows = Rows(next_location=next_location)
        _chunk(district, start, min(start + CHUNK, len(district.zones)), rows, rng)
        async with db.session() as session:
            await session.execute(insert(cast_table(Member.__table__)), rows.members)
            await session.execute(insert(member_groups), rows.memberships)
            await session.execute(insert(cast_table(LocationReport.__table__)), rows.locations)
            await session.execute(insert(cast_table(CheckIn.__table__)), rows.checkins)
            await session.execute(insert(cast_table(Delivery.__table__)), rows.deliveries)
        next_location = rows.next_location
        written += sum(
            len(part)
            for part in (
                rows.members,
                rows.memberships,
                rows.locations,
                rows.checkins,
                rows.deliveries,
            )
        )
    return written


async def _check_in(
    db: Database, december: Sequence[tuple[datetime, int]], done: int, until: datetime
) -> int:
    """Record the December check-ins made before until; returns how many are recorded."""
    stop = done
    while stop < len(december) and december[stop][0] < until:
        stop += 1
    if stop == done:
        return done
    rng = random.Random(done)
    async with db.session() as session:
        first = int(await session.scalar(select(func.max(LocationReport.id))) or 0) + 1
        for start in range(done, stop, 5_000):
            rows = Rows(next_location=first)
            for at, member_id in december[start : min(start + 5_000, stop)]:
                rows.check_in(member_id, at, rng)
            await session.execute(insert(cast_table(LocationReport.__table__)), rows.locations)
            await session.execute(insert(cast_table(CheckIn.__table__)), rows.checkins)
            first = rows.next_location
    return stop


async def _drain(db: Database, now: datetime) -> None:
    """What the dispatcher would have done by the next run: every pending row sent."""
    async with db.session() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.PENDING)
            .values(status=DeliveryStatus.SENT, attempts=1, sent_at=now)
        )


async def _baseline(db: Database) -> tuple[float, int]:
    """A bare INSERT INTO deliveries … SELECT … FROM members: the same row, no conditions.

    Committed like run_due's, then deleted again (untimed).
    """
    when = literal(PROMPT, UTCDateTime())
    rows = select(
        literal("base:m") + cast(Member.id, String) + ":telegram",
        literal(MessageKind.CHECKIN_PROMPT.value),
        literal("base"),
        cast(literal({"period": PERIOD, "reminder": 0}, JSON()), JSON()),
        null(),
        Member.id,
        literal(ChannelName.TELEGRAM.value),
        cast(Member.id, String),
        literal(DeliveryStatus.PENDING.value),
        null(),
        literal(0),
        literal(0),
        when,
        when,
        null(),
    )
    columns = [
        Delivery.dedupe_key,
        Delivery.kind,
        Delivery.topic,
        Delivery.payload,
        Delivery.notice_id,
        Delivery.member_id,
        Delivery.channel,
        Delivery.address,
        Delivery.status,
        Delivery.last_error,
        Delivery.rank,
        Delivery.attempts,
        Delivery.next_attempt_at,
        Delivery.created_at,
        Delivery.finished_at,
    ]
    with Timer() as timer:
        async with db.session() as session:
            result = await session.execute(insert(Delivery).from_select(columns, rows))
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    async with db.session() as session:
        await session.execute(delete(Delivery).where(Delivery.topic == "base"))
    return timer.seconds, count


# --- measuring one run -------------------------------------------------------------------


def _status_kb(key: str) -> int | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match[1]) if match else None


def _reset_peak_rss() -> bool:
    """Linux: start the process's peak resident size (VmHWM) afresh from here."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Statements:
    """Time spent inside SQL statements while switched on, per statement text."""

    def __init__(self, db: Database) -> None:
        self.on = False
        self.by_text: dict[str, list[float]] = {}
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(db.engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, connection: Any, *_: Any) -> None:
        connection.info["bench_started"] = perf_counter()

    def _after(self, connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        started = connection.info.pop("bench_started", None)
        if self.on and started is not None:
            entry = self.by_text.setdefault(" ".join(statement.split())[:100], [0, 0.0])
            entry[0] += 1
            entry[1] += perf_counter() - started


@dataclass(slots=True)
class Run:
    """One run_due: its time, what it enqueued, the memory it took, where the time went."""

    now: datetime
    seconds: float
    messages: int  # RunReport.messages: member messages plus members flagged lost
    new: Counter[tuple[str, str]]  # new delivery rows by (kind, status)
    sql_seconds: float
    statements: int
    slowest: list[tuple[str, int, float]]  # statement text, times run, seconds in all
    python_peak_mb: float | None
    rss_start_mb: float | None = None
    rss_peak_mb: float | None = None

    @property
    def rows(self) -> int:
        return sum(self.new.values())

    def of(self, kind: MessageKind, status: DeliveryStatus | None = None) -> int:
        return sum(
            n for (k, s), n in self.new.items() if k == kind and (status is None or s == status)
        )

    def figures(self) -> dict[str, Any]:
        return {
            "at": self.now.isoformat(),
            "seconds": self.seconds,
            "rows": self.rows,
            "messages_reported": self.messages,
            "by_kind_status": {f"{k}/{s}": n for (k, s), n in sorted(self.new.items())},
            "sql_seconds": self.sql_seconds,
            "statements": self.statements,
            "slowest_statements": [
                {"sql": sql, "times": n, "seconds": seconds} for sql, n, seconds in self.slowest
            ],
            "python_peak_mb": self.python_peak_mb,
            "rss_start_mb": self.rss_start_mb,
            "rss_peak_mb": self.rss_peak_mb,
        }


async def _max_delivery_id(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.max(Delivery.id))) or 0)


async def _new_rows(db: Database, after_id: int) -> Counter[tuple[str, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(Delivery.kind, Delivery.status, func.count())
            .where(Delivery.id > after_id)
            .group_by(Delivery.kind, Delivery.status)
        )
        return Counter({(str(kind), str(status)): int(n) for kind, status, n in rows})


async def _flagged_at(db: Database, now: datetime) -> set[int]:
    async with db.session() as session:
        return set(await session.scalars(select(Member.id).where(Member.lost_contact_at == now)))


async def _undo(db: Database, after_id: int, flagged: set[int]) -> None:
    """Take back what a run wrote: its deliveries and its lost-contact flags."""
    ids = sorted(flagged)
    async with db.session() as session:
        await session.execute(delete(Delivery).where(Delivery.id > after_id))
        for start in range(0, len(ids), 500):
            await session.execute(
                update(Member)
                .where(Member.id.in_(ids[start : start + 500]))
                .values(lost_contact_at=None)
            )
    await settle(db, stats=False)


async def _run(
    db: Database, settings: Settings, now: datetime, statements: Statements, *, traced: bool
) -> Run:
    """run_due at now: its time, peak RSS and time in SQL; traced: Python's peak memory too.

    tracemalloc slows Python down two- to threefold, so the timed run is not traced: what
    it wrote is taken back and the same run repeated under tracemalloc, which must
    enqueue exactly the same.
    """
    before = await _max_delivery_id(db)
    flagged_before = await _flagged_at(db, now)
    gc.collect()
    rss_start = _status_kb("VmRSS")
    reset = _reset_peak_rss()
    statements.by_text.clear()
    statements.on = True
    with Timer() as timer:
        report = await run_due(db, now, settings)
    statements.on = False
    rss_peak = _status_kb("VmHWM") if reset else None
    new = await _new_rows(db, before)

    peak = None
    if traced:
        await _undo(db, before, await _flagged_at(db, now) - flagged_before)
        before = await _max_delivery_id(db)
        gc.collect()
        tracemalloc.start()
        again = await run_due(db, now, settings)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert again.messages == report.messages, (again.lines, report.lines)
        assert await _new_rows(db, before) == new

    ranked = sorted(statements.by_text.items(), key=lambda item: -item[1][1])
    return Run(
        now=now,
        seconds=timer.seconds,
        messages=report.messages,
        new=new,
        sql_seconds=sum(seconds for _, seconds in statements.by_text.values()),
        statements=int(sum(n for n, _ in statements.by_text.values())),
        slowest=[(sql, int(n), seconds) for sql, (n, seconds) in ranked[:3]],
        python_peak_mb=peak / 1e6 if peak is not None else None,
        rss_start_mb=rss_start / 1024 if rss_start is not None else None,
        rss_peak_mb=rss_peak / 1024 if rss_peak is not None else None,
    )


def _settings(url: str) -> Settings:
    """The defaults, spelt out so that a developer's LIAISON_* variables do not apply."""
    return Settings(
        database_url=url,
        timezone="Asia/Shanghai",
        checkin_prompt_day=1,
        checkin_prompt_time="09:00",
        checkin_reminder_days="3,7",
        checkin_escalation_day=10,
        lost_contact_months=6,
        quiet_hours_start="21:00",
        quiet_hours_end="08:00",
    )


# --- the scenario ------------------------------------------------------------------------

# The runs, in order. Between the measured instants the scheduler's other timers fire too
# (Berlin's and New York's prompts, the groups prompting on the 2nd and 3rd, the second
# reminders); a catch-up run an hour before each of the later measured runs stands for
# them (what a restart after an outage does), so that each measured run does only its own
# step.
TIMELINE = (
    ("prompt", PROMPT),
    ("prompt_again", PROMPT),
    ("catch_up_prompts", REMINDER - timedelta(hours=1)),
    ("reminder", REMINDER),
    ("catch_up_reminders", ESCALATION - timedelta(hours=1)),
    ("escalation", ESCALATION),
)
LABELS = {
    "prompt": "run_due at the prompt, Dec 1 09:00",
    "prompt_again": "run_due again at the same instant",
    "catch_up_prompts": "catch-up run, Dec 4 08:00 (other zones' prompts)",
    "reminder": "run_due at the first reminder, Dec 4 09:00",
    "catch_up_reminders": "catch-up run, Dec 10 08:00 (second reminders)",
    "escalation": "run_due at the escalation, Dec 10 09:00",
}
MEASURED = ("prompt", "reminder", "escalation")


def _expected(district: District) -> dict[str, Any]:
    """What each run must enqueue, worked out from the plan, not from SQL."""
    catch_up_prompts = TIMELINE[2][1]
    catch_up_reminders = TIMELINE[4][1]
    counts: dict[str, Counter[bool]] = {name: Counter() for name, _ in TIMELINE}
    lost_messages = 0
    silent_per_group: Counter[int] = Counter()
    for i in range(len(district.zones)):
        kind = district.kinds[i]
        has_channel = district.channel(i) is not None
        if kind == SILENT:
            lost_messages += 1 + 2 * len(district.groups[i])  # the admin, each group's two
        if kind == CONFIRMED:
            continue
        if district.prompted_on_day_one_in_shanghai(i):
            counts["prompt"][has_channel] += 1
            if district.silent_at(i, REMINDER):
                counts["reminder"][has_channel] += 1
        elif district.silent_at(i, catch_up_prompts):
            counts["catch_up_prompts"][has_channel] += 1
        if district.silent_at(i, catch_up_reminders):
            counts["catch_up_reminders"][has_channel] += 1
        if district.silent_at(i, ESCALATION):
            for g in district.groups[i]:
                silent_per_group[g] += 1
    return {
        "counts": counts,
        "lost": district.kinds.count(SILENT),
        "lost_messages": lost_messages,
        "silent_per_group": silent_per_group,
    }


async def _escalation_totals(db: Database, after: datetime) -> Counter[int]:
    """Silent members per group as the escalation messages of this month report them."""
    totals: Counter[int] = Counter()
    async with db.session() as session:
        rows = await session.execute(
            select(Delivery.topic, Delivery.payload).where(
                Delivery.kind == MessageKind.ESCALATION, Delivery.created_at >= after
            )
        )
        for topic, payload in rows:
            assert payload is not None
            totals[int(str(topic).rsplit(":g", 1)[1])] = int(str(payload["total"]))
    return totals


def _check(runs: dict[str, Run], expected: dict[str, Any]) -> None:
    """Every due member exactly once, nothing twice, nothing else."""
    counts = expected["counts"]
    pending, suppressed = DeliveryStatus.PENDING, DeliveryStatus.SUPPRESSED
    for name, kind in (
        ("prompt", MessageKind.CHECKIN_PROMPT),
        ("catch_up_prompts", MessageKind.CHECKIN_PROMPT),
        ("reminder", MessageKind.CHECKIN_REMINDER),
        ("catch_up_reminders", MessageKind.CHECKIN_REMINDER),
    ):
        run = runs[name]
        # Members with a channel get a pending row; those without, a suppressed one.
        assert run.of(kind, pending) == counts[name][True], (name, run.new, counts[name])
        assert run.of(kind, suppressed) == counts[name][False], (name, run.new, counts[name])
    prompt = runs["prompt"]
    assert prompt.of(MessageKind.LOST_CONTACT) == expected["lost_messages"], prompt.new
    assert prompt.rows == sum(counts["prompt"].values()) + expected["lost_messages"]
    assert runs["prompt_again"].rows == runs["prompt_again"].messages == 0
    for name in ("catch_up_prompts", "reminder", "catch_up_reminders"):
        assert runs[name].rows == sum(counts[name].values()), (name, runs[name].new)
    escalation = runs["escalation"]
    silent_groups = expected["silent_per_group"]
    assert escalation.rows == escalation.of(MessageKind.ESCALATION) == 2 * len(silent_groups)


def _show_run(backend: str, name: str, run: Run) -> None:
    show(f"{backend}: {LABELS[name]}", run.seconds, "s")
    show("  delivery rows enqueued", run.rows, "")
    show(f"  in SQL statements ({run.statements:,})", run.sql_seconds, "s")
    for sql, n, seconds in run.slowest[:2]:
        print(f"      {seconds:7.2f} s in {n:>3} × {sql[:72]}", flush=True)
    if run.python_peak_mb is not None:
        show("  peak Python memory (tracemalloc, a rerun)", run.python_peak_mb, "MB")
    if run.rss_peak_mb is not None and run.rss_start_mb is not None:
        show("  process peak RSS during the run", run.rss_peak_mb, "MB")
        show("    above the RSS at its start", run.rss_peak_mb - run.rss_start_mb, "MB")


async def _scenario(db: Database, backend: str, url: str) -> dict[str, Any]:
    settings = _settings(url)
    district = _plan(MEMBERS)
    expected = _expected(district)
    with Timer() as setup:
        written = await _load(db, district)
        await settle(db)
    show(f"{backend}: setting up {MEMBERS:,} members, {HISTORY_MONTHS} months", setup.seconds, "s")
    show("  rows written", written, "")

    base_seconds, base_rows = await _baseline(db)
    await settle(db)
    assert base_rows == MEMBERS, base_rows
    show(f"{backend}: baseline, bare INSERT … SELECT of {base_rows:,}", base_seconds, "s")

    statements = Statements(db)
    december = sorted((at, i + 1) for i, at in enumerate(district.december) if at is not None)
    done = 0
    runs: dict[str, Run] = {}
    previous = None
    for name, instant in TIMELINE:
        done = await _check_in(db, december, done, instant)
        if previous is not None and instant != previous:
            await settle(db)  # days have passed: autovacuum would have caught up
        traced = not name.startswith("catch_up")
        runs[name] = await _run(db, settings, instant, statements, traced=traced)
        await _drain(db, instant)
        previous = instant
    _check(runs, expected)
    assert await _escalation_totals(db, ESCALATION) == expected["silent_per_group"]

    for name, _ in TIMELINE:
        _show_run(backend, name, runs[name])
        if name == "prompt":
            show("  members flagged lost contact", expected["lost"], "")
            show("  vs. the bare INSERT … SELECT", runs[name].seconds / base_seconds, "x")
    met = all(runs[name].seconds < TARGET_SECONDS for name in MEASURED)
    show(
        f"{backend}: prompt, reminder, escalation each < {TARGET_SECONDS:g} s",
        float(met),
        "(1 = yes)",
    )
    return {
        "members": MEMBERS,
        "history_months": HISTORY_MONTHS,
        "setup_seconds": setup.seconds,
        "rows_written": written,
        "baseline_insert_select_seconds": base_seconds,
        "baseline_rows": base_rows,
        "runs": {name: runs[name].figures() for name, _ in TIMELINE},
        "lost_contact_flagged": expected["lost"],
        "groups_escalated": len(expected["silent_per_group"]),
        "target_seconds": TARGET_SECONDS,
        "target_met": met,
    }


@asynccontextmanager
async def _postgresql() -> AsyncIterator[Database | None]:
    """A migrated schema of this run's own on LIAISON_BENCH_DATABASE_URL, dropped afterwards.

    None (and a printed note) when the server cannot be reached.
    """
    schema = f"liaison_bench_{os.getpid()}"
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
    server_settings = {"search_path": schema, **({"jit": PG_JIT} if PG_JIT else {})}
    database = Database.from_url(PG_URL, connect_args={"server_settings": server_settings})
    try:
        await upgrade(database.engine)
        yield database
    finally:
        await database.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await admin.dispose()


async def run() -> dict[str, Any]:
    figures: dict[str, Any] = {"members": MEMBERS}
    async with fresh_database() as database:
        url = database.engine.url.render_as_string(hide_password=False)
        figures["sqlite"] = await _scenario(database, "SQLite", url)
    async with _postgresql() as database:
        if database is not None:
            async with database.session() as session:
                jit = str(await session.scalar(text("SHOW jit")))
            print(f"  PostgreSQL: jit = {jit}", flush=True)
            figures["postgresql"] = await _scenario(database, "PostgreSQL", PG_URL)
            figures["postgresql"]["jit"] = jit
    # The whole process, setup included: an upper bound on any one run.
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["process_peak_rss_mb"] = rss_mb
    show("process peak resident memory (whole run, bound)", rss_mb, "MB")
    return figures
