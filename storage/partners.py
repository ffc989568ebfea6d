"""Partner organisations (双联双管) and the half-yearly letter (函告) to each of them.

A partner organisation is the other end of our mobile members' move: where inflow members
came from (side origin), or where outflow members now work (side destination). It covers a
region of storage/regions (a province, a city or a county); a member is its member when
the text of their origin (inflow) or destination (outflow) resolves inside that region,
the most precise partner winning, unless staff put the member with a partner by hand
(PartnerAssignment), which wins over any place, for text the index cannot place. A partner
held by one of our streets (unit) has only the members of that street's tree. Local
members have no partner; mobile members that match none are listed so staff can fix them.

Every half year (2026H1: January to June, 2026H2: July to December, in the district's zone)
each partner gets a letter saying who its members are and where they come from, our
groups they belong to and the activities those held, and per member their check-ins,
study, attendance, the services given to them and what they contributed (letter_data).
Drawing a letter is an export of personal data (audited, and recorded with the PDF's
digest); sending it is recorded too. Membership is today's: status and places as they
stand when the letter is drawn.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.checkins import place_label
from storage.models import (
    Activity,
    ActivityInvitation,
    ActivityKind,
    CheckIn,
    Group,
    Idea,
    LetterMeans,
    LocationReport,
    Member,
    MemberStatus,
    PartnerAssignment,
    PartnerLetter,
    PartnerOrganisation,
    PartnerSide,
    RequestStatus,
    ServiceCategory,
    ServiceRequest,
    Staff,
    StaffRole,
    StudyReceipt,
    Unit,
    activity_groups,
    member_groups,
)
from storage.phones import InvalidPhone, normalize_phone
from storage.regions import Region, RegionIndex
from storage.scope import scope_condition, scope_units, sees_everyone, unit_condition

MAX_NAME_LENGTH = 200
MAX_ADDRESS_LENGTH = 300
MAX_PERSON_LENGTH = 64
MAX_NOTE_LENGTH = 500
# Each member's side of the move: whose partner an inflow / outflow member is.
SIDE_OF = {MemberStatus.INFLOW: PartnerSide.ORIGIN, MemberStatus.OUTFLOW: PartnerSide.DESTINATION}
# The fields `edit` may change.
FIELDS = ("name", "region", "side", "address", "contact_person", "contact_phone", "unit", "note")


class PartnerError(ValueError):
    """A partner, an assignment or a letter that cannot be made; the message says why.

    reason is a short stable word for the front ends: name_empty, name_too_long,
    duplicate_name, unknown_region, bad_side, bad_phone, too_long, unknown_unit, not_found,
    unknown_member, not_mobile, bad_half, bad_means, not_generated, unknown_field.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- halves -----------------------------------------------------------------------------------


def half_bounds(half: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """The first instant of the half ("2026H1" or "2026H2") and of the next, in zone."""
    text = half.strip().upper()
    year_text, letter, number = text[:4], text[4:5], text[5:]
    if (
        len(text) != 6
        or not (year_text.isascii() and year_text.isdigit())
        or letter != "H"
        or number not in ("1", "2")
        or not 2000 <= int(year_text) <= 9998
    ):
        raise PartnerError(f"{half.strip()[:20]!r} is not a half year like 2026H2", "bad_half")
    year = int(year_text)
    if number == "1":
        return datetime(year, 1, 1, tzinfo=zone), datetime(year, 7, 1, tzinfo=zone)
    return datetime(year, 7, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)


def check_half(half: str) -> str:
    """The half as stored ("2026H2"), or PartnerError bad_half."""
    half_bounds(half, UTC)
    return half.strip().upper()


def half_months(half: str) -> list[str]:
    """The six check-in periods ("2026-07" …) of a half."""
    year, number = int(half[:4]), int(half[5])
    first = 1 if number == 1 else 7
    return [f"{year}-{month:02d}" for month in range(first, first + 6)]


def half_of(now: datetime, zone: tzinfo) -> str:
    """The half a moment is in, in zone ("2026H2")."""
    local = now.astimezone(zone)
    return f"{local.year}H{1 if local.month <= 6 else 2}"


# --- checking what staff type -----------------------------------------------------------------


def _line(text: str | None, limit: int, what: str) -> str | None:
    value = " ".join((text or "").split())
    if len(value) > limit:
        raise PartnerError(
            f"the {what} has {len(value)} characters; at most {limit} are allowed", "too_long"
        )
    return value or None


def check_name(text: str) -> str:
    """The organisation's name on one line, 1 to MAX_NAME_LENGTH characters."""
    value = " ".join(text.split())
    if not value:
        raise PartnerError("the name is empty", "name_empty")
    if len(value) > MAX_NAME_LENGTH:
        raise PartnerError(
            f"the name has {len(value)} characters; at most {MAX_NAME_LENGTH} are allowed",
            "name_too_long",
        )
    return value


def check_phone(text: str | None) -> str | None:
    """A contact phone as E.164 (mobile or fixed line with its area code), or None."""
    if text is None or not text.strip():
        return None
    try:
        return normalize_phone(text)
    except InvalidPhone as error:
        raise PartnerError(
            f"the contact phone {text.strip()[:30]!r}: {error}", "bad_phone"
        ) from None


def check_side(text: str) -> PartnerSide:
    try:
        return PartnerSide(text.strip().lower())
    except ValueError:
        raise PartnerError(f"{text!r} is not a side (origin or destination)", "bad_side") from None


def check_means(text: str) -> LetterMeans:
    try:
        return LetterMeans(text.strip().lower())
    except ValueError:
        known = ", ".join(m.value for m in LetterMeans)
        raise PartnerError(f"{text!r} is not a way of sending ({known})", "bad_means") from None


def resolve_region(index: RegionIndex, text: str) -> Region:
    """The region a partner covers, from what staff typed (a name, or a 12-digit adcode)."""
    raw = text.strip()
    found = index.get(raw) if raw.isdigit() and len(raw) == 12 else index.resolve_text(raw)
    if found is None:
        raise PartnerError(
            f"{raw[:60]!r} is not a place the region index knows (try 河南省周口市沈丘县)",
            "unknown_region",
        )
    return found


def region_prefix(adcode: str) -> str:
    """The adcode digits every place inside a region starts with (2, 4 or 6)."""
    if adcode[2:].strip("0") == "":
        return adcode[:2]
    if adcode[4:].strip("0") == "":
        return adcode[:4]
    return adcode[:6]


def region_label(index: RegionIndex, adcode: str) -> str:
    region = index.get(adcode)
    return region.label() if region is not None else adcode


# --- the records --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartnerView:
    """A partner organisation as the front ends show it."""

    id: int
    name: str
    address: str | None
    contact_person: str | None
    contact_phone: str | None
    adcode: str
    region: str
    side: PartnerSide
    unit: str | None
    note: str | None


def _view(row: PartnerOrganisation, unit: str | None, index: RegionIndex) -> PartnerView:
    return PartnerView(
        id=row.id,
        name=row.name,
        address=row.address,
        contact_person=row.contact_person,
        contact_phone=row.contact_phone,
        adcode=row.adcode,
        region=region_label(index, row.adcode),
        side=row.side,
        unit=unit,
        note=row.note,
    )


async def _unit_id(session: AsyncSession, name: str | None) -> int | None:
    if name is None or not name.strip():
        return None
    unit = await session.scalar(select(Unit).where(Unit.name == name.strip()))
    if unit is None:
        raise PartnerError(f"no unit named {name.strip()!r}", "unknown_unit")
    return unit.id


async def _name_taken(session: AsyncSession, name: str, but: int | None = None) -> None:
    found = await session.scalar(
        select(PartnerOrganisation.id).where(
            PartnerOrganisation.name == name,
            PartnerOrganisation.id != (but or 0),
        )
    )
    if found is not None:
        raise PartnerError(f"there is already a partner named {name!r} ({found})", "duplicate_name")


async def add_partner(
    session: AsyncSession,
    now: datetime,
    *,
    index: RegionIndex,
    name: str,
    region: str,
    side: str,
    address: str | None = None,
    contact_person: str | None = None,
    contact_phone: str | None = None,
    unit: str | None = None,
    note: str | None = None,
    actor: str,
) -> PartnerView:
    """A new partner organisation (audited); PartnerError, nothing written, on bad input."""
    clean = check_name(name)
    row = PartnerOrganisation(
        name=clean,
        adcode=resolve_region(index, region).adcode,
        side=check_side(side),
        address=_line(address, MAX_ADDRESS_LENGTH, "address"),
        contact_person=_line(contact_person, MAX_PERSON_LENGTH, "contact person"),
        contact_phone=check_phone(contact_phone),
        unit_id=await _unit_id(session, unit),
        note=_line(note, MAX_NOTE_LENGTH, "note"),
        created_at=now,
        updated_at=now,
    )
    await _name_taken(session, clean)
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="partner.add",
        subject=f"partner:{row.id}",
        name=row.name,
        adcode=row.adcode,
        side=row.side.value,
    )
    return _view(row, unit.strip() if unit and unit.strip() else None, index)


async def get_partner(
    session: AsyncSession, partner_id: int, index: RegionIndex, *, staff_id: int | None = None
) -> PartnerView | None:
    """The partner with this id (None: none, or not of staff_id's units)."""
    found = await session.execute(
        select(PartnerOrganisation, Unit.name)
        .outerjoin(Unit, Unit.id == PartnerOrganisation.unit_id)
        .where(PartnerOrganisation.id == partner_id, *await _partner_scope(session, staff_id))
    )
    row = found.first()
    return None if row is None else _view(row[0], row[1], index)


async def edit_partner(
    session: AsyncSession,
    now: datetime,
    partner_id: int,
    changes: Mapping[str, str | None],
    *,
    index: RegionIndex,
    actor: str,
) -> PartnerView:
    """Change some fields (FIELDS; None or "" clears an optional one); audited."""
    row = await session.get(PartnerOrganisation, partner_id)
    if row is None:
        raise PartnerError(f"no partner {partner_id}", "not_found")
    for key in changes:
        if key not in FIELDS:
            raise PartnerError(f"{key!r} is not a field of a partner", "unknown_field")
    values = dict(changes)
    if "name" in values:
        # Checked before it is set: the query would otherwise flush the duplicate first.
        name = check_name(values["name"] or "")
        await _name_taken(session, name, but=row.id)
        row.name = name
    if "region" in values:
        row.adcode = resolve_region(index, values["region"] or "").adcode
    if "side" in values:
        row.side = check_side(values["side"] or "")
    if "address" in values:
        row.address = _line(values["address"], MAX_ADDRESS_LENGTH, "address")
    if "contact_person" in values:
        row.contact_person = _line(values["contact_person"], MAX_PERSON_LENGTH, "contact person")
    if "contact_phone" in values:
        row.contact_phone = check_phone(values["contact_phone"])
    if "unit" in values:
        row.unit_id = await _unit_id(session, values["unit"])
    if "note" in values:
        row.note = _line(values["note"], MAX_NOTE_LENGTH, "note")
    row.updated_at = now
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="partner.edit",
        subject=f"partner:{row.id}",
        fields=sorted(values),
    )
    view = await get_partner(session, row.id, index)
    assert view is not None  # just written
    return view


async def remove_partner(
    session: AsyncSession, now: datetime, partner_id: int, *, actor: str
) -> str:
    """Remove a partner with its assignments and letter records (audited); its name."""
    row = await session.get(PartnerOrganisation, partner_id)
    if row is None:
        raise PartnerError(f"no partner {partner_id}", "not_found")
    name = row.name
    await session.delete(row)
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="partner.remove",
        subject=f"partner:{partner_id}",
        name=name,
    )
    return name


async def assign_member(
    session: AsyncSession,
    now: datetime,
    member_id: int,
    partner_id: int | None,
    *,
    actor: str,
) -> tuple[str, str | None]:
    """Put a mobile member with a partner by hand (None: back to matching by place);
    audited. (member's name, partner's name or None)."""
    member = await session.get(Member, member_id)
    if member is None:
        raise PartnerError(f"no member {member_id}", "unknown_member")
    if member.status not in SIDE_OF:
        raise PartnerError(f"{member.name} is a local member: no partner", "not_mobile")
    partner = None
    if partner_id is not None:
        partner = await session.get(PartnerOrganisation, partner_id)
        if partner is None:
            raise PartnerError(f"no partner {partner_id}", "not_found")
    existing = await session.get(PartnerAssignment, member_id)
    if partner is None:
        if existing is not None:
            await session.delete(existing)
    elif existing is None:
        session.add(
            PartnerAssignment(
                member_id=member_id, partner_id=partner.id, assigned_at=now, assigned_by=actor
            )
        )
    else:
        existing.partner_id, existing.assigned_at, existing.assigned_by = partner.id, now, actor
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="partner.assign",
        subject=f"member:{member_id}",
        partner=partner.id if partner else None,
    )
    return member.name, partner.name if partner else None


# --- who belongs to whom ------------------------------------------------------------------------


async def _partner_scope(session: AsyncSession, staff_id: int | None) -> list[ColumnElement[bool]]:
    """Which partners staff_id may see: all for the command line and an administrator
    without scope, the partners of their units for a unit administrator, none for a liaison."""
    if staff_id is None or await sees_everyone(session, staff_id):
        return []
    role = await session.scalar(select(Staff.role).where(Staff.id == staff_id))
    if role is not StaffRole.ADMIN:
        return [PartnerOrganisation.id.is_(None)]
    return [PartnerOrganisation.unit_id.in_(scope_units(staff_id))]


@dataclass(frozen=True, slots=True)
class Unmatched:
    """A mobile member no partner has: their place text and what the index made of it."""

    member_id: int
    name: str
    status: MemberStatus
    place: str | None
    resolved: str | None  # the region label, or None: the index could not place the text


@dataclass(slots=True)
class Membership:
    """Each partner's members (by id), how each got there, and who has no partner."""

    members: dict[int, list[Member]] = field(default_factory=dict)
    assigned: set[int] = field(default_factory=set)  # member ids put with a partner by hand
    unmatched: list[Unmatched] = field(default_factory=list)


def member_place(member: Member) -> str | None:
    """The text that places a member for their partner: origin (inflow), destination
    (outflow)."""
    return member.origin if member.status is MemberStatus.INFLOW else member.destination


async def memberships(
    session: AsyncSession, index: RegionIndex, *, staff_id: int | None = None
) -> Membership:
    """Every visible partner's members and the mobile members matching none.

    staff_id: only partners and members that staff member may see (None: all).
    """
    scope = await _partner_scope(session, staff_id)
    partners = list(
        await session.scalars(
            select(PartnerOrganisation).where(*scope).order_by(PartnerOrganisation.id)
        )
    )
    member_conditions: list[ColumnElement[bool]] = [Member.status.in_(tuple(SIDE_OF))]
    if staff_id is not None:
        member_conditions.append(scope_condition(staff_id))
    members = list(
        await session.scalars(
            select(Member).where(*member_conditions).order_by(Member.name, Member.id)
        )
    )
    assignments = dict(
        (
            await session.execute(select(PartnerAssignment.member_id, PartnerAssignment.partner_id))
        ).all()
    )
    in_unit: dict[int, set[int]] = {}
    for unit_id in {p.unit_id for p in partners if p.unit_id is not None}:
        in_unit[unit_id] = set(
            await session.scalars(
                select(Member.id).where(unit_condition(unit_id), *member_conditions)
            )
        )
    by_id = {p.id: p for p in partners}
    result = Membership(members={p.id: [] for p in partners})
    resolved: dict[str, Region | None] = {}
    for member in members:
        chosen = assignments.get(member.id)
        if chosen is not None:
            # By hand: whatever the place says (a partner out of sight keeps them all the same).
            if chosen in by_id:
                result.members[chosen].append(member)
                result.assigned.add(member.id)
            continue
        text = member_place(member)
        region = None
        if text:
            if text not in resolved:
                resolved[text] = index.resolve_text(text)
            region = resolved[text]
        best: PartnerOrganisation | None = None
        if region is not None:
            side = SIDE_OF[member.status]
            for partner in partners:
                prefix = region_prefix(partner.adcode)
                if partner.side is not side or not region.adcode.startswith(prefix):
                    continue
                if partner.unit_id is not None and member.id not in in_unit[partner.unit_id]:
                    continue
                # The most precise region wins (a county over its province); then the oldest.
                if best is None or len(prefix) > len(region_prefix(best.adcode)):
                    best = partner
        if best is None:
            result.unmatched.append(
                Unmatched(
                    member.id,
                    member.name,
                    member.status,
                    text,
                    region.label() if region is not None else None,
                )
            )
        else:
            result.members[best.id].append(member)
    return result


# --- the list of partners -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LetterState:
    """A half's letter to a partner: drawn when and by whom, sent when and how."""

    half: str
    generated_at: datetime
    generated_by: str
    digest: str
    sent_at: datetime | None
    sent_by: str | None
    sent_how: LetterMeans | None
    sent_digest: str | None
    note: str | None


def _state(row: PartnerLetter) -> LetterState:
    return LetterState(
        half=row.half,
        generated_at=row.generated_at,
        generated_by=row.generated_by,
        digest=row.digest,
        sent_at=row.sent_at,
        sent_by=row.sent_by,
        sent_how=row.sent_how,
        sent_digest=row.sent_digest,
        note=row.note,
    )


@dataclass(frozen=True, slots=True)
class PartnerLine:
    partner: PartnerView
    members: int
    assigned: int  # of them, put with the partner by hand
    letter: LetterState | None


@dataclass(frozen=True, slots=True)
class PartnerList:
    half: str
    partners: list[PartnerLine]
    unmatched: list[Unmatched]


async def list_partners(
    session: AsyncSession,
    now: datetime,
    half: str,
    *,
    index: RegionIndex,
    staff_id: int | None = None,
    unit: str | None = None,
    actor: str,
) -> PartnerList:
    """The partners with their member counts and the half's letter, and the mobile members
    no partner has (their names: audited as a view, partner.list)."""
    half = check_half(half)
    unit_id = await _unit_id(session, unit)
    scope = await _partner_scope(session, staff_id)
    conditions = [*scope]
    if unit_id is not None:
        conditions.append(PartnerOrganisation.unit_id == unit_id)
    rows = (
        await session.execute(
            select(PartnerOrganisation, Unit.name)
            .outerjoin(Unit, Unit.id == PartnerOrganisation.unit_id)
            .where(*conditions)
            .order_by(PartnerOrganisation.name, PartnerOrganisation.id)
        )
    ).all()
    membership = await memberships(session, index, staff_id=staff_id)
    letters = {
        row.partner_id: _state(row)
        for row in await session.scalars(select(PartnerLetter).where(PartnerLetter.half == half))
    }
    lines = []
    for row, unit_name in rows:
        members = membership.members.get(row.id, [])
        lines.append(
            PartnerLine(
                partner=_view(row, unit_name, index),
                members=len(members),
                assigned=sum(m.id in membership.assigned for m in members),
                letter=letters.get(row.id),
            )
        )
    await audit.record(
        session,
        now,
        actor=actor,
        action="partner.list",
        half=half,
        partners=len(lines),
        unmatched=len(membership.unmatched),
    )
    return PartnerList(half=half, partners=lines, unmatched=membership.unmatched)


async def letter_state(session: AsyncSession, partner_id: int, half: str) -> LetterState | None:
    row = await session.scalar(
        select(PartnerLetter).where(
            PartnerLetter.partner_id == partner_id, PartnerLetter.half == half
        )
    )
    return None if row is None else _state(row)


# --- the letter's contents ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """A service request of the member's in the half, and how it ended (so far)."""

    category_zh: str
    category_en: str
    status: RequestStatus
    opened_on: date
    solved: bool | None


@dataclass(frozen=True, slots=True)
class LetterMember:
    id: int
    name: str
    status: MemberStatus
    origin: str | None
    destination: str | None
    place: str | None  # the latest location report before the half's end
    workplace: str | None
    groups: tuple[str, ...]
    months_checked_in: int  # of 6
    studied: int  # study materials marked studied in the half
    attended: int  # activities attended in the half
    services: tuple[ServiceLine, ...]
    ideas_adopted: int
    volunteer_attended: int  # volunteer-service activities attended in the half


@dataclass(frozen=True, slots=True)
class PlaceCount:
    place: str
    count: int


@dataclass(frozen=True, slots=True)
class ActivityLine:
    kind: ActivityKind
    title: str
    on: date
    groups: tuple[str, ...]
    invited: int
    attended: int
    ours: int  # of those who attended, this partner's members


@dataclass(frozen=True, slots=True)
class GroupLine:
    name: str
    members: int  # this partner's members in it


@dataclass(frozen=True, slots=True)
class LetterData:
    """What a half-yearly letter to a partner says (rendered by messages/partner_letters)."""

    partner: PartnerView
    half: str
    first_day: date
    last_day: date
    on: date  # the letter's date
    issuer: str
    members: list[LetterMember]
    inflow: int
    outflow: int
    places: list[PlaceCount]  # where the members come from (inflow) / are (outflow)
    groups: list[GroupLine]
    activities: list[ActivityLine]
    services: int  # requests in all
    ideas_adopted: int
    volunteer_attended: int


async def _per_member_counts(session: AsyncSession, statement: Select[Any, Any]) -> dict[int, int]:
    return {mid: n for mid, n in (await session.execute(statement)) if mid is not None}


async def letter_data(
    session: AsyncSession,
    now: datetime,
    partner_id: int,
    half: str,
    *,
    index: RegionIndex,
    zone: tzinfo,
    issuer: str,
    actor: str,
    staff_id: int | None = None,
    membership: Membership | None = None,
) -> LetterData | None:
    """The half's letter to a partner staff_id may see (None otherwise, audited as refused);
    audited as an export (partner.letter): it names the members.

    membership: memberships() for the same staff_id, when drawing many letters at once (each
    would otherwise place every mobile member again).
    """
    half = check_half(half)
    partner = await get_partner(session, partner_id, index, staff_id=staff_id)
    if partner is None:
        if staff_id is not None:
            await audit.record_refused(
                session,
                now,
                actor=actor,
                action="partner.letter.refused",
                kind="partner",
                model=PartnerOrganisation,
                record_id=partner_id,
                half=half,
            )
        return None
    start, end = half_bounds(half, zone)
    if membership is None:
        membership = await memberships(session, index, staff_id=staff_id)
    members = membership.members.get(partner_id, [])
    ids = [m.id for m in members]
    # Where each is: their latest location report before the half's end.
    places: dict[int, str | None] = {}
    reports = await session.scalars(
        select(LocationReport)
        .where(LocationReport.member_id.in_(ids), LocationReport.reported_at < end)
        .order_by(LocationReport.member_id, LocationReport.reported_at, LocationReport.id)
    )
    for report in reports:
        places[report.member_id] = (
            place_label(report.province, report.city, report.district, report.text) or None
        )
    group_rows = (
        await session.execute(
            select(member_groups.c.member_id, Group.id, Group.name)
            .join(Group, Group.id == member_groups.c.group_id)
            .where(member_groups.c.member_id.in_(ids))
            .order_by(Group.name)
        )
    ).all()
    groups_of: dict[int, list[str]] = defaultdict(list)
    group_members: Counter[tuple[int, str]] = Counter()
    for member_id, group_id, group_name in group_rows:
        groups_of[member_id].append(group_name)
        group_members[(group_id, group_name)] += 1
    months = half_months(half)
    checked_in = await _per_member_counts(
        session,
        select(CheckIn.member_id, func.count(func.distinct(CheckIn.period)))
        .where(CheckIn.member_id.in_(ids), CheckIn.period.in_(months))
        .group_by(CheckIn.member_id),
    )
    studied = await _per_member_counts(
        session,
        select(StudyReceipt.member_id, func.count())
        .where(
            StudyReceipt.member_id.in_(ids),
            StudyReceipt.studied_at >= start,
            StudyReceipt.studied_at < end,
        )
        .group_by(StudyReceipt.member_id),
    )
    in_half = and_(Activity.starts_at >= start, Activity.starts_at < end)
    came = and_(
        ActivityInvitation.member_id.in_(ids), ActivityInvitation.attended_at.is_not(None), in_half
    )
    attended = await _per_member_counts(
        session,
        select(ActivityInvitation.member_id, func.count())
        .join(Activity, Activity.id == ActivityInvitation.activity_id)
        .where(came)
        .group_by(ActivityInvitation.member_id),
    )
    volunteered = await _per_member_counts(
        session,
        select(ActivityInvitation.member_id, func.count())
        .join(Activity, Activity.id == ActivityInvitation.activity_id)
        .where(came, Activity.kind == ActivityKind.SERVICE)
        .group_by(ActivityInvitation.member_id),
    )
    adopted = await _per_member_counts(
        session,
        select(Idea.member_id, func.count())
        .where(Idea.member_id.in_(ids), Idea.adopted_at >= start, Idea.adopted_at < end)
        .group_by(Idea.member_id),
    )
    services: dict[int, list[ServiceLine]] = defaultdict(list)
    requests = await session.execute(
        select(ServiceRequest, ServiceCategory)
        .join(ServiceCategory, ServiceCategory.id == ServiceRequest.category_id)
        .where(
            ServiceRequest.member_id.in_(ids),
            or_(
                and_(ServiceRequest.created_at >= start, ServiceRequest.created_at < end),
                and_(ServiceRequest.closed_at >= start, ServiceRequest.closed_at < end),
            ),
        )
        .order_by(ServiceRequest.created_at, ServiceRequest.id)
    )
    for request, category in requests:
        services[request.member_id].append(
            ServiceLine(
                category_zh=category.name_zh,
                category_en=category.name_en,
                status=request.status,
                opened_on=request.created_at.astimezone(zone).date(),
                solved=request.solved,
            )
        )
    # The activities of the members' groups in the half, with who was invited and came.
    group_ids = [group_id for group_id, _ in group_members]
    activity_rows = (
        await session.execute(
            select(Activity, Group.name)
            .join(activity_groups, activity_groups.c.activity_id == Activity.id)
            .join(Group, Group.id == activity_groups.c.group_id)
            .where(activity_groups.c.group_id.in_(group_ids), in_half)
            .order_by(Activity.starts_at, Activity.id, Group.name)
        )
    ).all()
    activity_groups_of: dict[int, list[str]] = defaultdict(list)
    activities: dict[int, Activity] = {}
    for activity, group_name in activity_rows:
        activities.setdefault(activity.id, activity)
        activity_groups_of[activity.id].append(group_name)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    mine = set(ids)
    invitations = await session.execute(
        select(
            ActivityInvitation.activity_id,
            ActivityInvitation.member_id,
            ActivityInvitation.invited_at,
            ActivityInvitation.attended_at,
        ).where(ActivityInvitation.activity_id.in_(list(activities)))
    )
    for activity_id, member_id, invited_at, attended_at in invitations:
        if invited_at is not None:
            counts[activity_id]["invited"] += 1
        if attended_at is not None:
            counts[activity_id]["attended"] += 1
            if member_id in mine:
                counts[activity_id]["ours"] += 1
    letter_members = [
        LetterMember(
            id=m.id,
            name=m.name,
            status=m.status,
            origin=m.origin,
            destination=m.destination,
            place=places.get(m.id),
            workplace=m.workplace,
            groups=tuple(groups_of.get(m.id, ())),
            months_checked_in=checked_in.get(m.id, 0),
            studied=studied.get(m.id, 0),
            attended=attended.get(m.id, 0),
            services=tuple(services.get(m.id, ())),
            ideas_adopted=adopted.get(m.id, 0),
            volunteer_attended=volunteered.get(m.id, 0),
        )
        for m in members
    ]
    where: Counter[str] = Counter()
    for m in members:
        text = member_place(m)
        region = index.resolve_text(text) if text else None
        where[region.label() if region is not None else (text or "-")] += 1
    await audit.record(
        session,
        now,
        actor=actor,
        action="partner.letter",
        subject=f"partner:{partner_id}",
        half=half,
        members=len(members),
    )
    return LetterData(
        partner=partner,
        half=half,
        first_day=start.date(),
        last_day=(end - timedelta(days=1)).date(),
        on=now.astimezone(zone).date(),
        issuer=issuer,
        members=letter_members,
        inflow=sum(m.status is MemberStatus.INFLOW for m in members),
        outflow=sum(m.status is MemberStatus.OUTFLOW for m in members),
        places=[PlaceCount(p, n) for p, n in sorted(where.items(), key=lambda i: (-i[1], i[0]))],
        groups=[
            GroupLine(name, n)
            for (_, name), n in sorted(group_members.items(), key=lambda i: i[0][1])
        ],
        activities=[
            ActivityLine(
                kind=a.kind,
                title=a.title,
                on=a.starts_at.astimezone(zone).date(),
                groups=tuple(activity_groups_of[a.id]),
                invited=counts[a.id]["invited"],
                attended=counts[a.id]["attended"],
                ours=counts[a.id]["ours"],
            )
            for a in activities.values()
        ],
        services=sum(len(v) for v in services.values()),
        ideas_adopted=sum(adopted.values()),
        volunteer_attended=sum(volunteered.values()),
    )


# --- recording letters --------------------------------------------------------------------------


async def record_letter(
    session: AsyncSession, now: datetime, partner_id: int, half: str, *, digest: str, actor: str
) -> LetterState:
    """The half's letter was drawn (again): when, by whom, the PDF's SHA-256."""
    half = check_half(half)
    row = await session.scalar(
        select(PartnerLetter).where(
            PartnerLetter.partner_id == partner_id, PartnerLetter.half == half
        )
    )
    if row is None:
        row = PartnerLetter(
            partner_id=partner_id, half=half, generated_at=now, generated_by=actor, digest=digest
        )
        session.add(row)
    else:
        row.generated_at, row.generated_by, row.digest = now, actor, digest
    await session.flush()
    return _state(row)


async def mark_sent(
    session: AsyncSession,
    now: datetime,
    partner_id: int,
    half: str,
    *,
    how: str,
    note: str | None,
    actor: str,
    staff_id: int | None = None,
    index: RegionIndex,
) -> LetterState:
    """The half's letter went out (how: post, email, hand, fax, other); audited.

    PartnerError not_found (no such partner, or not staff_id's), not_generated (no letter
    drawn for that half yet: what would have been sent?).
    """
    half = check_half(half)
    means = check_means(how)
    clean_note = _line(note, MAX_NOTE_LENGTH, "note")
    if await get_partner(session, partner_id, index, staff_id=staff_id) is None:
        raise PartnerError(f"no partner {partner_id}", "not_found")
    row = await session.scalar(
        select(PartnerLetter).where(
            PartnerLetter.partner_id == partner_id, PartnerLetter.half == half
        )
    )
    if row is None:
        raise PartnerError(
            f"no letter for {half} was drawn for partner {partner_id}; draw it first",
            "not_generated",
        )
    row.sent_at, row.sent_by, row.sent_how = now, actor, means
    row.sent_digest, row.note = row.digest, clean_note
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="partner.sent",
        subject=f"partner:{partner_id}",
        half=half,
        how=means.value,
    )
    return _state(row)


__all__ = [
    "FIELDS",
    "ActivityLine",
    "GroupLine",
    "LetterData",
    "LetterMember",
    "LetterState",
    "Membership",
    "PartnerError",
    "PartnerLine",
    "PartnerList",
    "PartnerView",
    "PlaceCount",
    "ServiceLine",
    "Unmatched",
    "add_partner",
    "assign_member",
    "check_half",
    "edit_partner",
    "get_partner",
    "half_bounds",
    "half_months",
    "half_of",
    "letter_data",
    "letter_state",
    "list_partners",
    "mark_sent",
    "member_place",
    "memberships",
    "record_letter",
    "region_prefix",
    "remove_partner",
    "resolve_region",
]
