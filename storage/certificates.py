"""Activity certificates (流动党员活动证): applications, their workflow, the yearly review.

A mobile member applies with their origin organisation, destination, reason and expected
months away. The workflow is

    applied → checked (by the liaison) → sent (to the origin organisation) → verified → issued

or rejected (by staff, with a reason) / withdrawn (by the member) before issue. Reverse
issuance (反向发证): an inflow member whose origin issued no certificate; this organisation,
the destination, collects the form and sends it to the origin for verification. Issue gives
a number per year (2026-0001) and the first review date; a "reviewed" step moves it on.

Every step is a CertificateEvent (who, when), an audit event, and — when staff took it — a
CERTIFICATE message to the member through the outbox, keyed by the event. A liaison sees
and advances only certificates of members in their scope; the command line sees all.
"""

from __future__ import annotations

import calendar
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, payloads
from storage.models import (
    Certificate,
    CertificateEvent,
    CertificateStatus,
    Member,
    MemberStatus,
    Unit,
)
from storage.outbox import StaffMessage, enqueue_to_members, enqueue_to_staff
from storage.phones import mask_phone
from storage.scope import looking_after, scope_condition

MAX_ORGANISATION_LENGTH = 200
MAX_REASON_LENGTH = 1000
MAX_NOTE_LENGTH = 500
MAX_MONTHS = 120

OPEN = (
    CertificateStatus.APPLIED,
    CertificateStatus.CHECKED,
    CertificateStatus.SENT,
    CertificateStatus.VERIFIED,
)
# The one step forward from each open status.
NEXT: dict[CertificateStatus, CertificateStatus] = {
    CertificateStatus.APPLIED: CertificateStatus.CHECKED,
    CertificateStatus.CHECKED: CertificateStatus.SENT,
    CertificateStatus.SENT: CertificateStatus.VERIFIED,
    CertificateStatus.VERIFIED: CertificateStatus.ISSUED,
}
REVIEWED = "reviewed"
REJECTED = CertificateStatus.REJECTED.value
# What staff may do: the forward steps, reject, and the yearly review.
STAFF_STEPS = (*(s.value for s in NEXT.values()), REJECTED, REVIEWED)
# A review may be recorded this long before it is due (the reminder comes on the day).
REVIEW_WINDOW = timedelta(days=31)


class CertificateError(ValueError):
    """An application or step that cannot be taken; the message says why (English).

    reason is a short stable word for the front ends to pick their own words by:
    not_mobile, reverse_not_inflow, already_open, organisation_empty, organisation_too_long,
    reason_empty, reason_too_long, bad_months, note_too_long, not_found, unknown_step,
    wrong_step, note_needed, not_open, review_not_due, letter_same_organisation,
    changed_meanwhile, already_done.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- checking what members type ---------------------------------------------------------------


def check_organisation(text: str) -> str:
    """An organisation or place on one line, 1 to MAX_ORGANISATION_LENGTH characters."""
    value = " ".join(text.split())
    if not value:
        raise CertificateError("the organisation is empty", "organisation_empty")
    if len(value) > MAX_ORGANISATION_LENGTH:
        raise CertificateError(
            f"{len(value)} characters; at most {MAX_ORGANISATION_LENGTH} are allowed",
            "organisation_too_long",
        )
    return value


def check_reason(text: str) -> str:
    """Why the member is away, 1 to MAX_REASON_LENGTH characters (lines kept)."""
    value = "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()
    if not value:
        raise CertificateError("the reason is empty", "reason_empty")
    if len(value) > MAX_REASON_LENGTH:
        raise CertificateError(
            f"the reason has {len(value)} characters; at most {MAX_REASON_LENGTH} are allowed",
            "reason_too_long",
        )
    return value


def parse_months(text: str | int) -> int:
    """Expected months away, 1 to MAX_MONTHS ("12", "１２", "12个月"), or CertificateError."""
    raw = unicodedata.normalize("NFKC", str(text)).strip().lower()
    for suffix in ("个月", "月", "months", "month"):
        raw = raw.removesuffix(suffix).strip()
    if not raw.isdigit() or len(raw) > 4 or not 1 <= int(raw) <= MAX_MONTHS:
        raise CertificateError(
            f"{str(text).strip()[:20]!r} is not a number of months from 1 to {MAX_MONTHS}",
            "bad_months",
        )
    return int(raw)


def _note(note: str | None) -> str | None:
    value = (note or "").strip()
    if len(value) > MAX_NOTE_LENGTH:
        raise CertificateError(
            f"the note has {len(value)} characters; at most {MAX_NOTE_LENGTH} are allowed",
            "note_too_long",
        )
    return value or None


def add_months(day: date, months: int) -> date:
    """day moved by whole months; the 31st becomes the month's last day when it has none."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


# --- what the front ends show -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventLine:
    """One step of a certificate's history."""

    at: datetime
    step: str
    actor_name: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class CertificateView:
    """A certificate with its member and history, as members, staff and letters see it."""

    id: int
    member_id: int
    member_name: str
    member_status: MemberStatus
    member_phone: str | None
    home_unit: str | None
    workplace: str | None
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
    events: tuple[EventLine, ...] = ()
    # The newest event's id: the certificate as this view shows it (the console's forms
    # send it back as `seen`, see advance).
    version: int = 0

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.member_phone) if self.member_phone else None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def next_step(self) -> str | None:
        """The forward step staff take next (None when issued, rejected or withdrawn)."""
        following = NEXT.get(self.status)
        return following.value if following is not None else None


def _visible(staff_id: int | None) -> ColumnElement[bool]:
    return scope_condition(staff_id) if staff_id is not None else true()


async def _view(session: AsyncSession, row: Certificate, member: Member) -> CertificateView:
    unit = await session.get(Unit, member.home_unit_id) if member.home_unit_id else None
    events = list(
        await session.scalars(
            select(CertificateEvent)
            .where(CertificateEvent.certificate_id == row.id)
            .order_by(CertificateEvent.at, CertificateEvent.id)
        )
    )
    return CertificateView(
        id=row.id,
        member_id=member.id,
        member_name=member.name,
        member_status=member.status,
        member_phone=member.phone,
        home_unit=unit.name if unit else None,
        workplace=member.workplace,
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
        events=tuple(EventLine(e.at, e.step, e.actor_name, e.note) for e in events),
        version=max((e.id for e in events), default=0),
    )


async def _row_in_scope(
    session: AsyncSession, certificate_id: int, staff_id: int | None, *, lock: bool = False
) -> tuple[Certificate, Member]:
    """The certificate and its member if staff_id may see them; lock: for a step, so two
    at once are taken one after the other (the second sees the first's)."""
    query = (
        select(Certificate, Member)
        .join(Member, Member.id == Certificate.member_id)
        .where(Certificate.id == certificate_id, _visible(staff_id))
    )
    if lock:
        query = query.with_for_update(of=Certificate)
    found = (await session.execute(query)).first()
    if found is None:
        # Out of scope looks exactly like not there: nothing is revealed.
        raise CertificateError(f"no certificate {certificate_id}", "not_found")
    return found[0], found[1]


async def get_certificate(
    session: AsyncSession, certificate_id: int, *, staff_id: int | None
) -> CertificateView | None:
    """One certificate staff_id may see (every one for None), with its history."""
    try:
        row, member = await _row_in_scope(session, certificate_id, staff_id)
    except CertificateError:
        return None
    return await _view(session, row, member)


async def member_certificate(session: AsyncSession, member_id: int) -> CertificateView | None:
    """The member's open application, else their most recent certificate (None: never applied)."""
    row = await session.scalar(
        select(Certificate)
        .where(Certificate.member_id == member_id)
        .order_by(Certificate.status.in_(OPEN).desc(), Certificate.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    member = await session.get(Member, member_id)
    assert member is not None
    return await _view(session, row, member)


@dataclass(frozen=True, slots=True)
class CertificateLine:
    """One row of a list of certificates."""

    id: int
    member_id: int
    member_name: str
    member_phone: str | None
    reverse: bool
    origin_organisation: str
    destination: str
    status: CertificateStatus
    number: str | None
    created_at: datetime
    updated_at: datetime
    review_due_on: date | None

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.member_phone) if self.member_phone else None

    @property
    def next_step(self) -> str | None:
        following = NEXT.get(self.status)
        return following.value if following is not None else None


async def list_certificates(
    session: AsyncSession,
    *,
    staff_id: int | None,
    statuses: Sequence[CertificateStatus] | None = None,
    limit: int = 200,
) -> list[CertificateLine]:
    """Certificates staff_id may see (all for None), oldest application first."""
    query = (
        select(Certificate, Member.name, Member.phone)
        .join(Member, Member.id == Certificate.member_id)
        .where(_visible(staff_id))
        .order_by(Certificate.created_at, Certificate.id)
        .limit(limit)
    )
    if statuses is not None:
        query = query.where(Certificate.status.in_(list(statuses)))
    return [
        CertificateLine(
            id=row.id,
            member_id=row.member_id,
            member_name=name,
            member_phone=phone,
            reverse=row.reverse,
            origin_organisation=row.origin_organisation,
            destination=row.destination,
            status=row.status,
            number=row.number,
            created_at=row.created_at,
            updated_at=row.updated_at,
            review_due_on=row.review_due_on,
        )
        for row, name, phone in await session.execute(query)
    ]


async def view_certificate(
    session: AsyncSession, now: datetime, certificate_id: int, *, staff_id: int | None, actor: str
) -> CertificateView | None:
    """One certificate as get_certificate finds it, for actor to look at: audited when found,
    and when refused to staff (certificate.view.refused: outside their scope or not there)."""
    view = await get_certificate(session, certificate_id, staff_id=staff_id)
    if view is not None:
        await audit.record(
            session,
            now,
            actor=actor,
            action="certificate.view",
            subject=f"certificate:{certificate_id}",
        )
    elif staff_id is not None:
        await audit.record_refused(
            session,
            now,
            actor=actor,
            action="certificate.view.refused",
            kind="certificate",
            model=Certificate,
            record_id=certificate_id,
        )
    return view


async def _waiting(
    session: AsyncSession, now: datetime, *, staff_id: int, zone: tzinfo, limit: int = 200
) -> list[CertificateLine]:
    """The open applications, and the issued certificates whose review is due."""
    today = now.astimezone(zone).date()
    lines = await list_certificates(
        session, staff_id=staff_id, statuses=(*OPEN, CertificateStatus.ISSUED), limit=limit
    )
    return [
        line
        for line in lines
        if line.status in OPEN
        or (line.review_due_on is not None and line.review_due_on - today <= REVIEW_WINDOW)
    ]


async def staff_certificates(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int,
    actor: str,
    zone: tzinfo,
    status: CertificateStatus | None = None,
    waiting: bool = False,
    limit: int = 200,
) -> list[CertificateLine]:
    """The certificates in staff_id's scope, oldest application first: those awaiting a
    step (waiting: as waiting_certificates chooses), or of one status, or all; audited."""
    if waiting:
        lines = await _waiting(session, now, staff_id=staff_id, zone=zone, limit=limit)
    else:
        lines = await list_certificates(
            session,
            staff_id=staff_id,
            statuses=(status,) if status is not None else None,
            limit=limit,
        )
    await audit.record(
        session,
        now,
        actor=actor,
        action="certificate.list.view",
        shown=len(lines),
        **({"status": status.value} if status else {"waiting": True} if waiting else {}),
    )
    return lines


@dataclass(frozen=True, slots=True)
class Waiting:
    """What awaits staff: how many certificates, and the first of them in full."""

    total: int
    shown: list[CertificateView]


async def waiting_certificates(
    session: AsyncSession, now: datetime, *, staff_id: int, actor: str, zone: tzinfo, limit: int
) -> Waiting:
    """The applications in staff_id's scope awaiting a step, and the issued certificates
    whose yearly review is due (within REVIEW_WINDOW), oldest first; audited."""
    waiting = await _waiting(session, now, staff_id=staff_id, zone=zone)
    shown = [
        view
        for line in waiting[:limit]
        if (view := await get_certificate(session, line.id, staff_id=staff_id)) is not None
    ]
    await audit.record(session, now, actor=actor, action="certificate.list.view", shown=len(shown))
    return Waiting(total=len(waiting), shown=shown)


# --- the workflow -----------------------------------------------------------------------------


async def _event(
    session: AsyncSession,
    now: datetime,
    row: Certificate,
    step: str,
    *,
    actor: str,
    actor_name: str | None,
    note: str | None,
) -> CertificateEvent:
    event = CertificateEvent(
        certificate_id=row.id,
        at=now,
        step=step,
        actor=actor,
        actor_name=actor_name,
        note=note,
    )
    session.add(event)
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action=f"certificate.{step}",
        subject=f"certificate:{row.id}",
        member=row.member_id,
        note=note,
    )
    return event


async def _tell_member(
    session: AsyncSession, now: datetime, row: Certificate, event: CertificateEvent
) -> None:
    """The step reaches the member in their language at send time (once per event)."""
    await enqueue_to_members(
        session,
        now,
        payload=payloads.CertificateStep(
            certificate_id=row.id,
            step=event.step,
            reverse=row.reverse,
            origin=row.origin_organisation,
            number=row.number,
            note=event.note,
            review_due_on=row.review_due_on.isoformat() if row.review_due_on else None,
        ),
        topic=f"cert:{row.id}:e{event.id}",
        condition=Member.id == row.member_id,
    )


async def apply(
    session: AsyncSession,
    now: datetime,
    *,
    member_id: int,
    origin_organisation: str,
    destination: str,
    reason: str,
    expected_months: int | str,
    reverse: bool = False,
    actor: str | None = None,
) -> Certificate:
    """A mobile member applies; one open application at a time; audited.

    reverse (reverse issuance) only for inflow members. actor defaults to the member.
    """
    member = await session.get(Member, member_id)
    if member is None:
        raise CertificateError(f"no member {member_id}", "not_found")
    if member.status is MemberStatus.LOCAL:
        raise CertificateError(
            "activity certificates are for mobile (inflow or outflow) members", "not_mobile"
        )
    if reverse and member.status is not MemberStatus.INFLOW:
        raise CertificateError("reverse issuance is for inflow members", "reverse_not_inflow")
    origin = check_organisation(origin_organisation)
    where_to = check_organisation(destination)
    why = check_reason(reason)
    months = parse_months(expected_months)
    open_one = await session.scalar(
        select(Certificate.id).where(
            Certificate.member_id == member_id, Certificate.status.in_(OPEN)
        )
    )
    if open_one is not None:
        raise CertificateError(
            f"the member already has an open application ({open_one})", "already_open"
        )
    row = Certificate(
        member_id=member_id,
        reverse=reverse,
        origin_organisation=origin,
        destination=where_to,
        reason=why,
        expected_months=months,
        status=CertificateStatus.APPLIED,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    await _event(
        session,
        now,
        row,
        CertificateStatus.APPLIED.value,
        actor=actor or f"member:{member_id}",
        actor_name=member.name,
        note=None,
    )
    # The liaisons hear of it at once, with the buttons for the first step.
    await enqueue_to_staff(
        session,
        now,
        [
            StaffMessage(
                staff.id,
                staff.telegram_user_id,
                f"cert:{row.id}:new",
                payloads.CertificateStep(
                    staff=True,
                    certificate_id=row.id,
                    step=CertificateStatus.APPLIED.value,
                    name=member.name,
                    reverse=reverse,
                    origin=origin,
                    destination=where_to,
                    months=months,
                ),
            )
            for staff in await looking_after(session, member_id)
        ],
    )
    return row


async def _next_number(session: AsyncSession, year: int) -> str:
    numbers = await session.scalars(
        select(Certificate.number).where(Certificate.number.like(f"{year}-%"))
    )
    highest = max((int(n.split("-", 1)[1]) for n in numbers if n), default=0)
    return f"{year}-{highest + 1:04d}"


async def advance(
    session: AsyncSession,
    now: datetime,
    certificate_id: int,
    step: str,
    *,
    actor: str,
    actor_name: str | None,
    staff_id: int | None,
    zone: tzinfo,
    review_months: int,
    note: str | None = None,
    seen: int | None = None,
) -> CertificateView:
    """Staff take one step (checked, sent, verified, issued, rejected, reviewed); audited.

    A wrong step is refused with the reason; rejecting needs a note (the reason told to the
    member). Issuing numbers the certificate per year and sets the first review date;
    "reviewed" moves the review date on by review_months. staff_id None: the command line.

    seen: the newest event of the certificate as the console's form showed it. A step taken
    since refuses this one: already_done when it was actor's same step (the form sent
    twice), else changed_meanwhile (a colleague's step, the member's withdrawal).
    """
    step = step.strip().lower()
    if step not in STAFF_STEPS:
        raise CertificateError(
            f"{step[:20]!r} is not a step; use one of {', '.join(STAFF_STEPS)}", "unknown_step"
        )
    text = _note(note)
    row, member = await _row_in_scope(session, certificate_id, staff_id, lock=True)
    if seen is not None:
        newer = list(
            await session.scalars(
                select(CertificateEvent)
                .where(CertificateEvent.certificate_id == row.id, CertificateEvent.id > seen)
                .order_by(CertificateEvent.id)
            )
        )
        if any(e.actor == actor and e.step == step for e in newer):
            raise CertificateError(f"certificate {row.id}: already done", "already_done")
        if newer:
            raise CertificateError(
                f"certificate {row.id} changed since it was shown", "changed_meanwhile"
            )
    today = now.astimezone(zone).date()
    if step == REJECTED:
        if row.status not in OPEN:
            raise CertificateError(
                f"certificate {row.id} is {row.status.value}; only open applications can be "
                "rejected",
                "wrong_step",
            )
        if text is None:
            raise CertificateError("say why it is rejected (a note)", "note_needed")
        row.status = CertificateStatus.REJECTED
    elif step == REVIEWED:
        if row.status is not CertificateStatus.ISSUED or row.review_due_on is None:
            raise CertificateError(
                f"certificate {row.id} is {row.status.value}; only issued ones are reviewed",
                "wrong_step",
            )
        if row.review_due_on - today > REVIEW_WINDOW:
            raise CertificateError(
                f"the review of certificate {row.id} is due on {row.review_due_on}",
                "review_not_due",
            )
        due = add_months(row.review_due_on, review_months)
        while due <= today:
            due = add_months(due, review_months)
        row.review_due_on = due
        row.reviewed_at = now
    else:
        expected = NEXT.get(row.status)
        if expected is None or expected.value != step:
            hint = f"; the next step is {expected.value}" if expected is not None else ""
            raise CertificateError(
                f"certificate {row.id} is {row.status.value}{hint}", "wrong_step"
            )
        row.status = expected
        if expected is CertificateStatus.ISSUED:
            row.number = await _next_number(session, today.year)
            row.issued_at = now
            row.review_due_on = add_months(today, review_months)
    row.updated_at = now
    event = await _event(session, now, row, step, actor=actor, actor_name=actor_name, note=text)
    await _tell_member(session, now, row, event)
    return await _view(session, row, member)


async def withdraw(session: AsyncSession, now: datetime, *, member_id: int) -> CertificateView:
    """The member withdraws their open application (before issue); audited."""
    row = await session.scalar(
        select(Certificate).where(Certificate.member_id == member_id, Certificate.status.in_(OPEN))
    )
    if row is None:
        raise CertificateError("no open application to withdraw", "not_open")
    member = await session.get(Member, member_id)
    assert member is not None
    row.status = CertificateStatus.WITHDRAWN
    row.updated_at = now
    await _event(
        session,
        now,
        row,
        CertificateStatus.WITHDRAWN.value,
        actor=f"member:{member_id}",
        actor_name=member.name,
        note=None,
    )
    return await _view(session, row, member)


# --- the letter to the origin organisation ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LetterData:
    """What the letter (函) says, to whom, and who sends it (see letter_parties)."""

    certificate: CertificateView
    # Which letter it is: "outflow" (we are the origin; to the destination), "inflow" (we
    # are the destination; to the origin, asking it to issue) or "reverse" (to the origin,
    # asking it to sign and return the form we collected).
    kind: str
    addressee: str
    issuer: str
    origin: str | None
    destination: str | None
    # The day it was applied for, and the letter's own date (local days).
    applied_on: date
    on: date


# A shorter name this long or longer at the end of the other is the same organisation
# (湖北省武汉市江汉区民族街道党工委 and 江汉区民族街道党工委); shorter ones are too generic.
_SAME_NAME_MIN = 5


def _same_organisation(a: str, b: str) -> bool:
    a, b = "".join(a.split()), "".join(b.split())
    short, long = sorted((a, b), key=len)
    return short == long or (len(short) >= _SAME_NAME_MIN and long.endswith(short))


def letter_parties(
    view: CertificateView, *, issuer: str | None, organisation: str | None
) -> tuple[str, str, str]:
    """(kind, addressee, signer) of a certificate's letter; the two are never one body.

    We write as the member's side here: the signer is the issuer setting, else the
    member's home unit, else the organisation's name. The addressee is the other side:
    an outflow member left us, so we are the origin and write to the destination; an
    inflow member came to us, so we are the destination and write to the origin (to issue
    the certificate, or, in reverse issuance, to sign and return the collected form).
    """
    signer = issuer or view.home_unit or organisation or ""
    if view.reverse:
        kind, addressee = "reverse", view.origin_organisation
    elif view.member_status is MemberStatus.OUTFLOW:
        kind, addressee = "outflow", view.destination
    else:
        kind, addressee = "inflow", view.origin_organisation
    if not signer or _same_organisation(addressee, signer):
        raise CertificateError(
            f"the letter would go from {signer or '(nobody)'} to {addressee}: set "
            "LIAISON_CERTIFICATE_ISSUER or correct the application's organisations",
            "letter_same_organisation",
        )
    return kind, addressee, signer


async def letter_data(
    session: AsyncSession,
    now: datetime,
    certificate_id: int,
    *,
    staff_id: int | None,
    actor: str,
    issuer: str | None,
    zone: tzinfo,
    form: str,
    organisation: str | None = None,
) -> LetterData | None:
    """The letter's contents for a certificate staff_id may see; audited as an export.

    None when there is no such certificate in staff_id's scope, audited for staff
    (certificate.letter.refused). issuer: the organisation that sends it (a setting);
    None: the member's home unit, or organisation (the organisation's name) when they have
    none. CertificateError letter_same_organisation when the addressee would be the sender
    (letter_parties).
    """
    try:
        row, member = await _row_in_scope(session, certificate_id, staff_id)
    except CertificateError:
        if staff_id is not None:
            await audit.record_refused(
                session,
                now,
                actor=actor,
                action="certificate.letter.refused",
                kind="certificate",
                model=Certificate,
                record_id=certificate_id,
            )
        return None
    view = await _view(session, row, member)
    kind, addressee, signer = letter_parties(view, issuer=issuer, organisation=organisation)
    await audit.record(
        session,
        now,
        actor=actor,
        action="certificate.letter",
        subject=f"certificate:{row.id}",
        member=row.member_id,
        format=form,
    )
    return LetterData(
        certificate=view,
        kind=kind,
        addressee=addressee,
        issuer=signer,
        origin=member.origin,
        destination=member.destination,
        applied_on=view.created_at.astimezone(zone).date(),
        on=now.astimezone(zone).date(),
    )


# --- the yearly review ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewReport:
    """A certificate whose review came due, and how many new messages that made."""

    certificate_id: int
    number: str | None
    member_name: str
    due_on: date
    messages: int


async def enqueue_due_reviews(
    session: AsyncSession, now: datetime, *, zone: tzinfo
) -> list[ReviewReport]:
    """Remind the member and their liaisons of every review due by today; once per period.

    The dedupe key carries the due date, so a job run twice (or caught up after a restart)
    sends once, and the next period's reminder is a new message.
    """
    today = now.astimezone(zone).date()
    rows = await session.execute(
        select(Certificate, Member.name)
        .join(Member, Member.id == Certificate.member_id)
        .where(
            Certificate.status == CertificateStatus.ISSUED,
            Certificate.review_due_on.is_not(None),
            Certificate.review_due_on <= today,
        )
        .order_by(Certificate.review_due_on, Certificate.id)
    )
    reports = []
    for row, name in rows.all():
        assert row.review_due_on is not None
        due = row.review_due_on.isoformat()
        topic = f"certreview:{row.id}:{due}"
        payload = payloads.CertificateReview(
            certificate_id=row.id, number=row.number, name=name, due_on=due, staff=False
        )
        new = await enqueue_to_members(
            session,
            now,
            payload=payload,
            topic=topic,
            condition=Member.id == row.member_id,
        )
        to_staff = payload.model_copy(update={"staff": True})
        new += await enqueue_to_staff(
            session,
            now,
            [
                StaffMessage(staff.id, staff.telegram_user_id, topic, to_staff)
                for staff in await looking_after(session, row.member_id)
            ],
        )
        if new:
            reports.append(ReviewReport(row.id, row.number, name, row.review_due_on, new))
    return reports


__all__ = [
    "MAX_MONTHS",
    "MAX_ORGANISATION_LENGTH",
    "MAX_REASON_LENGTH",
    "NEXT",
    "OPEN",
    "REVIEWED",
    "STAFF_STEPS",
    "CertificateError",
    "CertificateLine",
    "CertificateView",
    "EventLine",
    "LetterData",
    "ReviewReport",
    "Waiting",
    "add_months",
    "advance",
    "apply",
    "check_organisation",
    "check_reason",
    "enqueue_due_reviews",
    "get_certificate",
    "letter_data",
    "letter_parties",
    "list_certificates",
    "member_certificate",
    "parse_months",
    "staff_certificates",
    "view_certificate",
    "waiting_certificates",
    "withdraw",
]
