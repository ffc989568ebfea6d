"""The outbox: deliveries are written before anything is sent, claimed, sent, recorded.

States: pending → sending → sent → delivered, or failed with a reason, or suppressed. A row
left in sending past its lease (a crashed dispatcher) is claimed again, so a crash loses
nothing and re-sends at most what was sent but not yet recorded. Leases are short and
renewed while their dispatcher works on them: a dead dispatcher's rows come back within
seconds, a live one's are never taken from it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    FromClause,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import payloads
from storage.models import (
    ChannelName,
    Delivery,
    DeliveryStatus,
    Group,
    Member,
    MessageKind,
    Notice,
    NoticeReceipt,
    NoticeStatus,
    UTCDateTime,
    member_groups,
    notice_groups,
)
from storage.scope import scope_condition

URGENT_RANK = -10
# The dedupe key of a delivery kept past its retention time without the member ("purged:<id>").
ANONYMISED_KEY = "purged:"
NO_CHANNEL = "no way to reach: not bound to Telegram and no phone number"


class OutboxError(ValueError):
    """An outbox operation that cannot be done; the message says why."""


def cast_table(table: FromClause) -> Table:
    """A mapped class's table as the Table it is (mapped __table__ is typed FromClause)."""
    assert isinstance(table, Table)
    return table


def telegram_reachable() -> ColumnElement[bool]:
    return and_(Member.telegram_user_id.is_not(None), Member.telegram_unreachable_at.is_(None))


def member_channel() -> ColumnElement[str | None]:
    """The first channel that can reach a member, in the member's order of preference.

    Default order: Telegram when bound (and not blocked), then QQ when bound, otherwise SMS.
    A member who texted the stop keyword gets no SMS notices (storage/sms_inbox.py).
    """
    has_phone = and_(Member.phone.is_not(None), Member.sms_stopped_at.is_(None))
    has_qq = Member.qq_user_id.is_not(None)
    return case(
        (and_(Member.channels.like("sms%"), has_phone), literal(ChannelName.SMS.value)),
        (and_(Member.channels.like("qq%"), has_qq), literal(ChannelName.QQ.value)),
        (telegram_reachable(), literal(ChannelName.TELEGRAM.value)),
        (has_qq, literal(ChannelName.QQ.value)),
        (has_phone, literal(ChannelName.SMS.value)),
        else_=null(),
    )


def _address(channel: ColumnElement[str | None]) -> ColumnElement[str | None]:
    return case(
        (channel == ChannelName.TELEGRAM.value, cast(Member.telegram_user_id, String)),
        (channel == ChannelName.QQ.value, cast(Member.qq_user_id, String)),
        (channel == ChannelName.SMS.value, Member.phone),
        else_=null(),
    )


def member_address(member: Member, channel: ChannelName) -> str | None:
    """Where channel reaches member now, or None if it does not."""
    if channel is ChannelName.TELEGRAM:
        reachable = member.telegram_user_id is not None and member.telegram_unreachable_at is None
        return str(member.telegram_user_id) if reachable else None
    if channel is ChannelName.QQ:
        return str(member.qq_user_id) if member.qq_user_id is not None else None
    if channel is ChannelName.SMS:
        # Not after the member texted the stop keyword (storage/sms_inbox.py).
        return member.phone if member.sms_stopped_at is None else None
    return None


def channel_order(member: Member) -> list[ChannelName]:
    """The member's channels in order: their own choice first, then the default order."""
    chosen = [ChannelName(c) for c in (member.channels or "").split(",") if c]
    default = [ChannelName.TELEGRAM, ChannelName.QQ, ChannelName.SMS]
    return [*chosen, *(c for c in default if c not in chosen)]


def audience_condition(notice: Notice) -> ColumnElement[bool]:
    """A where-clause on Member: the notice's recipients."""
    if notice.everyone:
        if notice.scope_staff_id is None:
            return true()
        return scope_condition(notice.scope_staff_id)
    return Member.id.in_(
        select(member_groups.c.member_id)
        .join(notice_groups, notice_groups.c.group_id == member_groups.c.group_id)
        .where(notice_groups.c.notice_id == notice.id)
        .correlate(None)
    )


def _insert(session: AsyncSession) -> Callable[..., Any]:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING."""
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


@dataclass(slots=True)
class EnqueueReport:
    """How many deliveries a notice produced, per channel; suppressed: no way to reach."""

    notice_id: int
    per_channel: Counter[str] = field(default_factory=Counter)
    suppressed: int = 0
    new: int = 0


async def audience_preview(
    session: AsyncSession, *, groups: Sequence[int], everyone: bool, staff_id: int | None
) -> Counter[str]:
    """Recipients per channel (and "none") for a notice being written, before it exists."""
    if everyone:
        condition = true() if staff_id is None else scope_condition(staff_id)
    else:
        condition = Member.id.in_(
            select(member_groups.c.member_id)
            .where(member_groups.c.group_id.in_(list(groups)))
            .correlate(None)
        )
    channel = member_channel()
    rows = await session.execute(
        select(func.coalesce(channel, "none"), func.count()).where(condition).group_by(channel)
    )
    counts: Counter[str] = Counter({str(name): int(n) for name, n in rows})
    if not everyone and groups:
        for chat_channel, column in (
            (ChannelName.GROUP_CHAT, Group.chat_id),
            (ChannelName.QQ_GROUP, Group.qq_group_id),
        ):
            chats = await session.scalar(
                select(func.count())
                .select_from(Group)
                .where(Group.id.in_(list(groups)), column.is_not(None))
            )
            if chats:
                counts[chat_channel.value] = int(chats)
    return counts


async def enqueue_to_members(
    session: AsyncSession,
    now: datetime,
    *,
    payload: payloads.Payload,
    topic: str,
    condition: ColumnElement[bool],
    notice_id: int | None = None,
    rank: int = 0,
    not_before: datetime | None = None,
) -> int:
    """One delivery per member matching condition, on the member's first reachable channel.

    One INSERT … SELECT: 100,000 members never pass through Python row by row. The dedupe
    key is "<topic>:m<member>:<channel>", so enqueueing the same topic twice adds nothing.
    Members with no way to reach them get a suppressed row, so reports can count them.
    The delivery's kind is its payload's. Returns how many rows are new.
    """
    stored = payload.to_json()
    when = literal(now, UTCDateTime())
    due = literal(not_before or now, UTCDateTime())
    channel = member_channel()
    members = select(
        literal(f"{topic}:m") + cast(Member.id, String) + ":" + func.coalesce(channel, "none"),
        literal(payload.KIND.value),
        literal(topic),
        literal(stored, JSON()) if stored is not None else null(),
        literal(notice_id) if notice_id is not None else null(),
        Member.id,
        channel,
        _address(channel),
        case(
            (channel.is_(None), literal(DeliveryStatus.SUPPRESSED.value)),
            else_=literal(DeliveryStatus.PENDING.value),
        ),
        case((channel.is_(None), literal(NO_CHANNEL)), else_=null()),
        literal(rank),
        literal(0),
        due,
        when,
        case((channel.is_(None), when), else_=null()),
    ).where(condition)
    columns = [
        Delivery.dedupe_key,
        Delivery.kind,
        Delivery.topic,
        Delivery.payload,
        Delivery.notice_id,
        Delivery.member_id,
        Delivery.channel,
        Delivery.address,
        Delivery.status,
        Delivery.last_error,
        Delivery.rank,
        Delivery.attempts,
        Delivery.next_attempt_at,
        Delivery.created_at,
        Delivery.finished_at,
    ]
    insert = _insert(session)
    result = await session.execute(
        insert(Delivery).from_select(columns, members).on_conflict_do_nothing()
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class StaffMessage:
    """A scheduler message to one liaison or admin, in their Telegram chat."""

    staff_id: int
    telegram_user_id: int
    topic: str
    payload: payloads.Payload

    @property
    def kind(self) -> MessageKind:
        return self.payload.KIND


async def enqueue_to_staff(
    session: AsyncSession,
    now: datetime,
    messages: Sequence[StaffMessage],
    *,
    not_before: datetime | None = None,
) -> int:
    """One delivery per message ("<topic>:s<staff>:telegram"); a repeat adds nothing."""
    if not messages:
        return 0
    rows = [
        {
            "dedupe_key": f"{m.topic}:s{m.staff_id}:{ChannelName.TELEGRAM.value}",
            "kind": m.kind,
            "topic": m.topic,
            "payload": m.payload.to_json(),
            "staff_id": m.staff_id,
            "channel": ChannelName.TELEGRAM,
            "address": str(m.telegram_user_id),
            "status": DeliveryStatus.PENDING,
            "rank": 0,
            "attempts": 0,
            "next_attempt_at": not_before or now,
            "created_at": now,
        }
        for m in messages
    ]
    # executemany (batched by the driver); RETURNING counts what was new, as rowcount
    # cannot across batches.
    insert = _insert(session)
    result = await session.execute(
        insert(Delivery).on_conflict_do_nothing().returning(Delivery.id), rows
    )
    return len(result.all())


async def enqueue_notice(session: AsyncSession, now: datetime, notice_id: int) -> EnqueueReport:
    """Write one delivery per recipient (and per linked group chat); enqueueing twice adds none."""
    notice = await session.scalar(
        select(Notice).where(Notice.id == notice_id).options(selectinload(Notice.groups))
    )
    if notice is None:
        raise OutboxError(f"no notice {notice_id}")
    if notice.status is NoticeStatus.CANCELLED:
        raise OutboxError(f"notice {notice_id} was cancelled")
    rank = URGENT_RANK if notice.urgent else 0
    new = await enqueue_to_members(
        session,
        now,
        payload=payloads.Notice(),
        topic=f"n{notice.id}",
        condition=audience_condition(notice),
        notice_id=notice.id,
        rank=rank,
    )
    insert = _insert(session)
    for group in notice.groups:
        # The group's own chats: its Telegram group chat and its QQ group.
        for channel, chat in (
            (ChannelName.GROUP_CHAT, group.chat_id),
            (ChannelName.QQ_GROUP, group.qq_group_id),
        ):
            if chat is None:
                continue
            chat_row = insert(Delivery).values(
                dedupe_key=f"n{notice.id}:g{group.id}:{channel.value}",
                kind=MessageKind.NOTICE,
                topic=f"n{notice.id}",
                notice_id=notice.id,
                group_id=group.id,
                channel=channel,
                address=str(chat),
                status=DeliveryStatus.PENDING,
                rank=rank,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            chat_result = await session.execute(chat_row.on_conflict_do_nothing())
            new += max(chat_result.rowcount or 0, 0)  # type: ignore[attr-defined]
    if notice.status is NoticeStatus.SCHEDULED:
        notice.status = NoticeStatus.SENT
        notice.enqueued_at = now
    report = EnqueueReport(notice_id=notice.id, new=new)
    rows = await session.execute(
        select(Delivery.channel, Delivery.status, func.count())
        .where(Delivery.notice_id == notice.id)
        .group_by(Delivery.channel, Delivery.status)
    )
    for channel_name, status, count in rows:
        if status is DeliveryStatus.SUPPRESSED and channel_name is None:
            report.suppressed += count
        else:
            report.per_channel[channel_name.value if channel_name else "none"] += count
    return report


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this dispatcher now holds (until its lease ends)."""

    id: int
    notice_id: int | None
    member_id: int | None
    group_id: int | None
    channel: ChannelName
    address: str
    attempts: int
    kind: MessageKind = MessageKind.NOTICE
    staff_id: int | None = None
    payload: dict[str, object] | None = None
    rank: int = 0
    parts_sent: int = 0


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now),
        # A crashed dispatcher's rows come back once their lease has run out.
        and_(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now),
    )


async def claim_due(
    session: AsyncSession,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    channels: Sequence[ChannelName] | None = None,
    addresses: Mapping[ChannelName, Collection[str]] | None = None,
    held: Collection[int] = (),
) -> list[Claimed]:
    """Take up to limit due deliveries: rows whose lease ran out, then pending ones, urgent first.

    addresses limits some channels to the given addresses (a terminal chat sends only to
    its own account); the rows of other addresses are not touched. held: rows the caller
    still works on, never taken again even if their lease lapsed (a renewal that failed).

    On PostgreSQL the rows are locked with SKIP LOCKED, so several dispatchers share the
    queue without taking the same row; SQLite serialises writers anyway. Each query walks
    an index in order and stops at its limit, so claiming stays cheap however long the
    queue is.
    """
    expired = select(Delivery.id).where(
        Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now
    )
    pending = select(Delivery.id).where(
        Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now
    )
    if channels is not None:
        expired = expired.where(Delivery.channel.in_(list(channels)))
        pending = pending.where(Delivery.channel.in_(list(channels)))
    if addresses:
        limited = or_(
            Delivery.channel.not_in(list(addresses)),
            *(
                and_(Delivery.channel == channel, Delivery.address.in_(list(allowed)))
                for channel, allowed in addresses.items()
            ),
        )
        expired = expired.where(limited)
        pending = pending.where(limited)
    if held:
        expired = expired.where(Delivery.id.not_in(list(held)))
    ids = list(await session.scalars(expired.limit(limit).with_for_update(skip_locked=True)))
    if len(ids) < limit:
        ids += await session.scalars(
            pending.order_by(Delivery.rank, Delivery.next_attempt_at, Delivery.id)
            .limit(limit - len(ids))
            .with_for_update(skip_locked=True)
        )
    if not ids:
        return []
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            status=DeliveryStatus.SENDING,
            lease_until=now + lease,
            attempts=Delivery.attempts + 1,
        )
        .returning(
            Delivery.id,
            Delivery.notice_id,
            Delivery.member_id,
            Delivery.group_id,
            Delivery.channel,
            Delivery.address,
            Delivery.attempts,
            Delivery.kind,
            Delivery.staff_id,
            Delivery.payload,
            Delivery.rank,
            Delivery.parts_sent,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = [
        Claimed(
            id=row.id,
            notice_id=row.notice_id,
            member_id=row.member_id,
            group_id=row.group_id,
            channel=row.channel,
            address=row.address or "",
            attempts=row.attempts,
            kind=row.kind,
            staff_id=row.staff_id,
            payload=row.payload,
            rank=row.rank,
            parts_sent=row.parts_sent,
        )
        for row in result
    ]
    claimed.sort(key=lambda c: c.id)
    return claimed


async def renew_leases(session: AsyncSession, ids: Collection[int], until: datetime) -> int:
    """Extend the lease of rows a live dispatcher still holds; returns how many it still held."""
    renewed = 0
    id_list = list(ids)
    for start in range(0, len(id_list), 500):
        result = await session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(id_list[start : start + 500]),
                Delivery.status == DeliveryStatus.SENDING,
            )
            .values(lease_until=until)
            .execution_options(synchronize_session=False)
        )
        renewed += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    return renewed


async def record_parts_sent(session: AsyncSession, delivery_id: int, parts: int) -> None:
    """k parts of a split message are in the chat: a later attempt starts after them."""
    await session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == DeliveryStatus.SENDING,
            Delivery.parts_sent < parts,
        )
        .values(parts_sent=parts)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a channel said about one claimed delivery (storage's view of a SendResult)."""

    kind: str  # accepted | retry | failed | unreachable | held
    external_id: str | None = None
    retry_after: float | None = None
    reason: str | None = None
    new_address: str | None = None
    delivered: bool = False
    parts_sent: int | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, and when to give up."""

    max_attempts: int = 5
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        raw: timedelta = min(self.base * (2 ** max(attempts - 1, 0)), self.cap)
        # ±20 %: thousands of rows failing together must not all come back together.
        return raw * rng.uniform(0.8, 1.2)


async def record_outcome(
    session: AsyncSession,
    now: datetime,
    claimed: Claimed,
    outcome: Outcome,
    *,
    policy: RetryPolicy,
    rng: random.Random,
) -> None:
    """Move one delivery on after a send; every row ends final or with a next attempt."""
    await record_outcomes(session, now, [(claimed, outcome)], policy=policy, rng=rng)


async def record_outcomes(
    session: AsyncSession,
    now: datetime,
    outcomes: Sequence[tuple[Claimed, Outcome]],
    *,
    policy: RetryPolicy,
    rng: random.Random,
) -> None:
    """record_outcome for many rows: acceptances in two statements, the rest row by row."""
    accepted = [(c, o) for c, o in outcomes if o.kind == "accepted"]
    for delivered in (True, False):
        params = [
            {"b_id": c.id, "b_external_id": o.external_id}
            for c, o in accepted
            if o.delivered is delivered
        ]
        if not params:
            continue
        table = cast_table(Delivery.__table__)
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.status == DeliveryStatus.SENDING.value)
            .values(
                status=(DeliveryStatus.DELIVERED if delivered else DeliveryStatus.SENT).value,
                external_id=bindparam("b_external_id"),
                sent_at=now,
                delivered_at=now if delivered else None,
                finished_at=now if delivered else None,
                lease_until=None,
                last_error=None,
            ),
            params,
        )
    outcomes = [(c, o) for c, o in outcomes if o.kind != "accepted"]
    ids = [claimed.id for claimed, _ in outcomes]
    rows = {
        row.id: row
        for start in range(0, len(ids), 500)
        for row in await session.scalars(
            select(Delivery).where(Delivery.id.in_(ids[start : start + 500]))
        )
    }
    for claimed, outcome in outcomes:
        row = rows.get(claimed.id)
        if row is not None:
            await _apply(session, now, row, outcome, policy, rng)


async def _apply(
    session: AsyncSession,
    now: datetime,
    row: Delivery,
    outcome: Outcome,
    policy: RetryPolicy,
    rng: random.Random,
) -> None:
    if row.status is not DeliveryStatus.SENDING:
        return  # finished meanwhile (a receipt, or another dispatcher after a lost lease)
    row.lease_until = None
    if outcome.parts_sent is not None:
        # Part of a split message is in the chat: the next attempt sends only the rest.
        row.parts_sent = max(row.parts_sent, outcome.parts_sent)
    if outcome.kind == "accepted":
        row.external_id = outcome.external_id
        row.sent_at = now
        row.last_error = None
        if outcome.delivered:
            row.status = DeliveryStatus.DELIVERED
            row.delivered_at = row.finished_at = now
        else:
            row.status = DeliveryStatus.SENT
        return
    reason = (outcome.reason or outcome.kind)[:500]
    if outcome.kind == "held":
        # Not a failed attempt: the row waits (quiet hours) and its claim is given back.
        row.status = DeliveryStatus.PENDING
        row.attempts = max(row.attempts - 1, 0)
        row.next_attempt_at = now + timedelta(seconds=outcome.retry_after or 0)
        return
    if outcome.new_address is not None and row.group_id is not None:
        # A group chat became a supergroup: follow it, and send there straight away.
        await session.execute(
            update(Group).where(Group.id == row.group_id).values(chat_id=int(outcome.new_address))
        )
        row.address = outcome.new_address
        row.status = DeliveryStatus.PENDING
        row.next_attempt_at = now
        row.last_error = reason
        return
    if outcome.kind == "retry":
        if row.attempts >= policy.max_attempts:
            _fail(row, now, f"gave up after {row.attempts} attempts: {reason}")
            return
        after = (
            timedelta(seconds=outcome.retry_after)
            if outcome.retry_after is not None
            else policy.delay(row.attempts, rng)
        )
        row.status = DeliveryStatus.PENDING
        row.next_attempt_at = now + after
        row.last_error = reason
        return
    if outcome.kind == "unreachable" and row.member_id is not None:
        member = await session.get(Member, row.member_id)
        fallback = _next_channel(member, row) if member is not None else None
        if fallback is None and outcome.retry_after is not None:
            # Unreachable here for a while (QQ paused by risk control) and nowhere else to
            # go: the message waits for the channel rather than being lost.
            row.status = DeliveryStatus.PENDING
            row.attempts = max(row.attempts - 1, 0)
            row.next_attempt_at = now + timedelta(seconds=outcome.retry_after)
            row.last_error = reason
            return
        _fail(row, now, reason)
        if member is not None:
            await _fall_back(session, now, row, member, fallback)
        return
    _fail(row, now, reason)


def _fail(row: Delivery, now: datetime, reason: str) -> None:
    row.status = DeliveryStatus.FAILED
    row.last_error = reason[:500]
    row.finished_at = now


def _next_channel(member: Member, row: Delivery) -> tuple[ChannelName, str] | None:
    """The member's next channel after row's that reaches them, and its address."""
    for channel in channel_order(member):
        if channel is not row.channel and (address := member_address(member, channel)):
            return channel, address
    return None


async def _fall_back(
    session: AsyncSession,
    now: datetime,
    row: Delivery,
    member: Member,
    fallback: tuple[ChannelName, str] | None,
) -> None:
    """The member cannot be reached on row's channel: mark it, and try their next one."""
    if row.channel is ChannelName.TELEGRAM:
        member.telegram_unreachable_at = now
    if fallback is not None:
        channel, address = fallback
        insert = _insert(session)
        # Same key with the channel swapped: a second 403 for this message adds nothing.
        stem = row.dedupe_key.rsplit(":", 1)[0]
        await session.execute(
            insert(Delivery)
            .values(
                dedupe_key=f"{stem}:{channel.value}",
                kind=row.kind,
                topic=row.topic,
                payload=row.payload,
                notice_id=row.notice_id,
                member_id=member.id,
                channel=channel,
                address=address,
                status=DeliveryStatus.PENDING,
                rank=row.rank,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
        row.last_error = f"{row.last_error}; falling back to {channel.value}"[:500]


async def record_receipt(
    session: AsyncSession, now: datetime, external_id: str, *, delivered: bool, reason: str | None
) -> bool:
    """A delivery receipt: sent → delivered or failed. False if no sent row has that id."""
    row = await session.scalar(
        select(Delivery).where(
            Delivery.external_id == external_id,
            Delivery.status == DeliveryStatus.SENT,
        )
    )
    if row is None:
        return False
    if delivered:
        row.status = DeliveryStatus.DELIVERED
        row.delivered_at = row.finished_at = now
    else:
        _fail(row, now, f"not delivered: {reason or 'receipt said so'}")
    return True


async def mark_reachable(session: AsyncSession, telegram_user_id: int) -> None:
    """The member wrote to the bot again: Telegram reaches them after all."""
    await session.execute(
        update(Member)
        .where(
            Member.telegram_user_id == telegram_user_id,
            Member.telegram_unreachable_at.is_not(None),
        )
        .values(telegram_unreachable_at=None)
    )


async def acknowledge(
    session: AsyncSession, now: datetime, *, notice_id: int, member_id: int
) -> bool:
    """The member pressed "received"; True the first time."""
    existing = await session.get(NoticeReceipt, (notice_id, member_id))
    if existing is not None:
        return False
    session.add(NoticeReceipt(notice_id=notice_id, member_id=member_id, acknowledged_at=now))
    await session.flush()
    return True


@dataclass(slots=True)
class DeliveryReport:
    """`notice status` and /deliveries: counts per state and channel, why rows failed."""

    notice_id: int
    by_status: Counter[str] = field(default_factory=Counter)
    by_channel: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[tuple[str, int]] = field(default_factory=list)
    recipients: int = 0
    acknowledged: int = 0
    acknowledged_names: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


async def delivery_report(
    session: AsyncSession, notice_id: int, *, names: int = 50
) -> DeliveryReport:
    """How far every delivery of a notice got, and who acknowledged it."""
    report = DeliveryReport(notice_id=notice_id)
    rows = await session.execute(
        select(Delivery.channel, Delivery.status, func.count())
        .where(Delivery.notice_id == notice_id)
        .group_by(Delivery.channel, Delivery.status)
    )
    for channel, status, count in rows:
        key = channel.value if channel else "none"
        report.by_status[status.value] += count
        report.by_channel.setdefault(key, Counter())[status.value] += count
    failures = await session.execute(
        select(Delivery.last_error, func.count())
        .where(
            Delivery.notice_id == notice_id,
            Delivery.status.in_([DeliveryStatus.FAILED, DeliveryStatus.SUPPRESSED]),
        )
        .group_by(Delivery.last_error)
        .order_by(func.count().desc())
        .limit(10)
    )
    report.failures = [(reason or "unknown", count) for reason, count in failures]
    report.recipients = int(
        await session.scalar(
            select(func.count(func.distinct(Delivery.member_id))).where(
                Delivery.notice_id == notice_id, Delivery.member_id.is_not(None)
            )
        )
        or 0
    )
    # Past its retention time a recipient's row is kept without the member, one per
    # recipient (storage/retention.py): each counts once.
    report.recipients += int(
        await session.scalar(
            select(func.count()).where(
                Delivery.notice_id == notice_id,
                Delivery.dedupe_key.startswith(ANONYMISED_KEY),
                Delivery.group_id.is_(None),
            )
        )
        or 0
    )
    report.acknowledged = int(
        await session.scalar(
            select(func.count())
            .select_from(NoticeReceipt)
            .where(NoticeReceipt.notice_id == notice_id)
        )
        or 0
    )
    acked = await session.scalars(
        select(Member.name)
        .join(NoticeReceipt, NoticeReceipt.member_id == Member.id)
        .where(NoticeReceipt.notice_id == notice_id)
        .order_by(NoticeReceipt.acknowledged_at)
        .limit(names)
    )
    report.acknowledged_names = list(acked)
    return report


async def pending_count(session: AsyncSession, now: datetime) -> int:
    """Deliveries due now (for the dispatcher's idle check and operators)."""
    return int(
        await session.scalar(select(func.count()).select_from(Delivery).where(_due(now))) or 0
    )
