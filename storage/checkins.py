"""Monthly check-ins ("三清楚": where members are, how they are) and the location history."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from storage.models import (
    CheckIn,
    Consent,
    Delivery,
    DeliveryStatus,
    LocationPrecision,
    LocationReport,
    LocationSource,
    Member,
    MemberStatus,
    WorkSituation,
)
from storage.phones import mask_phone
from storage.regions import Region, RegionIndex

# The check-in conversation's name in the conversations table: withdrawing consent drops
# an open one, whose draft may hold a pin (storage.consent).
CHECKIN_FLOW = "checkin"

# Topics of the cycle's member messages: "chk:2026-11:prompt", "chk:2026-11:r1" …
CHECKIN_TOPIC = "chk"
CHECKED_IN = "checked in meanwhile"

# The width of LocationReport.text: a typed place longer than this cannot be kept whole.
MAX_PLACE_LENGTH = 200


class CheckInError(ValueError):
    """A check-in that cannot be recorded; the message says why, reason is for templates:
    no_member, no_consent (a pin without consent), too_long, no_place, nothing_to_repeat,
    already (this month has one)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class AlreadyCheckedIn(CheckInError):
    """ "Same as last month" for a month that already has a check-in."""

    def __init__(self, period: str) -> None:
        super().__init__(f"already checked in for {period}", "already")
        self.period = period


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """Where a member says they are: what they typed and/or a pin, and the region found."""

    text: str | None = None
    region: Region | None = None
    latitude: float | None = None
    longitude: float | None = None
    # A pin reduced at once to its province (or country abroad): shared, no coordinates.
    from_pin: bool = False

    @classmethod
    def typed(cls, text: str, region: Region | None) -> Whereabouts:
        """A typed place, kept as typed whether or not it was recognised."""
        return cls(text=text.strip(), region=region)

    @classmethod
    def shared(cls, latitude: float, longitude: float, region: Region | None) -> Whereabouts:
        """A pin shared from the member's phone."""
        return cls(region=region, latitude=latitude, longitude=longitude)

    @property
    def is_pin(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def source(self) -> LocationSource:
        return LocationSource.SHARED if self.is_pin or self.from_pin else LocationSource.TYPED

    def at_most_province(self, regions: RegionIndex) -> Whereabouts | None:
        """Only the province (a pin abroad: the country's name), without what was typed or
        the coordinates; None when no province can be recognised."""
        region = self.region
        if region is None and self.text and not self.is_pin and not self.from_pin:
            region = regions.resolve_text(self.text)
        from_pin = self.is_pin or self.from_pin
        if region is not None:
            province = regions.province_of(region)
            return None if province is None else Whereabouts(region=province, from_pin=from_pin)
        if from_pin and self.text:
            # Abroad: the country's name, no finer than a province.
            return Whereabouts(text=self.text, from_pin=True)
        return None

    @property
    def label(self) -> str:
        """The region if recognised, else the text as typed."""
        if self.region is not None:
            return self.region.label()
        return self.text or ""


def place_label(
    province: str | None, city: str | None, district: str | None, text: str | None
) -> str:
    """ "湖北省 武汉市 江汉区" (a name repeated at the next level once), else the typed text."""
    parts: list[str] = []
    for part in (province, city, district):
        if part and (not parts or parts[-1] != part):
            parts.append(part)
    return " ".join(parts) if parts else (text or "")


def member_zone(timezone: str | None, default: tzinfo) -> tzinfo:
    """The member's own time zone if set and known, else the service default."""
    if timezone:
        try:
            return ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return default
    return default


def period_of(now: datetime, zone: tzinfo) -> str:
    """The check-in period of an instant: the calendar month "YYYY-MM" in zone."""
    if now.tzinfo is None:
        raise ValueError("period_of needs an aware datetime")
    return now.astimezone(zone).strftime("%Y-%m")


async def record_checkin(
    session: AsyncSession,
    now: datetime,
    *,
    member_id: int,
    zone: tzinfo,
    location: Whereabouts | None,
    work_situation: WorkSituation,
    work_note: str | None = None,
    needs_help: bool = False,
    needs_text: str | None = None,
    store_coordinates: bool = False,
) -> CheckIn:
    """Store a check-in and its location report; the period is the month in the member's zone.

    zone is the default for members without a time zone of their own. Several check-ins in
    one period are all kept; the latest counts. Exact coordinates are kept only when the
    member has given consent and store_coordinates is on; otherwise province/city/district
    (and any typed text). A pin from a member who has not given consent is refused, unless
    they chose to keep the province only: then, as for every place they give, nothing
    finer than the province is stored (and nothing at all if they chose no place).
    """
    member = await session.get(Member, member_id)
    if member is None:
        raise CheckInError(f"no member {member_id}", "no_member")
    precision = member.location_precision
    if location is None:
        if precision is not LocationPrecision.NONE:
            raise CheckInError("no place to record", "no_place")
    elif location.is_pin and member.consent is not Consent.GIVEN and precision is None:
        raise CheckInError(
            "the member has not agreed to share a location; type the place", "no_consent"
        )
    text = location.text.strip() if location and location.text else None
    if text is not None and len(text) > MAX_PLACE_LENGTH:
        raise CheckInError(f"a place may have at most {MAX_PLACE_LENGTH} characters", "too_long")
    keep_pin = location is not None and location.is_pin and store_coordinates
    region = location.region if location else None
    if location is not None and not text and region is None and not keep_pin:
        raise CheckInError("no place to record", "no_place")

    report = _within_precision(
        member,
        LocationReport(
            member_id=member.id,
            reported_at=now,
            source=location.source if location else LocationSource.TYPED,
            text=text or None,
            province=region.province if region else None,
            city=region.city if region else None,
            district=region.district if region else None,
            latitude=location.latitude if location and keep_pin else None,
            longitude=location.longitude if location and keep_pin else None,
        ),
    )
    if report is not None:
        session.add(report)
        await session.flush()
    checkin = CheckIn(
        member_id=member.id,
        period=period_of(now, member_zone(member.timezone, zone)),
        checked_in_at=now,
        location_report_id=report.id if report else None,
        work_situation=work_situation,
        work_note=work_note or None,
        needs_help=needs_help,
        needs_text=(needs_text or None) if needs_help else None,
    )
    session.add(checkin)
    await session.flush()
    checkin.location = report
    await _checked_in_for(session, now, member, checkin.period)
    return checkin


def _within_precision(member: Member, report: LocationReport) -> LocationReport | None:
    """The report as the member's consent lets it be kept: after a withdrawal, the province
    at most (a pin abroad: its country) or nothing; never coordinates without consent."""
    precision = member.location_precision
    if precision is LocationPrecision.NONE:
        return None
    if member.consent is not Consent.GIVEN:
        report.latitude = report.longitude = None
    if precision is LocationPrecision.PROVINCE:
        if report.province is not None or report.source is not LocationSource.SHARED:
            # What was typed may name a street: only the recognised province stays.
            report.text = None
        report.city = report.district = None
        if report.province is None and report.text is None:
            return None
    return report


async def _checked_in_for(
    session: AsyncSession, now: datetime, member: Member, period: str
) -> None:
    """The month is done: its prompt or reminders still waiting (quiet hours) are dropped,
    and a member flagged lost contact is back."""
    await session.execute(
        update(Delivery)
        .where(
            Delivery.member_id == member.id,
            Delivery.topic.startswith(f"{CHECKIN_TOPIC}:{period}:", autoescape=True),
            Delivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.SUPPRESSED, last_error=CHECKED_IN, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    if member.lost_contact_at is not None:
        member.lost_contact_at = None
        member.lost_contact_confirmed_at = None
        member.lost_contact_confirmed_by = None


async def same_as_last_month(
    session: AsyncSession, now: datetime, *, member_id: int, zone: tzinfo
) -> CheckIn:
    """Check in with the previous check-in's place and situation ("nothing has changed").

    CheckInError if there is nothing to repeat, or the member already checked in this month.
    The place is copied only as finely as the member's consent now allows: after consent to
    location was withdrawn, the province at most (or no place), never the coordinates.
    """
    member = await session.get(Member, member_id)
    if member is None:
        raise CheckInError(f"no member {member_id}", "no_member")
    period = period_of(now, member_zone(member.timezone, zone))
    previous = await latest_checkin(session, member_id)
    # The latest check-in is this month's if there is one (periods only move forward).
    if previous is not None and previous.period == period:
        raise AlreadyCheckedIn(period)
    keeps_none = member.location_precision is LocationPrecision.NONE
    if previous is None or (previous.location is None and not keeps_none):
        raise CheckInError("no earlier check-in to repeat", "nothing_to_repeat")
    old = previous.location
    report = None
    if old is not None:
        report = _within_precision(
            member,
            LocationReport(
                member_id=member.id,
                reported_at=now,
                source=old.source,
                text=old.text,
                province=old.province,
                city=old.city,
                district=old.district,
                latitude=old.latitude,
                longitude=old.longitude,
            ),
        )
    if report is not None:
        session.add(report)
        await session.flush()
    checkin = CheckIn(
        member_id=member.id,
        period=period,
        checked_in_at=now,
        location_report_id=report.id if report else None,
        work_situation=previous.work_situation,
        work_note=previous.work_note,
        needs_help=False,
    )
    session.add(checkin)
    await session.flush()
    checkin.location = report
    await _checked_in_for(session, now, member, period)
    return checkin


@dataclass(frozen=True, slots=True)
class PreviousCheckIn:
    """A member's latest check-in, as a prompt offers to repeat it."""

    period: str
    place: str | None
    work_situation: WorkSituation
    # "Same as last month" may repeat it: it has a place, or the member keeps none.
    repeatable: bool = True


async def last_checkins(
    session: AsyncSession, member_ids: Collection[int]
) -> dict[int, PreviousCheckIn]:
    """The latest check-in of each member given (who has one), in one query."""
    latest = (
        select(func.max(CheckIn.id).label("id"))
        .where(CheckIn.member_id.in_(list(member_ids)))
        .group_by(CheckIn.member_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            CheckIn.member_id,
            CheckIn.period,
            CheckIn.work_situation,
            LocationReport.province,
            LocationReport.city,
            LocationReport.district,
            LocationReport.text,
            Member.location_precision,
        )
        .join(latest, latest.c.id == CheckIn.id)
        .join(Member, Member.id == CheckIn.member_id)
        .outerjoin(LocationReport, LocationReport.id == CheckIn.location_report_id)
    )
    found: dict[int, PreviousCheckIn] = {}
    for member_id, period, work, province, city, district, text, precision in rows:
        if member_id is None:
            continue  # never here (joined to its member); an erased member's check-ins have none
        place = place_label(province, city, district, text) or None
        found[member_id] = PreviousCheckIn(
            period=period,
            place=place,
            work_situation=work,
            repeatable=place is not None or precision is LocationPrecision.NONE,
        )
    return found


async def latest_checkin(session: AsyncSession, member_id: int) -> CheckIn | None:
    """The member's most recent check-in (its location loaded), or None if never."""
    return await session.scalar(
        select(CheckIn)
        .where(CheckIn.member_id == member_id)
        .options(joinedload(CheckIn.location))
        .order_by(CheckIn.checked_in_at.desc(), CheckIn.id.desc())
        .limit(1)
    )


async def checked_in(session: AsyncSession, member_id: int, period: str) -> bool:
    """Whether the member has checked in at least once in period ("YYYY-MM")."""
    found = await session.scalar(
        select(CheckIn.id).where(CheckIn.member_id == member_id, CheckIn.period == period).limit(1)
    )
    return found is not None


async def latest_location(session: AsyncSession, member_id: int) -> LocationReport | None:
    """The newest entry of the member's location history."""
    return await session.scalar(
        select(LocationReport)
        .where(LocationReport.member_id == member_id)
        .order_by(LocationReport.reported_at.desc(), LocationReport.id.desc())
        .limit(1)
    )


async def last_place(session: AsyncSession, member_id: int) -> str | None:
    """The member's last known place as a line they can send again ("still here")."""
    report = await latest_location(session, member_id)
    if report is None:
        return None
    return place_label(report.province, report.city, report.district, report.text) or None


@dataclass(frozen=True, slots=True)
class LastCheckIn:
    checked_in_at: datetime
    period: str
    work_situation: WorkSituation
    needs_help: bool


@dataclass(frozen=True, slots=True)
class CurrentLocation:
    label: str
    reported_at: datetime
    source: LocationSource
    # False when the place was kept as typed, without a recognised region.
    recognised: bool


@dataclass(frozen=True, slots=True)
class Registration:
    """What /where shows a member about their own record; the phone is masked."""

    member_id: int
    name: str
    status: MemberStatus
    phone_masked: str | None
    home_unit: str | None
    groups: tuple[str, ...]
    origin: str | None
    destination: str | None
    workplace: str | None
    consent: Consent
    last_checkin: LastCheckIn | None
    location: CurrentLocation | None


async def registration(session: AsyncSession, member_id: int) -> Registration | None:
    """The member's registration, last check-in and current location; None if no member."""
    member = await session.scalar(
        select(Member)
        .where(Member.id == member_id)
        .options(selectinload(Member.home_unit), selectinload(Member.groups))
    )
    if member is None:
        return None
    checkin = await latest_checkin(session, member_id)
    report = await latest_location(session, member_id)
    return Registration(
        member_id=member.id,
        name=member.name,
        status=member.status,
        phone_masked=mask_phone(member.phone) if member.phone else None,
        home_unit=member.home_unit.name if member.home_unit else None,
        groups=tuple(sorted(group.name for group in member.groups)),
        origin=member.origin,
        destination=member.destination,
        workplace=member.workplace,
        consent=member.consent,
        last_checkin=LastCheckIn(
            checked_in_at=checkin.checked_in_at,
            period=checkin.period,
            work_situation=checkin.work_situation,
            needs_help=checkin.needs_help,
        )
        if checkin
        else None,
        location=CurrentLocation(
            label=place_label(report.province, report.city, report.district, report.text),
            reported_at=report.reported_at,
            source=report.source,
            recognised=any((report.province, report.city, report.district)),
        )
        if report
        else None,
    )


__all__ = [
    "CHECKIN_FLOW",
    "CHECKIN_TOPIC",
    "MAX_PLACE_LENGTH",
    "AlreadyCheckedIn",
    "CheckInError",
    "CurrentLocation",
    "LastCheckIn",
    "PreviousCheckIn",
    "Registration",
    "Whereabouts",
    "checked_in",
    "last_checkins",
    "last_place",
    "latest_checkin",
    "latest_location",
    "member_zone",
    "period_of",
    "place_label",
    "record_checkin",
    "registration",
    "same_as_last_month",
]
