"""Notices: what staff tell groups of members, now or at a set time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import audit
from storage.models import (
    Delivery,
    DeliveryStatus,
    Group,
    Notice,
    NoticeStatus,
    Staff,
    StaffRole,
)
from storage.outbox import DeliveryReport, acknowledge, delivery_report
from storage.scope import group_scope_condition

# Longer than one Telegram message (4,096): a long notice goes out in parts, split at
# paragraphs. Beyond this it is a document to attach, not a notice to read on a phone.
MAX_BODY_LENGTH = 8000


class NoticeError(ValueError):
    """A notice that cannot be made or changed; the message says why (English).

    reason is a short stable word for the front ends to pick their own words by: empty,
    too_long, no_audience, unknown_group, naive_time, not_found, cancelled, sent,
    not_author.
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


def clean_body(text: str) -> str:
    """The notice text as it will be sent: trimmed, line endings unified."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def check_body(text: str) -> str:
    """The cleaned body, or NoticeError when it is empty or too long."""
    body = clean_body(text)
    if not body:
        raise NoticeError("the notice is empty", "empty")
    if len(body) > MAX_BODY_LENGTH:
        raise NoticeError(
            f"the notice has {len(body)} characters; at most {MAX_BODY_LENGTH} are allowed",
            "too_long",
        )
    return body


async def addressable_groups(session: AsyncSession, staff_id: int | None) -> list[Group]:
    """The groups this staff member may send notices to (every group for the CLI: None)."""
    query = select(Group).order_by(Group.name)
    if staff_id is not None:
        query = query.where(group_scope_condition(staff_id))
    return list(await session.scalars(query))


async def groups_by_name(
    session: AsyncSession, staff_id: int | None, names: Sequence[str]
) -> tuple[list[Group], str | None]:
    """The groups named among those staff_id may address, in the order named, once each;
    and the first name that is none of them (outside one's scope reads as nonexistent)."""
    allowed = {group.name: group for group in await addressable_groups(session, staff_id)}
    chosen: list[Group] = []
    for name in dict.fromkeys(n.strip() for n in names):
        group = allowed.get(name)
        if group is None:
            return chosen, name
        chosen.append(group)
    return chosen, None


async def create_notice(
    session: AsyncSession,
    now: datetime,
    *,
    author: str,
    author_name: str,
    body: str,
    groups: Sequence[str] = (),
    everyone: bool = False,
    staff_id: int | None = None,
    send_at: datetime | None = None,
    urgent: bool = False,
    request_key: str | None = None,
) -> Notice:
    """Record a notice to the named groups (or everyone in scope), to go at send_at or now.

    staff_id limits the groups to those the staff member looks after; None is the command
    line, which may address any group. Nothing is sent here: the dispatcher's enqueue step
    turns a due notice into deliveries. A request_key already used returns the notice it
    made (see notice_by_request_key; a concurrent twin fails on the unique index instead).
    """
    if request_key is not None:
        made = await notice_by_request_key(session, request_key)
        if made is not None:
            return made
    text = check_body(body)
    if not groups and not everyone:
        raise NoticeError("choose at least one group, or everyone", "no_audience")
    if send_at is not None and send_at.tzinfo is None:
        raise NoticeError("the sending time needs a time zone", "naive_time")
    chosen, unknown = await groups_by_name(session, staff_id, groups)
    if unknown is not None:
        raise NoticeError(
            f"no group named {unknown!r} among the groups you look after", "unknown_group"
        )
    notice = Notice(
        author=author,
        author_name=author_name,
        body=text,
        everyone=everyone,
        urgent=urgent,
        status=NoticeStatus.SCHEDULED,
        send_at=max(send_at, now) if send_at is not None else now,
        created_at=now,
        scope_staff_id=staff_id,
        request_key=request_key,
        groups=chosen,
    )
    session.add(notice)
    await session.flush()
    await audit.record(
        session,
        now,
        actor=author,
        action="notice.create",
        subject=f"notice:{notice.id}",
        groups=[g.name for g in chosen],
        everyone=everyone,
        send_at=notice.send_at.isoformat(),
        urgent=urgent,
    )
    return notice


async def notice_by_request_key(session: AsyncSession, request_key: str) -> Notice | None:
    """The notice a form with this key already made (the key names its author: see the
    console), with its groups."""
    return await session.scalar(
        select(Notice).where(Notice.request_key == request_key).options(selectinload(Notice.groups))
    )


async def cancel_notice(
    session: AsyncSession, now: datetime, notice_id: int, *, actor: str, staff_id: int | None
) -> Notice:
    """Cancel a scheduled notice before it goes (its author, an admin, or the CLI)."""
    notice = await get_notice(session, notice_id, staff_id=staff_id)
    if notice is None:
        raise NoticeError(f"no notice {notice_id}", "not_found")
    if notice.status is NoticeStatus.CANCELLED:
        raise NoticeError(f"notice {notice_id} is already cancelled", "cancelled")
    if notice.status is not NoticeStatus.SCHEDULED:
        raise NoticeError(
            f"notice {notice_id} has already been sent; it cannot be cancelled", "sent"
        )
    if staff_id is not None and not await may_cancel(session, notice, staff_id):
        # A colleague's notice to a shared group: seen in /notices, not theirs to stop.
        raise NoticeError(
            f"notice {notice_id} is {notice.author_name}'s; only its author or an "
            "administrator can cancel it",
            "not_author",
        )
    notice.status = NoticeStatus.CANCELLED
    notice.cancelled_at = now
    await audit.record(
        session, now, actor=actor, action="notice.cancel", subject=f"notice:{notice_id}"
    )
    return notice


async def may_cancel(session: AsyncSession, notice: Notice, staff_id: int) -> bool:
    """Whether staff_id may cancel a notice they can see: its author, or an administrator.

    The author is the staff member whose notice it is (scope_staff_id); the command line's
    notices (None) are for an administrator or the command line to cancel.
    """
    if notice.scope_staff_id == staff_id:
        return True
    role = await session.scalar(select(Staff.role).where(Staff.id == staff_id))
    return role is StaffRole.ADMIN


async def get_notice(
    session: AsyncSession, notice_id: int, *, staff_id: int | None = None
) -> Notice | None:
    """One notice with its groups; a staff member sees only notices they could have sent."""
    query = select(Notice).where(Notice.id == notice_id).options(selectinload(Notice.groups))
    if staff_id is not None:
        query = query.where(visible_to(staff_id))
    return await session.scalar(query)


async def view_deliveries(
    session: AsyncSession, now: datetime, notice_id: int, *, staff_id: int, actor: str
) -> tuple[Notice, DeliveryReport] | None:
    """/deliveries: one of the staff member's notices and how far each delivery got, the
    look audited; None for a notice they cannot see (the same as one that does not exist)."""
    notice = await get_notice(session, notice_id, staff_id=staff_id)
    if notice is None:
        return None
    report = await delivery_report(session, notice_id)
    await audit.record(
        session, now, actor=actor, action="notice.deliveries.view", subject=f"notice:{notice_id}"
    )
    return notice, report


def visible_to(staff_id: int) -> ColumnElement[bool]:
    """A where-clause on Notice: the staff member's own notices and those to their groups only.

    A notice to "everyone" in someone else's scope, or to any group outside this staff
    member's, stays hidden.
    """
    return or_(
        Notice.scope_staff_id == staff_id,
        and_(Notice.groups.any(), ~Notice.groups.any(~group_scope_condition(staff_id))),
    )


@dataclass(frozen=True, slots=True)
class NoticeLine:
    """One row of a notice list."""

    id: int
    status: NoticeStatus
    send_at: datetime
    author_staff_id: int | None  # None: written on the command line
    author_name: str
    groups: tuple[str, ...]
    everyone: bool
    urgent: bool
    preview: str


async def list_notices(
    session: AsyncSession,
    *,
    staff_id: int | None = None,
    status: NoticeStatus | None = None,
    limit: int = 50,
) -> list[NoticeLine]:
    """The newest notices first (a staff member's own and those to their groups)."""
    query = (
        select(Notice)
        .options(selectinload(Notice.groups))
        .order_by(Notice.send_at.desc(), Notice.id.desc())
    )
    if status is not None:
        query = query.where(Notice.status == status)
    if staff_id is not None:
        query = query.where(visible_to(staff_id))
    return [_line(notice) for notice in await session.scalars(query.limit(limit))]


def _line(notice: Notice) -> NoticeLine:
    return NoticeLine(
        id=notice.id,
        status=notice.status,
        send_at=notice.send_at,
        author_staff_id=notice.scope_staff_id,
        author_name=notice.author_name,
        groups=tuple(sorted(g.name for g in notice.groups)),
        everyone=notice.everyone,
        urgent=notice.urgent,
        preview=notice.body[:60],
    )


class Stage(StrEnum):
    """How far a notice has got, as staff watch it: its status, and for a sent notice
    whether some of its deliveries are still to go."""

    SCHEDULED = "scheduled"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    CANCELLED = "cancelled"


# Deliveries still to go: while a notice has any, it is in flight.
UNDERWAY = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


@dataclass(frozen=True, slots=True)
class NoticeProgress:
    """One notice of a list with its deliveries counted by state (no member is named)."""

    line: NoticeLine
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def underway(self) -> int:
        return sum(self.counts[state.value] for state in UNDERWAY)

    @property
    def stage(self) -> Stage:
        return stage_of(self.line.status, self.underway)


def stage_of(status: NoticeStatus, underway: int) -> Stage:
    if status is NoticeStatus.SENT:
        return Stage.IN_FLIGHT if underway else Stage.DONE
    return Stage.SCHEDULED if status is NoticeStatus.SCHEDULED else Stage.CANCELLED


async def delivery_counts(
    session: AsyncSession, notice_ids: Sequence[int]
) -> dict[int, Counter[str]]:
    """Each notice's deliveries by state: one GROUP BY over ix_deliveries_notice_status."""
    counts: dict[int, Counter[str]] = {notice_id: Counter() for notice_id in notice_ids}
    if not notice_ids:
        return counts
    rows = await session.execute(
        select(Delivery.notice_id, Delivery.status, func.count())
        .where(Delivery.notice_id.in_(list(notice_ids)))
        .group_by(Delivery.notice_id, Delivery.status)
    )
    for notice_id, status, count in rows:
        if notice_id is not None:  # the WHERE leaves none; the column is nullable
            counts[notice_id][status.value] = int(count)
    return counts


async def list_progress(
    session: AsyncSession, *, staff_id: int, limit: int = 50
) -> list[NoticeProgress]:
    """The console's list: the staff member's notices newest first, deliveries counted."""
    lines = await list_notices(session, staff_id=staff_id, limit=limit)
    counts = await delivery_counts(session, [line.id for line in lines])
    return [NoticeProgress(line, counts[line.id]) for line in lines]


async def notices_in_flight(
    session: AsyncSession, *, staff_id: int, limit: int = 10
) -> list[NoticeProgress]:
    """Sent notices the staff member can see whose deliveries are still going out (the
    dashboard), newest first, with their deliveries counted by state."""
    # Per sent notice, one seek in ix_deliveries_notice_status: notices are few, while a
    # broadcast in flight has up to a registry's worth of pending rows.
    underway = exists().where(Delivery.notice_id == Notice.id, Delivery.status.in_(UNDERWAY))
    query = (
        select(Notice)
        .options(selectinload(Notice.groups))
        .where(Notice.status == NoticeStatus.SENT, underway, visible_to(staff_id))
        .order_by(Notice.send_at.desc(), Notice.id.desc())
        .limit(limit)
    )
    lines = [_line(notice) for notice in await session.scalars(query)]
    counts = await delivery_counts(session, [line.id for line in lines])
    return [NoticeProgress(line, counts[line.id]) for line in lines]


async def due_notice_ids(session: AsyncSession, now: datetime) -> list[int]:
    """Scheduled notices whose time has come, oldest first."""
    rows = await session.scalars(
        select(Notice.id)
        .where(Notice.status == NoticeStatus.SCHEDULED, Notice.send_at <= now)
        .order_by(Notice.send_at, Notice.id)
    )
    return list(rows)


async def count_scheduled(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Notice).where(Notice.status == NoticeStatus.SCHEDULED)
        )
        or 0
    )


class Ack(StrEnum):
    """What pressing "received" under a notice did."""

    FIRST = "first"
    AGAIN = "again"
    NOT_RECIPIENT = "not_recipient"


async def acknowledge_notice(
    session: AsyncSession, now: datetime, *, notice_id: int, member_id: int
) -> Ack:
    """The member pressed "received": recorded once, and only for a member it was sent to."""
    recipient = await session.scalar(
        select(Delivery.id)
        .where(Delivery.notice_id == notice_id, Delivery.member_id == member_id)
        .limit(1)
    )
    if recipient is None:
        return Ack.NOT_RECIPIENT
    first = await acknowledge(session, now, notice_id=notice_id, member_id=member_id)
    return Ack.FIRST if first else Ack.AGAIN
