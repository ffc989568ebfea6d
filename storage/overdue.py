"""Who has not checked in this month, and for how long each has been silent.

"This month" is the calendar month in each member's own time zone: at 23:30 on 31 March
in Berlin it is already April in Wuhan. Two queries whatever the size of the scope: the
time zones in use, whose current periods become a CASE expression, then the list, where a
missing check-in is a NOT EXISTS on (member_id, period) that the checkins index answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import ColumnElement, Select, String, case, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.checkins import member_zone, period_of
from storage.directory import DirectoryError, group_by_name
from storage.models import CheckIn, Group, Member, MemberStatus, Unit, UTCDateTime
from storage.phones import mask_phone
from storage.scope import group_condition, group_scope_condition, scope_condition


def whole_months_between(start: date, end: date) -> int:
    """Calendar months from start to end, counting only completed ones (3 Sep → 2 Nov: 1)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(months, 0)


@dataclass(frozen=True, slots=True)
class OverdueMember:
    """A member without a check-in this month; dates are in the member's time zone."""

    member_id: int
    name: str
    phone: str | None
    status: MemberStatus
    home_unit: str | None
    # Unbound members cannot be reached by the bot: a liaison has to call or text them.
    bound: bool
    period: str
    registered_on: date
    last_checkin_on: date | None
    # Since the last check-in, or since registration for members who never checked in.
    silent_days: int
    silent_months: int

    @property
    def never_checked_in(self) -> bool:
        return self.last_checkin_on is None

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.phone) if self.phone else None


@dataclass(frozen=True, slots=True)
class OverdueReport:
    """The longest-silent members first, at most the limit asked for, and the full count."""

    members: list[OverdueMember]
    total: int
    # Members in view at all: 0 means a liaison whose scope is still empty.
    watched: int

    @property
    def more(self) -> int:
        """How many overdue members the list leaves out."""
        return self.total - len(self.members)


async def _zone_periods(
    session: AsyncSession, now: datetime, default_zone: tzinfo
) -> tuple[str, dict[str, str]]:
    """Now's period in the default zone, and the member zones where it is another one."""
    default_period = period_of(now, default_zone)
    names = await session.scalars(
        select(Member.timezone).where(Member.timezone.is_not(None)).distinct()
    )
    periods: dict[str, str] = {}
    for name in names:
        if name is None:
            continue
        period = period_of(now, member_zone(name, default_zone))
        if period != default_period:
            periods[name] = period
    return default_period, periods


async def current_period_expr(
    session: AsyncSession, now: datetime, default_zone: tzinfo
) -> ColumnElement[str]:
    """Per member, the period now falls in: a CASE over the time zones members use."""
    default_period, periods = await _zone_periods(session, now, default_zone)
    if not periods:
        return literal(default_period, String)
    return case(periods, value=Member.timezone, else_=literal(default_period, String))


async def checked_in_now(
    session: AsyncSession, now: datetime, default_zone: tzinfo
) -> Select[int | None]:
    """The ids of the members who have checked in in their current period (once or more).

    One read of the period's check-ins (index on period, member_id), for counting whole
    groups at once; members are joined only when some live in a zone where it is another
    month."""
    default_period, periods = await _zone_periods(session, now, default_zone)
    if not periods:
        return select(CheckIn.member_id).where(CheckIn.period == default_period)
    member_period = case(periods, value=Member.timezone, else_=literal(default_period, String))
    return (
        select(CheckIn.member_id)
        .join(Member, Member.id == CheckIn.member_id)
        .where(CheckIn.period.in_({default_period, *periods.values()}))
        .where(CheckIn.period == member_period)
    )


async def overdue_report(
    session: AsyncSession,
    now: datetime,
    *,
    default_zone: tzinfo,
    staff_id: int | None = None,
    group: str | None = None,
    group_id: int | None = None,
    limit: int | None = None,
) -> OverdueReport:
    """Members (in staff_id's scope; everyone for None) with no check-in this month.

    group narrows the list to one group by name (DirectoryError if there is none), group_id
    to one by id; limit caps the members returned, total still counts them all.
    """
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    conditions: list[ColumnElement[bool]] = []
    if staff_id is not None:
        conditions.append(scope_condition(staff_id))
    if group is not None:
        group_row = await group_by_name(session, group.strip())
        if group_row is None:
            raise DirectoryError(f"no group named {group!r}")
        conditions.append(group_condition(group_row.id))
    if group_id is not None:
        conditions.append(group_condition(group_id))

    period = await current_period_expr(session, now, default_zone)
    checked_in = exists().where(CheckIn.member_id == Member.id, CheckIn.period == period)
    last_checkin = (
        select(func.max(CheckIn.checked_in_at))
        .where(CheckIn.member_id == Member.id)
        .scalar_subquery()
    )
    silent_since = func.coalesce(last_checkin, Member.registered_at, type_=UTCDateTime())
    statement = (
        select(
            Member,
            Unit.name,
            period.label("period"),
            last_checkin.label("last_checkin_at"),
            func.count().over().label("total"),
        )
        .outerjoin(Unit, Unit.id == Member.home_unit_id)
        .where(~checked_in, *conditions)
        .order_by(silent_since, Member.name, Member.id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    rows = (await session.execute(statement)).all()

    members = []
    for member, unit_name, member_period, last_checkin_at, _total in rows:
        zone = member_zone(member.timezone, default_zone)
        today = now.astimezone(zone).date()
        registered_on = member.registered_at.astimezone(zone).date()
        last_on = last_checkin_at.astimezone(zone).date() if last_checkin_at else None
        since = last_on or registered_on
        members.append(
            OverdueMember(
                member_id=member.id,
                name=member.name,
                phone=member.phone,
                status=member.status,
                home_unit=unit_name,
                bound=member.telegram_user_id is not None or member.qq_user_id is not None,
                period=member_period,
                registered_on=registered_on,
                last_checkin_on=last_on,
                silent_days=max((today - since).days, 0),
                silent_months=whole_months_between(since, today),
            )
        )
    # Every row carries the full count (a window over the unlimited result).
    total = rows[0][4] if rows else 0
    watched = total
    if total == 0:
        watched = int(
            await session.scalar(select(func.count()).select_from(Member).where(*conditions)) or 0
        )
    return OverdueReport(members=members, total=total, watched=watched)


class GroupNotInScope(LookupError):
    """The group asked for is not one the staff member looks after (or is not there)."""


async def view_overdue(
    session: AsyncSession,
    now: datetime,
    *,
    actor: str,
    staff_id: int,
    default_zone: tzinfo,
    limit: int,
    group_id: int | None = None,
) -> OverdueReport:
    """/overdue: staff_id's silent members, the view audited (how many, how many shown, and
    whom it listed: their member ids).

    group_id narrows it to one group staff_id looks after; any other group is refused
    (GroupNotInScope, audited as overdue.view.refused like a card out of scope).
    """
    if group_id is not None:
        visible = await session.scalar(
            select(Group.id).where(Group.id == group_id, group_scope_condition(staff_id))
        )
        if visible is None:
            await audit.record_refused(
                session,
                now,
                actor=actor,
                action="overdue.view.refused",
                kind="group",
                model=Group,
                record_id=group_id,
            )
            raise GroupNotInScope(f"group {group_id} is not in the scope of staff {staff_id}")
    report = await overdue_report(
        session, now, default_zone=default_zone, staff_id=staff_id, group_id=group_id, limit=limit
    )
    await audit.record(
        session,
        now,
        actor=actor,
        action="overdue.view",
        subject=None,
        total=report.total,
        shown=len(report.members),
        members=[m.member_id for m in report.members],
        **({"group": group_id} if group_id is not None else {}),
    )
    return report


async def overdue_members(
    session: AsyncSession,
    now: datetime,
    *,
    default_zone: tzinfo,
    staff_id: int | None = None,
    group: str | None = None,
) -> list[OverdueMember]:
    """Every member without a check-in this month, longest silent first (for the CLI)."""
    report = await overdue_report(
        session, now, default_zone=default_zone, staff_id=staff_id, group=group
    )
    return report.members


__all__ = [
    "GroupNotInScope",
    "OverdueMember",
    "OverdueReport",
    "overdue_members",
    "overdue_report",
    "view_overdue",
    "whole_months_between",
]
