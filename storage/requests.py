"""Service requests: a member asks for help, liaisons take it through to an answer.

received → in progress → resolved / cannot help / referred (where to). A request is filed
under a category of the catalogue and, when the member knows it, one of its measures; its
target time comes from the measure (storage.catalogue.DEFAULT_TARGET_DAYS otherwise).

Staff see and change only the requests of members in their scope (storage.scope); every
staff action writes a ServiceRequestEvent with who and when, and an audit row. What the
member should hear of (taken, a new status) goes through the outbox as REQUEST_UPDATE,
keyed by the event, and is rendered in the member's language when it is sent. Notes stay
between staff. The member's request number is its id, shown as "#12" everywhere.

The deadline check (check_deadlines, run by the scheduler) reminds the assignee (or the
group's liaisons) once when a request nears its due time, and tells the admins over the
member once when it is overdue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, payloads
from storage.catalogue import DEFAULT_TARGET_DAYS
from storage.models import (
    CheckIn,
    Delivery,
    DeliveryStatus,
    Member,
    RequestEventKind,
    RequestStatus,
    ServiceCategory,
    ServiceMeasure,
    ServiceRequest,
    ServiceRequestEvent,
    Staff,
)
from storage.notices import clean_body
from storage.outbox import StaffMessage, enqueue_to_members, enqueue_to_staff
from storage.phones import mask_phone
from storage.scope import admins_over, looking_after, scope_condition

# A need told in a few paragraphs; longer is refused (not cut), with the count.
MAX_DESCRIPTION_LENGTH = 2000
MAX_NOTE_LENGTH = 1000
# ServiceRequest.referred_to.
MAX_REFERRED_LENGTH = 200
# The answer staff give the member on closing, and the member's comment on their feedback.
MAX_ANSWER_LENGTH = 1000
MAX_COMMENT_LENGTH = 1000
# After "not solved" or a low rating, the member may still write what went wrong: the staff
# alert waits this long for it, and goes at once when the member writes or skips.
FEEDBACK_WAIT = timedelta(minutes=30)
UNHAPPY_RATING = 2
# ServiceRequest.attachment_file_id / attachment_name.
MAX_FILE_ID_LENGTH = 200
MAX_ATTACHMENT_NAME = 200
ATTACHMENT_KINDS = ("photo", "document")
SOURCES = ("bot", "checkin", "cli")
# A staff message about a new request shows this much of the description.
EXCERPT = 300

# Open requests by how long they have waited: up to a week, to a month, older (days).
AGES = ("week", "month", "older")
AGE_DAYS = (7, 30)

OPEN_STATUSES = (RequestStatus.RECEIVED, RequestStatus.IN_PROGRESS)
CLOSED_STATUSES = (RequestStatus.RESOLVED, RequestStatus.CANNOT_HELP, RequestStatus.REFERRED)
# Where each status may go next; a closed request goes nowhere.
NEXT_STATUSES: dict[RequestStatus, tuple[RequestStatus, ...]] = {
    RequestStatus.RECEIVED: (RequestStatus.IN_PROGRESS, *CLOSED_STATUSES),
    RequestStatus.IN_PROGRESS: CLOSED_STATUSES,
}


class RequestError(ValueError):
    """A request that cannot be made or changed; the message says why (English).

    reason is a short stable word for the front ends to pick their own words by:
    description_empty, description_too_long, unknown_category, unknown_measure, bad_attachment,
    not_member, checkin_not_found, already_requested, not_found, closed, already_yours,
    not_staff, assignee_cannot_see, same_assignee, note_empty, note_too_long, same_status,
    bad_transition, referred_needs_place, referred_too_long, answer_needed, answer_too_long,
    not_closed, already_answered, not_answered, already_rated, bad_rating, comment_empty,
    comment_too_long, already_commented, changed_meanwhile, already_done.
    """

    def __init__(self, message: str, reason: str = "invalid", **values: Any) -> None:
        super().__init__(message)
        self.reason = reason
        # What the front ends may show with the reason (the request's number …).
        self.values: dict[str, Any] = values


# --- checking what people type ----------------------------------------------------------------


def _bounded(
    text: str, limit: int, *, what: str, reason: str, empty: tuple[str, str] | None = None
) -> str:
    """text (already cleaned) if 1 to limit characters, else RequestError: `empty` (message,
    reason) or "<what> is empty" / <reason>_empty, and <reason>_too_long; `what` names it
    in the message ("the note has 1200 characters")."""
    if not text:
        message, why = empty or (f"{what} is empty", f"{reason}_empty")
        raise RequestError(message, why)
    if len(text) > limit:
        raise RequestError(
            f"{what} has {len(text)} characters; at most {limit} are allowed",
            f"{reason}_too_long",
            length=len(text),
        )
    return text


def check_description(text: str) -> str:
    """The description trimmed, 1 to MAX_DESCRIPTION_LENGTH characters, or RequestError."""
    return _bounded(
        clean_body(text), MAX_DESCRIPTION_LENGTH, what="the description", reason="description"
    )


def check_note(text: str) -> str:
    """An internal note, 1 to MAX_NOTE_LENGTH characters, or RequestError."""
    return _bounded(clean_body(text), MAX_NOTE_LENGTH, what="the note", reason="note")


def check_referred(text: str | None) -> str:
    """Where a request was referred to, on one line, or RequestError."""
    return _bounded(
        " ".join((text or "").split()),
        MAX_REFERRED_LENGTH,
        what="where to",
        reason="referred",
        empty=("a referred request needs where it was referred to", "referred_needs_place"),
    )


def check_answer(text: str | None) -> str:
    """The answer a closing request gives the member, 1 to MAX_ANSWER_LENGTH characters."""
    return _bounded(
        clean_body(text or ""),
        MAX_ANSWER_LENGTH,
        what="the answer",
        reason="answer",
        empty=("closing a request needs the answer the member gets", "answer_needed"),
    )


def check_comment(text: str) -> str:
    """The member's comment on their feedback, 1 to MAX_COMMENT_LENGTH characters."""
    return _bounded(clean_body(text), MAX_COMMENT_LENGTH, what="the comment", reason="comment")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A photo or document the member sent with the request (Telegram keeps the file)."""

    file_id: str
    kind: str
    name: str | None = None


def _check_attachment(attachment: Attachment) -> Attachment:
    if attachment.kind not in ATTACHMENT_KINDS or not (
        0 < len(attachment.file_id) <= MAX_FILE_ID_LENGTH
    ):
        raise RequestError(
            "the attachment is not a photo or document Telegram gave", "bad_attachment"
        )
    name = " ".join((attachment.name or "").split())[:MAX_ATTACHMENT_NAME] or None
    return Attachment(attachment.file_id, attachment.kind, name)


def _names(row: ServiceCategory | None) -> payloads.Names | None:
    return payloads.Names(zh=row.name_zh, en=row.name_en) if row is not None else None


def _titles(row: ServiceMeasure | None) -> payloads.Names | None:
    return payloads.Names(zh=row.title_zh, en=row.title_en) if row is not None else None


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _excerpt(text: str, limit: int = EXCERPT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- who hears of a request ---------------------------------------------------------------------


def _topic(request_id: int, what: str) -> str:
    return f"req:{request_id}:{what}"


# --- filing a request ---------------------------------------------------------------------------


async def checkin_need(session: AsyncSession, *, member_id: int, checkin_id: int) -> str:
    """The need a member gave in one of their check-ins, to become a request's description.

    RequestError: checkin_not_found (not theirs, or no need given), already_requested (a
    request was already made of it; values["id"] is its number).
    """
    checkin = await session.get(CheckIn, checkin_id)
    if checkin is None or checkin.member_id != member_id or not (checkin.needs_text or "").strip():
        raise RequestError(
            f"no check-in {checkin_id} with a need of this member", "checkin_not_found"
        )
    existing = await session.scalar(
        select(ServiceRequest.id).where(ServiceRequest.checkin_id == checkin_id).limit(1)
    )
    if existing is not None:
        raise RequestError(
            f"request #{existing} was already made of this check-in",
            "already_requested",
            id=existing,
        )
    return check_description(checkin.needs_text or "")


async def create_request(
    session: AsyncSession,
    now: datetime,
    *,
    member_id: int,
    category_id: int,
    description: str,
    zone: tzinfo,
    measure_id: int | None = None,
    attachment: Attachment | None = None,
    source: str = "bot",
    checkin_id: int | None = None,
) -> ServiceRequest:
    """File a request for a member; the liaisons hear of it through the outbox.

    due_at is now + the measure's target days (DEFAULT_TARGET_DAYS without one). zone is
    how the due time is written in the liaisons' message.
    """
    text = check_description(description)
    member = await session.get(Member, member_id)
    if member is None:
        raise RequestError(f"no member {member_id}", "not_member")
    category = await session.get(ServiceCategory, category_id)
    if category is None:
        raise RequestError(f"no category {category_id}", "unknown_category")
    measure = None
    if measure_id is not None:
        measure = await session.get(ServiceMeasure, measure_id)
        if measure is None or not measure.active or measure.category_id != category_id:
            raise RequestError(f"no measure {measure_id} in this category", "unknown_measure")
    if checkin_id is not None:
        await checkin_need(session, member_id=member_id, checkin_id=checkin_id)
    kept = _check_attachment(attachment) if attachment is not None else None
    days = (
        measure.target_days if measure is not None and measure.target_days else DEFAULT_TARGET_DAYS
    )
    row = ServiceRequest(
        member_id=member_id,
        category_id=category_id,
        measure_id=measure_id,
        description=text,
        attachment_file_id=kept.file_id if kept else None,
        attachment_kind=kept.kind if kept else None,
        attachment_name=kept.name if kept else None,
        source=source if source in SOURCES else "bot",
        checkin_id=checkin_id,
        status=RequestStatus.RECEIVED,
        created_at=now,
        updated_at=now,
        due_at=now + timedelta(days=days),
    )
    session.add(row)
    await session.flush()
    session.add(
        ServiceRequestEvent(
            request_id=row.id,
            at=now,
            kind=RequestEventKind.CREATED,
            actor=f"member:{member_id}",
            actor_name=member.name,
            status=RequestStatus.RECEIVED,
            shown_to_member=True,
        )
    )
    await audit.record(
        session,
        now,
        actor=f"member:{member_id}",
        action="request.create",
        subject=f"request:{row.id}",
        category=category.code,
        source=row.source,
    )
    payload = payloads.RequestNew(
        request_id=row.id,
        member=member.name,
        category=_names(category),
        measure=_titles(measure),
        description=_excerpt(text),
        due=_local(row.due_at, zone),
        attachment=row.attachment_kind,
        source=row.source,
    )
    recipients = await looking_after(session, member_id)
    await enqueue_to_staff(
        session,
        now,
        [
            StaffMessage(s.id, s.telegram_user_id, _topic(row.id, "new"), payload)
            for s in recipients
        ],
    )
    return row


# --- staff: the changes ---------------------------------------------------------------------------


def _visible(staff_id: int | None) -> ColumnElement[bool]:
    return scope_condition(staff_id) if staff_id is not None else true()


async def _in_scope(
    session: AsyncSession, request_id: int, staff_id: int | None
) -> tuple[ServiceRequest, Member]:
    """The request and its member, if staff_id may see the member (None: the command line)."""
    row = (
        await session.execute(
            select(ServiceRequest, Member)
            .join(Member, Member.id == ServiceRequest.member_id)
            .where(ServiceRequest.id == request_id, _visible(staff_id))
            .with_for_update(of=ServiceRequest)
        )
    ).first()
    if row is None:
        # Out of scope looks exactly like not there: nothing about it is revealed.
        raise RequestError(f"no request #{request_id}", "not_found", id=request_id)
    return row[0], row[1]


async def _staff(session: AsyncSession, staff_id: int) -> Staff:
    staff = await session.get(Staff, staff_id)
    if staff is None:
        raise RequestError(f"no staff member {staff_id}", "not_staff")
    return staff


async def _unchanged(
    session: AsyncSession,
    request: ServiceRequest,
    *,
    seen: int | None,
    staff_id: int,
    same: Callable[[ServiceRequestEvent], bool],
) -> None:
    """A form drawn from the request as it was at event `seen` (the console's pages; None:
    a bot button, which acts on the request as it is now) changes nothing if people have
    changed the request since: already_done when this staff member's own change since is
    this very one (the form sent twice), else changed_meanwhile (a colleague took it, the
    member withdrew their feedback …), so nobody acts on a request they have not seen.
    The scheduler's reminders change nothing anyone decided on: they do not count.
    """
    if seen is None:
        return
    newer = list(
        await session.scalars(
            select(ServiceRequestEvent)
            .where(
                ServiceRequestEvent.request_id == request.id,
                ServiceRequestEvent.id > seen,
                ServiceRequestEvent.actor != "system",
            )
            .order_by(ServiceRequestEvent.id)
        )
    )
    if not newer:
        return
    if any(event.actor == f"staff:{staff_id}" and same(event) for event in newer):
        raise RequestError(f"request #{request.id}: already done", "already_done", id=request.id)
    last = newer[-1]
    raise RequestError(
        f"request #{request.id} changed since it was shown",
        "changed_meanwhile",
        id=request.id,
        by=last.actor_name,
    )


@dataclass(frozen=True, slots=True)
class Change:
    """What a staff action did: the request as it is now, and the event written."""

    request_id: int
    status: RequestStatus
    event_id: int
    assignee_name: str | None
    member_told: bool


async def _event(
    session: AsyncSession,
    now: datetime,
    request: ServiceRequest,
    staff: Staff,
    kind: RequestEventKind,
    *,
    shown: bool,
    note: str | None = None,
    assignee_id: int | None = None,
) -> ServiceRequestEvent:
    event = ServiceRequestEvent(
        request_id=request.id,
        at=now,
        kind=kind,
        actor=f"staff:{staff.id}",
        actor_name=staff.name,
        status=request.status,
        assignee_id=assignee_id,
        note=note,
        shown_to_member=shown,
    )
    session.add(event)
    request.updated_at = now
    await session.flush()
    return event


async def _tell_member(
    session: AsyncSession,
    now: datetime,
    request: ServiceRequest,
    event: ServiceRequestEvent,
    staff: Staff,
) -> bool:
    """REQUEST_UPDATE to the member, keyed by the event: enqueued once whatever happens."""
    category = await session.get(ServiceCategory, request.category_id)
    payload = payloads.RequestUpdate(
        request_id=request.id,
        event=event.kind.value,
        status=request.status.value,
        category=_names(category),
        referred_to=request.referred_to,
        answer=request.answer if request.status in CLOSED_STATUSES else None,
        by=staff.name,
        closed=request.status in CLOSED_STATUSES,
    )
    topic = _topic(request.id, f"e{event.id}")
    await enqueue_to_members(
        session,
        now,
        payload=payload,
        topic=topic,
        condition=Member.id == request.member_id,
    )
    # A member with no way to reach them gets a suppressed row: not told.
    waiting = await session.scalar(
        select(Delivery.id).where(
            Delivery.topic == topic,
            Delivery.member_id == request.member_id,
            Delivery.status == DeliveryStatus.PENDING,
        )
    )
    return waiting is not None


async def take(
    session: AsyncSession,
    now: datetime,
    request_id: int,
    *,
    staff_id: int,
    seen: int | None = None,
) -> Change:
    """The staff member takes the request on; a received one is now in progress; audited.

    seen: the newest event of the request as the staff member saw it (see _unchanged):
    a colleague who took it meanwhile is not overruled unseen.
    """
    staff = await _staff(session, staff_id)
    request, _ = await _in_scope(session, request_id, staff_id)
    await _unchanged(
        session,
        request,
        seen=seen,
        staff_id=staff_id,
        same=lambda e: e.kind is RequestEventKind.TAKEN and e.assignee_id == staff_id,
    )
    if request.status in CLOSED_STATUSES:
        raise RequestError(f"request #{request_id} is closed", "closed", id=request_id)
    if request.assignee_id == staff_id:
        raise RequestError(
            f"request #{request_id} is already yours", "already_yours", id=request_id
        )
    request.assignee_id = staff_id
    if request.status is RequestStatus.RECEIVED:
        request.status = RequestStatus.IN_PROGRESS
    event = await _event(
        session, now, request, staff, RequestEventKind.TAKEN, shown=True, assignee_id=staff_id
    )
    told = await _tell_member(session, now, request, event, staff)
    await audit.record(
        session,
        now,
        actor=f"staff:{staff_id}",
        action="request.take",
        subject=f"request:{request_id}",
    )
    return Change(request.id, request.status, event.id, staff.name, told)


async def assign(
    session: AsyncSession,
    now: datetime,
    request_id: int,
    *,
    staff_id: int,
    to_staff_id: int,
    zone: tzinfo,
    seen: int | None = None,
) -> Change:
    """Hand the request to a colleague who may see the member; they are told; audited.

    Internal: the member is not told (they hear when the status changes). seen: as take's.
    """
    staff = await _staff(session, staff_id)
    request, member = await _in_scope(session, request_id, staff_id)
    await _unchanged(
        session,
        request,
        seen=seen,
        staff_id=staff_id,
        same=lambda e: e.kind is RequestEventKind.ASSIGNED and e.assignee_id == to_staff_id,
    )
    if request.status in CLOSED_STATUSES:
        raise RequestError(f"request #{request_id} is closed", "closed", id=request_id)
    colleague = await session.get(Staff, to_staff_id)
    if colleague is None or (
        await session.scalar(
            select(Member.id).where(Member.id == member.id, scope_condition(to_staff_id))
        )
        is None
    ):
        raise RequestError(
            "that colleague does not look after this member", "assignee_cannot_see", id=request_id
        )
    if request.assignee_id == to_staff_id:
        raise RequestError(
            f"request #{request_id} is already with {colleague.name}",
            "same_assignee",
            id=request_id,
            name=colleague.name,
        )
    request.assignee_id = to_staff_id
    event = await _event(
        session,
        now,
        request,
        staff,
        RequestEventKind.ASSIGNED,
        shown=False,
        assignee_id=to_staff_id,
    )
    if to_staff_id != staff_id:
        category = await session.get(ServiceCategory, request.category_id)
        measure = (
            await session.get(ServiceMeasure, request.measure_id) if request.measure_id else None
        )
        await enqueue_to_staff(
            session,
            now,
            [
                StaffMessage(
                    colleague.id,
                    colleague.telegram_user_id,
                    _topic(request.id, f"e{event.id}"),
                    payloads.RequestNew(
                        request_id=request.id,
                        member=member.name,
                        category=_names(category),
                        measure=_titles(measure),
                        description=_excerpt(request.description),
                        due=_local(request.due_at, zone),
                        attachment=request.attachment_kind,
                        source=request.source,
                        assigned_by=staff.name,
                    ),
                )
            ],
        )
    await audit.record(
        session,
        now,
        actor=f"staff:{staff_id}",
        action="request.assign",
        subject=f"request:{request_id}",
        to=f"staff:{to_staff_id}",
    )
    return Change(request.id, request.status, event.id, colleague.name, False)


async def add_note(
    session: AsyncSession,
    now: datetime,
    request_id: int,
    *,
    staff_id: int,
    text: str,
    seen: int | None = None,
) -> Change:
    """An internal note on the request (never shown to the member); audited.

    seen: as take's (the same note sent twice is kept once)."""
    staff = await _staff(session, staff_id)
    body = check_note(text)
    request, _ = await _in_scope(session, request_id, staff_id)
    await _unchanged(
        session,
        request,
        seen=seen,
        staff_id=staff_id,
        same=lambda e: e.kind is RequestEventKind.NOTE and e.note == body,
    )
    event = await _event(
        session, now, request, staff, RequestEventKind.NOTE, shown=False, note=body
    )
    await audit.record(
        session,
        now,
        actor=f"staff:{staff_id}",
        action="request.note",
        subject=f"request:{request_id}",
    )
    assignee = await session.get(Staff, request.assignee_id) if request.assignee_id else None
    return Change(request.id, request.status, event.id, assignee.name if assignee else None, False)


def allowed_statuses(status: RequestStatus) -> tuple[RequestStatus, ...]:
    """Where a request in status may go next (nothing once closed)."""
    return NEXT_STATUSES.get(status, ())


async def set_status(
    session: AsyncSession,
    now: datetime,
    request_id: int,
    *,
    staff_id: int,
    status: RequestStatus,
    referred_to: str | None = None,
    answer: str | None = None,
    seen: int | None = None,
) -> Change:
    """Move the request on (received → in progress → resolved / cannot help / referred).

    Referred needs where to; every closing status needs the answer the member then reads
    (what was done, why it could not be, what to do at the place referred to). The member
    is told in their language; a closing status asks them for feedback. An unassigned
    request becomes the changer's. Audited. seen: as take's.
    """
    staff = await _staff(session, staff_id)
    request, _ = await _in_scope(session, request_id, staff_id)
    where = check_referred(referred_to) if status is RequestStatus.REFERRED else None
    said = check_answer(answer) if status in CLOSED_STATUSES else None
    await _unchanged(
        session,
        request,
        seen=seen,
        staff_id=staff_id,
        same=lambda e: e.kind is RequestEventKind.STATUS and e.status == status,
    )
    if request.status is status:
        raise RequestError(
            f"request #{request_id} is already {status.value}", "same_status", id=request_id
        )
    if status not in allowed_statuses(request.status):
        reason = "closed" if request.status in CLOSED_STATUSES else "bad_transition"
        raise RequestError(
            f"request #{request_id} cannot go from {request.status.value} to {status.value}",
            reason,
            id=request_id,
            current=request.status.value,
            wanted=status.value,
        )
    request.status = status
    request.referred_to = where
    if status in CLOSED_STATUSES:
        request.closed_at = now
        request.answer = said
    if request.assignee_id is None:
        request.assignee_id = staff_id
    event = await _event(
        session, now, request, staff, RequestEventKind.STATUS, shown=True, note=where
    )
    told = await _tell_member(session, now, request, event, staff)
    await audit.record(
        session,
        now,
        actor=f"staff:{staff_id}",
        action="request.status",
        subject=f"request:{request_id}",
        status=status.value,
    )
    assignee = await session.get(Staff, request.assignee_id)
    return Change(request.id, request.status, event.id, assignee.name if assignee else None, told)


# --- the member's answer after closing ------------------------------------------------------------


async def _members_closed(session: AsyncSession, request_id: int, member_id: int) -> ServiceRequest:
    request = await session.get(ServiceRequest, request_id, with_for_update=True)
    if request is None or request.member_id != member_id:
        raise RequestError(f"no request #{request_id} of this member", "not_found", id=request_id)
    if request.status not in CLOSED_STATUSES:
        raise RequestError(f"request #{request_id} is not closed yet", "not_closed", id=request_id)
    return request


def unhappy(request: ServiceRequest) -> bool:
    """Whether the member's feedback says the help did not help: "not solved", or 1–2."""
    return request.solved is False or (
        request.satisfaction is not None and request.satisfaction <= UNHAPPY_RATING
    )


def _feedback_topic(request_id: int) -> str:
    return _topic(request_id, "feedback")


async def _feedback_payload(
    session: AsyncSession, request: ServiceRequest, member: Member
) -> payloads.RequestFeedback:
    category = await session.get(ServiceCategory, request.category_id)
    assignee = await session.get(Staff, request.assignee_id) if request.assignee_id else None
    return payloads.RequestFeedback(
        request_id=request.id,
        member=member.name,
        category=_names(category),
        status=request.status.value,
        assignee=assignee.name if assignee else None,
        solved=request.solved,
        satisfaction=request.satisfaction,
        comment=request.feedback_comment,
    )


async def _feedback_recipients(
    session: AsyncSession, request: ServiceRequest, member: Member
) -> list[Staff]:
    """The assignee first, then whoever looks after the member (the group's liaisons, and
    the admins over the member where a group has none), each once."""
    chosen: list[Staff] = []
    if request.assignee_id is not None:
        assignee = await session.get(Staff, request.assignee_id)
        if assignee is not None:
            chosen.append(assignee)
    for staff in await looking_after(session, member.id):
        if all(staff.id != c.id for c in chosen):
            chosen.append(staff)
    return chosen


async def _alert_staff(
    session: AsyncSession, now: datetime, request: ServiceRequest, *, final: bool
) -> None:
    """The unhappy feedback to the assignee and the liaisons, as one message each.

    Until the member has written their comment (or skipped it), the message waits
    FEEDBACK_WAIT for it; a later answer (a rating after "not solved") updates the waiting
    message instead of adding one. final: the member is done, it goes now. A comment that
    comes after the message went follows as a message of its own.
    """
    member = await session.get(Member, request.member_id)
    assert member is not None
    payload = await _feedback_payload(session, request, member)
    topic = _feedback_topic(request.id)
    send_at = now if final else now + FEEDBACK_WAIT
    waiting = set(
        await session.scalars(
            select(Delivery.staff_id).where(
                Delivery.topic == topic, Delivery.status == DeliveryStatus.PENDING
            )
        )
    )
    gone = set(
        await session.scalars(
            select(Delivery.staff_id).where(
                Delivery.topic == topic, Delivery.status != DeliveryStatus.PENDING
            )
        )
    )
    if waiting:
        await session.execute(
            update(Delivery)
            .where(Delivery.topic == topic, Delivery.status == DeliveryStatus.PENDING)
            # The wait counts from the first unhappy answer; the member's last word ends it.
            .values(payload=payload.to_json(), **({"next_attempt_at": now} if final else {}))
            .execution_options(synchronize_session=False)
        )
    recipients = await _feedback_recipients(session, request, member)
    fresh = [s for s in recipients if s.id not in waiting and s.id not in gone]
    await enqueue_to_staff(
        session,
        now,
        [StaffMessage(s.id, s.telegram_user_id, topic, payload) for s in fresh],
        not_before=send_at,
    )
    if final and request.feedback_comment and gone:
        # They already read the feedback without it: the comment follows on its own.
        await enqueue_to_staff(
            session,
            now,
            [
                StaffMessage(
                    s.id,
                    s.telegram_user_id,
                    _topic(request.id, "comment"),
                    payload.model_copy(update={"follow_up": True}),
                )
                for s in recipients
                if s.id in gone
            ],
        )


async def answer_solved(
    session: AsyncSession, now: datetime, request_id: int, *, member_id: int, solved: bool
) -> ServiceRequest:
    """The member says whether their closed request was solved; once only.

    "Not solved" reaches the assignee and the liaisons (after FEEDBACK_WAIT at the latest,
    with the rating and comment if the member gives them meanwhile).
    """
    request = await _members_closed(session, request_id, member_id)
    if request.solved is not None:
        raise RequestError("already answered", "already_answered", id=request_id)
    request.solved = solved
    request.feedback_at = now
    await session.flush()
    if not solved:
        await _alert_staff(session, now, request, final=False)
    return request


async def comment_on(
    session: AsyncSession, now: datetime, request_id: int, *, member_id: int, text: str | None
) -> ServiceRequest:
    """The member's comment on unhappy feedback (None: they skipped it); once only.

    The staff alert goes now, with the comment.
    """
    request = await _members_closed(session, request_id, member_id)
    if not unhappy(request):
        raise RequestError("no unhappy feedback to comment on", "not_answered", id=request_id)
    if request.feedback_comment is not None:
        raise RequestError("already commented", "already_commented", id=request_id)
    if text is not None:
        body = check_comment(text)
        member = await session.get(Member, member_id)
        request.feedback_comment = body
        session.add(
            ServiceRequestEvent(
                request_id=request.id,
                at=now,
                kind=RequestEventKind.FEEDBACK,
                actor=f"member:{member_id}",
                actor_name=member.name if member else None,
                status=request.status,
                note=body,
                shown_to_member=True,
            )
        )
    await session.flush()
    await _alert_staff(session, now, request, final=True)
    return request


async def rate(
    session: AsyncSession, now: datetime, request_id: int, *, member_id: int, satisfaction: int
) -> ServiceRequest:
    """The member's satisfaction 1–5 with a closed request; once only."""
    if not 1 <= satisfaction <= 5:
        raise RequestError("satisfaction is 1 to 5", "bad_rating", id=request_id)
    request = await _members_closed(session, request_id, member_id)
    if request.satisfaction is not None:
        raise RequestError("already rated", "already_rated", id=request_id)
    member = await session.get(Member, member_id)
    request.satisfaction = satisfaction
    request.feedback_at = now
    session.add(
        ServiceRequestEvent(
            request_id=request.id,
            at=now,
            kind=RequestEventKind.FEEDBACK,
            actor=f"member:{member_id}",
            actor_name=member.name if member else None,
            status=request.status,
            note=f"{satisfaction}/5",
            shown_to_member=True,
        )
    )
    await session.flush()
    if unhappy(request):
        await _alert_staff(session, now, request, final=False)
    return request


# --- what people see -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventLine:
    """One step of a request's history."""

    at: datetime
    kind: RequestEventKind
    actor_name: str | None
    status: RequestStatus | None
    note: str | None
    assignee_name: str | None
    shown_to_member: bool
    by_staff: bool


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request with everything a card shows; events as the viewer may see them."""

    id: int
    member_id: int
    member_name: str
    member_phone: str | None
    category: dict[str, str]
    measure: dict[str, str] | None
    description: str
    attachment_kind: str | None
    attachment_name: str | None
    attachment_file_id: str | None
    source: str
    status: RequestStatus
    assignee_id: int | None
    assignee_name: str | None
    referred_to: str | None
    created_at: datetime
    due_at: datetime
    closed_at: datetime | None
    solved: bool | None
    satisfaction: int | None
    answer: str | None
    feedback_comment: str | None
    events: tuple[EventLine, ...] = field(default=())
    # The newest event's id: the request as this view shows it (the console's forms send
    # it back as `seen`, see _unchanged).
    version: int = 0

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.member_phone) if self.member_phone else None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def overdue(self, now: datetime) -> bool:
        return self.is_open and self.due_at <= now


async def _views(
    session: AsyncSession, requests: Sequence[tuple[ServiceRequest, Member]], *, member_view: bool
) -> list[RequestView]:
    if not requests:
        return []
    ids = [r.id for r, _ in requests]
    categories = {
        c.id: c
        for c in await session.scalars(
            select(ServiceCategory).where(
                ServiceCategory.id.in_({r.category_id for r, _ in requests})
            )
        )
    }
    measure_ids = {r.measure_id for r, _ in requests if r.measure_id is not None}
    measures = {
        m.id: m
        for m in (
            await session.scalars(select(ServiceMeasure).where(ServiceMeasure.id.in_(measure_ids)))
            if measure_ids
            else []
        )
    }
    staff_names = {s_id: name for s_id, name in await session.execute(select(Staff.id, Staff.name))}
    events_query = (
        select(ServiceRequestEvent)
        .where(ServiceRequestEvent.request_id.in_(ids))
        .order_by(ServiceRequestEvent.at, ServiceRequestEvent.id)
    )
    if member_view:
        events_query = events_query.where(ServiceRequestEvent.shown_to_member.is_(True))
    events: dict[int, list[EventLine]] = defaultdict(list)
    versions: dict[int, int] = {}
    for event in await session.scalars(events_query):
        versions[event.request_id] = max(versions.get(event.request_id, 0), event.id)
        events[event.request_id].append(
            EventLine(
                at=event.at,
                kind=event.kind,
                actor_name=event.actor_name,
                status=event.status,
                note=event.note,
                assignee_name=staff_names.get(event.assignee_id) if event.assignee_id else None,
                shown_to_member=event.shown_to_member,
                by_staff=event.actor.startswith("staff:"),
            )
        )
    views = []
    for request, member in requests:
        category = categories[request.category_id]
        measure = measures.get(request.measure_id) if request.measure_id is not None else None
        views.append(
            RequestView(
                id=request.id,
                member_id=member.id,
                member_name=member.name,
                # The member's own view never needs a phone number.
                member_phone=None if member_view else member.phone,
                category={"zh": category.name_zh, "en": category.name_en},
                measure={"zh": measure.title_zh, "en": measure.title_en} if measure else None,
                description=request.description,
                attachment_kind=request.attachment_kind,
                attachment_name=request.attachment_name,
                attachment_file_id=request.attachment_file_id,
                source=request.source,
                status=request.status,
                assignee_id=request.assignee_id,
                assignee_name=staff_names.get(request.assignee_id) if request.assignee_id else None,
                referred_to=request.referred_to,
                created_at=request.created_at,
                due_at=request.due_at,
                closed_at=request.closed_at,
                solved=request.solved,
                satisfaction=request.satisfaction,
                answer=request.answer,
                feedback_comment=request.feedback_comment,
                events=tuple(events.get(request.id, [])),
                version=versions.get(request.id, 0),
            )
        )
    return views


async def my_requests(
    session: AsyncSession, *, member_id: int, limit: int = 10
) -> list[RequestView]:
    """The member's own requests, newest first, with the history they may see (no notes)."""
    rows = (
        await session.execute(
            select(ServiceRequest, Member)
            .join(Member, Member.id == ServiceRequest.member_id)
            .where(ServiceRequest.member_id == member_id)
            .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
            .limit(limit)
        )
    ).all()
    return await _views(session, [(r, m) for r, m in rows], member_view=True)


async def member_request(
    session: AsyncSession, *, member_id: int, request_id: int
) -> RequestView | None:
    """One of the member's own requests (None for anyone else's)."""
    row = (
        await session.execute(
            select(ServiceRequest, Member)
            .join(Member, Member.id == ServiceRequest.member_id)
            .where(ServiceRequest.id == request_id, ServiceRequest.member_id == member_id)
        )
    ).first()
    if row is None:
        return None
    [view] = await _views(session, [(row[0], row[1])], member_view=True)
    return view


async def request_card(
    session: AsyncSession, request_id: int, *, staff_id: int | None
) -> RequestView | None:
    """A request with its whole history (notes too), if staff_id may see the member.

    staff_id None is the command line: every request.
    """
    row = (
        await session.execute(
            select(ServiceRequest, Member)
            .join(Member, Member.id == ServiceRequest.member_id)
            .where(ServiceRequest.id == request_id, _visible(staff_id))
        )
    ).first()
    if row is None:
        return None
    [view] = await _views(session, [(row[0], row[1])], member_view=False)
    return view


def age_bounds(now: datetime, age: str | None) -> tuple[datetime | None, datetime | None]:
    """(created after, created before) of the requests of one age (AGES; None: any): up
    to a week old, a week to a month, older (the dashboard's open requests by age)."""
    week, month = now - timedelta(days=AGE_DAYS[0]), now - timedelta(days=AGE_DAYS[1])
    return {"week": (week, None), "month": (month, week), "older": (None, month)}.get(
        age or "", (None, None)
    )


async def list_requests(
    session: AsyncSession,
    *,
    staff_id: int | None,
    status: RequestStatus | None = None,
    include_closed: bool = False,
    limit: int | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    newest_first: bool = False,
) -> tuple[list[RequestView], int]:
    """Requests staff_id may see, oldest first (or newest): the open ones (or every one, or
    one status), filed within the bounds given (after inclusive, before exclusive).

    Returns the page and how many there are in all. Events are not loaded.
    """
    condition: ColumnElement[bool] = _visible(staff_id)
    if status is not None:
        condition = condition & (ServiceRequest.status == status)
    elif not include_closed:
        condition = condition & ServiceRequest.status.in_(OPEN_STATUSES)
    if created_after is not None:
        condition = condition & (ServiceRequest.created_at >= created_after)
    if created_before is not None:
        condition = condition & (ServiceRequest.created_at < created_before)
    total = int(
        await session.scalar(
            select(func.count())
            .select_from(ServiceRequest)
            .join(Member, Member.id == ServiceRequest.member_id)
            .where(condition)
        )
        or 0
    )
    order = (
        (ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        if newest_first
        else (ServiceRequest.created_at, ServiceRequest.id)
    )
    query = (
        select(ServiceRequest, Member)
        .join(Member, Member.id == ServiceRequest.member_id)
        .where(condition)
        .order_by(*order)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = (await session.execute(query)).all()
    views = await _views(session, [(r, m) for r, m in rows], member_view=False)
    return [_without_events(v) for v in views], total


async def staff_requests(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int,
    limit: int,
    status: RequestStatus | None = None,
    include_closed: bool = False,
    age: str | None = None,
    newest_first: bool = False,
) -> tuple[list[RequestView], int]:
    """The requests staff_id may see (the first limit, and how many in all): the open ones,
    or as list_requests chooses, of one age (AGES) or any; audited."""
    after, before = age_bounds(now, age)
    shown, total = await list_requests(
        session,
        staff_id=staff_id,
        status=status,
        include_closed=include_closed,
        limit=limit,
        created_after=after,
        created_before=before,
        newest_first=newest_first,
    )
    filters = {
        "status": status.value if status else ("all" if include_closed else None),
        "age": age,
    }
    await audit.record(
        session,
        now,
        actor=f"staff:{staff_id}",
        action="request.list",
        count=total,
        **{name: value for name, value in filters.items() if value},
    )
    return shown, total


async def open_card(
    session: AsyncSession, now: datetime, request_id: int, *, staff_id: int
) -> RequestView | None:
    """A request's card for staff_id, whose opening is audited; None if they may not see
    it (audited too, as request.view.refused: probing leaves a trail)."""
    view = await request_card(session, request_id, staff_id=staff_id)
    if view is None:
        await audit.record_refused(
            session,
            now,
            actor=f"staff:{staff_id}",
            action="request.view.refused",
            kind="request",
            model=ServiceRequest,
            record_id=request_id,
        )
        return None
    await audit.record(
        session,
        now,
        actor=f"staff:{staff_id}",
        action="request.view",
        subject=f"request:{request_id}",
    )
    return view


async def attachment_of(
    session: AsyncSession, now: datetime, request_id: int, *, staff_id: int
) -> RequestView:
    """A request whose photo or document staff_id is about to see again; audited; refused
    (not_found) if there is none or they may not see it."""
    view = await request_card(session, request_id, staff_id=staff_id)
    if view is None or view.attachment_file_id is None:
        raise RequestError(f"no attachment of #{request_id} in scope", "not_found", id=request_id)
    await audit.record(
        session,
        now,
        actor=f"staff:{staff_id}",
        action="request.attachment",
        subject=f"request:{request_id}",
    )
    return view


def _without_events(view: RequestView) -> RequestView:
    return replace(view, events=())


async def colleagues(
    session: AsyncSession, request_id: int, *, staff_id: int
) -> list[tuple[int, str]]:
    """The staff (id, name) a request may be assigned to: those who may see its member."""
    _, member = await _in_scope(session, request_id, staff_id)
    chosen = []
    for staff in await session.scalars(select(Staff).order_by(Staff.id)):
        seen = await session.scalar(
            select(Member.id).where(Member.id == member.id, scope_condition(staff.id))
        )
        if seen is not None:
            chosen.append((staff.id, staff.name))
    return chosen


# --- the deadline check ---------------------------------------------------------------------------


@dataclass(slots=True)
class DeadlineReport:
    """What one deadline check did, for the scheduler's report."""

    lines: list[str] = field(default_factory=list)
    messages: int = 0
    reminded: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)


def _pending_deadline() -> ColumnElement[bool]:
    # A reminder still to come always has its escalation after it.
    return ServiceRequest.status.in_(OPEN_STATUSES) & ServiceRequest.escalated_at.is_(None)


async def deadlines_pending(session: AsyncSession) -> bool:
    """Whether any open request still has a reminder or an escalation to come."""
    return bool(await session.scalar(select(exists().where(_pending_deadline()))))


async def _system_event(
    session: AsyncSession, now: datetime, request: ServiceRequest, kind: RequestEventKind
) -> None:
    session.add(
        ServiceRequestEvent(
            request_id=request.id,
            at=now,
            kind=kind,
            actor="system",
            actor_name=None,
            status=request.status,
            shown_to_member=False,
        )
    )


async def check_deadlines(
    session: AsyncSession, now: datetime, *, remind_before: timedelta, zone: tzinfo
) -> DeadlineReport:
    """Remind of open requests nearing their due time, escalate overdue ones; once each.

    Nearing: due within remind_before and not yet due: the assignee is reminded (the
    group's liaisons when nobody took it). Overdue: the admins over the member are told.
    Each request is marked (reminded_at, escalated_at) in the same statement that claims
    it, and the messages are keyed by the request, so a second run sends nothing.
    """
    report = DeadlineReport()
    nearing = list(
        await session.scalars(
            select(ServiceRequest)
            .where(
                ServiceRequest.status.in_(OPEN_STATUSES),
                ServiceRequest.reminded_at.is_(None),
                ServiceRequest.due_at > now,
                ServiceRequest.due_at <= now + remind_before,
            )
            .order_by(ServiceRequest.due_at, ServiceRequest.id)
        )
    )
    overdue = list(
        await session.scalars(
            select(ServiceRequest)
            .where(
                ServiceRequest.status.in_(OPEN_STATUSES),
                ServiceRequest.escalated_at.is_(None),
                ServiceRequest.due_at <= now,
            )
            .order_by(ServiceRequest.due_at, ServiceRequest.id)
        )
    )
    messages: list[StaffMessage] = []
    deadline_kinds = [
        *((r, payloads.RequestDue, ServiceRequest.reminded_at) for r in nearing),
        *((r, payloads.RequestLate, ServiceRequest.escalated_at) for r in overdue),
    ]
    for request, message, column in deadline_kinds:
        claimed = await session.execute(
            update(ServiceRequest)
            .where(ServiceRequest.id == request.id, column.is_(None))
            .values({column.key: now})
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            continue  # another run took it a moment ago
        member = await session.get(Member, request.member_id)
        category = await session.get(ServiceCategory, request.category_id)
        assignee = await session.get(Staff, request.assignee_id) if request.assignee_id else None
        assert member is not None
        payload = message(
            request_id=request.id,
            member=member.name,
            category=_names(category),
            due=_local(request.due_at, zone),
            assignee=assignee.name if assignee else None,
            status=request.status.value,
        )
        if message is payloads.RequestDue:
            await _system_event(session, now, request, RequestEventKind.REMINDED)
            recipients = [assignee] if assignee else await looking_after(session, member.id)
            topic = _topic(request.id, "due")
            report.reminded.append(request.id)
            what = "due soon"
        else:
            await _system_event(session, now, request, RequestEventKind.ESCALATED)
            recipients = await admins_over(session, member.id)
            topic = _topic(request.id, "late")
            report.escalated.append(request.id)
            what = "overdue"
        if not recipients:
            report.lines.append(f"request #{request.id} {what}: nobody to tell")
            continue
        messages += [StaffMessage(s.id, s.telegram_user_id, topic, payload) for s in recipients]
        report.lines.append(f"request #{request.id} {what}: {len(recipients)} staff told")
    report.messages += await enqueue_to_staff(session, now, messages)
    return report


__all__ = [
    "AGES",
    "ATTACHMENT_KINDS",
    "CLOSED_STATUSES",
    "FEEDBACK_WAIT",
    "MAX_ANSWER_LENGTH",
    "MAX_COMMENT_LENGTH",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_NOTE_LENGTH",
    "MAX_REFERRED_LENGTH",
    "OPEN_STATUSES",
    "Attachment",
    "Change",
    "DeadlineReport",
    "EventLine",
    "RequestError",
    "RequestView",
    "add_note",
    "age_bounds",
    "allowed_statuses",
    "answer_solved",
    "assign",
    "check_answer",
    "check_comment",
    "check_deadlines",
    "check_description",
    "check_note",
    "check_referred",
    "checkin_need",
    "colleagues",
    "comment_on",
    "create_request",
    "deadlines_pending",
    "list_requests",
    "member_request",
    "my_requests",
    "rate",
    "request_card",
    "set_status",
    "take",
    "unhappy",
]
