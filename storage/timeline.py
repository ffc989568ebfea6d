"""A member's page for staff (the console): the card, where they are now, how they are
reached, and their history as one timeline, newest first.

The timeline gathers what is stored about the member (check-ins, places reported, service
requests opened and closed, certificate steps, notices delivered and acknowledged, study,
ideas, the lost-contact flag) with one bounded query per kind: each takes the newest
TIMELINE_LENGTH rows through its member index, so a member with years of records costs
the same as a new one. Places are shown as their names, never as coordinates: what is
stored is already as precise as the member's consent allows (storage/consent.py).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.checkins import latest_location, place_label
from storage.models import (
    Activity,
    ActivityInvitation,
    Certificate,
    CertificateEvent,
    ChannelName,
    CheckIn,
    Delivery,
    DeliveryStatus,
    Idea,
    LocationReport,
    LocationSource,
    Member,
    Notice,
    NoticeReceipt,
    ServiceCategory,
    ServiceRequest,
    StudyMaterial,
    StudyReceipt,
    WorkSituation,
)
from storage.mydata import Named
from storage.outbox import channel_order, member_address
from storage.scope import MemberCard, open_member_card

__all__ = [
    "NOTICE_EXCERPT",
    "TIMELINE_LENGTH",
    "ChannelLine",
    "EntryKind",
    "MemberPage",
    "TimelineEntry",
    "Whereabouts",
    "member_timeline",
    "open_member_page",
]

# Entries on a member's page: a year of monthly check-ins and what happened around them.
TIMELINE_LENGTH = 50
# A notice is named by its opening words.
NOTICE_EXCERPT = 40


class EntryKind(enum.StrEnum):
    REGISTERED = "registered"
    BOUND = "bound"
    CHECKIN = "checkin"
    LOCATION = "location"
    REQUEST_OPENED = "request_opened"
    REQUEST_CLOSED = "request_closed"
    CERTIFICATE = "certificate"
    NOTICE = "notice"
    NOTICE_ACKNOWLEDGED = "notice_acknowledged"
    STUDY = "study"
    IDEA = "idea"
    ACTIVITY_ANSWERED = "activity_answered"
    ACTIVITY_ATTENDED = "activity_attended"
    LOST_CONTACT = "lost_contact"
    LOST_CONTACT_CONFIRMED = "lost_contact_confirmed"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened, and the little a line about it needs (per kind)."""

    at: datetime
    kind: EntryKind
    # A place (check-in, location), a notice's opening words, a material's title.
    text: str | None = None
    # A request's category, in both languages.
    named: Named | None = None
    # The request, certificate or notice it is about.
    record_id: int | None = None
    # A request's status when closed, a certificate's step, a location's source,
    # an idea's kind, the channel a notice went by.
    step: str | None = None
    situation: WorkSituation | None = None
    needs_help: bool = False


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """The member's newest place, by name."""

    place: str
    reported_at: datetime
    source: LocationSource


@dataclass(frozen=True, slots=True)
class ChannelLine:
    """One channel in the order the member is tried, and whether it reaches them now."""

    channel: ChannelName
    reachable: bool


@dataclass(frozen=True, slots=True)
class MemberPage:
    card: MemberCard
    where_now: Whereabouts | None
    # The order as set ("sms,telegram"; None: the default), and as tried.
    channels: str | None
    channel_order: Sequence[ChannelLine]
    timeline: Sequence[TimelineEntry]
    # Older entries exist beyond the ones shown.
    timeline_more: bool


def _place(report: LocationReport | None) -> str | None:
    if report is None:
        return None
    return place_label(report.province, report.city, report.district, report.text) or None


async def _checkins(session: AsyncSession, member_id: int, limit: int) -> list[TimelineEntry]:
    rows = await session.execute(
        select(CheckIn, LocationReport)
        .outerjoin(LocationReport, LocationReport.id == CheckIn.location_report_id)
        .where(CheckIn.member_id == member_id)
        .order_by(CheckIn.checked_in_at.desc(), CheckIn.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            at=checkin.checked_in_at,
            kind=EntryKind.CHECKIN,
            text=_place(report),
            step=checkin.period,
            situation=checkin.work_situation,
            needs_help=checkin.needs_help,
        )
        for checkin, report in rows
    ]


async def _locations(session: AsyncSession, member_id: int, limit: int) -> list[TimelineEntry]:
    # A check-in's place is on the check-in's line; these are the places reported besides.
    of_checkins = select(CheckIn.location_report_id).where(
        CheckIn.member_id == member_id, CheckIn.location_report_id.is_not(None)
    )
    rows = await session.scalars(
        select(LocationReport)
        .where(LocationReport.member_id == member_id, LocationReport.id.not_in(of_checkins))
        .order_by(LocationReport.reported_at.desc(), LocationReport.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            at=row.reported_at, kind=EntryKind.LOCATION, text=_place(row), step=row.source.value
        )
        for row in rows
    ]


async def _requests(session: AsyncSession, member_id: int, limit: int) -> list[TimelineEntry]:
    rows = await session.execute(
        select(ServiceRequest, ServiceCategory)
        .join(ServiceCategory, ServiceCategory.id == ServiceRequest.category_id)
        .where(ServiceRequest.member_id == member_id)
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        .limit(limit)
    )
    entries = []
    for request, category in rows:
        named = Named(category.name_zh, category.name_en)
        entries.append(
            TimelineEntry(
                at=request.created_at,
                kind=EntryKind.REQUEST_OPENED,
                named=named,
                record_id=request.id,
            )
        )
        if request.closed_at is not None:
            entries.append(
                TimelineEntry(
                    at=request.closed_at,
                    kind=EntryKind.REQUEST_CLOSED,
                    named=named,
                    record_id=request.id,
                    step=request.status.value,
                )
            )
    return entries


async def _certificates(session: AsyncSession, member_id: int, limit: int) -> list[TimelineEntry]:
    rows = await session.execute(
        select(CertificateEvent.at, CertificateEvent.step, CertificateEvent.certificate_id)
        .join(Certificate, Certificate.id == CertificateEvent.certificate_id)
        .where(Certificate.member_id == member_id)
        .order_by(CertificateEvent.at.desc(), CertificateEvent.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(at=at, kind=EntryKind.CERTIFICATE, record_id=certificate_id, step=step)
        for at, step, certificate_id in rows
    ]


async def _notices(session: AsyncSession, member_id: int, limit: int) -> list[TimelineEntry]:
    reached = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
    rows = list(
        await session.execute(
            select(Delivery, Notice.body)
            .join(Notice, Notice.id == Delivery.notice_id)
            .where(Delivery.member_id == member_id, Delivery.status.in_(reached))
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            .limit(limit)
        )
    )
    entries = [
        TimelineEntry(
            at=delivery.delivered_at or delivery.sent_at or delivery.created_at,
            kind=EntryKind.NOTICE,
            text=_excerpt(body),
            record_id=delivery.notice_id,
            step=delivery.channel.value if delivery.channel else None,
        )
        for delivery, body in rows
    ]
    notice_ids = {delivery.notice_id for delivery, _ in rows}
    if notice_ids:
        # Receipts of the notices shown: the primary key (notice, member) finds each.
        receipts = await session.scalars(
            select(NoticeReceipt).where(
                NoticeReceipt.notice_id.in_(notice_ids), NoticeReceipt.member_id == member_id
            )
        )
        entries += [
            TimelineEntry(
                at=receipt.acknowledged_at,
                kind=EntryKind.NOTICE_ACKNOWLEDGED,
                record_id=receipt.notice_id,
            )
            for receipt in receipts
        ]
    return entries


def _excerpt(body: str) -> str:
    line = " ".join(body.split())
    return line if len(line) <= NOTICE_EXCERPT else line[: NOTICE_EXCERPT - 1] + "…"


async def _study(session: AsyncSession, member_id: int, limit: int) -> list[TimelineEntry]:
    rows = await session.execute(
        select(StudyReceipt.studied_at, StudyMaterial.title)
        .join(StudyMaterial, StudyMaterial.id == StudyReceipt.material_id)
        .where(StudyReceipt.member_id == member_id)
        .order_by(StudyReceipt.studied_at.desc())
        .limit(limit)
    )
    return [TimelineEntry(at=at, kind=EntryKind.STUDY, text=title) for at, title in rows]


async def _ideas(session: AsyncSession, member_id: int, limit: int) -> list[TimelineEntry]:
    rows = await session.execute(
        select(Idea.created_at, Idea.kind, Idea.id)
        .where(Idea.member_id == member_id)
        .order_by(Idea.created_at.desc(), Idea.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(at=at, kind=EntryKind.IDEA, record_id=idea_id, step=kind.value)
        for at, kind, idea_id in rows
    ]


async def _activities(session: AsyncSession, member_id: int, limit: int) -> list[TimelineEntry]:
    rows = await session.execute(
        select(ActivityInvitation, Activity.title)
        .join(Activity, Activity.id == ActivityInvitation.activity_id)
        .where(
            ActivityInvitation.member_id == member_id,
            or_(
                ActivityInvitation.answered_at.is_not(None),
                ActivityInvitation.attended_at.is_not(None),
            ),
        )
        .order_by(Activity.starts_at.desc(), Activity.id.desc())
        .limit(limit)
    )
    entries = []
    for invitation, title in rows:
        if invitation.answered_at is not None and invitation.answer is not None:
            entries.append(
                TimelineEntry(
                    at=invitation.answered_at,
                    kind=EntryKind.ACTIVITY_ANSWERED,
                    text=title,
                    record_id=invitation.activity_id,
                    step=invitation.answer.value,
                )
            )
        if invitation.attended_at is not None:
            entries.append(
                TimelineEntry(
                    at=invitation.attended_at,
                    kind=EntryKind.ACTIVITY_ATTENDED,
                    text=title,
                    record_id=invitation.activity_id,
                )
            )
    return entries


def _record(member: Member) -> list[TimelineEntry]:
    entries = [TimelineEntry(at=member.registered_at, kind=EntryKind.REGISTERED)]
    if member.bound_at is not None:
        entries.append(TimelineEntry(at=member.bound_at, kind=EntryKind.BOUND))
    if member.lost_contact_at is not None:
        entries.append(TimelineEntry(at=member.lost_contact_at, kind=EntryKind.LOST_CONTACT))
    if member.lost_contact_confirmed_at is not None:
        entries.append(
            TimelineEntry(
                at=member.lost_contact_confirmed_at,
                kind=EntryKind.LOST_CONTACT_CONFIRMED,
            )
        )
    return entries


async def member_timeline(
    session: AsyncSession, member: Member, *, limit: int = TIMELINE_LENGTH
) -> tuple[list[TimelineEntry], bool]:
    """The member's history, newest first, at most limit entries; and whether there is more.

    Not scoped: for a member the caller already found in the staff member's scope.
    """
    entries = _record(member)
    for part in (
        _checkins,
        _locations,
        _requests,
        _certificates,
        _notices,
        _study,
        _ideas,
        _activities,
    ):
        entries += await part(session, member.id, limit)
    # Ties (a request opened and closed in one step) keep the later step on top.
    order = {kind: rank for rank, kind in enumerate(EntryKind)}
    entries.sort(key=lambda e: (e.at, order[e.kind]), reverse=True)
    return entries[:limit], len(entries) > limit


async def open_member_page(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int,
    actor: str,
    member_id: int | None,
    requested: str,
    default_zone: tzinfo,
    limit: int = TIMELINE_LENGTH,
) -> MemberPage | None:
    """A member's page, or None outside staff_id's scope (or not there: member_id None for
    a forged id). Audited as the bot's card is (storage/scope.py open_member_card)."""
    card = await open_member_card(
        session,
        now,
        staff_id=staff_id,
        actor=actor,
        member_id=member_id,
        requested=requested,
        default_zone=default_zone,
    )
    if card is None:
        return None
    member = await session.get(Member, card.member_id)
    assert member is not None  # the card was just read in this transaction
    report = await latest_location(session, member.id)
    place = _place(report)
    where_now = (
        Whereabouts(place=place, reported_at=report.reported_at, source=report.source)
        if report is not None and place is not None
        else None
    )
    timeline, more = await member_timeline(session, member, limit=limit)
    return MemberPage(
        card=card,
        where_now=where_now,
        channels=member.channels,
        channel_order=[
            ChannelLine(channel, member_address(member, channel) is not None)
            for channel in channel_order(member)
        ],
        timeline=timeline,
        timeline_more=more,
    )
