"""The console's dashboard: check-in rates, where members are, lost contact, open
requests, notices in flight and study, in figures.

Every figure is one set-based query over the staff member's scope (storage/scope.py), so
the dashboard of 100,000 members costs a handful of GROUP BYs, never a loop over members.
Nothing here names a member: the dashboard is counts only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import ColumnElement, Integer, case, func, literal, select, true
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.checkins import period_of
from storage.models import CheckIn, Group, LocationReport, Member, ServiceRequest, member_groups
from storage.notices import NoticeProgress, notices_in_flight
from storage.overdue import checked_in_now
from storage.requests import AGE_DAYS, OPEN_STATUSES
from storage.scope import group_scope_condition, scope_condition, sees_everyone
from storage.study import StudyCompletion, study_completion

MONTHS_SHOWN = 12
# Open requests by how long they have been open: up to a week, up to a month, longer.
AGE_BUCKETS = ("week", "month", "older")


@dataclass(frozen=True, slots=True)
class GroupRate:
    """This month in one group: how many members, how many checked in."""

    group_id: int
    name: str
    members: int
    checked_in: int

    @property
    def percent(self) -> int:
        return round(100 * self.checked_in / self.members) if self.members else 0


@dataclass(frozen=True, slots=True)
class MonthRate:
    """One past month over the whole scope: members registered by its end, who checked in."""

    period: str
    members: int
    checked_in: int

    @property
    def percent(self) -> float:
        return round(100 * self.checked_in / self.members, 1) if self.members else 0.0


@dataclass(frozen=True, slots=True)
class PlaceCount:
    """How many members' latest known place is in one province (and city, when kept)."""

    province: str
    city: str | None
    members: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    period: str
    groups: list[GroupRate]
    months: list[MonthRate]
    members: int
    lost_contact: int
    # Open service requests by age bucket (AGE_BUCKETS), and how many are past their target.
    open_requests: dict[str, int]
    late_requests: int
    # Where members are, by their latest location report, most members first; and the
    # members with no known place at all (never told, or keep none).
    places: list[PlaceCount]
    unplaced: int
    # Notices whose deliveries are still going out, and study in the last STUDY_WINDOW.
    notices_in_flight: list[NoticeProgress]
    study: StudyCompletion

    def provinces(self) -> dict[str, int]:
        """Members per province (for the map and the bar chart)."""
        totals: dict[str, int] = {}
        for place in self.places:
            totals[place.province] = totals.get(place.province, 0) + place.members
        return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def last_periods(now: datetime, zone: tzinfo, count: int = MONTHS_SHOWN) -> list[str]:
    """The count months ending with now's, oldest first ("2025-12" … "2026-11")."""
    local = now.astimezone(zone)
    year, month = local.year, local.month
    periods = []
    for _ in range(count):
        periods.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return periods[::-1]


def _month_end(period: str, zone: tzinfo) -> datetime:
    year, month = int(period[:4]), int(period[5:])
    year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return datetime(year, month, 1, tzinfo=zone)


async def dashboard(
    session: AsyncSession, now: datetime, *, staff_id: int, zone: tzinfo
) -> Dashboard:
    """The figures staff_id may see (their scope), as of now."""
    everyone = await sees_everyone(session, staff_id)
    in_scope = true() if everyone else scope_condition(staff_id)

    # This month, per group: "this month" in each member's own time zone, as /overdue says.
    # Who checked in is read once, not looked up member by member.
    done = await checked_in_now(session, now, zone)
    rows = await session.execute(
        select(
            Group.id,
            Group.name,
            func.count(member_groups.c.member_id),
            func.coalesce(func.sum(case((member_groups.c.member_id.in_(done), 1), else_=0)), 0),
        )
        .select_from(Group)
        .outerjoin(member_groups, member_groups.c.group_id == Group.id)
        .where(true() if everyone else group_scope_condition(staff_id))
        .group_by(Group.id, Group.name)
        .order_by(Group.name)
    )
    groups = [GroupRate(gid, name, int(n), int(c)) for gid, name, n, c in rows]

    # The last months over the whole scope: distinct members who checked in, against the
    # members registered by the month's end (today's registry: erased members are gone).
    periods = last_periods(now, zone)
    # Everyone: only the index on (period, member_id) is read.
    history = select(CheckIn.period, func.count(func.distinct(CheckIn.member_id))).where(
        CheckIn.period.in_(periods)
    )
    if everyone:
        history = history.where(CheckIn.member_id.is_not(None))
    else:
        # Starting from the scope's members, their check-ins are found by member.
        history = history.where(CheckIn.member_id.in_(select(Member.id).where(in_scope)))
    counted = await session.execute(history.group_by(CheckIn.period))
    checked_per_period = {p: int(c) for p, c in counted}
    registered = (
        await session.execute(
            select(
                func.count(Member.id),
                func.coalesce(func.sum(case((Member.lost_contact_at.is_not(None), 1), else_=0)), 0),
                *(
                    func.coalesce(
                        func.sum(case((Member.registered_at < _month_end(p, zone), 1), else_=0)),
                        0,
                    )
                    for p in periods
                ),
            ).where(in_scope)
        )
    ).one()
    members, lost = int(registered[0]), int(registered[1])
    months = [
        MonthRate(p, int(n), min(checked_per_period.get(p, 0), int(n)))
        for p, n in zip(periods, registered[2:], strict=True)
    ]

    week, month = now - timedelta(days=AGE_DAYS[0]), now - timedelta(days=AGE_DAYS[1])
    age = case(
        (ServiceRequest.created_at >= week, literal("week")),
        (ServiceRequest.created_at >= month, literal("month")),
        else_=literal("older"),
    )
    late = case((ServiceRequest.due_at < now, 1), else_=0)
    aged = await session.execute(
        select(age.label("age"), func.count(), func.coalesce(func.sum(late), 0, type_=Integer))
        .join(Member, Member.id == ServiceRequest.member_id)
        .where(ServiceRequest.status.in_(OPEN_STATUSES), in_scope)
        .group_by(age)
    )
    open_requests = dict.fromkeys(AGE_BUCKETS, 0)
    late_requests = 0
    for bucket, count, late_count in aged:
        open_requests[bucket] = int(count)
        late_requests += int(late_count)
    places = await _places(session, None if everyone else in_scope)
    return Dashboard(
        period=period_of(now, zone),
        groups=groups,
        months=months,
        members=members,
        lost_contact=lost,
        open_requests=open_requests,
        late_requests=late_requests,
        places=places,
        unplaced=members - sum(place.members for place in places),
        notices_in_flight=await notices_in_flight(session, staff_id=staff_id),
        study=await study_completion(session, now, staff_id=staff_id),
    )


async def _places(session: AsyncSession, in_scope: ColumnElement[bool] | None) -> list[PlaceCount]:
    """Members per (province, city) of their latest location report, in scope.

    A report kept at province precision (consent withdrawn) counts for its province only;
    typed places the region index could not read have no province and are left out.
    Reports are only ever added as they are made (reported_at is their now), so the
    highest id is the latest: found from the (member_id, reported_at) index alone."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # PostgreSQL reads each member's newest report in one ordered pass (DISTINCT ON),
        # twice as fast there as grouping and joining back; SQLite has no DISTINCT ON.
        newest = (
            select(LocationReport.province, LocationReport.city)
            .ext(distinct_on(LocationReport.member_id))
            .order_by(LocationReport.member_id, LocationReport.id.desc())
        )
        if in_scope is not None:
            newest = newest.where(LocationReport.member_id.in_(select(Member.id).where(in_scope)))
        found = newest.subquery()
        query = (
            select(found.c.province, found.c.city, func.count())
            .where(found.c.province.is_not(None))
            .group_by(found.c.province, found.c.city)
        )
    else:
        latest = select(func.max(LocationReport.id).label("id")).group_by(LocationReport.member_id)
        if in_scope is not None:
            latest = latest.where(LocationReport.member_id.in_(select(Member.id).where(in_scope)))
        ids = latest.subquery()
        query = (
            select(LocationReport.province, LocationReport.city, func.count())
            .join(ids, ids.c.id == LocationReport.id)
            .where(LocationReport.province.is_not(None))
            .group_by(LocationReport.province, LocationReport.city)
        )
    rows = await session.execute(query)
    places = [PlaceCount(province, city, int(count)) for province, city, count in rows if province]
    places.sort(key=lambda place: (-place.members, place.province, place.city or ""))
    return places


async def view_dashboard(
    session: AsyncSession, now: datetime, *, actor: str, staff_id: int, zone: tzinfo
) -> Dashboard:
    """The dashboard, its view audited (counts only, but of whose groups)."""
    figures = await dashboard(session, now, staff_id=staff_id, zone=zone)
    await audit.record(
        session,
        now,
        actor=actor,
        action="console.dashboard.view",
        groups=[g.group_id for g in figures.groups],
    )
    return figures
