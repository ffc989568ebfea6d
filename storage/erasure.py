"""Erasing a member (PIPL Art. 47): one operation, one transaction, decided per table.

What identifies the member goes: their record (name, phone, Telegram binding, places of
origin, destination and work), and everything they wrote or that places them. What the
organisation counts stays, with no way back to the person. Per table:

- members, member_groups, invites: deleted (the record itself and its bindings); with the
  member row go, by their foreign keys, the rating adjustments (their reasons), the
  commendations (their citations) and the member's assignment to a partner organisation.
- invite_guards, conversations: the rows of their Telegram account deleted (the account is
  an identifier; an open draft holds what they were typing). A staff member's draft that
  quotes them (a rejection naming them) goes too.
- location_reports: deleted (places are the most sensitive part, Art. 28).
- checkins: kept for the statistics (check-ins per month, work situations, how many
  needed help), without the member, the place, the work note or the needs text.
- service_requests (+ events), certificates (+ events), ideas: deleted. They are the
  member's own texts and the staff's answers to them; no statistic reads them later, and
  deleting the row is the one way to be sure no free text is left in one of its columns.
- notice_receipts, study_receipts: deleted. A receipt is a fact about a person (who read
  what); a notice's report counts one acknowledgement fewer, its deliveries still count.
- deliveries to the member: kept for the notice reports (how many were sent, by channel),
  without the member, the address (chat id or phone), the payload or the dedupe key that
  named them; one still waiting is suppressed. Deliveries to staff about them (a new
  request, idea, certificate or data request, lost contact, the day-10 list) lose the
  payload that quotes them, or (the day-10 list) their line.
- inbound_sms, inbound_sms_parts: deleted, the SMS they sent (found by member and by
  their number, parts not yet put together included). Staff answers to them are deliveries
  to the member, as above.
- activity_invitations: kept for the activities' figures (invited, answers, attendance),
  without the member or who recorded the attendance.
- data_requests: kept, as that a correction or a deletion happened, without the member,
  the proposed value or the reason written about them.
- audit_events: kept, as that it happened, not who: the member as actor or subject (and
  their Telegram account as actor) becomes "member:erased" / "telegram:erased", with the
  detail dropped; a staff search typed with their name or phone loses the query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, qq_choices
from storage.identity import account_actor, member_accounts
from storage.models import (
    ActivityInvitation,
    AuditEvent,
    Certificate,
    CertificateEvent,
    CheckIn,
    Conversation,
    DataRequest,
    Delivery,
    DeliveryStatus,
    Idea,
    InboundSms,
    InboundSmsPart,
    Invite,
    InviteGuard,
    LocationReport,
    Member,
    MessageKind,
    NoticeReceipt,
    Platform,
    ServiceRequest,
    ServiceRequestEvent,
    StudyReceipt,
    member_groups,
)

ERASED = "erased"
# What a delivery still waiting says once its member is gone.
NOT_SENT = "member erased"

# Staff messages about a member, and the payload key that says which record they are about.
_ABOUT_REQUEST = (
    MessageKind.REQUEST_NEW,
    MessageKind.REQUEST_DUE,
    MessageKind.REQUEST_LATE,
    MessageKind.REQUEST_FEEDBACK,
    MessageKind.REQUEST_UPDATE,
)
_ABOUT_CERTIFICATE = (MessageKind.CERTIFICATE, MessageKind.CERT_REVIEW)


@dataclass(slots=True)
class ErasureReport:
    """How many rows of each table were deleted or anonymised."""

    member_id: int
    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def _ids(session: AsyncSession, column: Any, condition: Any) -> list[int]:
    return list(await session.scalars(select(column).where(condition)))


def _mentions(value: object, needles: tuple[str, ...]) -> bool:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return any(needle in text for needle in needles)


async def erase_member(
    session: AsyncSession, now: datetime, member_id: int, *, actor: str, request_id: int | None
) -> ErasureReport:
    """Erase or anonymise everything that identifies member_id (see the module's table);
    audited as "member.erase" without naming them. The caller's transaction commits it all
    or nothing."""
    member = await session.get(Member, member_id)
    if member is None:
        raise LookupError(f"no member {member_id}")
    report = ErasureReport(member_id=member_id)
    gone, anon = report.deleted, report.anonymised
    who = f"member:{member_id}"
    accounts = member_accounts(member)
    needles = tuple(n for n in (member.name, member.phone) if n)

    request_ids = await _ids(session, ServiceRequest.id, ServiceRequest.member_id == member_id)
    idea_ids = await _ids(session, Idea.id, Idea.member_id == member_id)
    certificate_ids = await _ids(session, Certificate.id, Certificate.member_id == member_id)
    data_request_ids = await _ids(session, DataRequest.id, DataRequest.member_id == member_id)

    # Staff messages that quote the member, read before their records go.
    anon["deliveries_about"] = await _scrub_staff_messages(
        session,
        now,
        member_id,
        requests=set(request_ids),
        ideas=set(idea_ids),
        certificates=set(certificate_ids),
        data_requests=set(data_request_ids),
    )
    # Deliveries to the member: counted still, addressed to nobody.
    waiting = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    await session.execute(
        update(Delivery)
        .where(Delivery.member_id == member_id, Delivery.status.in_(waiting))
        .values(status=DeliveryStatus.SUPPRESSED, finished_at=now, lease_until=None)
    )
    anon["deliveries"] = _count(
        await session.execute(
            update(Delivery)
            .where(Delivery.member_id == member_id)
            .values(
                member_id=None,
                address=None,
                payload=None,
                external_id=None,
                last_error=None,
                dedupe_key=literal(f"{ERASED}:") + cast(Delivery.id, String),
            )
            .execution_options(synchronize_session=False)
        )
    )
    anon["checkins"] = _count(
        await session.execute(
            update(CheckIn)
            .where(CheckIn.member_id == member_id)
            .values(member_id=None, location_report_id=None, work_note=None, needs_text=None)
            .execution_options(synchronize_session=False)
        )
    )
    anon["activity_invitations"] = _count(
        await session.execute(
            update(ActivityInvitation)
            .where(ActivityInvitation.member_id == member_id)
            # Nobody is left to give a place to: off the waiting list.
            .values(member_id=None, attendance_by=None, waiting_since=None)
            .execution_options(synchronize_session=False)
        )
    )
    anon["data_requests"] = _count(
        await session.execute(
            update(DataRequest)
            .where(DataRequest.member_id == member_id)
            .values(member_id=None, proposed_value=None, reason=None)
            .execution_options(synchronize_session=False)
        )
    )
    if request_ids:
        await session.execute(
            delete(ServiceRequestEvent).where(ServiceRequestEvent.request_id.in_(request_ids))
        )
    if certificate_ids:
        await session.execute(
            delete(CertificateEvent).where(CertificateEvent.certificate_id.in_(certificate_ids))
        )
    for name, table, condition in (
        ("service_requests", ServiceRequest, ServiceRequest.member_id == member_id),
        ("certificates", Certificate, Certificate.member_id == member_id),
        ("ideas", Idea, Idea.member_id == member_id),
        ("location_reports", LocationReport, LocationReport.member_id == member_id),
        ("invites", Invite, Invite.member_id == member_id),
        ("notice_receipts", NoticeReceipt, NoticeReceipt.member_id == member_id),
        ("study_receipts", StudyReceipt, StudyReceipt.member_id == member_id),
    ):
        gone[name] = _count(
            await session.execute(
                delete(table).where(condition).execution_options(synchronize_session=False)
            )
        )
    await session.execute(delete(member_groups).where(member_groups.c.member_id == member_id))
    if accounts:
        gone["invite_guards"] = 0
    for platform, user_id in accounts:
        gone["invite_guards"] += _count(
            await session.execute(
                delete(InviteGuard).where(
                    InviteGuard.platform == platform, InviteGuard.user_id == user_id
                )
            )
        )
    if member.qq_user_id is not None:
        await qq_choices.forget(session, member.qq_user_id)
    # What they texted in: the whole messages and the parts (some maybe never assembled).
    texted = InboundSms.member_id == member_id
    if member.phone:
        texted = or_(texted, InboundSms.sender == member.phone)
        gone["inbound_sms_parts"] = _count(
            await session.execute(
                delete(InboundSmsPart).where(InboundSmsPart.sender == member.phone)
            )
        )
    gone["inbound_sms"] = _count(await session.execute(delete(InboundSms).where(texted)))
    gone["conversations"] = await _drop_conversations(session, accounts, needles)
    anon["audit_events"] = await _scrub_audit(session, who, accounts, needles)
    await session.execute(delete(Member).where(Member.id == member_id))
    session.expunge(member)
    gone["members"] = 1
    await audit.record(
        session,
        now,
        actor=actor,
        action="member.erase",
        subject=f"member:{ERASED}",
        data_request=request_id,
        deleted=dict(gone),
        anonymised=dict(anon),
    )
    return report


async def _scrub_staff_messages(
    session: AsyncSession,
    now: datetime,
    member_id: int,
    *,
    requests: set[int],
    ideas: set[int],
    certificates: set[int],
    data_requests: set[int],
) -> int:
    """Staff messages about the member lose what quotes them; a waiting one is not sent."""
    kinds = (
        *_ABOUT_REQUEST,
        *_ABOUT_CERTIFICATE,
        MessageKind.IDEA_NEW,
        MessageKind.RIGHTS_NEW,
        MessageKind.LOST_CONTACT,
        MessageKind.ESCALATION,
    )
    rows = await session.scalars(
        select(Delivery).where(
            Delivery.member_id.is_(None), Delivery.kind.in_(kinds), Delivery.payload.is_not(None)
        )
    )
    changed = 0
    for row in rows:
        data = row.payload or {}
        about: bool
        if row.kind in _ABOUT_REQUEST:
            about = data.get("request_id") in requests
        elif row.kind in _ABOUT_CERTIFICATE:
            about = data.get("certificate_id") in certificates
        elif row.kind is MessageKind.IDEA_NEW:
            about = data.get("id") in ideas
        elif row.kind is MessageKind.RIGHTS_NEW:
            about = data.get("id") in data_requests
        elif row.kind is MessageKind.LOST_CONTACT:
            about = data.get("member_id") == member_id
        else:
            # The day-10 list: the member's line goes, the count of silent members stays.
            listed = data.get("members")
            if isinstance(listed, list) and any(
                isinstance(m, dict) and m.get("id") == member_id for m in listed
            ):
                kept = [m for m in listed if not (isinstance(m, dict) and m.get("id") == member_id)]
                row.payload = {**data, "members": kept}
                changed += 1
            continue
        if not about:
            continue
        row.payload = None
        if row.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            row.status = DeliveryStatus.SUPPRESSED
            row.finished_at = now
            row.lease_until = None
            row.last_error = NOT_SENT
        changed += 1
    await session.flush()
    return changed


async def _drop_conversations(
    session: AsyncSession, accounts: list[tuple[Platform, int]], needles: tuple[str, ...]
) -> int:
    """The member's own open conversations, and any staff draft that quotes them. The table
    holds one row per open chat and is purged daily: read whole."""
    dropped = 0
    for row in list(await session.scalars(select(Conversation))):
        theirs = any(
            platform is row.platform and user_id in (row.user_id, row.chat_id)
            for platform, user_id in accounts
        )
        if theirs or (needles and _mentions(row.draft, needles)):
            await session.delete(row)
            dropped += 1
    await session.flush()
    return dropped


async def _scrub_audit(
    session: AsyncSession,
    who: str,
    accounts: list[tuple[Platform, int]],
    needles: tuple[str, ...],
) -> int:
    """The audit keeps that things happened, not to whom."""
    changed = 0
    for column in (AuditEvent.actor, AuditEvent.subject):
        changed += _count(
            await session.execute(
                update(AuditEvent)
                .where(column == who)
                .values({column.key: f"member:{ERASED}", "detail": None})
                .execution_options(synchronize_session=False)
            )
        )
    for platform, user_id in accounts:
        changed += _count(
            await session.execute(
                update(AuditEvent)
                .where(AuditEvent.actor == account_actor(platform, user_id))
                .values(actor=f"{platform.value}:{ERASED}", detail=None)
                .execution_options(synchronize_session=False)
            )
        )
    # Decisions on the member's data requests name them in the detail.
    changed += _count(
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.action.startswith("rights."), _detail_names(who))
            .values(detail=None)
            .execution_options(synchronize_session=False)
        )
    )
    # A staff search typed with the member's name or phone keeps that a search was made.
    if needles:
        searches = await session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "member.view",
                AuditEvent.subject.is_(None),
                AuditEvent.detail.is_not(None),
            )
        )
        for event in searches:
            detail = dict(event.detail or {})
            query = detail.get("query")
            if isinstance(query, str) and query and _query_names(query, needles):
                detail.pop("query")
                event.detail = detail
                changed += 1
        await session.flush()
    return changed


def _detail_names(who: str) -> Any:
    # The detail is JSON: its text holds '"member": "member:7"' on either database.
    return cast(AuditEvent.detail, String).contains(f'"{who}"')


def _query_names(query: str, needles: tuple[str, ...]) -> bool:
    folded = query.casefold()
    return any(folded in n.casefold() or n.casefold() in folded for n in needles)


__all__ = ["ERASED", "ErasureReport", "erase_member"]
