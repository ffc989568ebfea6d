"""The monthly reconciliation with the police stations' population management.

Each month a street committee gives its police station the roster of the inflow members
living in the street (police_roster: who they are, where they are now, what changed since
last month), and the station sends back its own list of people registered as living there;
reconcile compares the two: who is on theirs only, who on ours only, whose place differs.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from pathlib import Path

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.checkins import place_label
from storage.models import (
    AuditEvent,
    LocationReport,
    Member,
    MemberStatus,
    Unit,
)
from storage.phones import InvalidPhone, normalize_phone
from storage.scope import scope_condition, unit_condition
from storage.sheets import (
    STRIP_CHARS,
    RowError,
    SheetFileError,
    cell_text,
    header_lookup,
    open_sheet,
    pick,
    read_rows,
)

__all__ = [
    "POLICE_ALIASES",
    "Change",
    "Mismatch",
    "PoliceListError",
    "PoliceRoster",
    "PoliceRow",
    "Reconciliation",
    "TheirRow",
    "month_bounds",
    "police_roster",
    "read_police_list",
    "reconcile",
]


class Change(StrEnum):
    """What changed for a member since the previous month's end (the export's last column)."""

    NEW = "new"
    MOVED = "moved"
    LEFT = "left"
    LOST_CONTACT = "lost_contact"


class PoliceListError(SheetFileError):
    """The police station's file as a whole cannot be read."""


@dataclass(frozen=True, slots=True)
class PoliceRow:
    member_id: int
    name: str
    phone: str | None
    origin: str | None
    place: str | None  # the latest location report at the month's end, as place_label shows it
    workplace: str | None
    changes: tuple[Change, ...]
    previous_place: str | None = None  # for MOVED: where they were at the previous month's end


@dataclass(frozen=True, slots=True)
class PoliceRoster:
    month: str
    unit: str | None
    rows: list[PoliceRow]  # the month's inflow members, then those who left during it
    erased: int  # members erased during the month (all units): their records are gone


def month_bounds(month: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """The first instant of month ("YYYY-MM") and of the next, in zone; ValueError if malformed."""
    year_text, dash, month_text = month.partition("-")
    digits = year_text.isascii() and year_text.isdigit() and month_text.isdigit()
    if not dash or not digits or len(year_text) != 4 or len(month_text) != 2:
        raise ValueError(f"{month!r} is not a month like 2026-11")
    year, number = int(year_text), int(month_text)
    if not 2000 <= year <= 9998 or not 1 <= number <= 12:
        raise ValueError(f"{month!r} is not a month like 2026-11")
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start, end


def _label(report: LocationReport) -> str | None:
    return place_label(report.province, report.city, report.district, report.text) or None


async def _places(
    session: AsyncSession, member_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, tuple[str | None, str | None]]:
    """Each member's place at start and at end: their latest location report before each."""
    places: dict[int, tuple[str | None, str | None]] = {}
    for first in range(0, len(member_ids), 5000):
        chunk = member_ids[first : first + 5000]
        reports = await session.scalars(
            select(LocationReport)
            .where(LocationReport.member_id.in_(chunk), LocationReport.reported_at < end)
            .order_by(LocationReport.member_id, LocationReport.reported_at, LocationReport.id)
        )
        for report in reports:
            before, _ = places.get(report.member_id, (None, None))
            label = _label(report)
            places[report.member_id] = (label if report.reported_at < start else before, label)
    return places


async def police_roster(
    session: AsyncSession,
    now: datetime,
    month: str,
    *,
    zone: tzinfo,
    unit: Unit | None = None,
    staff_id: int | None = None,
    actor: str,
    subject: str | None = None,
    audited: bool = True,
) -> PoliceRoster:
    """The month's inflow roster of a unit's tree (every inflow member without a unit), as
    the records stood at the month's end, with what changed since the previous month's end.

    Who was inflow when, and who left during the month: today's status and the changes
    since (the roster import records each as a member.status audit event). The export holds
    whole phone numbers, so it is audited as an export (police.report); a reconciliation
    (audited=False) records its own event, record_reconciliation.
    """
    start, end = month_bounds(month, zone)
    conditions: list[ColumnElement[bool]] = [Member.registered_at < end]
    if unit is not None:
        conditions.append(unit_condition(unit.id))
    if staff_id is not None:
        conditions.append(scope_condition(staff_id))
    # Each member's status at the month's start and end, from today's and the status changes
    # since (the roster import records each as a member.status event, with the previous one).
    changes_since = await session.execute(
        select(AuditEvent.subject, AuditEvent.detail, AuditEvent.at)
        .where(AuditEvent.action == "member.status", AuditEvent.at >= start)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    at_start: dict[int, str] = {}
    at_end: dict[int, str] = {}
    boundary = {start: at_start, end: at_end}
    for whom, detail, changed_at in changes_since:
        if not whom or not whom.startswith("member:") or not detail:
            continue
        member_id = int(whom.removeprefix("member:"))
        # Newest first: the status before the earliest change after a moment was its status.
        for moment, statuses in boundary.items():
            if changed_at >= moment:
                statuses[member_id] = str(detail.get("previous"))
    candidates = set(at_start) | set(at_end)
    members = list(
        await session.scalars(
            select(Member)
            .where(
                *conditions,
                or_(Member.status == MemberStatus.INFLOW, Member.id.in_(candidates)),
            )
            .order_by(Member.name, Member.id)
        )
    )

    def inflow_at(member: Member, statuses: dict[int, str]) -> bool:
        return statuses.get(member.id, member.status.value) == MemberStatus.INFLOW.value

    # Listed: inflow at the month's end, and those inflow at its start who left during it.
    members = [m for m in members if inflow_at(m, at_end) or inflow_at(m, at_start)]
    places = await _places(session, [m.id for m in members], start, end)
    staying: list[PoliceRow] = []
    leaving: list[PoliceRow] = []
    for member in members:
        before, after = places.get(member.id, (None, None))
        changes: list[Change] = []
        if not inflow_at(member, at_end):
            changes.append(Change.LEFT)
        elif member.registered_at >= start or not inflow_at(member, at_start):
            changes.append(Change.NEW)
        elif before is not None and after is not None and before != after:
            changes.append(Change.MOVED)
        lost = member.lost_contact_at
        if lost is not None and start <= lost < end:
            changes.append(Change.LOST_CONTACT)
        row = PoliceRow(
            member_id=member.id,
            name=member.name,
            phone=member.phone,
            origin=member.origin,
            place=after,
            workplace=member.workplace,
            changes=tuple(changes),
            previous_place=before if Change.MOVED in changes else None,
        )
        (leaving if Change.LEFT in changes else staying).append(row)
    erased = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "member.erase", AuditEvent.at >= start, AuditEvent.at < end)
    )
    if audited:
        await audit.record(
            session,
            now,
            actor=actor,
            action="police.report",
            subject=subject,
            month=month,
            unit=unit.name if unit else None,
            count=len(staying),
            left=len(leaving),
        )
    return PoliceRoster(
        month=month, unit=unit.name if unit else None, rows=staying + leaving, erased=erased or 0
    )


# --- the police station's list -------------------------------------------------------------

POLICE_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "name", "full name", "member"),
    "phone": (
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "联系电话",
        "电话号码",
        "联系方式",
        "phone",
        "mobile",
        "tel",
        "telephone",
        "phone number",
    ),
    "address": (
        "现住址",
        "居住地",
        "住址",
        "地址",
        "现居住地",
        "现居住地址",
        "居住地址",
        "address",
        "current address",
        "residence",
        "place",
        "current place",
    ),
}
_LOOKUP = header_lookup(POLICE_ALIASES)


@dataclass(frozen=True, slots=True)
class TheirRow:
    row_number: int
    name: str | None
    phone: str | None  # E.164
    address: str | None


@dataclass(slots=True)
class _PoliceParser:
    columns: dict[str, int]
    rows: list[TheirRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def feed(self, row_number: int, values: Sequence[object]) -> bool:
        indexes = [self.columns.get(f, -1) for f in ("name", "phone", "address")]
        raw_name, raw_phone, raw_address = pick(values, indexes)
        name, phone_text, address = (
            cell_text(raw_name),
            cell_text(raw_phone),
            cell_text(raw_address),
        )
        if name is None and phone_text is None and address is None:
            return False  # a blank line: not a person, not a problem
        if name is None and phone_text is None:
            self.errors.append(RowError(row_number, None, "no name and no phone"))
            return True
        phone = None
        if phone_text is not None:
            try:
                phone = normalize_phone(raw_phone)
            except InvalidPhone as exc:
                self.errors.append(RowError(row_number, "phone", f"unreadable phone: {exc}"))
                return True
        self.rows.append(TheirRow(row_number, name, phone, address))
        return True


def read_police_list(path: Path) -> tuple[list[TheirRow], list[RowError]]:
    """The people of a police station's list (CSV or XLSX), and its bad rows by row number."""
    with open_sheet(path, error=PoliceListError) as (_, rows):
        parser, _ = read_rows(
            rows,
            _parser_for,
            lookup=_LOOKUP,
            required=(),
            error=PoliceListError,
            what="person",
        )
    return parser.rows, parser.errors


def _parser_for(columns: dict[str, int]) -> _PoliceParser:
    if "name" not in columns and "phone" not in columns:
        raise PoliceListError("no name (姓名) or phone (手机) column in the header")
    return _PoliceParser(columns)


# --- comparing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mismatch:
    theirs: TheirRow
    ours: PoliceRow
    by_name: bool  # matched by name only (their row has no phone)


@dataclass(slots=True)
class Reconciliation:
    theirs_only: list[TheirRow] = field(default_factory=list)
    ours_only: list[PoliceRow] = field(default_factory=list)
    place_differs: list[Mismatch] = field(default_factory=list)
    by_name: list[Mismatch] = field(default_factory=list)  # every match made by name
    matched: int = 0
    bad_rows: list[RowError] = field(default_factory=list)


def _squeeze(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in text if c not in STRIP_CHARS and c not in ",，、.-/")


def same_place(ours: str, theirs: str) -> bool:
    """Whether a police address and our place label name the same place.

    Theirs is a street address ("湖北省武汉市江汉区花楼街5号"); ours the region a member
    reported ("湖北省 武汉市 江汉区") or the text they typed. The same when every part of
    ours appears in theirs, or one contains the other as typed.
    """
    their_text = _squeeze(theirs)
    parts = [_squeeze(p) for p in ours.split()]
    if parts and all(p in their_text for p in parts if p):
        return True
    our_text = "".join(parts)
    return bool(our_text) and (our_text in their_text or their_text in our_text)


def reconcile(
    ours: Sequence[PoliceRow], theirs: Sequence[TheirRow], bad_rows: Sequence[RowError]
) -> Reconciliation:
    """Match their rows to our members: by phone, then by name for rows without a phone."""
    result = Reconciliation(bad_rows=list(bad_rows))
    roster = [row for row in ours if Change.LEFT not in row.changes]
    by_phone = {row.phone: row for row in roster if row.phone}
    matched: set[int] = set()
    pairs: list[Mismatch] = []
    for row in theirs:
        if row.phone is None:
            continue
        member = by_phone.get(row.phone)
        if member is None or member.member_id in matched:
            result.theirs_only.append(row)
            continue
        matched.add(member.member_id)
        pairs.append(Mismatch(row, member, by_name=False))
    by_name: dict[str, list[PoliceRow]] = defaultdict(list)
    for member in roster:
        by_name[_squeeze(member.name)].append(member)
    for row in theirs:
        if row.phone is not None:
            continue
        assert row.name is not None  # the parser keeps no row without both
        # Only a namesake nobody else matched, and only one such: never a guess between two.
        candidates = [m for m in by_name.get(_squeeze(row.name), []) if m.member_id not in matched]
        if len(candidates) != 1:
            result.theirs_only.append(row)
            continue
        matched.add(candidates[0].member_id)
        pair = Mismatch(row, candidates[0], by_name=True)
        pairs.append(pair)
        result.by_name.append(pair)
    result.matched = len(pairs)
    for pair in pairs:
        theirs_at, ours_at = pair.theirs.address, pair.ours.place
        if theirs_at and ours_at and not same_place(ours_at, theirs_at):
            result.place_differs.append(pair)
    result.ours_only = [m for m in roster if m.member_id not in matched]
    result.theirs_only.sort(key=lambda r: r.row_number)
    return result


async def record_reconciliation(
    session: AsyncSession,
    now: datetime,
    result: Reconciliation,
    *,
    actor: str,
    subject: str,
    action: str = "police.reconcile",
) -> None:
    """Audit a reconciliation with its counts (or, by action, a look at its findings or the
    download of their workbook, which holds whole phones)."""
    await audit.record(
        session,
        now,
        actor=actor,
        action=action,
        subject=subject,
        matched=result.matched,
        theirs_only=len(result.theirs_only),
        ours_only=len(result.ours_only),
        place_differs=len(result.place_differs),
        bad_rows=len(result.bad_rows),
    )
