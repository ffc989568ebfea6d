"""A member's consent to keeping their location history (DESIGN.md, Privacy).

Consent is asked right after binding and can be given or withdrawn at any time with
/privacy. Without it (DECLINED) notices still reach the member, and check-ins keep only the
city they type, never a shared location; the check-in feature reads Member.consent.

Withdrawing it in /privacy (PIPL Arts. 15, 28–29) comes with the member's choice of what
check-ins keep from then on, the province or no place (Member.location_precision), and
takes effect on what is already stored: every place of theirs is coarsened to its province
or erased, coordinates included. Giving consent again restores the usual precision for
check-ins to come; what was erased stays erased.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.checkins import CHECKIN_FLOW
from storage.identity import member_accounts
from storage.models import (
    CheckIn,
    Consent,
    Conversation,
    LocationPrecision,
    LocationReport,
    LocationSource,
    Member,
)
from storage.regions import RegionIndex

__all__ = [
    "ConsentError",
    "ConsentStatus",
    "Withdrawal",
    "consent_status",
    "set_consent",
    "withdraw_location_consent",
]


class ConsentError(ValueError):
    """A consent change that cannot be made; the message says why."""


@dataclass(frozen=True, slots=True)
class ConsentStatus:
    """Where a member's consent stands and since when (None while still pending)."""

    member_id: int
    consent: Consent
    since: datetime | None
    # What check-ins keep after a withdrawal (None: as consent allows).
    precision: LocationPrecision | None = None


async def _member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise ConsentError(f"no member with id {member_id}")
    return member


async def consent_status(session: AsyncSession, member_id: int) -> ConsentStatus:
    """The member's current consent."""
    member = await _member(session, member_id)
    return _status(member)


def _status(member: Member) -> ConsentStatus:
    return ConsentStatus(member.id, member.consent, member.consent_at, member.location_precision)


async def set_consent(
    session: AsyncSession,
    now: datetime,
    member_id: int,
    consent: Consent,
    *,
    actor: str | None = None,
) -> ConsentStatus:
    """Record the member's answer, GIVEN or DECLINED (withdrawn); audited when it changes.

    Given: check-ins to come keep places as usual again (a precision chosen at a withdrawal
    is cleared). actor defaults to the member themself ("member:<id>").
    """
    if consent is Consent.PENDING:
        raise ConsentError("consent can be given or declined, not set back to pending")
    member = await _member(session, member_id)
    previous = member.consent
    if previous is consent:
        return _status(member)
    member.consent = consent
    member.consent_at = now
    member.updated_at = now
    if consent is Consent.GIVEN:
        member.location_precision = None
    await audit.record(
        session,
        now,
        actor=actor or f"member:{member.id}",
        action=f"consent.{consent.value}",
        subject=f"member:{member.id}",
        previous=previous.value,
    )
    return _status(member)


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A withdrawal of consent to location, and what it did to the places already stored."""

    status: ConsentStatus
    # Places reduced to their province, and places erased (nothing recognisable, or the
    # member keeps none).
    coarsened: int
    erased: int
    # False: it was so already (a second press), nothing was done.
    changed: bool = True


async def withdraw_location_consent(
    session: AsyncSession,
    now: datetime,
    member_id: int,
    precision: LocationPrecision,
    regions: RegionIndex,
    *,
    actor: str | None = None,
) -> Withdrawal:
    """Consent to location withdrawn (or, already withdrawn, the choice changed): check-ins
    keep at most the province from now on (or no place), and every place already stored for
    the member is reduced to that now: coordinates, cities, districts and typed text go; a
    typed place with no recognisable province goes whole. An open check-in (its draft may
    hold a pin) is ended. Audited with the choice and the counts.
    """
    member = await _member(session, member_id)
    previous = member.consent
    if previous is Consent.DECLINED and member.location_precision is precision:
        return Withdrawal(_status(member), coarsened=0, erased=0, changed=False)
    member.consent = Consent.DECLINED
    member.location_precision = precision
    if previous is not Consent.DECLINED:
        member.consent_at = now
    member.updated_at = now
    coarsened, erased = await _reduce_places(session, member.id, precision, regions)
    for platform, user_id in member_accounts(member):
        await session.execute(
            delete(Conversation).where(
                Conversation.platform == platform,
                Conversation.user_id == user_id,
                Conversation.flow == CHECKIN_FLOW,
            )
        )
    await audit.record(
        session,
        now,
        actor=actor or f"member:{member.id}",
        action="consent.declined" if previous is not Consent.DECLINED else "consent.precision",
        subject=f"member:{member.id}",
        previous=previous.value,
        precision=precision.value,
        coarsened=coarsened,
        erased=erased,
    )
    return Withdrawal(_status(member), coarsened=coarsened, erased=erased)


async def _reduce_places(
    session: AsyncSession, member_id: int, precision: LocationPrecision, regions: RegionIndex
) -> tuple[int, int]:
    """Every location report of the member down to its province, or erased: how many each."""
    reports = list(
        await session.scalars(select(LocationReport).where(LocationReport.member_id == member_id))
    )
    erase: list[int] = []
    coarsened = 0
    for report in reports:
        province = None if precision is LocationPrecision.NONE else _province_of(report, regions)
        # A pin abroad was kept as its country's name: no finer than a province.
        country = (
            report.text
            if province is None
            and report.province is None
            and report.source is LocationSource.SHARED
            and precision is LocationPrecision.PROVINCE
            else None
        )
        if province is None and country is None:
            erase.append(report.id)
            continue
        finer = (report.city, report.district, report.latitude, report.longitude)
        if any(value is not None for value in finer) or report.text != country:
            coarsened += 1
        report.province = province
        report.city = report.district = None
        report.latitude = report.longitude = None
        report.text = country
    if erase:
        await session.execute(
            update(CheckIn)
            .where(CheckIn.location_report_id.in_(erase))
            .values(location_report_id=None)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            delete(LocationReport)
            .where(LocationReport.id.in_(erase))
            .execution_options(synchronize_session=False)
        )
    return coarsened, len(erase)


def _province_of(report: LocationReport, regions: RegionIndex) -> str | None:
    """The report's province: as stored, else found from its coordinates or its text."""
    if report.province is not None:
        return report.province
    region = None
    if report.latitude is not None and report.longitude is not None:
        region = regions.resolve_point(report.latitude, report.longitude)
    if region is None and report.text and report.source is not LocationSource.SHARED:
        region = regions.resolve_text(report.text)
    return region.province if region is not None else None
