"""The dispatcher: due notices become deliveries; due deliveries are rendered, sent, recorded.

It claims a batch of due rows (leased, so a crash loses nothing), renders each in the
recipient's language and channel format, sends them concurrently through their channel (the
channels keep to their rates), and records the outcomes in groups.

A crash and a restart: the dispatcher holds only what its channels send in the next few
seconds, under a short lease it renews while it lives. The restarted service sends the rows
nobody held at once, and the dead process's rows when their lease ends (≤ `lease`). Sent
twice are only the rows in the unrecorded window: sent, but their outcome not yet written
(at most `record_every` rows or `record_seconds` of sending, plus the sends in flight). A
message split into parts writes its count after every part, so none of its parts is sent
twice except one whose answer the crash cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections import defaultdict
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from messages.channels.base import Channel, OutboundMessage, SendOutcome, SendResult
from messages.kinds import KINDS, Kind, Subject
from messages.render import Reader, Rendered, Renderer, normalize_locale
from storage.calendar import QuietHours
from storage.checkins import member_zone
from storage.clock import Clock
from storage.db import Database
from storage.models import ChannelName, Member, MessageKind, Staff
from storage.notices import due_notice_ids
from storage.outbox import (
    URGENT_RANK,
    Claimed,
    EnqueueReport,
    Outcome,
    RetryPolicy,
    claim_due,
    enqueue_notice,
    record_outcomes,
    record_parts_sent,
    record_receipt,
    renew_leases,
)
from storage.payloads import Payload, PayloadError

log = logging.getLogger(__name__)
# How long a receipt whose send is not recorded yet waits for that record.
EARLY_RECEIPT_WAIT = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class DispatcherConfig:
    """How much the dispatcher holds at once and how long it may hold it."""

    # Rows per claim; the next claim comes when half of the last is sent, so the dispatcher
    # holds at most 1.5 batches plus what its senders have in hand (see for_rate).
    batch_size: int = 60
    concurrency: int = 64
    # Outcomes are written this many at a time, or after this many seconds, whichever comes
    # first: a crash re-sends at most these and what is in flight.
    record_every: int = 100
    record_seconds: float = 0.5
    # What a dead dispatcher's rows wait before another takes them over; a live one renews
    # its leases every renew_seconds (real time), so a slow send never loses its row.
    lease: timedelta = timedelta(seconds=20)
    renew_seconds: float = 5.0
    poll_interval: float = 1.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def for_rate(cls, rate: float, *, ahead: float = 2.0, **options: Any) -> DispatcherConfig:
        """Claims of what the channels send in `ahead` seconds at `rate` messages a second.

        At 30/s: 60 a claim, at most about 150 rows (5 s of sending) held at any moment.
        """
        batch = max(1, math.ceil(rate * ahead))
        return cls(batch_size=batch, concurrency=min(64, batch), **options)


@dataclass(frozen=True, slots=True)
class _Recipient:
    locale: str
    zone: tzinfo


@dataclass(slots=True)
class _Batch:
    """What a claimed batch needs to be rendered, loaded together."""

    # Each row's payload read into its kind's type, or why it does not read.
    payloads: dict[int, Payload | str] = field(default_factory=dict)
    members: dict[int, _Recipient] = field(default_factory=dict)
    staff: dict[int, _Recipient] = field(default_factory=dict)
    # What the rows' kinds show besides their payloads (messages/kinds.py), by row key.
    subjects: dict[Subject[Any, Any], Mapping[int, Any]] = field(default_factory=dict)


class Dispatcher:
    """Runs the outbox for the channels it is given (rows of other channels wait)."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[ChannelName, Channel],
        renderer: Renderer,
        clock: Clock,
        *,
        default_locale: str,
        default_zone: ZoneInfo,
        config: DispatcherConfig | None = None,
        rng: random.Random | None = None,
        quiet_hours: QuietHours | None = None,
        addresses: Mapping[ChannelName, Collection[str]] | None = None,
    ) -> None:
        self.db = db
        self.channels = dict(channels)
        self.renderer = renderer
        self.clock = clock
        self.default_locale = default_locale
        self.default_zone = default_zone
        self.config = config or DispatcherConfig()
        self.quiet_hours = quiet_hours
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        # Channels limited to some addresses (a terminal chat: its own account only).
        self.addresses = dict(addresses) if addresses else None
        # Rows claimed and not yet recorded: their leases are renewed while we work.
        self._held: set[int] = set()
        # Subjects that do not change once sent (notices), kept from one batch to the next.
        self._lasting: dict[Subject[Any, Any], dict[int, Any]] = {}
        # Receipts that came before their send was recorded (the SMS centre can be quick):
        # id → (delivered, reason, when it came).
        self._early_receipts: dict[str, tuple[bool, str | None, datetime]] = {}
        # Messages that read alike for many readers (a notice: one language, channel, date).
        self._rendered: dict[tuple[MessageKind, str, ChannelName, Hashable], Rendered] = {}

    async def enqueue_due(self) -> list[EnqueueReport]:
        """Turn every notice whose time has come into deliveries (each in its own transaction)."""
        now = self.clock.now()
        async with self.db.session() as session:
            due = await due_notice_ids(session, now)
        reports = []
        for notice_id in due:
            async with self.db.session() as session:
                reports.append(await enqueue_notice(session, now, notice_id))
        return reports

    async def run_once(self) -> int:
        """Enqueue due notices, then send every delivery due now; returns how many were sent.

        A pipeline: the next batch is claimed while the current one is being sent, senders
        take rows as they come, and outcomes are written in groups, so neither the database
        nor a slow send leaves the channels idle.
        """
        await self.enqueue_due()
        handled = 0
        # Outcomes can make new rows due (an SMS fallback, a migrated group chat): go again.
        while passed := await self._pass():
            handled += passed
        return handled

    async def _pass(self) -> int:
        config = self.config
        queue: asyncio.Queue[tuple[Claimed, OutboundMessage | SendResult] | None] = asyncio.Queue()
        # Set when the queue is down to half a batch: time to claim the next one. Claiming
        # no further ahead keeps what a crash strands to a few seconds of sending.
        hungry = asyncio.Event()
        finished = asyncio.Event()
        done: list[tuple[Claimed, SendResult]] = []
        writing = asyncio.Lock()
        handled = 0
        senders = config.concurrency
        loop = asyncio.get_running_loop()
        last_write = loop.time()

        async def record(force: bool = False) -> None:
            nonlocal last_write
            due = len(done) >= config.record_every
            due = due or loop.time() - last_write >= config.record_seconds
            if not done or not (due or force):
                return
            last_write = loop.time()
            chunk = done[:]
            done.clear()
            async with writing:
                await self._record(chunk)

        async def claim_all() -> None:
            nonlocal handled
            try:
                while True:
                    async with writing:
                        batch = await self._claim()
                    if not batch:
                        return
                    handled += len(batch)
                    loaded = await self._load(batch)
                    hungry.clear()
                    for claimed in batch:
                        queue.put_nowait((claimed, self._message(claimed, loaded)))
                    if queue.qsize() > config.batch_size // 2:
                        await hungry.wait()
            finally:
                for _ in range(config.concurrency):
                    queue.put_nowait(None)

        # A short lease (set for a test) is renewed well before it ends, too.
        renew_every = min(config.renew_seconds, config.lease.total_seconds() / 4)

        async def keep_leases() -> None:
            # The heartbeat: as long as this pass runs, what it holds stays its own.
            while not finished.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finished.wait(), renew_every)
                if finished.is_set():
                    return
                try:
                    await self.renew_leases()
                except Exception:  # a database blip must not end the pass and lose its records
                    log.exception("could not renew the dispatcher's leases; trying again")

        # One recipient's messages go out one after the other, in the order they were
        # claimed (oldest first): concurrent senders must not let "issued" overtake
        # "verified". Each entry: the lock and how many senders hold or wait for it.
        recipients: dict[tuple[ChannelName, str], tuple[asyncio.Lock, list[int]]] = {}

        async def send_in_order(claimed: Claimed, message: OutboundMessage) -> SendResult:
            key = (claimed.channel, claimed.address)
            lock, users = recipients.setdefault(key, (asyncio.Lock(), [0]))
            users[0] += 1
            try:
                # Taken without yielding when free, so locks are taken in queue order.
                async with lock:
                    return await self._deliver(claimed, message)
            finally:
                users[0] -= 1
                if users[0] == 0:
                    del recipients[key]

        async def send_all() -> None:
            nonlocal senders
            while (item := await queue.get()) is not None:
                if queue.qsize() <= config.batch_size // 2:
                    hungry.set()
                claimed, message = item
                if isinstance(message, SendResult):
                    result = message
                else:
                    result = await send_in_order(claimed, message)
                done.append((claimed, result))
                await record()
            senders -= 1
            if senders == 0:
                finished.set()

        try:
            # A task group: if the database fails mid-pass, no sender is left running alone.
            async with asyncio.TaskGroup() as group:
                group.create_task(claim_all())
                group.create_task(keep_leases())
                for _ in range(config.concurrency):
                    group.create_task(send_all())
            await record(force=True)
        finally:
            # Whatever a failed pass did not record is no longer ours: its lease runs out.
            self._held.clear()
        return handled

    async def renew_leases(self) -> int:
        """Extend the lease of every row this dispatcher holds; returns how many."""
        if not self._held:
            return 0
        async with self.db.session() as session:
            return await renew_leases(
                session, set(self._held), self.clock.now() + self.config.lease
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Work until stop is set, looking again every poll_interval seconds when idle."""
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:  # a bad moment (database restart…) must not end the loop
                log.exception("dispatcher pass failed; trying again shortly")
                handled = 0
            if handled == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.poll_interval)

    async def on_receipt(self, external_id: str, delivered: bool, reason: str | None) -> None:
        """A channel's delivery receipt (SMS): finish the row it belongs to."""
        async with self.db.session() as session:
            found = await record_receipt(
                session, self.clock.now(), external_id, delivered=delivered, reason=reason
            )
        # Its send may not be recorded yet: try again after the next batch is written.
        if not found and len(self._early_receipts) < 100_000:
            self._early_receipts[external_id] = (delivered, reason, self.clock.now())

    async def _retry_receipts(self) -> None:
        if not self._early_receipts:
            return
        waiting, self._early_receipts = self._early_receipts, {}
        now = self.clock.now()
        async with self.db.session() as session:
            for external_id, (delivered, reason, came) in waiting.items():
                found = await record_receipt(
                    session, now, external_id, delivered=delivered, reason=reason
                )
                if found:
                    continue
                # Another sender's record may not be committed yet: keep it a while.
                if now - came < EARLY_RECEIPT_WAIT:
                    self._early_receipts.setdefault(external_id, (delivered, reason, came))
                else:
                    log.info("receipt for unknown message %s", external_id)

    async def _claim(self) -> list[Claimed]:
        async with self.db.session() as session:
            claimed = await claim_due(
                session,
                self.clock.now(),
                limit=self.config.batch_size,
                lease=self.config.lease,
                channels=list(self.channels),
                addresses=self.addresses,
                held=self._held,
            )
        self._held.update(c.id for c in claimed)
        return claimed

    async def _record(self, outcomes: Sequence[tuple[Claimed, SendResult]]) -> None:
        now = self.clock.now()
        async with self.db.session() as session:
            await record_outcomes(
                session,
                now,
                [(claimed, _outcome(result)) for claimed, result in outcomes],
                policy=self.config.policy,
                rng=self.rng,
            )
        self._held.difference_update(claimed.id for claimed, _ in outcomes)
        await self._retry_receipts()

    def _message(self, claimed: Claimed, batch: _Batch) -> OutboundMessage | SendResult:
        """The rendered message for a claimed row, or the reason there is none."""
        payload = batch.payloads[claimed.id]
        if isinstance(payload, str):
            # Sending it half-filled would be worse than not at all; the reason stays on the row.
            return SendResult.failed(payload)
        if claimed.member_id is not None:
            recipient = batch.members.get(claimed.member_id)
        elif claimed.staff_id is not None:
            recipient = batch.staff.get(claimed.staff_id)
        else:
            recipient = None
        locale = recipient.locale if recipient else self.default_locale
        zone = recipient.zone if recipient else self.default_zone
        now = self.clock.now()
        # Nothing scheduled reaches anyone at night; staff may mark a notice urgent to override.
        if (
            self.quiet_hours is not None
            and claimed.rank > URGENT_RANK
            and self.quiet_hours.contains(now, zone)
        ):
            opens = self.quiet_hours.next_open(now, zone)
            return SendResult.held((opens - now).total_seconds(), "quiet hours")
        reader = Reader(self.renderer, locale, zone, claimed.channel)
        rendered = self._render(KINDS[claimed.kind], reader, claimed, payload, batch)
        if rendered is None:
            return SendResult.failed(f"nothing to send: the {claimed.kind.value} is gone")
        text, buttons = rendered
        return OutboundMessage(
            delivery_id=claimed.id,
            channel=claimed.channel,
            address=claimed.address,
            text=text,
            buttons=buttons,
            parts_sent=claimed.parts_sent,
            part_sent=lambda parts: self._part_sent(claimed.id, parts),
        )

    def _render(
        self,
        kind: Kind[Any, Any],
        reader: Reader,
        claimed: Claimed,
        payload: Payload,
        batch: _Batch,
    ) -> Rendered | None:
        subject = None
        if kind.subject is not None:
            key = kind.subject.of(claimed, payload)
            if key is not None:
                subject = batch.subjects.get(kind.subject, {}).get(key)
        if kind.alike is None:
            return kind.render(reader, payload, subject)
        alike = (kind.kind, reader.locale, reader.channel, kind.alike(reader, payload, subject))
        rendered = self._rendered.get(alike)
        if rendered is None:
            if len(self._rendered) > 10_000:
                self._rendered.clear()
            rendered = kind.render(reader, payload, subject)
            if rendered is not None:
                self._rendered[alike] = rendered
        return rendered

    async def _part_sent(self, delivery_id: int, parts: int) -> None:
        """Write that parts of a split message are in the chat, before the next part goes."""
        try:
            async with self.db.session() as session:
                await record_parts_sent(session, delivery_id, parts)
        except Exception:  # the send result carries the count too; keep sending
            log.exception("could not record part %d of delivery %d", parts, delivery_id)

    async def _deliver(self, claimed: Claimed, message: OutboundMessage) -> SendResult:
        try:
            return await self.channels[claimed.channel].send(message)
        except Exception as error:  # a channel bug must not strand the row in "sending"
            log.exception("channel %s raised for delivery %s", claimed.channel, claimed.id)
            return SendResult.retry(f"internal error: {type(error).__name__}")

    async def _load(self, batch: Sequence[Claimed]) -> _Batch:
        """Everything the batch's messages need, in one query per kind of thing."""
        loaded = _Batch()
        wanted: dict[Subject[Any, Any], set[int]] = defaultdict(set)
        for claimed in batch:
            kind = KINDS[claimed.kind]
            try:
                payload = kind.payload.read(claimed.payload)
            except PayloadError as error:
                loaded.payloads[claimed.id] = str(error)
                continue
            loaded.payloads[claimed.id] = payload
            if kind.subject is not None:
                key = kind.subject.of(claimed, payload)
                if key is not None:
                    wanted[kind.subject].add(key)
        member_ids = {c.member_id for c in batch if c.member_id is not None}
        staff_ids = {c.staff_id for c in batch if c.staff_id is not None}
        default_locale = normalize_locale(self.default_locale)
        async with self.db.session() as session:
            if member_ids:
                rows = await session.execute(
                    select(Member.id, Member.locale, Member.timezone).where(
                        Member.id.in_(member_ids)
                    )
                )
                for member_id, locale, timezone in rows:
                    loaded.members[member_id] = _Recipient(
                        normalize_locale(locale, default_locale),
                        member_zone(timezone, self.default_zone),
                    )
            if staff_ids:
                staff_rows = await session.execute(
                    select(Staff.id, Staff.locale).where(Staff.id.in_(staff_ids))
                )
                for staff_id, locale in staff_rows:
                    loaded.staff[staff_id] = _Recipient(
                        normalize_locale(locale, default_locale), self.default_zone
                    )
            for subject, keys in wanted.items():
                if not subject.lasting:
                    loaded.subjects[subject] = await subject.load(session, keys)
                    continue
                kept = self._lasting.setdefault(subject, {})
                if len(kept) > 10_000:
                    kept.clear()
                if missing := keys - kept.keys():
                    kept.update(await subject.load(session, missing))
                loaded.subjects[subject] = kept
        return loaded


def _outcome(result: SendResult) -> Outcome:
    kinds = {
        SendOutcome.ACCEPTED: "accepted",
        SendOutcome.RETRY: "retry",
        SendOutcome.FAILED: "failed",
        SendOutcome.UNREACHABLE: "unreachable",
        SendOutcome.HELD: "held",
    }
    return Outcome(
        kind=kinds[result.outcome],
        external_id=result.external_id,
        retry_after=result.retry_after,
        reason=result.reason,
        new_address=result.new_address,
        delivered=result.delivered,
        parts_sent=result.parts_sent,
    )
