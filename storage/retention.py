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
- audit events: deleted.

The SMS demonstration log is a file, not a table: messages/channels/sms_log.py trims it and
its callers add the count with `PurgeReport.add`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, cast, delete, exists, func, literal, null, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import audit
from storage.calendar import add_months
from storage.models import (
    AuditEvent,
    CheckIn,
    Delivery,
    DeliveryStatus,
    LocationReport,
    RequestStatus,
    ServiceRequest,
    ServiceRequestEvent,
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

    @classmethod
    def of(cls, settings: Settings) -> Retention:
        return cls(
            checkins_months=settings.retention_checkins_months,
            deliveries_months=settings.retention_deliveries_months,
            requests_months=settings.retention_requests_months,
            audit_months=settings.retention_audit_months,
            sms_log_days=settings.retention_sms_log_days,
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

    kind: str  # checkins | places | deliveries | requests | audit | sms_log
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
    report.add(await _audit(session, months_before(now, retention.audit_months)))
    for purged in also:
        report.add(purged)
    await audit.record(session, now, actor=actor, action="privacy.purge", counts=report.counts())
    return report


async def _checkins(session: AsyncSession, before: datetime) -> Purged:
    latest = select(func.max(CheckIn.id)).group_by(CheckIn.member_id)
    deleted = await session.execute(
        delete(CheckIn)
        .where(CheckIn.checked_in_at < before, CheckIn.id.not_in(latest))
        .execution_options(synchronize_session=False)
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
    return Purged("checkins", before, _rows(deleted), _rows(stripped))


async def _places(session: AsyncSession, before: datetime) -> Purged:
    # A newer check-in never points at an older report ("same as last month" writes a new
    # one); the foreign key would unlink it (SET NULL) if one did.
    deleted = await session.execute(
        delete(LocationReport)
        .where(LocationReport.reported_at < before)
        .execution_options(synchronize_session=False)
    )
    return Purged("places", before, _rows(deleted))


async def _deliveries(session: AsyncSession, before: datetime) -> Purged:
    old = (Delivery.created_at < before, Delivery.status.in_(FINISHED))
    deleted = await session.execute(
        delete(Delivery)
        .where(*old, Delivery.notice_id.is_(None))
        .execution_options(synchronize_session=False)
    )
    # A notice's earlier attempts for a member (Telegram failed, then SMS) go first: what
    # stays is one row per recipient, its outcome, so the report still counts recipients.
    later = aliased(Delivery)
    superseded = await session.execute(
        delete(Delivery)
        .where(
            *old,
            Delivery.notice_id.is_not(None),
            Delivery.member_id.is_not(None),
            exists().where(
                later.notice_id == Delivery.notice_id,
                later.member_id == Delivery.member_id,
                later.id > Delivery.id,
            ),
        )
        .execution_options(synchronize_session=False)
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
    return Purged("deliveries", before, _rows(deleted) + _rows(superseded), _rows(anonymised))


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


async def _audit(session: AsyncSession, before: datetime) -> Purged:
    deleted = await session.execute(
        delete(AuditEvent)
        .where(AuditEvent.at < before)
        .execution_options(synchronize_session=False)
    )
    return Purged("audit", before, _rows(deleted))


__all__ = ["PurgeReport", "Purged", "Retention", "months_before", "purge"]
