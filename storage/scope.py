"""Which members a staff member may see, and the staff views of one member.

One definition of scope, for cards, lists and notices alike. A staff member looks after
the groups they are liaison for and the groups of their units and of the units below them
in the unit tree (scope_groups); they see the members of those groups and the members whose
home unit is one of their units or below (scope_condition). So whoever a liaison's notice
reaches, the liaison may open the card of. An administrator without any units or groups
sees everyone; one with a scope sees that scope. Everything here is one SQL condition, so
lists, notices and exports of 100,000 members stay set-based.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import ColumnElement, CompoundSelect, Select, and_, exists, or_, select, true, union
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.checkins import member_zone, place_label
from storage.models import (
    CheckIn,
    Consent,
    Group,
    LocationPrecision,
    LocationReport,
    Member,
    MemberStatus,
    Staff,
    StaffRole,
    Unit,
    WorkSituation,
    member_groups,
    staff_groups,
    staff_units,
)
from storage.phones import InvalidPhone, mask_phone, normalize_phone

# Longer than any name or phone number; a longer query is a paste accident.
MAX_QUERY_LENGTH = 64
RECENT_CHECKINS = 3


def scope_units(staff_id: int) -> Select[int]:
    """The ids of the staff member's units and of every unit below them."""
    # UNION (not UNION ALL) also stops the recursion should the tree ever hold a cycle.
    tree = (
        select(staff_units.c.unit_id.label("id"))
        .where(staff_units.c.staff_id == staff_id)
        .cte(recursive=True)
    )
    tree = tree.union(select(Unit.id).where(Unit.parent_id == tree.c.id))
    return select(tree.c.id).correlate(None)


def units_below(unit_id: int) -> Select[tuple[int]]:
    """The ids of a unit and of every unit below it in the tree."""
    # UNION (not UNION ALL) also stops the recursion should the tree ever hold a cycle.
    tree = select(Unit.id.label("id")).where(Unit.id == unit_id).cte(recursive=True)
    tree = tree.union(select(Unit.id).where(Unit.parent_id == tree.c.id))
    return select(tree.c.id).correlate(None)


def unit_condition(unit_id: int) -> ColumnElement[bool]:
    """A where-clause on Member: living in the unit's tree, by home unit or in a group of one
    of its units (the same two ways scope_condition puts a member in a staff member's
    units); a street's police roster, partner letters and yearly report count them so."""
    in_groups = Member.id.in_(
        select(member_groups.c.member_id)
        .join(Group, Group.id == member_groups.c.group_id)
        .where(Group.unit_id.in_(units_below(unit_id)))
        .correlate(None)
    )
    return or_(Member.home_unit_id.in_(units_below(unit_id)), in_groups)


def _unscoped_admin(staff_id: int) -> ColumnElement[bool]:
    """True when staff_id is an administrator with neither units nor groups: sees all."""
    return and_(
        exists().where(Staff.id == staff_id, Staff.role == StaffRole.ADMIN).correlate(None),
        ~exists().where(staff_groups.c.staff_id == staff_id).correlate(None),
        ~exists().where(staff_units.c.staff_id == staff_id).correlate(None),
    )


async def sees_everyone(session: AsyncSession, staff_id: int) -> bool:
    """Whether staff_id is an administrator without scope (for aggregates that can then skip
    the scope condition altogether: the same answer, without a test per row)."""
    return bool(await session.scalar(select(_unscoped_admin(staff_id))))


def scope_groups(staff_id: int) -> CompoundSelect[tuple[int]]:
    """The ids of the groups staff_id looks after: their own, and those of their units and
    of the units below them (an unscoped administrator's "every group" is not listed here)."""
    own = select(staff_groups.c.group_id.label("id")).where(staff_groups.c.staff_id == staff_id)
    of_units = select(Group.id).where(Group.unit_id.in_(scope_units(staff_id)))
    return union(own.correlate(None), of_units.correlate(None))


def scope_condition(staff_id: int) -> ColumnElement[bool]:
    """A where-clause on Member: true for the members staff_id may see.

    The members of the groups staff_id looks after (scope_groups, the groups a notice may
    go to) and those whose home unit is in their units. Subqueries are not correlated, so
    the condition stays right in statements that also join staff, groups or member_groups.
    An unknown staff id sees nobody.
    """
    in_my_groups = Member.id.in_(
        select(member_groups.c.member_id)
        .where(member_groups.c.group_id.in_(scope_groups(staff_id)))
        .correlate(None)
    )
    in_my_units = Member.home_unit_id.in_(scope_units(staff_id))
    # The admin test comes first: it is evaluated once and short-circuits the rest.
    return or_(_unscoped_admin(staff_id), in_my_groups, in_my_units)


def group_scope_condition(staff_id: int) -> ColumnElement[bool]:
    """A where-clause on Group: the groups staff_id looks after (for notices, /linkgroup).

    scope_groups, or every group for an administrator without scope. Every member of these
    groups is in scope_condition: a notice reaches no one whose card the sender cannot open.
    """
    return or_(_unscoped_admin(staff_id), Group.id.in_(scope_groups(staff_id)))


def members_in_scope(staff_id: int) -> Select[Member]:
    """Select the members staff_id may see (add where/order_by/limit as needed)."""
    return select(Member).where(scope_condition(staff_id))


def group_condition(group_id: int) -> ColumnElement[bool]:
    """A where-clause on Member: true for the members of one group."""
    return Member.id.in_(
        select(member_groups.c.member_id)
        .where(member_groups.c.group_id == group_id)
        .correlate(None)
    )


async def may_see(session: AsyncSession, staff_id: int, member_id: int) -> bool:
    """Whether staff_id may see member_id (False for a member that does not exist)."""
    found = await session.scalar(
        select(Member.id).where(Member.id == member_id, scope_condition(staff_id))
    )
    return found is not None


# --- the staff lookup: /member ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberMatch:
    """One line of a search result: enough to tell namesakes apart."""

    member_id: int
    name: str
    phone: str | None
    status: MemberStatus
    home_unit: str | None
    bound: bool  # to a chat account: Telegram or QQ

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.phone) if self.phone else None


@dataclass(frozen=True, slots=True)
class MemberSearch:
    """The members in scope that a query found; truncated when there were more."""

    query: str
    by_phone: bool
    matches: list[MemberMatch]
    truncated: bool
    # How many matches come before these (a later page of the console's list).
    offset: int = 0

    @property
    def audit_query(self) -> str:
        """The query as the audit log keeps it: phone numbers masked."""
        return mask_phone(self.query) if self.by_phone else self.query


def clean_query(text: str) -> str:
    """The search text with runs of whitespace collapsed, cut to MAX_QUERY_LENGTH."""
    return " ".join(text.split())[:MAX_QUERY_LENGTH]


async def find_members(
    session: AsyncSession, staff_id: int, query: str, *, limit: int = 20, offset: int = 0
) -> MemberSearch:
    """Members in staff_id's scope by phone (any common format) or by part of the name;
    offset skips that many matches (in the order shown: by name)."""
    query = clean_query(query)
    try:
        phone: str | None = normalize_phone(query)
    except InvalidPhone:
        phone = None
    statement = (
        select(Member, Unit.name)
        .outerjoin(Unit, Unit.id == Member.home_unit_id)
        .where(scope_condition(staff_id))
    )
    if phone is not None:
        statement = statement.where(Member.phone == phone)
    elif query:
        statement = statement.where(Member.name.icontains(query, autoescape=True))
    else:
        return MemberSearch(query=query, by_phone=False, matches=[], truncated=False)
    rows = (
        await session.execute(
            statement.order_by(Member.name, Member.id).offset(offset).limit(limit + 1)
        )
    ).all()
    matches = [
        MemberMatch(
            member_id=member.id,
            name=member.name,
            phone=member.phone,
            status=member.status,
            home_unit=unit_name,
            bound=member.telegram_user_id is not None or member.qq_user_id is not None,
        )
        for member, unit_name in rows[:limit]
    ]
    return MemberSearch(
        query=phone or query,
        by_phone=phone is not None,
        matches=matches,
        truncated=len(rows) > limit,
        offset=offset,
    )


@dataclass(frozen=True, slots=True)
class CheckInLine:
    """One past check-in as the member card shows it (date in the member's zone)."""

    on: date
    period: str
    location: str | None
    situation: WorkSituation
    work_note: str | None
    needs_help: bool
    needs_text: str | None


@dataclass(frozen=True, slots=True)
class MemberCard:
    """What a liaison sees about one member of their scope."""

    member_id: int
    name: str
    status: MemberStatus
    home_unit: str | None
    groups: Sequence[str]
    origin: str | None
    destination: str | None
    workplace: str | None
    trade: str | None
    phone: str | None
    bound: bool  # to Telegram
    qq_bound: bool
    consent: Consent
    checkins: Sequence[CheckInLine]
    # Flagged by the monthly cycle (the day, in the member's zone), and whether an admin
    # confirmed it.
    lost_contact_on: date | None = None
    lost_contact_confirmed: bool = False
    # What the member's check-ins keep since withdrawing consent to location (None: as usual).
    location_precision: LocationPrecision | None = None
    # The day (in the member's zone) they texted the stop keyword: no SMS notices since.
    sms_stopped_on: date | None = None

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.phone) if self.phone else None


def _place(report: LocationReport | None) -> str | None:
    if report is None:
        return None
    return place_label(report.province, report.city, report.district, report.text) or None


async def member_card(
    session: AsyncSession, staff_id: int, member_id: int, *, default_zone: tzinfo
) -> MemberCard | None:
    """The card of member_id, or None when it does not exist or is outside the scope."""
    row = (
        await session.execute(
            select(Member, Unit.name)
            .outerjoin(Unit, Unit.id == Member.home_unit_id)
            .where(Member.id == member_id, scope_condition(staff_id))
        )
    ).first()
    if row is None:
        return None
    member, unit_name = row
    groups = await session.scalars(
        select(Group.name)
        .join(member_groups, member_groups.c.group_id == Group.id)
        .where(member_groups.c.member_id == member.id)
        .order_by(Group.name)
    )
    recent = await session.execute(
        select(CheckIn, LocationReport)
        .outerjoin(LocationReport, LocationReport.id == CheckIn.location_report_id)
        .where(CheckIn.member_id == member.id)
        .order_by(CheckIn.checked_in_at.desc(), CheckIn.id.desc())
        .limit(RECENT_CHECKINS)
    )
    zone = member_zone(member.timezone, default_zone)
    checkins = [
        CheckInLine(
            on=checkin.checked_in_at.astimezone(zone).date(),
            period=checkin.period,
            location=_place(report),
            situation=checkin.work_situation,
            work_note=checkin.work_note,
            needs_help=checkin.needs_help,
            needs_text=checkin.needs_text,
        )
        for checkin, report in recent
    ]
    return MemberCard(
        member_id=member.id,
        name=member.name,
        status=member.status,
        home_unit=unit_name,
        groups=list(groups),
        origin=member.origin,
        destination=member.destination,
        workplace=member.workplace,
        trade=member.trade,
        phone=member.phone,
        bound=member.telegram_user_id is not None,
        qq_bound=member.qq_user_id is not None,
        consent=member.consent,
        location_precision=member.location_precision,
        checkins=checkins,
        lost_contact_on=member.lost_contact_at.astimezone(zone).date()
        if member.lost_contact_at
        else None,
        lost_contact_confirmed=member.lost_contact_confirmed_at is not None,
        sms_stopped_on=member.sms_stopped_at.astimezone(zone).date()
        if member.sms_stopped_at
        else None,
    )


async def _outside_scope(session: AsyncSession, search: MemberSearch, *, limit: int) -> list[int]:
    """The ids of members outside the scope that a query found nobody within matches."""
    if not search.query:
        return []
    statement = select(Member.id).order_by(Member.id).limit(limit)
    if search.by_phone:
        statement = statement.where(Member.phone == search.query)
    else:
        statement = statement.where(Member.name.icontains(search.query, autoescape=True))
    return list(await session.scalars(statement))


async def search_members(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int,
    actor: str,
    query: str,
    default_zone: tzinfo,
    limit: int = 20,
    offset: int = 0,
) -> tuple[MemberSearch, MemberCard | None]:
    """/member QUERY: the matches in scope, and the card when exactly one matches.

    Audited as a view of that member (or of none), with the query as the audit may keep it;
    a query that hit only members outside the scope as member.view.refused, with their ids.
    A later page of the console's list (offset) keeps its offset in the trail.
    """
    search = await find_members(session, staff_id, query, limit=limit, offset=offset)
    card = None
    if len(search.matches) == 1 and offset == 0 and not search.truncated:
        card = await member_card(
            session, staff_id, search.matches[0].member_id, default_zone=default_zone
        )
    if not search.matches and offset == 0:
        outside = await _outside_scope(session, search, limit=limit)
        if outside:
            # The staff member heard "nobody found"; the trail says whom the query hit.
            await audit.record(
                session,
                now,
                actor=actor,
                action="member.view.refused",
                query=search.audit_query,
                reason="out_of_scope",
                members=outside,
            )
            return search, None
    await audit.record(
        session,
        now,
        actor=actor,
        action="member.view",
        subject=f"member:{card.member_id}" if card else None,
        query=search.audit_query,
        matches=len(search.matches),
        **({"offset": offset} if offset else {}),
    )
    return search, card


async def open_member_card(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int,
    actor: str,
    member_id: int | None,
    requested: str,
    default_zone: tzinfo,
) -> MemberCard | None:
    """A member's card from a button (member_id None: a forged one), scope checked again.

    Audited, found or not (member.view.refused: outside the scope or not there, told apart
    in the trail only); requested is what the button carried (cut short), for the trail.
    """
    card = None
    if member_id is not None:
        card = await member_card(session, staff_id, member_id, default_zone=default_zone)
    if card is None:
        await audit.record_refused(
            session,
            now,
            actor=actor,
            action="member.view.refused",
            kind="member",
            model=Member,
            record_id=member_id,
            requested=requested[:20],
        )
        return None
    await audit.record(
        session,
        now,
        actor=actor,
        action="member.view",
        subject=f"member:{card.member_id}",
        requested=requested[:20],
        found=True,
    )
    return card


@dataclass(frozen=True, slots=True)
class RevealedPhone:
    """A member's whole phone number, shown to staff for a call."""

    member_id: int
    name: str
    phone: str | None


async def member_in_scope(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int | None,
    member_id: int | None,
    actor: str,
    action: str,
    **detail: object,
) -> Member | None:
    """The member an action of staff_id is about, when in their scope (staff_id None: the
    command line's operator, who sees everyone); else None, the refusal audited as
    action.refused (outside the scope reads as not there to them; the trail tells the two
    apart)."""
    member = None
    if member_id is not None:
        in_scope = true() if staff_id is None else scope_condition(staff_id)
        member = await session.scalar(select(Member).where(Member.id == member_id, in_scope))
    if member is None:
        await audit.record_refused(
            session,
            now,
            actor=actor,
            action=f"{action}.refused",
            kind="member",
            model=Member,
            record_id=member_id,
            **detail,
        )
    return member


async def reveal_phone(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int,
    actor: str,
    member_id: int | None,
    requested: str,
) -> RevealedPhone | None:
    """The whole phone number of a member in scope (lists show it masked), for a call.

    Audited each time as member.phone_reveal naming the member; refused (outside the scope,
    not there, or a forged id: None) as member.phone_reveal.refused, as a card is.
    """
    member = await member_in_scope(
        session,
        now,
        staff_id=staff_id,
        member_id=member_id,
        actor=actor,
        action="member.phone_reveal",
        requested=requested[:20],
    )
    if member is None:
        return None
    await audit.record(
        session,
        now,
        actor=actor,
        action="member.phone_reveal",
        subject=f"member:{member.id}",
        has_phone=member.phone is not None,
    )
    return RevealedPhone(member_id=member.id, name=member.name, phone=member.phone)


__all__ = [
    "CheckInLine",
    "MemberCard",
    "MemberMatch",
    "MemberSearch",
    "RevealedPhone",
    "clean_query",
    "find_members",
    "group_condition",
    "group_scope_condition",
    "may_see",
    "member_card",
    "members_in_scope",
    "open_member_card",
    "reveal_phone",
    "scope_condition",
    "scope_groups",
    "scope_units",
    "search_members",
]


# --- who looks after a member --------------------------------------------------------


async def admins_over(session: AsyncSession, member_id: int) -> list[Staff]:
    """The administrators whose scope covers the member."""
    admins = await session.scalars(
        select(Staff).where(Staff.role == StaffRole.ADMIN).order_by(Staff.id)
    )
    chosen = []
    for admin in admins.all():
        seen = await session.scalar(
            select(Member.id).where(Member.id == member_id, scope_condition(admin.id))
        )
        if seen is not None:
            chosen.append(admin)
    return chosen


async def looking_after(session: AsyncSession, member_id: int) -> list[Staff]:
    """Who hears of what a member asks (a request, an idea, a certificate to review).

    The liaisons of the member's groups. When one of those groups has no liaison (or the
    member is in no group), the administrators whose scope covers the member too, as with
    the day-10 lists; only staff who may open what the member sent are told.
    """
    group_ids = list(
        await session.scalars(
            select(member_groups.c.group_id).where(member_groups.c.member_id == member_id)
        )
    )
    chosen: dict[int, Staff] = {}
    covered: set[int] = set()
    if group_ids:
        for group_id, staff in await session.execute(
            select(staff_groups.c.group_id, Staff)
            .join(Staff, Staff.id == staff_groups.c.staff_id)
            .where(staff_groups.c.group_id.in_(group_ids))
            .order_by(Staff.id)
        ):
            chosen.setdefault(staff.id, staff)
            covered.add(group_id)
    if not group_ids or covered != set(group_ids):
        for admin in await admins_over(session, member_id):
            chosen.setdefault(admin.id, admin)
    return sorted(chosen.values(), key=lambda s: s.id)
