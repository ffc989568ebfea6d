"""A member's own data, all of it (PIPL Arts. 44–45: the right to see and to copy).

`member_data` gathers everything stored about one member into one typed structure: the
/mydata summary, the files sent with it and `liaison member data` all read it. Every query
here starts from the member's id, so nothing of another member can come along; staff appear
by name and role only, as the people who looked at the member's records.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import audit
from storage.checkins import place_label
from storage.models import (
    Activity,
    ActivityAnswer,
    ActivityInvitation,
    ActivityKind,
    AttendanceSource,
    AuditEvent,
    Certificate,
    CertificateEvent,
    CertificateStatus,
    CheckIn,
    Commendation,
    Consent,
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    Delivery,
    Idea,
    IdeaKind,
    IdeaStatus,
    InboundSms,
    Invite,
    LocationPrecision,
    LocationReport,
    LocationSource,
    Member,
    MemberStatus,
    NoticeReceipt,
    RatingAdjustment,
    RequestEventKind,
    RequestStatus,
    ServiceCategory,
    ServiceMeasure,
    ServiceRequest,
    ServiceRequestEvent,
    Staff,
    StudyMaterial,
    StudyReceipt,
    WorkSituation,
)

__all__ = [
    "CONSENT_ACTIONS",
    "DATA_COPY",
    "LISTING_ACTIONS",
    "VIEWS_WINDOW",
    "VIEW_ACTIONS",
    "ActivityRecord",
    "AdjustmentRecord",
    "CertificateRecord",
    "CheckInRecord",
    "CommendationRecord",
    "ConsentRecord",
    "DataRequestRecord",
    "DeliveryRecord",
    "IdeaRecord",
    "InviteRecord",
    "LocationRecord",
    "MemberData",
    "Named",
    "NoticeReceiptRecord",
    "Registration",
    "RequestRecord",
    "StaffView",
    "StepRecord",
    "StudyRecord",
    "as_json",
    "member_data",
]

# The audit action of a copy of a member's data, by the member or an operator.
DATA_COPY = "member.data_copy"

# How far back the member is told who looked at their records.
VIEWS_WINDOW = timedelta(days=365)

# Audit actions in which someone saw a member's records (a card, a request, an idea, a
# certificate, a letter about it, a copy of the whole): what "who looked at my data" lists.
VIEW_ACTIONS = (
    "member.view",
    # Their whole phone number, shown for a call (the console's "show phone").
    "member.phone_reveal",
    "request.view",
    "request.attachment",
    "certificate.view",
    "certificate.letter",
    "idea.view",
    # A look at the member's correction or deletion request (found: see _staff_views).
    "rights.view",
    DATA_COPY,
)

# Audit actions of lists that named the member among others; the audit row's detail holds
# the listed member ids ("members"), not a subject (storage/overdue.py overdue_view).
LISTING_ACTIONS = ("overdue.view", "activity.view", "rating.rank.view", "rating.rank.export")

# The consent history: given, declined or withdrawn, and (after a withdrawal) what
# check-ins keep changed (storage/consent.py).
CONSENT_ACTIONS = ("consent.given", "consent.declined", "consent.precision")


@dataclass(frozen=True, slots=True)
class Named:
    """A name the organisation keeps in both languages (a service category or measure)."""

    zh: str
    en: str

    def in_(self, locale: str) -> str:
        return self.en if locale == "en" else self.zh


@dataclass(frozen=True, slots=True)
class Registration:
    """The member's record as registered: shown whole, phone included (it is their own)."""

    member_id: int
    name: str
    phone: str | None
    status: MemberStatus
    home_unit: str | None
    origin: str | None
    destination: str | None
    workplace: str | None
    trade: str | None
    telegram_bound: bool
    qq_bound: bool
    locale: str | None
    timezone: str | None
    channels: str | None
    consent: Consent
    consent_at: datetime | None
    # After a withdrawal: the finest place check-ins keep (None: as the consent allows).
    location_precision: LocationPrecision | None
    registered_at: datetime
    bound_at: datetime | None
    lost_contact_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LocationRecord:
    """One entry of the location history (typed, shared as a pin, or from the roster)."""

    reported_at: datetime
    source: LocationSource
    place: str
    text: str | None
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True, slots=True)
class CheckInRecord:
    """A monthly check-in and the place given with it."""

    checked_in_at: datetime
    period: str
    place: str | None
    latitude: float | None
    longitude: float | None
    work_situation: WorkSituation
    work_note: str | None
    needs_help: bool
    needs_text: str | None


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step of a request or certificate as the member was told of it."""

    at: datetime
    step: str
    by: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    id: int
    category: Named
    measure: Named | None
    description: str
    attachment_name: str | None
    status: RequestStatus
    referred_to: str | None
    created_at: datetime
    due_at: datetime
    closed_at: datetime | None
    answer: str | None
    solved: bool | None
    satisfaction: int | None
    feedback_comment: str | None
    steps: tuple[StepRecord, ...]


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    id: int
    reverse: bool
    origin_organisation: str
    destination: str
    reason: str
    expected_months: int
    status: CertificateStatus
    number: str | None
    created_at: datetime
    issued_at: datetime | None
    review_due_on: date | None
    steps: tuple[StepRecord, ...]


@dataclass(frozen=True, slots=True)
class IdeaRecord:
    id: int
    kind: IdeaKind
    body: str
    status: IdeaStatus
    created_at: datetime
    reply: str | None
    replied_at: datetime | None
    replied_by: str | None
    adopted_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """Consent to the location history given or withdrawn, or the choice of what check-ins
    keep changed: when, by whom, and what it did to the places already kept."""

    at: datetime
    # The consent after it (a change of the choice leaves it declined).
    consent: Consent
    by_self: bool
    # "given", "declined" or "precision" (the choice changed while withdrawn).
    change: str
    # What check-ins keep from then on, when chosen at a withdrawal (None: not chosen).
    precision: LocationPrecision | None = None
    # Places reduced to their province and places erased then (None: not a withdrawal).
    coarsened: int | None = None
    erased: int | None = None


@dataclass(frozen=True, slots=True)
class DataRequestRecord:
    """The member's request to correct a field of their record, or to delete their data."""

    id: int
    kind: DataRequestKind
    # A correction: the field (storage/rights.py Field) and the value proposed.
    field: str | None
    proposed: str | None
    status: DataRequestStatus
    created_at: datetime
    decided_at: datetime | None
    # Who decided it, by name and role (None: the member, withdrawing it by proposing again).
    decided_by: str | None
    decided_by_role: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class StaffView:
    """Someone of the organisation saw the member's records: when, who, what."""

    at: datetime
    # "admin", "liaison" or "operator" (the command line); the name as it is now.
    role: str
    name: str
    action: str
    # What was seen: "member:5", "request:12", "certificate:3", "idea:7".
    record: str


@dataclass(frozen=True, slots=True)
class StudyRecord:
    title: str
    studied_at: datetime


@dataclass(frozen=True, slots=True)
class NoticeReceiptRecord:
    notice_id: int
    acknowledged_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A message sent to the member (what kind, how, how far it got); not its text."""

    kind: str
    channel: str | None
    status: str
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class SmsRecord:
    """An SMS the member sent in: when, what, what the keywords made of it, and when staff
    answered it (storage/sms_inbox.py)."""

    received_at: datetime
    text: str
    # "checkin", "same", "stop", "resume", "help" or "other" (for staff); None: not read yet.
    intent: str | None
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """An activity the member was invited to (or marked as attending): their answer and
    whether, when and how they attended."""

    activity_id: int
    title: str
    kind: ActivityKind
    starts_at: datetime
    invited: bool
    answer: ActivityAnswer | None
    answered_at: datetime | None
    attended_at: datetime | None
    attendance: AttendanceSource | None
    # On the waiting list since (None: not on it); the activity cancelled when.
    waiting_since: datetime | None = None
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AdjustmentRecord:
    """Points staff added to or took from the member's yearly rating, with the reason."""

    year: int
    points: int
    reason: str
    made_at: datetime


@dataclass(frozen=True, slots=True)
class CommendationRecord:
    """The member on a year's commendation list (shown once they were told of it)."""

    year: int
    citation: str | None
    notified_at: datetime


@dataclass(frozen=True, slots=True)
class InviteRecord:
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class MemberData:
    """Everything stored about one member, newest first within each kind."""

    generated_at: datetime
    registration: Registration
    groups: tuple[str, ...]
    checkins: tuple[CheckInRecord, ...]
    locations: tuple[LocationRecord, ...]
    requests: tuple[RequestRecord, ...]
    certificates: tuple[CertificateRecord, ...]
    ideas: tuple[IdeaRecord, ...]
    consents: tuple[ConsentRecord, ...]
    data_requests: tuple[DataRequestRecord, ...]
    staff_views: tuple[StaffView, ...]
    study: tuple[StudyRecord, ...]
    notice_receipts: tuple[NoticeReceiptRecord, ...]
    deliveries: tuple[DeliveryRecord, ...]
    invites: tuple[InviteRecord, ...]
    sms: tuple[SmsRecord, ...] = ()
    activities: tuple[ActivityRecord, ...] = ()
    adjustments: tuple[AdjustmentRecord, ...] = ()
    commendations: tuple[CommendationRecord, ...] = ()


# --- who an audit actor is -------------------------------------------------------------


async def _people(session: AsyncSession, actors: Iterable[str]) -> dict[str, tuple[str, str]]:
    """(role, name) of each actor "staff:<id>" or "cli:<user>"; others are left out."""
    staff_ids = {
        int(actor.removeprefix("staff:"))
        for actor in actors
        if actor.startswith("staff:") and actor.removeprefix("staff:").isdigit()
    }
    known: dict[str, tuple[str, str]] = {}
    if staff_ids:
        for row in await session.scalars(select(Staff).where(Staff.id.in_(staff_ids))):
            known[f"staff:{row.id}"] = (row.role.value, row.name)
    for actor in actors:
        if actor.startswith("cli:"):
            known[actor] = ("operator", actor.removeprefix("cli:"))
        elif actor.startswith("staff:") and actor not in known:
            known[actor] = ("staff", f"#{actor.removeprefix('staff:')}")  # since removed
    return known


# --- the parts -------------------------------------------------------------------------


def _registration(member: Member) -> Registration:
    return Registration(
        member_id=member.id,
        name=member.name,
        phone=member.phone,
        status=member.status,
        home_unit=member.home_unit.name if member.home_unit else None,
        origin=member.origin,
        destination=member.destination,
        workplace=member.workplace,
        trade=member.trade,
        telegram_bound=member.telegram_user_id is not None,
        qq_bound=member.qq_user_id is not None,
        locale=member.locale,
        timezone=member.timezone,
        channels=member.channels,
        consent=member.consent,
        consent_at=member.consent_at,
        location_precision=member.location_precision,
        registered_at=member.registered_at,
        bound_at=member.bound_at,
        lost_contact_at=member.lost_contact_at,
        updated_at=member.updated_at,
    )


def _place(report: LocationReport | None) -> str | None:
    if report is None:
        return None
    return place_label(report.province, report.city, report.district, report.text) or None


async def _checkins(session: AsyncSession, member_id: int) -> tuple[CheckInRecord, ...]:
    rows = await session.execute(
        select(CheckIn, LocationReport)
        .outerjoin(LocationReport, LocationReport.id == CheckIn.location_report_id)
        .where(CheckIn.member_id == member_id)
        .order_by(CheckIn.checked_in_at.desc(), CheckIn.id.desc())
    )
    return tuple(
        CheckInRecord(
            checked_in_at=checkin.checked_in_at,
            period=checkin.period,
            place=_place(report),
            latitude=report.latitude if report else None,
            longitude=report.longitude if report else None,
            work_situation=checkin.work_situation,
            work_note=checkin.work_note,
            needs_help=checkin.needs_help,
            needs_text=checkin.needs_text,
        )
        for checkin, report in rows
    )


async def _locations(session: AsyncSession, member_id: int) -> tuple[LocationRecord, ...]:
    rows = await session.scalars(
        select(LocationReport)
        .where(LocationReport.member_id == member_id)
        .order_by(LocationReport.reported_at.desc(), LocationReport.id.desc())
    )
    return tuple(
        LocationRecord(
            reported_at=row.reported_at,
            source=row.source,
            place=_place(row) or "",
            text=row.text,
            latitude=row.latitude,
            longitude=row.longitude,
        )
        for row in rows
    )


async def _requests(session: AsyncSession, member_id: int) -> tuple[RequestRecord, ...]:
    rows = list(
        await session.execute(
            select(ServiceRequest, ServiceCategory, ServiceMeasure)
            .join(ServiceCategory, ServiceCategory.id == ServiceRequest.category_id)
            .outerjoin(ServiceMeasure, ServiceMeasure.id == ServiceRequest.measure_id)
            .where(ServiceRequest.member_id == member_id)
            .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        )
    )
    steps: dict[int, list[StepRecord]] = {}
    if rows:
        # Only the steps the member was told of: notes between staff stay internal, as in
        # /myrequests (they may speak of other people).
        events = await session.scalars(
            select(ServiceRequestEvent)
            .where(
                ServiceRequestEvent.request_id.in_([r.id for r, _, _ in rows]),
                ServiceRequestEvent.shown_to_member.is_(True),
                ServiceRequestEvent.kind.in_(
                    [RequestEventKind.CREATED, RequestEventKind.STATUS, RequestEventKind.FEEDBACK]
                ),
            )
            .order_by(ServiceRequestEvent.at, ServiceRequestEvent.id)
        )
        for event in events:
            step = event.status.value if event.status else event.kind.value
            by = None if event.actor.startswith("member:") else event.actor_name
            steps.setdefault(event.request_id, []).append(
                StepRecord(at=event.at, step=step, by=by, note=event.note)
            )
    return tuple(
        RequestRecord(
            id=request.id,
            category=Named(category.name_zh, category.name_en),
            measure=Named(measure.title_zh, measure.title_en) if measure else None,
            description=request.description,
            attachment_name=request.attachment_name
            or (request.attachment_kind if request.attachment_file_id else None),
            status=request.status,
            referred_to=request.referred_to,
            created_at=request.created_at,
            due_at=request.due_at,
            closed_at=request.closed_at,
            answer=request.answer,
            solved=request.solved,
            satisfaction=request.satisfaction,
            feedback_comment=request.feedback_comment,
            steps=tuple(steps.get(request.id, ())),
        )
        for request, category, measure in rows
    )


async def _certificates(session: AsyncSession, member_id: int) -> tuple[CertificateRecord, ...]:
    rows = list(
        await session.scalars(
            select(Certificate)
            .where(Certificate.member_id == member_id)
            .order_by(Certificate.created_at.desc(), Certificate.id.desc())
        )
    )
    steps: dict[int, list[StepRecord]] = {}
    if rows:
        events = await session.scalars(
            select(CertificateEvent)
            .where(CertificateEvent.certificate_id.in_([row.id for row in rows]))
            .order_by(CertificateEvent.at, CertificateEvent.id)
        )
        for event in events:
            by = None if event.actor.startswith("member:") else event.actor_name
            steps.setdefault(event.certificate_id, []).append(
                StepRecord(at=event.at, step=event.step, by=by, note=event.note)
            )
    return tuple(
        CertificateRecord(
            id=row.id,
            reverse=row.reverse,
            origin_organisation=row.origin_organisation,
            destination=row.destination,
            reason=row.reason,
            expected_months=row.expected_months,
            status=row.status,
            number=row.number,
            created_at=row.created_at,
            issued_at=row.issued_at,
            review_due_on=row.review_due_on,
            steps=tuple(steps.get(row.id, ())),
        )
        for row in rows
    )


async def _sms(session: AsyncSession, member: Member) -> tuple[SmsRecord, ...]:
    texted = InboundSms.member_id == member.id
    if member.phone:
        # Also what came from their number before it was read (or while it was not theirs).
        texted = or_(texted, InboundSms.sender == member.phone)
    rows = await session.scalars(
        select(InboundSms)
        .where(texted)
        .order_by(InboundSms.received_at.desc(), InboundSms.id.desc())
    )
    return tuple(
        SmsRecord(
            received_at=row.received_at,
            text=row.text,
            intent=row.intent,
            answered_at=row.answered_at,
        )
        for row in rows
    )


async def _ideas(session: AsyncSession, member_id: int) -> tuple[IdeaRecord, ...]:
    rows = list(
        await session.scalars(
            select(Idea)
            .where(Idea.member_id == member_id)
            .order_by(Idea.created_at.desc(), Idea.id.desc())
        )
    )
    people = await _people(session, {row.replied_by for row in rows if row.replied_by})
    return tuple(
        IdeaRecord(
            id=row.id,
            kind=row.kind,
            body=row.body,
            status=row.status,
            created_at=row.created_at,
            reply=row.reply,
            replied_at=row.replied_at,
            replied_by=people[row.replied_by][1]
            if row.replied_by and row.replied_by in people
            else None,
            adopted_at=row.adopted_at,
        )
        for row in rows
    )


def _count(detail: dict[str, object], key: str) -> int | None:
    value = detail.get(key)
    return value if isinstance(value, int) else None


def _precision(value: object) -> LocationPrecision | None:
    try:
        return LocationPrecision(value) if isinstance(value, str) else None
    except ValueError:
        return None


async def _consents(session: AsyncSession, member: Member) -> tuple[ConsentRecord, ...]:
    events = await session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.subject == f"member:{member.id}",
            AuditEvent.action.in_(CONSENT_ACTIONS),
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    records = []
    for event in events:
        change = event.action.removeprefix("consent.")
        detail = event.detail or {}
        records.append(
            ConsentRecord(
                at=event.at,
                consent=Consent.GIVEN if change == "given" else Consent.DECLINED,
                by_self=event.actor == f"member:{member.id}",
                change=change,
                precision=_precision(detail.get("precision")),
                coarsened=_count(detail, "coarsened"),
                erased=_count(detail, "erased"),
            )
        )
    return tuple(records)


async def _data_requests(session: AsyncSession, member_id: int) -> tuple[DataRequestRecord, ...]:
    rows = list(
        await session.scalars(
            select(DataRequest)
            .where(DataRequest.member_id == member_id)
            .order_by(DataRequest.created_at.desc(), DataRequest.id.desc())
        )
    )
    people = await _people(session, {row.decided_by for row in rows if row.decided_by})
    return tuple(
        DataRequestRecord(
            id=row.id,
            kind=row.kind,
            field=row.field,
            proposed=row.proposed_value,
            status=row.status,
            created_at=row.created_at,
            decided_at=row.decided_at,
            decided_by=people[row.decided_by][1] if row.decided_by in people else None,
            decided_by_role=people[row.decided_by][0] if row.decided_by in people else None,
            reason=row.reason,
        )
        for row in rows
    )


def _lists_member(event: AuditEvent, member_id: int) -> bool:
    """Whether a listing's audit row names member_id among the members it listed."""
    listed = (event.detail or {}).get("members")
    return isinstance(listed, list) and member_id in listed


def _was_a_look(event: AuditEvent) -> bool:
    # rights.view is recorded found or not (a request outside the scope reads as missing):
    # only a found one showed the member's data.
    return event.action != "rights.view" or (event.detail or {}).get("found") is True


async def _staff_views(
    session: AsyncSession,
    now: datetime,
    member_id: int,
    records: Sequence[str],
) -> tuple[StaffView, ...]:
    since = now - VIEWS_WINDOW
    # The member's own look at their data is not someone looking at it.
    not_self = AuditEvent.actor != f"member:{member_id}"
    looks = [
        event
        for event in await session.scalars(
            select(AuditEvent).where(
                AuditEvent.at >= since,
                # Exact actions: a refused lookup (member.view.refused, ...) showed nothing.
                AuditEvent.action.in_(VIEW_ACTIONS),
                AuditEvent.subject.in_(records),
                not_self,
            )
        )
        if _was_a_look(event)
    ]
    # A listing keeps the ids it showed in its JSON detail, which SQLite and PostgreSQL
    # query differently; the candidates are bounded by the window (every /overdue of 12
    # months, found through the index on at), so membership is checked here.
    listings = [
        event
        for event in await session.scalars(
            select(AuditEvent).where(
                AuditEvent.at >= since, AuditEvent.action.in_(LISTING_ACTIONS), not_self
            )
        )
        if _lists_member(event, member_id)
    ]
    events = sorted([*looks, *listings], key=lambda e: (e.at, e.id), reverse=True)
    people = await _people(session, {event.actor for event in events})
    return tuple(
        StaffView(
            at=event.at,
            role=people[event.actor][0],
            name=people[event.actor][1],
            action=event.action,
            record=event.subject or f"member:{member_id}",
        )
        for event in events
        if event.actor in people
    )


async def _study(session: AsyncSession, member_id: int) -> tuple[StudyRecord, ...]:
    rows = await session.execute(
        select(StudyMaterial.title, StudyReceipt.studied_at)
        .join(StudyMaterial, StudyMaterial.id == StudyReceipt.material_id)
        .where(StudyReceipt.member_id == member_id)
        .order_by(StudyReceipt.studied_at.desc())
    )
    return tuple(StudyRecord(title=title, studied_at=at) for title, at in rows)


async def _notice_receipts(
    session: AsyncSession, member_id: int
) -> tuple[NoticeReceiptRecord, ...]:
    rows = await session.scalars(
        select(NoticeReceipt)
        .where(NoticeReceipt.member_id == member_id)
        .order_by(NoticeReceipt.acknowledged_at.desc())
    )
    return tuple(NoticeReceiptRecord(row.notice_id, row.acknowledged_at) for row in rows)


async def _deliveries(session: AsyncSession, member_id: int) -> tuple[DeliveryRecord, ...]:
    rows = await session.scalars(
        select(Delivery)
        .where(Delivery.member_id == member_id)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
    )
    return tuple(
        DeliveryRecord(
            kind=row.kind.value,
            channel=row.channel.value if row.channel else None,
            status=row.status.value,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )
        for row in rows
    )


async def _invites(session: AsyncSession, member_id: int) -> tuple[InviteRecord, ...]:
    rows = await session.scalars(
        select(Invite).where(Invite.member_id == member_id).order_by(Invite.created_at.desc())
    )
    return tuple(InviteRecord(row.created_at, row.expires_at, row.used_at) for row in rows)


async def _activities(session: AsyncSession, member_id: int) -> tuple[ActivityRecord, ...]:
    rows = await session.execute(
        select(Activity, ActivityInvitation)
        .join(ActivityInvitation, ActivityInvitation.activity_id == Activity.id)
        .where(ActivityInvitation.member_id == member_id)
        .order_by(Activity.starts_at.desc(), Activity.id.desc())
    )
    return tuple(
        ActivityRecord(
            activity_id=activity.id,
            title=activity.title,
            kind=activity.kind,
            starts_at=activity.starts_at,
            invited=invitation.invited_at is not None,
            answer=invitation.answer,
            answered_at=invitation.answered_at,
            attended_at=invitation.attended_at,
            attendance=invitation.attendance_source,
            waiting_since=invitation.waiting_since,
            cancelled_at=activity.cancelled_at,
        )
        for activity, invitation in rows
    )


async def _adjustments(session: AsyncSession, member_id: int) -> tuple[AdjustmentRecord, ...]:
    rows = await session.scalars(
        select(RatingAdjustment)
        .where(RatingAdjustment.member_id == member_id)
        .order_by(RatingAdjustment.made_at.desc(), RatingAdjustment.id.desc())
    )
    return tuple(AdjustmentRecord(r.year, r.points, r.reason, r.made_at) for r in rows)


async def _commendations(session: AsyncSession, member_id: int) -> tuple[CommendationRecord, ...]:
    # Not before the member was told: the list is the organisation's to announce.
    rows = await session.scalars(
        select(Commendation)
        .where(Commendation.member_id == member_id, Commendation.notified_at.is_not(None))
        .order_by(Commendation.year.desc())
    )
    return tuple(
        CommendationRecord(r.year, r.citation, r.notified_at)
        for r in rows
        if r.notified_at is not None
    )


# --- the whole -------------------------------------------------------------------------


async def member_data(
    session: AsyncSession,
    now: datetime,
    member_id: int,
    *,
    actor: str | None = None,
    form: str = "summary",
) -> MemberData | None:
    """Everything stored about member_id (None if there is no such member); audited as
    member.data_copy by actor (the member themself by default), with the form it takes
    ("summary", "files", "json")."""
    member = await session.scalar(
        select(Member)
        .where(Member.id == member_id)
        .options(selectinload(Member.home_unit), selectinload(Member.groups))
    )
    if member is None:
        return None
    requests = await _requests(session, member_id)
    certificates = await _certificates(session, member_id)
    ideas = await _ideas(session, member_id)
    data_requests = await _data_requests(session, member_id)
    records = [
        f"member:{member_id}",
        *(f"request:{r.id}" for r in requests),
        *(f"certificate:{c.id}" for c in certificates),
        *(f"idea:{i.id}" for i in ideas),
        *(f"data_request:{r.id}" for r in data_requests),
    ]
    data = MemberData(
        generated_at=now,
        registration=_registration(member),
        groups=tuple(sorted(group.name for group in member.groups)),
        checkins=await _checkins(session, member_id),
        locations=await _locations(session, member_id),
        requests=requests,
        certificates=certificates,
        ideas=ideas,
        consents=await _consents(session, member),
        data_requests=data_requests,
        staff_views=await _staff_views(session, now, member_id, records),
        study=await _study(session, member_id),
        notice_receipts=await _notice_receipts(session, member_id),
        deliveries=await _deliveries(session, member_id),
        invites=await _invites(session, member_id),
        sms=await _sms(session, member),
        activities=await _activities(session, member_id),
        adjustments=await _adjustments(session, member_id),
        commendations=await _commendations(session, member_id),
    )
    await audit.record(
        session,
        now,
        actor=actor or f"member:{member_id}",
        action=DATA_COPY,
        subject=f"member:{member_id}",
        form=form,
    )
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Named):
        return {"zh": value.zh, "en": value.en}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def as_json(data: MemberData) -> dict[str, Any]:
    """The whole as JSON-able values: enums as their values, moments in ISO 8601 (UTC)."""
    plain = _plain(data)
    assert isinstance(plain, dict)
    return {"format": "liaison.member_data/1", **plain}
