"""Retention (PIPL Art. 19): each kind of record is kept only as long as a setting says.

`purge(session, now, retention)` deletes what is past its time, or, where a count must
survive for statistics, erases what identifies a person and keeps the rest. Every statement
is set-based (one DELETE or UPDATE per kind, whatever the number of rows) and selects only
what is still there to purge, so a second run the same day purges nothing and the daily job
may run at any timer, a catch-up or twice.

What each kind keeps:

- check-ins and their places (location reports): deleted, except each member's latest
  check-in, kept as a date without its place or notes, because "silent since" (the
  lost-contact rule, /overdue, the day-10 list) reads it;
- deliveries: deleted, except the last of each recipient of a notice, which loses
  recipient, address, payload, error and external id and keeps kind, channel and status:
  a notice's report still counts its recipients and how many were delivered or failed;
- service requests, once closed: the free texts (description, answer, referral, feedback
  comment, attachment, notes, the member's name on their own steps) are erased; category,
  measure, status, dates and the member's rating stay for the service statistics;
- notice and study receipts: deleted (the primary key is the member: there is nothing to
  keep without them); a notice's report counts those acknowledged in the last year;
- ideas, once answered (replied or adopted): the texts (the idea and the reply) are erased;
  kind, status, dates and who answered stay, since the programme reports ideas collected
  and adopted per year. An idea nobody answered is deleted: without its text it would sit
  in the staff's unanswered list for ever, and no statistic counts the ignored;
- certificates, once ended (rejected or withdrawn: at that step; issued: when a yearly
  review fell due and none followed): issued ones lose the reason, the destination and
  their steps' notes and stop waiting for a review; status, number, issue date, origin
  organisation and reverse issuance stay, since certificates issued per year (and reverse
  issuance) are counted. Rejected and withdrawn ones are deleted with their steps: no
  statistic reads them;
- invites, once used or expired, and wrong-code counters (invite guards) after their last
  attempt and lock: deleted;
- data requests, once decided (approved, rejected, withdrawn): kept as that a correction
  or deletion happened, without the member, the proposed value or the reason;
- SMS members sent in (inbound SMS, and their parts): deleted once handled, answered or
  not; a part never completed goes with them;
- audit events: deleted.

The SMS demonstration log is a file, not a table: messages/channels/sms_log.py trims it and
its callers add the count with `PurgeReport.add`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    String,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import audit
from storage.calendar import add_months
from storage.models import (
    AuditEvent,
    Base,
    Certificate,
    CertificateEvent,
    CertificateStatus,
    CheckIn,
    DataRequest,
    DataRequestStatus,
    Delivery,
    DeliveryStatus,
    Idea,
    IdeaStatus,
    InboundSms,
    InboundSmsPart,
    Invite,
    InviteGuard,
    LocationReport,
    NoticeReceipt,
    RequestStatus,
    ServiceRequest,
    ServiceRequestEvent,
    StudyReceipt,
)
from storage.outbox import ANONYMISED_KEY
from storage.settings import Settings

# A delivery still on its way is never purged, however old: the dispatcher owns it.
FINISHED = (
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.FAILED,
    DeliveryStatus.SUPPRESSED,
)
CLOSED = (RequestStatus.RESOLVED, RequestStatus.CANNOT_HELP, RequestStatus.REFERRED)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of record is kept (LIAISON_RETENTION_* settings)."""

    checkins_months: int = 36
    deliveries_months: int = 12
    requests_months: int = 36
    audit_months: int = 60
    sms_log_days: int = 30
    receipts_months: int = 12
    ideas_months: int = 36
    certificates_months: int = 36
    invites_months: int = 3
    invite_guards_months: int = 1
    data_requests_months: int = 12
    sms_inbox_months: int = 12

    @classmethod
    def of(cls, settings: Settings) -> Retention:
        return cls(
            checkins_months=settings.retention_checkins_months,
            deliveries_months=settings.retention_deliveries_months,
            requests_months=settings.retention_requests_months,
            audit_months=settings.retention_audit_months,
            sms_log_days=settings.retention_sms_log_days,
            receipts_months=settings.retention_receipts_months,
            ideas_months=settings.retention_ideas_months,
            certificates_months=settings.retention_certificates_months,
            invites_months=settings.retention_invites_months,
            invite_guards_months=settings.retention_invite_guards_months,
            data_requests_months=settings.retention_data_requests_months,
            sms_inbox_months=settings.retention_sms_inbox_months,
        )

    def sms_log_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.sms_log_days)


def months_before(now: datetime, months: int) -> datetime:
    """The same instant months earlier (the day clamped to a shorter month's end)."""
    utc = now.astimezone(UTC)
    return datetime.combine(add_months(utc.date(), -months), utc.timetz())


@dataclass(frozen=True, slots=True)
class Purged:
    """One kind: what went (deleted) and what lost its identity but stays (anonymised)."""

    # checkins | places | deliveries | requests | notice_receipts | study_receipts | ideas |
    # certificates | invites | invite_guards | data_requests | inbound_sms | audit | sms_log
    kind: str
    before: datetime
    deleted: int = 0
    anonymised: int = 0

    @property
    def total(self) -> int:
        return self.deleted + self.anonymised

    def line(self) -> str:
        """The kind as an operator reads it: counts, and what is kept of the rest."""
        what, deletes, kept = _WORDS[self.kind]
        counts = [f"{self.deleted} deleted"] if deletes else []
        if kept:
            counts.append(f"{self.anonymised} {kept}")
        return f"{what} before {self.before:%Y-%m-%d}: {', '.join(counts)}"


# Each kind: what it is called, whether it deletes, what it says of what it keeps.
_WORDS = {
    "checkins": ("check-ins", True, "kept as a date only (each member's latest)"),
    "places": ("places (location reports)", True, ""),
    "deliveries": ("deliveries", True, "anonymised (notice statistics)"),
    "requests": ("closed service requests", False, "anonymised (free texts erased)"),
    "notice_receipts": ("notice receipts", True, ""),
    "study_receipts": ("study receipts", True, ""),
    "ideas": ("ideas (unanswered deleted)", True, "anonymised (texts erased, counts kept)"),
    "certificates": (
        "ended certificates (rejected or withdrawn deleted)",
        True,
        "issued ones anonymised (texts erased, counts kept)",
    ),
    "invites": ("used or expired invites", True, ""),
    "invite_guards": ("wrong-code counters", True, ""),
    "data_requests": ("decided data requests", False, "anonymised (member and values erased)"),
    "inbound_sms": ("SMS from members' phones", True, ""),
    "audit": ("audit events", True, ""),
    "sms_log": ("SMS log entries", True, ""),
}


@dataclass(slots=True)
class PurgeReport:
    """What one purge took away, a line per kind in a fixed order."""

    now: datetime
    kinds: list[Purged] = field(default_factory=list)

    def add(self, purged: Purged) -> None:
        self.kinds.append(purged)

    def count(self, kind: str) -> Purged:
        return next(p for p in self.kinds if p.kind == kind)

    @property
    def total(self) -> int:
        return sum(p.total for p in self.kinds)

    def lines(self) -> list[str]:
        return [p.line() for p in self.kinds]

    def counts(self) -> dict[str, dict[str, int]]:
        """The counts per kind, for the audit record."""
        return {p.kind: {"deleted": p.deleted, "anonymised": p.anonymised} for p in self.kinds}


def _rows(result: object) -> int:
    assert isinstance(result, CursorResult)
    return max(int(result.rowcount or 0), 0)


async def _delete(session: AsyncSession, model: type[Base], *where: ColumnElement[bool]) -> int:
    """Delete model's rows where all of where hold, in one statement; how many went."""
    deleted = await session.execute(
        delete(model).where(*where).execution_options(synchronize_session=False)
    )
    return _rows(deleted)


async def purge(
    session: AsyncSession,
    now: datetime,
    retention: Retention,
    *,
    actor: str = "system",
    also: Sequence[Purged] = (),
) -> PurgeReport:
    """Delete or anonymise every record past its time; audited with the counts per kind.

    also: what the caller purged outside the database (the SMS log), reported and audited
    with the rest.
    """
    report = PurgeReport(now)
    report.add(await _checkins(session, months_before(now, retention.checkins_months)))
    report.add(await _places(session, months_before(now, retention.checkins_months)))
    report.add(await _deliveries(session, months_before(now, retention.deliveries_months)))
    report.add(await _requests(session, months_before(now, retention.requests_months)))
    receipts = months_before(now, retention.receipts_months)
    report.add(await _notice_receipts(session, receipts))
    report.add(await _study_receipts(session, receipts))
    report.add(await _ideas(session, months_before(now, retention.ideas_months)))
    report.add(await _certificates(session, months_before(now, retention.certificates_months)))
    report.add(await _invites(session, months_before(now, retention.invites_months)))
    report.add(await _invite_guards(session, months_before(now, retention.invite_guards_months)))
    report.add(await _data_requests(session, months_before(now, retention.data_requests_months)))
    report.add(await _inbound_sms(session, months_before(now, retention.sms_inbox_months)))
    report.add(await _audit(session, months_before(now, retention.audit_months)))
    for purged in also:
        report.add(purged)
    await audit.record(session, now, actor=actor, action="privacy.purge", counts=report.counts())
    return report


async def _inbound_sms(session: AsyncSession, before: datetime) -> Purged:
    # Parts first: those of old messages, and those never completed (no message at all).
    await _delete(session, InboundSmsPart, InboundSmsPart.received_at < before)
    deleted = await _delete(
        session, InboundSms, InboundSms.received_at < before, InboundSms.handled_at.is_not(None)
    )
    return Purged("inbound_sms", before, deleted)


async def _checkins(session: AsyncSession, before: datetime) -> Purged:
    latest = select(func.max(CheckIn.id)).group_by(CheckIn.member_id)
    deleted = await _delete(
        session, CheckIn, CheckIn.checked_in_at < before, CheckIn.id.not_in(latest)
    )
    # What is left before the cutoff is each member's latest: its date stays, nothing else.
    stripped = await session.execute(
        update(CheckIn)
        .where(
            CheckIn.checked_in_at < before,
            or_(
                CheckIn.location_report_id.is_not(None),
                CheckIn.work_note.is_not(None),
                CheckIn.needs_text.is_not(None),
            ),
        )
        .values(location_report_id=None, work_note=None, needs_text=None)
        .execution_options(synchronize_session=False)
    )
    return Purged("checkins", before, deleted, _rows(stripped))


async def _places(session: AsyncSession, before: datetime) -> Purged:
    # A newer check-in never points at an older report ("same as last month" writes a new
    # one); the foreign key would unlink it (SET NULL) if one did.
    deleted = await _delete(session, LocationReport, LocationReport.reported_at < before)
    return Purged("places", before, deleted)


async def _deliveries(session: AsyncSession, before: datetime) -> Purged:
    old = (Delivery.created_at < before, Delivery.status.in_(FINISHED))
    deleted = await _delete(session, Delivery, *old, Delivery.notice_id.is_(None))
    # A notice's earlier attempts for a member (Telegram failed, then SMS) go first: what
    # stays is one row per recipient, its outcome, so the report still counts recipients.
    later = aliased(Delivery)
    superseded = await _delete(
        session,
        Delivery,
        *old,
        Delivery.notice_id.is_not(None),
        Delivery.member_id.is_not(None),
        exists().where(
            later.notice_id == Delivery.notice_id,
            later.member_id == Delivery.member_id,
            later.id > Delivery.id,
        ),
    )
    anonymised = await session.execute(
        update(Delivery)
        .where(
            *old, Delivery.notice_id.is_not(None), ~Delivery.dedupe_key.startswith(ANONYMISED_KEY)
        )
        .values(
            dedupe_key=literal(ANONYMISED_KEY) + cast(Delivery.id, String),
            member_id=None,
            staff_id=None,
            address=None,
            payload=null(),
            last_error=None,
            external_id=None,
        )
        .execution_options(synchronize_session=False)
    )
    return Purged("deliveries", before, deleted + superseded, _rows(anonymised))


async def _requests(session: AsyncSession, before: datetime) -> Purged:
    closed = (ServiceRequest.status.in_(CLOSED), ServiceRequest.closed_at < before)
    anonymised = await session.execute(
        update(ServiceRequest)
        .where(
            *closed,
            or_(
                ServiceRequest.description != "",
                ServiceRequest.answer.is_not(None),
                ServiceRequest.referred_to.is_not(None),
                ServiceRequest.feedback_comment.is_not(None),
                ServiceRequest.attachment_file_id.is_not(None),
                ServiceRequest.attachment_name.is_not(None),
            ),
        )
        .values(
            description="",
            answer=None,
            referred_to=None,
            feedback_comment=None,
            attachment_file_id=None,
            attachment_kind=None,
            attachment_name=None,
        )
        .execution_options(synchronize_session=False)
    )
    old_requests = select(ServiceRequest.id).where(*closed)
    await session.execute(
        update(ServiceRequestEvent)
        .where(
            ServiceRequestEvent.request_id.in_(old_requests),
            ServiceRequestEvent.note.is_not(None),
        )
        .values(note=None)
        .execution_options(synchronize_session=False)
    )
    # A member's own steps carry their name as it was; staff names stay (who handled it).
    await session.execute(
        update(ServiceRequestEvent)
        .where(
            ServiceRequestEvent.request_id.in_(old_requests),
            ServiceRequestEvent.actor.startswith("member:"),
            ServiceRequestEvent.actor_name.is_not(None),
        )
        .values(actor_name=None)
        .execution_options(synchronize_session=False)
    )
    return Purged("requests", before, anonymised=_rows(anonymised))


async def _notice_receipts(session: AsyncSession, before: datetime) -> Purged:
    deleted = await _delete(session, NoticeReceipt, NoticeReceipt.acknowledged_at < before)
    return Purged("notice_receipts", before, deleted)


async def _study_receipts(session: AsyncSession, before: datetime) -> Purged:
    deleted = await _delete(session, StudyReceipt, StudyReceipt.studied_at < before)
    return Purged("study_receipts", before, deleted)


async def _ideas(session: AsyncSession, before: datetime) -> Purged:
    # Unanswered for the whole time: deleted (see the module's docstring).
    deleted = await _delete(session, Idea, Idea.status == IdeaStatus.NEW, Idea.created_at < before)
    # Answered: counted from the last answer, a reply or the adoption (either may be alone).
    anonymised = await session.execute(
        update(Idea)
        .where(
            Idea.status != IdeaStatus.NEW,
            func.coalesce(Idea.replied_at, Idea.created_at) < before,
            func.coalesce(Idea.adopted_at, Idea.created_at) < before,
            or_(Idea.body != "", Idea.reply.is_not(None)),
        )
        .values(body="", reply=None)
        .execution_options(synchronize_session=False)
    )
    return Purged("ideas", before, deleted, _rows(anonymised))


async def _certificates(session: AsyncSession, before: datetime) -> Purged:
    # Rejected or withdrawn: ended at that step, the last one (updated_at); events cascade.
    deleted = await _delete(
        session,
        Certificate,
        Certificate.status.in_((CertificateStatus.REJECTED, CertificateStatus.WITHDRAWN)),
        Certificate.updated_at < before,
    )
    # Issued: it ends when a yearly review falls due and none follows. The review date is a
    # calendar date; the cutoff's UTC date is near enough for a limit counted in months.
    lapsed = (
        Certificate.status == CertificateStatus.ISSUED,
        Certificate.review_due_on < before.astimezone(UTC).date(),
    )
    ended = select(Certificate.id).where(*lapsed)
    await session.execute(
        update(CertificateEvent)
        .where(
            CertificateEvent.certificate_id.in_(ended),
            or_(
                CertificateEvent.note.is_not(None),
                CertificateEvent.actor.startswith("member:")
                & CertificateEvent.actor_name.is_not(None),
            ),
        )
        .values(
            note=None,
            # The member's own steps carry their name; staff names stay (who handled it).
            actor_name=case(
                (CertificateEvent.actor.startswith("member:"), null()),
                else_=CertificateEvent.actor_name,
            ),
        )
        .execution_options(synchronize_session=False)
    )
    # Last, since it takes the review date that selects them: a second run finds none.
    anonymised = await session.execute(
        update(Certificate)
        .where(*lapsed)
        .values(reason="", destination="", review_due_on=None)
        .execution_options(synchronize_session=False)
    )
    return Purged("certificates", before, deleted, _rows(anonymised))


async def _invites(session: AsyncSession, before: datetime) -> Purged:
    deleted = await _delete(
        session,
        Invite,
        or_(
            Invite.used_at < before,
            Invite.used_at.is_(None) & (Invite.expires_at < before),
        ),
    )
    return Purged("invites", before, deleted)


async def _invite_guards(session: AsyncSession, before: datetime) -> Purged:
    # Only once the lock, too, is that long past: a guard still locking keeps locking.
    deleted = await _delete(
        session,
        InviteGuard,
        or_(InviteGuard.last_failure_at.is_(None), InviteGuard.last_failure_at < before),
        or_(InviteGuard.locked_until.is_(None), InviteGuard.locked_until < before),
    )
    return Purged("invite_guards", before, deleted)


async def _data_requests(session: AsyncSession, before: datetime) -> Purged:
    anonymised = await session.execute(
        update(DataRequest)
        .where(
            DataRequest.status != DataRequestStatus.PENDING,
            func.coalesce(DataRequest.decided_at, DataRequest.created_at) < before,
            or_(
                DataRequest.member_id.is_not(None),
                DataRequest.proposed_value.is_not(None),
                DataRequest.reason.is_not(None),
            ),
        )
        .values(member_id=None, proposed_value=None, reason=None)
        .execution_options(synchronize_session=False)
    )
    return Purged("data_requests", before, anonymised=_rows(anonymised))


async def _audit(session: AsyncSession, before: datetime) -> Purged:
    deleted = await _delete(session, AuditEvent, AuditEvent.at < before)
    return Purged("audit", before, deleted)


__all__ = ["PurgeReport", "Purged", "Retention", "months_before", "purge"]
