"""Members' rights to correct and to delete their data (PIPL Arts. 46–47).

A member proposes a correction of one field of their record (FIELDS): it is kept as a
pending data request, and the staff who look after the member (storage/scope.py
looking_after) are told (RIGHTS_NEW through the outbox). A liaison or administrator in scope
approves it (the record changes only then) or rejects it with a reason; the member hears
the decision in their language (RIGHTS_REPLY). Proposing the same field again withdraws the
pending proposal: only the newest is decided.

A member asks to leave: a pending deletion request, told to the administrators over the
member. Only an administrator (or the command line) confirms it; storage/erasure.py then
erases or anonymises everything that identifies the member, in the same transaction. An
administrator may also reject it with a reason (the member hears it).

Staff see only the requests of members in their scope; anyone else's reads as one that does
not exist. Every proposal, look and decision is audited.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, payloads
from storage.erasure import ErasureReport, erase_member
from storage.models import (
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    Member,
    Staff,
    StaffRole,
)
from storage.outbox import StaffMessage, enqueue_to_members, enqueue_to_staff
from storage.phones import InvalidPhone, mask_phone, normalize_phone
from storage.roster import FIELD_MAX_CHARS, NAME_MAX_CHARS
from storage.scope import admins_over, looking_after, scope_condition

# A rejection's reason is a sentence or two the member reads.
MAX_REASON_LENGTH = 500


class Field(enum.StrEnum):
    """The fields of a member's record a member can know to be wrong. Status, home unit
    and groups are the organisation's decisions, not facts about the member."""

    NAME = "name"
    PHONE = "phone"
    WORKPLACE = "workplace"
    TRADE = "trade"
    ORIGIN = "origin"
    DESTINATION = "destination"


FIELDS = tuple(Field)


class RightsError(ValueError):
    """A proposal or decision that cannot be made; the message says why (English).

    reason is a short stable word for the front ends: empty, too_long, bad_phone,
    phone_taken, unchanged, not_found, decided, admin_only, reason_needed.
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


def _one_line(text: str) -> str:
    # Control characters (a NUL, an escape) are never part of a name or a place; runs of
    # whitespace and line breaks become one space, as the roster import reads a cell.
    kept = "".join(c if unicodedata.category(c) != "Cc" else " " for c in text)
    return " ".join(kept.split())


def check_value(field: Field, text: str) -> str:
    """The value as it would be stored, validated as the roster import does; RightsError
    (empty, too_long, bad_phone) otherwise."""
    value = _one_line(text)
    if not value:
        raise RightsError(f"the new {field.value} is empty", "empty")
    if field is Field.PHONE:
        try:
            return normalize_phone(value)
        except InvalidPhone as error:
            raise RightsError(f"invalid phone: {error}", "bad_phone") from None
    limit = NAME_MAX_CHARS if field is Field.NAME else FIELD_MAX_CHARS
    if len(value) > limit:
        raise RightsError(
            f"the new {field.value} has {len(value)} characters; at most {limit}", "too_long"
        )
    return value


def current_value(member: Member, field: Field) -> str | None:
    """What the member's record holds in field now."""
    value: str | None = getattr(member, field.value)
    return value


def shown_value(field: str | None, value: str | None) -> str | None:
    """A value as an alert to several staff may show it: a phone number masked."""
    if value is not None and field == Field.PHONE:
        return mask_phone(value)
    return value


@dataclass(frozen=True, slots=True)
class DataRequestView:
    """One data request as staff (or its member) see it."""

    id: int
    kind: DataRequestKind
    status: DataRequestStatus
    member_id: int | None
    member_name: str | None
    field: str | None
    # What the record holds now (None for a deletion, or once the member was erased).
    current: str | None
    proposed: str | None
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None

    @property
    def pending(self) -> bool:
        return self.status is DataRequestStatus.PENDING


def _visible(staff_id: int | None) -> ColumnElement[bool]:
    """A where-clause (with Member joined): the requests staff_id may see; None: all."""
    return scope_condition(staff_id) if staff_id is not None else true()


async def _views(
    session: AsyncSession, condition: ColumnElement[bool], *, limit: int | None = None
) -> list[DataRequestView]:
    query = (
        select(DataRequest, Member)
        .join(Member, Member.id == DataRequest.member_id)
        .where(condition)
        .order_by(DataRequest.created_at, DataRequest.id)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = list(await session.execute(query))
    names = await audit.actor_names(session, {r.decided_by for r, _ in rows if r.decided_by})
    return [
        DataRequestView(
            id=row.id,
            kind=row.kind,
            status=row.status,
            member_id=row.member_id,
            member_name=member.name,
            field=row.field,
            current=current_value(member, Field(row.field)) if row.field else None,
            proposed=row.proposed_value,
            created_at=row.created_at,
            decided_by=names.get(row.decided_by) if row.decided_by else None,
            decided_at=row.decided_at,
            reason=row.reason,
        )
        for row, member in rows
    ]


async def _member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise RightsError(f"no member {member_id}", "not_found")
    return member


async def _check_new(session: AsyncSession, member: Member, field: Field, text: str) -> str:
    """The new value, refused when it changes nothing or (a phone) is another member's."""
    value = check_value(field, text)
    if value == current_value(member, field):
        raise RightsError(f"the {field.value} is already {value!r}", "unchanged")
    if field is Field.PHONE:
        taken = await session.scalar(
            select(Member.id).where(Member.phone == value, Member.id != member.id)
        )
        if taken is not None:
            raise RightsError("another member has this phone number", "phone_taken")
    return value


# --- members ------------------------------------------------------------------------------


async def propose_correction(
    session: AsyncSession, now: datetime, *, member_id: int, field: Field, text: str
) -> DataRequest:
    """A member proposes a new value for one field of their record: kept pending, their
    liaisons told (RIGHTS_NEW); audited. An earlier pending proposal for the same field is
    withdrawn. RightsError when the value is refused."""
    member = await _member(session, member_id)
    value = await _check_new(session, member, field, text)
    for earlier in await session.scalars(
        select(DataRequest).where(
            DataRequest.member_id == member_id,
            DataRequest.kind == DataRequestKind.CORRECT,
            DataRequest.field == field.value,
            DataRequest.status == DataRequestStatus.PENDING,
        )
    ):
        earlier.status = DataRequestStatus.WITHDRAWN
        earlier.decided_at = now
        earlier.decided_by = f"member:{member_id}"
    row = DataRequest(
        kind=DataRequestKind.CORRECT,
        member_id=member_id,
        field=field.value,
        proposed_value=value,
        status=DataRequestStatus.PENDING,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    payload = payloads.RightsNew(
        id=row.id,
        kind=DataRequestKind.CORRECT.value,
        member=member.name,
        field=field.value,
        value=shown_value(field.value, value),
    )
    await _tell_staff(session, now, row, payload, await looking_after(session, member_id))
    await audit.record(
        session,
        now,
        actor=f"member:{member_id}",
        action="rights.correct.propose",
        subject=f"data_request:{row.id}",
        field=field.value,
    )
    return row


async def request_deletion(session: AsyncSession, now: datetime, *, member_id: int) -> DataRequest:
    """A member asks that their data be deleted: kept pending, the administrators over the
    member told (RIGHTS_NEW); audited. Asking again while one is pending returns that one."""
    member = await _member(session, member_id)
    pending = await session.scalar(
        select(DataRequest).where(
            DataRequest.member_id == member_id,
            DataRequest.kind == DataRequestKind.DELETE,
            DataRequest.status == DataRequestStatus.PENDING,
        )
    )
    if pending is not None:
        return pending
    row = DataRequest(
        kind=DataRequestKind.DELETE,
        member_id=member_id,
        status=DataRequestStatus.PENDING,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    payload = payloads.RightsNew(id=row.id, kind=DataRequestKind.DELETE.value, member=member.name)
    await _tell_staff(session, now, row, payload, await admins_over(session, member_id))
    await audit.record(
        session,
        now,
        actor=f"member:{member_id}",
        action="rights.delete.request",
        subject=f"data_request:{row.id}",
    )
    return row


async def _tell_staff(
    session: AsyncSession,
    now: datetime,
    row: DataRequest,
    payload: payloads.RightsNew,
    staff: list[Staff],
) -> None:
    topic = f"rights:{row.id}:new"
    await enqueue_to_staff(
        session, now, [StaffMessage(s.id, s.telegram_user_id, topic, payload) for s in staff]
    )


async def my_pending(session: AsyncSession, member_id: int) -> list[DataRequestView]:
    """The member's own requests still waiting for a decision, oldest first."""
    return await _views(
        session,
        (DataRequest.member_id == member_id) & (DataRequest.status == DataRequestStatus.PENDING),
    )


# --- staff --------------------------------------------------------------------------------


async def pending_requests(
    session: AsyncSession, now: datetime, *, staff_id: int | None, actor: str, limit: int = 20
) -> list[DataRequestView]:
    """The pending requests of the members staff_id may see (all for None), oldest first;
    audited."""
    found = await _views(
        session,
        _visible(staff_id) & (DataRequest.status == DataRequestStatus.PENDING),
        limit=limit,
    )
    await audit.record(session, now, actor=actor, action="rights.list.view", shown=len(found))
    return found


async def get_request(
    session: AsyncSession, request_id: int, *, staff_id: int | None
) -> DataRequestView | None:
    """One request of a member staff_id may see (any for None); None otherwise."""
    found = await _views(session, _visible(staff_id) & (DataRequest.id == request_id), limit=1)
    return found[0] if found else None


async def view_request(
    session: AsyncSession, now: datetime, request_id: int, *, staff_id: int | None, actor: str
) -> DataRequestView | None:
    """One request as get_request finds it, for actor to look at: audited, found or not."""
    found = await get_request(session, request_id, staff_id=staff_id)
    await audit.record(
        session,
        now,
        actor=actor,
        action="rights.view",
        subject=f"data_request:{request_id}",
        found=found is not None,
    )
    return found


async def _pending_in_scope(
    session: AsyncSession, request_id: int, staff_id: int | None
) -> tuple[DataRequest, Member]:
    row = (
        await session.execute(
            select(DataRequest, Member)
            .join(Member, Member.id == DataRequest.member_id)
            .where(DataRequest.id == request_id, _visible(staff_id))
        )
    ).first()
    if row is None:
        erased = await session.get(DataRequest, request_id) if staff_id is None else None
        if erased is not None:
            # The command line sees everything: a request whose member was erased is decided.
            raise RightsError(f"data request {request_id} is {erased.status.value}", "decided")
        # Someone else's request reads the same as one that does not exist.
        raise RightsError(f"no data request {request_id}", "not_found")
    request, member = row
    if request.status is not DataRequestStatus.PENDING:
        raise RightsError(f"data request {request_id} is {request.status.value}", "decided")
    return request, member


async def _tell_member(
    session: AsyncSession, now: datetime, request: DataRequest, member_id: int
) -> None:
    payload = payloads.RightsReply(
        id=request.id,
        kind=request.kind.value,
        status=request.status.value,
        field=request.field,
        value=request.proposed_value if request.status is DataRequestStatus.APPROVED else None,
        reason=request.reason,
    )
    await enqueue_to_members(
        session,
        now,
        payload=payload,
        topic=f"rights:{request.id}:{request.status.value}",
        condition=Member.id == member_id,
        not_before=now,
    )


async def approve_correction(
    session: AsyncSession, now: datetime, request_id: int, *, staff_id: int | None, actor: str
) -> DataRequestView:
    """Carry out a pending correction staff_id may see (any for None): the record changes,
    the member hears it (RIGHTS_REPLY); audited. RightsError (not_found, decided, or the
    value no longer valid: phone_taken, unchanged) otherwise."""
    request, member = await _pending_in_scope(session, request_id, staff_id)
    if request.kind is not DataRequestKind.CORRECT:
        raise RightsError(f"data request {request_id} is a deletion", "not_found")
    assert request.field is not None and request.proposed_value is not None
    field = Field(request.field)
    value = await _check_new(session, member, field, request.proposed_value)
    setattr(member, field.value, value)
    member.updated_at = now
    request.status = DataRequestStatus.APPROVED
    request.decided_by = actor
    request.decided_at = now
    assert request.member_id is not None
    await _tell_member(session, now, request, request.member_id)
    await audit.record(
        session,
        now,
        actor=actor,
        action="rights.correct.approve",
        subject=f"data_request:{request.id}",
        member=f"member:{member.id}",
        field=field.value,
    )
    await session.flush()
    view = await get_request(session, request.id, staff_id=None)
    assert view is not None
    return view


async def _is_admin(session: AsyncSession, staff_id: int | None) -> bool:
    if staff_id is None:
        return True  # the command line
    role = await session.scalar(select(Staff.role).where(Staff.id == staff_id))
    return role is StaffRole.ADMIN


async def reject(
    session: AsyncSession,
    now: datetime,
    request_id: int,
    *,
    reason: str,
    staff_id: int | None,
    actor: str,
) -> DataRequestView:
    """Reject a pending request staff_id may see (a deletion: administrators only), with a
    reason the member reads; nothing in the record changes; audited."""
    text = reason.replace("\x00", "").strip()
    if not text:
        raise RightsError("a rejection needs a reason", "reason_needed")
    if len(text) > MAX_REASON_LENGTH:
        raise RightsError(f"at most {MAX_REASON_LENGTH} characters", "too_long")
    request, member = await _pending_in_scope(session, request_id, staff_id)
    if request.kind is DataRequestKind.DELETE and not await _is_admin(session, staff_id):
        raise RightsError("only an administrator decides a deletion", "admin_only")
    request.status = DataRequestStatus.REJECTED
    request.decided_by = actor
    request.decided_at = now
    request.reason = text
    await _tell_member(session, now, request, member.id)
    await audit.record(
        session,
        now,
        actor=actor,
        action=f"rights.{request.kind.value}.reject",
        subject=f"data_request:{request.id}",
        member=f"member:{member.id}",
    )
    await session.flush()
    view = await get_request(session, request.id, staff_id=None)
    assert view is not None
    return view


async def confirm_deletion(
    session: AsyncSession, now: datetime, request_id: int, *, staff_id: int | None, actor: str
) -> ErasureReport:
    """An administrator (or the command line: staff_id None) confirms a member's pending
    deletion request: everything that identifies the member is erased or anonymised in this
    transaction (storage/erasure.py), and audited without naming them. RightsError
    (admin_only for a liaison, not_found, decided) otherwise."""
    if not await _is_admin(session, staff_id):
        # Checked first: a liaison learns nothing of the request, not even that it exists.
        raise RightsError("only an administrator confirms a deletion", "admin_only")
    request, member = await _pending_in_scope(session, request_id, staff_id)
    if request.kind is not DataRequestKind.DELETE:
        raise RightsError(f"data request {request_id} is a correction", "not_found")
    request.status = DataRequestStatus.APPROVED
    request.decided_by = actor
    request.decided_at = now
    return await erase_member(session, now, member.id, actor=actor, request_id=request.id)


__all__ = [
    "FIELDS",
    "MAX_REASON_LENGTH",
    "DataRequestView",
    "Field",
    "RightsError",
    "approve_correction",
    "check_value",
    "confirm_deletion",
    "current_value",
    "get_request",
    "my_pending",
    "pending_requests",
    "propose_correction",
    "reject",
    "request_deletion",
    "shown_value",
    "view_request",
]
