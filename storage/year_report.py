"""The yearly statistics (年度统计): a calendar year of the district, or of one unit's tree,
or of what one staff member looks after, in figures.

Members by status, origin, destination and trade; the monthly check-in rate overall and per
group; activities and attendance; service requests by category with how soon they were
answered and closed and how satisfied the members were; ideas; certificates issued; lost
contact. Every figure is a GROUP BY over the year's rows in scope, so a registry of 100,000
members costs a handful of queries; only the service requests' times come back row by row
(percentiles, which SQLite cannot compute, over the year's few thousand requests).
Nothing here names a member: the report is counts only (messages/year_report.py draws it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import ColumnElement, Integer, Select, and_, case, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage import audit
from storage.calendar import year_bounds
from storage.dashboard import MonthRate
from storage.models import (
    Activity,
    ActivityAnswer,
    ActivityInvitation,
    AuditEvent,
    Certificate,
    CheckIn,
    Group,
    Idea,
    IdeaKind,
    Member,
    MemberStatus,
    RequestEventKind,
    RequestStatus,
    ServiceCategory,
    ServiceRequest,
    ServiceRequestEvent,
    Staff,
    StaffRole,
    Unit,
    member_groups,
)
from storage.regions import RegionIndex
from storage.scope import (
    group_scope_condition,
    scope_condition,
    scope_units,
    sees_everyone,
    unit_condition,
    units_below,
)

__all__ = [
    "ActivityFigures",
    "CategoryFigures",
    "GroupYear",
    "IdeaFigures",
    "LostContact",
    "YearReport",
    "report_units",
    "year_report",
]

# The first steps staff take on a request: its time to first answer runs until the earliest.
ANSWERS = (RequestEventKind.TAKEN, RequestEventKind.ASSIGNED, RequestEventKind.STATUS)
CLOSED = (RequestStatus.RESOLVED, RequestStatus.CANNOT_HELP, RequestStatus.REFERRED)


@dataclass(frozen=True, slots=True)
class GroupYear:
    """One group's twelve months: members due (registered by the month's end), checked in."""

    group_id: int
    name: str
    months: list[MonthRate]

    @property
    def due(self) -> int:
        return sum(month.members for month in self.months)

    @property
    def checked_in(self) -> int:
        return sum(month.checked_in for month in self.months)

    @property
    def percent(self) -> float:
        return round(100 * self.checked_in / self.due, 1) if self.due else 0.0


@dataclass(frozen=True, slots=True)
class ActivityFigures:
    """The activities of one kind held in the year, and their invitations in scope."""

    kind: str
    held: int
    invited: int
    said_yes: int
    attended: int


@dataclass(frozen=True, slots=True)
class CategoryFigures:
    """The service requests of one category made in the year (hours are wall-clock hours)."""

    category_id: int
    name_zh: str
    name_en: str
    requests: int
    resolved: int
    cannot_help: int
    referred: int
    answer_median_hours: float | None
    answer_p90_hours: float | None
    close_median_hours: float | None
    close_p90_hours: float | None
    # How many members rated 1, 2, 3, 4 and 5.
    satisfaction: tuple[int, int, int, int, int]

    @property
    def still_open(self) -> int:
        return self.requests - self.resolved - self.cannot_help - self.referred

    @property
    def rated(self) -> int:
        return sum(self.satisfaction)

    @property
    def satisfaction_average(self) -> float | None:
        if not self.rated:
            return None
        total = sum(score * count for score, count in enumerate(self.satisfaction, start=1))
        return round(total / self.rated, 2)

    def name(self, locale: str) -> str:
        return self.name_zh if locale == "zh_CN" else self.name_en


@dataclass(frozen=True, slots=True)
class IdeaFigures:
    ideas: int  # 金点子 received in the year
    opinions: int
    replied: int  # of those received, answered by now
    adopted: int  # adopted in the year (whenever sent)


@dataclass(frozen=True, slots=True)
class LostContact:
    flagged: int  # flagged in the year and not cleared by a check-in since
    confirmed: int  # confirmed by an administrator in the year
    at_year_end: int  # flagged before the year's end and still so


@dataclass(frozen=True, slots=True)
class YearReport:
    year: int
    unit: str | None
    # Members registered by the year's end, and by their status then.
    members: int
    by_status: dict[str, int]
    # (province, members), most first; None: a text the region index could not place, or none.
    by_origin: list[tuple[str | None, int]]
    by_destination: list[tuple[str | None, int]]
    by_trade: list[tuple[str | None, int]]
    months: list[MonthRate]
    groups: list[GroupYear]
    activities: list[ActivityFigures]
    services: list[CategoryFigures]
    ideas: IdeaFigures
    # Certificates issued per month, January first.
    certificates: list[int]
    lost_contact: LostContact
    made_at: datetime = field(compare=False)

    @property
    def checkin_percent(self) -> float:
        due = sum(month.members for month in self.months)
        done = sum(month.checked_in for month in self.months)
        return round(100 * done / due, 1) if due else 0.0


def _periods(year: int) -> list[str]:
    return [f"{year:04d}-{month:02d}" for month in range(1, 13)]


def _month_ends(year: int, zone: tzinfo) -> list[datetime]:
    return [datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone) for month in range(1, 13)]


async def report_units(session: AsyncSession, staff_id: int) -> list[Unit]:
    """The units staff_id may narrow the report to, by name: every unit for an administrator
    over the district, their units and those below for one with a scope; none for a liaison
    (their report is their scope: the groups they look after)."""
    role = await session.scalar(select(Staff.role).where(Staff.id == staff_id))
    if role is not StaffRole.ADMIN:
        return []
    query = select(Unit).order_by(Unit.name)
    if not await sees_everyone(session, staff_id):
        query = query.where(Unit.id.in_(scope_units(staff_id)))
    return list(await session.scalars(query))


def _percentile(values: Sequence[float], share: float) -> float | None:
    """The share-th percentile (0–1) of sorted values, interpolated between neighbours."""
    if not values:
        return None
    position = (len(values) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    value = values[low] + (values[high] - values[low]) * (position - low)
    return round(value, 1)


def _ranked(counts: Counter[str | None]) -> list[tuple[str | None, int]]:
    """Most first, then by name; the unknown bucket last."""
    known = sorted(
        ((k, n) for k, n in counts.items() if k is not None), key=lambda i: (-i[1], i[0])
    )
    unknown = counts.get(None, 0)
    return [*known, *([(None, unknown)] if unknown else [])]


async def year_report(
    session: AsyncSession,
    now: datetime,
    year: int,
    *,
    zone: tzinfo,
    regions: RegionIndex,
    unit: Unit | None = None,
    staff_id: int | None = None,
    actor: str,
    subject: str,
) -> YearReport:
    """The year's figures for the district, a unit's tree and/or what staff_id may see.

    Members count as they stood at the year's end: registered by then, with the status they
    had (today's, undone by the roster imports' member.status events since). Erased members
    are gone from every figure except what their records keep without them. The report is
    an export of the district's figures: audited (report.year) with subject, the file(s).
    """
    start, end = year_bounds(year, zone)
    scoped: list[ColumnElement[bool]] = []
    if unit is not None:
        scoped.append(unit_condition(unit.id))
    if staff_id is not None and not await sees_everyone(session, staff_id):
        scoped.append(scope_condition(staff_id))
    in_scope = and_(Member.registered_at < end, *scoped)
    scope_ids = select(Member.id).where(in_scope).correlate(None)

    by_status, members = await _statuses(session, in_scope, end)
    by_origin = await _provinces(session, Member.origin, in_scope, regions)
    by_destination = await _provinces(session, Member.destination, in_scope, regions)
    trades = await session.execute(
        select(Member.trade, func.count()).where(in_scope).group_by(Member.trade)
    )
    by_trade: Counter[str | None] = Counter()
    for trade, count in trades:
        by_trade[trade.strip() if trade and trade.strip() else None] += int(count)

    months = await _months(session, year, zone, in_scope, scope_ids if scoped else None)
    groups = await _groups(session, year, zone, unit, staff_id)
    activities = await _activities(session, start, end, scope_ids if scoped else None)
    services = await _services(session, start, end, scope_ids if scoped else None)
    ideas = await _ideas(session, start, end, scope_ids if scoped else None)
    certificates = await _certificates(session, start, end, zone, scope_ids if scoped else None)
    lost = (
        await session.execute(
            select(
                _sum_if(and_(Member.lost_contact_at >= start, Member.lost_contact_at < end)),
                _sum_if(
                    and_(
                        Member.lost_contact_confirmed_at >= start,
                        Member.lost_contact_confirmed_at < end,
                    )
                ),
                _sum_if(Member.lost_contact_at < end),
            ).where(in_scope, Member.lost_contact_at.is_not(None))
        )
    ).one()
    report = YearReport(
        year=year,
        unit=unit.name if unit else None,
        members=members,
        by_status=by_status,
        by_origin=by_origin,
        by_destination=by_destination,
        by_trade=_ranked(by_trade),
        months=months,
        groups=groups,
        activities=activities,
        services=services,
        ideas=ideas,
        certificates=certificates,
        lost_contact=LostContact(*(int(n) for n in lost)),
        made_at=now,
    )
    await audit.record(
        session,
        now,
        actor=actor,
        action="report.year",
        subject=subject,
        year=year,
        unit=report.unit,
        staff=staff_id,
        members=members,
    )
    return report


async def _statuses(
    session: AsyncSession, in_scope: ColumnElement[bool], end: datetime
) -> tuple[dict[str, int], int]:
    """Members by status at the year's end: today's counts, with each member whose status
    changed since put back to the status before their first change after the year."""
    counts = dict.fromkeys((s.value for s in MemberStatus), 0)
    rows = await session.execute(
        select(Member.status, func.count()).where(in_scope).group_by(Member.status)
    )
    for status, count in rows:
        counts[MemberStatus(status).value] = int(count)
    changes = await session.execute(
        select(AuditEvent.subject, AuditEvent.detail)
        .where(AuditEvent.action == "member.status", AuditEvent.at >= end)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    before: dict[int, str] = {}
    for whom, detail in changes:
        if not whom or not whom.startswith("member:") or not detail:
            continue
        member_id = int(whom.removeprefix("member:"))
        previous = str(detail.get("previous"))
        if member_id not in before and previous in counts:
            before[member_id] = previous
    if before:
        ids = list(before)
        for first in range(0, len(ids), 5000):
            chunk = ids[first : first + 5000]
            now_rows = await session.execute(
                select(Member.id, Member.status).where(in_scope, Member.id.in_(chunk))
            )
            for member_id, status in now_rows:
                counts[MemberStatus(status).value] -= 1
                counts[before[member_id]] += 1
    return counts, sum(counts.values())


async def _provinces(
    session: AsyncSession,
    column: InstrumentedAttribute[str | None],
    in_scope: ColumnElement[bool],
    regions: RegionIndex,
) -> list[tuple[str | None, int]]:
    """Members per province of a typed place (origin, destination): each distinct text is
    resolved once (a registry repeats the same few hundred texts)."""
    rows = await session.execute(select(column, func.count()).where(in_scope).group_by(column))
    counts: Counter[str | None] = Counter()
    for text, count in rows:
        region = regions.resolve_text(text) if text else None
        counts[region.province if region else None] += int(count)
    return _ranked(counts)


async def _months(
    session: AsyncSession,
    year: int,
    zone: tzinfo,
    in_scope: ColumnElement[bool],
    scope_ids: Select[int] | None,
) -> list[MonthRate]:
    """The twelve months as the dashboard counts them: distinct members who checked in (read
    from ix_checkins_period_member), against members registered by the month's end."""
    periods = _periods(year)
    history = select(CheckIn.period, func.count(func.distinct(CheckIn.member_id))).where(
        CheckIn.period.in_(periods)
    )
    if scope_ids is None:
        history = history.where(CheckIn.member_id.is_not(None))
    else:
        history = history.where(CheckIn.member_id.in_(scope_ids))
    checked = {p: int(c) for p, c in await session.execute(history.group_by(CheckIn.period))}
    ends = _month_ends(year, zone)
    registered = (
        await session.execute(
            select(
                *(
                    func.coalesce(func.sum(case((Member.registered_at < e, 1), else_=0)), 0)
                    for e in ends
                )
            ).where(in_scope)
        )
    ).one()
    return [
        MonthRate(p, int(n), min(checked.get(p, 0), int(n)))
        for p, n in zip(periods, registered, strict=True)
    ]


async def _groups(
    session: AsyncSession, year: int, zone: tzinfo, unit: Unit | None, staff_id: int | None
) -> list[GroupYear]:
    """Each group's twelve months (the groups of the unit's tree, of staff_id's scope)."""
    conditions: list[ColumnElement[bool]] = []
    if unit is not None:
        conditions.append(Group.unit_id.in_(units_below(unit.id)))
    if staff_id is not None and not await sees_everyone(session, staff_id):
        conditions.append(group_scope_condition(staff_id))
    groups = (
        await session.execute(
            select(Group.id, Group.name).where(*conditions).order_by(Group.name, Group.id)
        )
    ).all()
    if not groups:
        return []
    # The groups' ids as values, not the scope's subquery: planners then walk the
    # memberships of these groups instead of testing the scope per check-in (at 20,000
    # members on SQLite: 13 s against 0.4 s).
    ids = [group_id for group_id, _ in groups]
    chosen = member_groups.c.group_id.in_(ids) if conditions else true()
    ends = _month_ends(year, zone)
    due_rows = await session.execute(
        select(
            member_groups.c.group_id,
            *(
                func.coalesce(func.sum(case((Member.registered_at < e, 1), else_=0)), 0)
                for e in ends
            ),
        )
        .join(Member, Member.id == member_groups.c.member_id)
        .where(chosen)
        .group_by(member_groups.c.group_id)
    )
    due = {row[0]: [int(n) for n in row[1:]] for row in due_rows}
    periods = _periods(year)
    done_rows = await session.execute(
        select(
            member_groups.c.group_id, CheckIn.period, func.count(func.distinct(CheckIn.member_id))
        )
        .join(member_groups, member_groups.c.member_id == CheckIn.member_id)
        .where(CheckIn.period.in_(periods), chosen)
        .group_by(member_groups.c.group_id, CheckIn.period)
    )
    done: dict[tuple[int, str], int] = {(g, p): int(c) for g, p, c in done_rows}
    return [
        GroupYear(
            group_id,
            name,
            [
                MonthRate(p, n, min(done.get((group_id, p), 0), n))
                for p, n in zip(periods, due.get(group_id, [0] * 12), strict=True)
            ],
        )
        for group_id, name in groups
    ]


def _sum_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0, type_=Integer)


async def _activities(
    session: AsyncSession, start: datetime, end: datetime, scope_ids: Select[int] | None
) -> list[ActivityFigures]:
    """Activities that started in the year, by kind; scoped: those that invited (or saw)
    someone in scope, with only those people's answers and attendance."""
    held_in_year = and_(Activity.starts_at >= start, Activity.starts_at < end)
    invitation = ActivityInvitation
    mine = true() if scope_ids is None else invitation.member_id.in_(scope_ids)
    held = select(Activity.kind, func.count()).where(held_in_year)
    if scope_ids is not None:
        held = held.where(
            Activity.id.in_(select(invitation.activity_id).where(mine).correlate(None))
        )
    counts = {kind: int(n) for kind, n in await session.execute(held.group_by(Activity.kind))}
    rows = await session.execute(
        select(
            Activity.kind,
            _sum_if(invitation.invited_at.is_not(None)),
            _sum_if(invitation.answer == ActivityAnswer.YES),
            _sum_if(invitation.attended_at.is_not(None)),
        )
        .join(invitation, invitation.activity_id == Activity.id)
        .where(held_in_year, mine)
        .group_by(Activity.kind)
    )
    people = {kind: (int(i), int(y), int(a)) for kind, i, y, a in rows}
    return [
        ActivityFigures(kind.value, n, *people.get(kind, (0, 0, 0)))
        for kind, n in sorted(counts.items(), key=lambda item: item[0].value)
    ]


async def _services(
    session: AsyncSession, start: datetime, end: datetime, scope_ids: Select[int] | None
) -> list[CategoryFigures]:
    """The year's requests by category: outcomes, times, satisfaction."""
    made = [ServiceRequest.created_at >= start, ServiceRequest.created_at < end]
    if scope_ids is not None:
        made.append(ServiceRequest.member_id.in_(scope_ids))
    first_answer = (
        select(
            ServiceRequestEvent.request_id.label("request_id"),
            func.min(ServiceRequestEvent.at).label("at"),
        )
        .where(
            ServiceRequestEvent.kind.in_(ANSWERS),
            ServiceRequestEvent.request_id.in_(select(ServiceRequest.id).where(*made)),
        )
        .group_by(ServiceRequestEvent.request_id)
        .subquery()
    )
    # Row by row: the percentiles need every time, and SQLite has no percentile_cont.
    rows = await session.execute(
        select(
            ServiceRequest.category_id,
            ServiceRequest.status,
            ServiceRequest.created_at,
            first_answer.c.at,
            ServiceRequest.closed_at,
            ServiceRequest.satisfaction,
        )
        .outerjoin(first_answer, first_answer.c.request_id == ServiceRequest.id)
        .where(*made)
    )
    per: dict[int, dict[str, list[float]]] = {}
    outcomes: dict[int, Counter[str]] = {}
    scores: dict[int, list[int]] = {}
    for category_id, status, created, answered, closed, satisfaction in rows:
        times = per.setdefault(category_id, {"answer": [], "close": []})
        outcome = outcomes.setdefault(category_id, Counter())
        rated = scores.setdefault(category_id, [0] * 5)
        outcome["requests"] += 1
        outcome[RequestStatus(status).value] += 1
        if answered is not None:
            # A stored time may come back with another zone: both are aware, so subtract.
            times["answer"].append((answered - created).total_seconds() / 3600)
        if closed is not None and RequestStatus(status) in CLOSED:
            times["close"].append((closed - created).total_seconds() / 3600)
        if satisfaction is not None and 1 <= satisfaction <= 5:
            rated[satisfaction - 1] += 1
    if not per:
        return []
    categories = await session.execute(
        select(ServiceCategory.id, ServiceCategory.name_zh, ServiceCategory.name_en)
        .where(ServiceCategory.id.in_(list(per)))
        .order_by(ServiceCategory.position, ServiceCategory.id)
    )
    figures = []
    for category_id, name_zh, name_en in categories:
        answers = sorted(per[category_id]["answer"])
        closes = sorted(per[category_id]["close"])
        outcome = outcomes[category_id]
        s = scores[category_id]
        figures.append(
            CategoryFigures(
                category_id=category_id,
                name_zh=name_zh,
                name_en=name_en,
                requests=outcome["requests"],
                resolved=outcome[RequestStatus.RESOLVED.value],
                cannot_help=outcome[RequestStatus.CANNOT_HELP.value],
                referred=outcome[RequestStatus.REFERRED.value],
                answer_median_hours=_percentile(answers, 0.5),
                answer_p90_hours=_percentile(answers, 0.9),
                close_median_hours=_percentile(closes, 0.5),
                close_p90_hours=_percentile(closes, 0.9),
                satisfaction=(s[0], s[1], s[2], s[3], s[4]),
            )
        )
    return figures


async def _ideas(
    session: AsyncSession, start: datetime, end: datetime, scope_ids: Select[int] | None
) -> IdeaFigures:
    mine = true() if scope_ids is None else Idea.member_id.in_(scope_ids)
    received = and_(Idea.created_at >= start, Idea.created_at < end)
    row = (
        await session.execute(
            select(
                _sum_if(and_(received, Idea.kind == IdeaKind.IDEA)),
                _sum_if(and_(received, Idea.kind == IdeaKind.OPINION)),
                _sum_if(and_(received, Idea.replied_at.is_not(None))),
                _sum_if(and_(Idea.adopted_at >= start, Idea.adopted_at < end)),
            ).where(mine)
        )
    ).one()
    return IdeaFigures(*(int(n) for n in row))


async def _certificates(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    zone: tzinfo,
    scope_ids: Select[int] | None,
) -> list[int]:
    """Certificates issued per month: a few dozen a year, each put in its month in zone
    (no portable SQL for the month of a timestamp in a zone)."""
    query = select(Certificate.issued_at).where(
        Certificate.issued_at >= start, Certificate.issued_at < end
    )
    if scope_ids is not None:
        query = query.where(Certificate.member_id.in_(scope_ids))
    months = [0] * 12
    for issued in await session.scalars(query):
        assert issued is not None  # the query's own condition
        months[issued.astimezone(zone).month - 1] += 1
    return months
