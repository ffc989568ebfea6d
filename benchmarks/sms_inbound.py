"""Members' SMS replies handled per second through the real SMPP bind: deliver_sm from the
loopback SMS centre to stored, handled and answer enqueued; baseline: the same deliver_sm
acknowledged by a sink that stores nothing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from benchmarks.common import Timer, fresh_database, p95, show
from benchmarks.retention import _postgresql
from messages.channels.base import InboundSink, MobileOriginated
from messages.channels.sms import SmppChannel
from messages.render import Renderer
from messages.sms_inbound import SmsInbox
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    Delivery,
    Group,
    GroupKind,
    InboundSms,
    Member,
    MemberStatus,
    MessageKind,
)
from storage.regions import default_index
from tests.smsc import ESME_ROK, LoopbackSmsc, MoPart, mo_parts

MESSAGES = int(os.environ.get("BENCH_SMS_INBOUND_MESSAGES", "2000"))
# deliver_sm the SMS centre keeps in flight at once (its window).
WINDOW = 10
NOW = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)
# What members text, in turn: mostly check-ins (the heaviest: a place resolved, a check-in
# and its place stored, audited, an answer enqueued), help, a question for the inbox.
TEXTS = ("报到 深圳南山", "BD 广东东莞", "报到 武汉江汉", "帮助", "请问这个月的党费交给谁？")


def _phone(index: int) -> str:
    return f"+86139{index:08d}"


async def _members(database: Database, count: int) -> None:
    async with database.session() as session:
        group = Group(name="驻深圳流动党员党小组", kind=GroupKind.DESTINATION, created_at=NOW)
        session.add(group)
        await session.flush()
        session.add_all(
            Member(
                name=f"党员{index}",
                phone=_phone(index),
                status=MemberStatus.OUTFLOW,
                registered_at=NOW,
                updated_at=NOW,
            )
            for index in range(count)
        )


async def _through_the_bind(
    sink: InboundSink, parts: list[MoPart], until: Callable[[], Awaitable[None]] | None = None
) -> tuple[float, list[float]]:
    """Send every part from the loopback SMS centre, WINDOW at a time; the seconds until all
    were answered (and until() returned), and each deliver_sm's answer time."""
    centre = LoopbackSmsc()
    await centre.start()
    channel = SmppChannel(
        "127.0.0.1", centre.port, "bench", "secret", inbound_sink=sink, connect_timeout=5.0
    )
    await channel.start()
    await asyncio.wait_for(channel.wait_connected(), 10.0)
    window = asyncio.Semaphore(WINDOW)
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    async def one(part: MoPart) -> None:
        async with window:
            started = loop.time()
            status = await centre.deliver(part)
            latencies.append(loop.time() - started)
            assert status == ESME_ROK, status

    try:
        with Timer() as timer:
            await asyncio.gather(*(one(part) for part in parts))
            if until is not None:
                await until()
    finally:
        await channel.close()
        await centre.stop()
    return timer.seconds, latencies


async def _scenario(label: str, database: Database) -> dict[str, Any]:
    await _members(database, MESSAGES)
    parts = [
        part
        for index in range(MESSAGES)
        for part in mo_parts(_phone(index), TEXTS[index % len(TEXTS)])
    ]

    async def ack_only(message: MobileOriginated) -> None:
        return None

    bare_seconds, bare_latencies = await _through_the_bind(ack_only, parts)
    show(f"{label}: baseline, acknowledged only", MESSAGES / bare_seconds, "SMS/s")

    inbox = SmsInbox(
        database, FakeClock(NOW), Renderer(), default_index(), zone=ZoneInfo("Asia/Shanghai")
    )
    stop = asyncio.Event()
    handler = asyncio.create_task(inbox.run(stop))

    async def all_handled() -> None:
        while True:
            async with database.session() as session:
                left = await session.scalar(
                    select(func.count())
                    .select_from(InboundSms)
                    .where(InboundSms.handled_at.is_(None))
                )
                stored = await session.scalar(select(func.count()).select_from(InboundSms))
            if stored == MESSAGES and not left:
                return
            await asyncio.sleep(0.01)

    seconds, latencies = await _through_the_bind(inbox, parts, all_handled)
    stop.set()
    await handler
    async with database.session() as session:
        answers = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.kind == MessageKind.SMS_REPLY)
        )
        inboxed = await session.scalar(
            select(func.count()).select_from(InboundSms).where(InboundSms.in_inbox.is_(True))
        )
    show(f"{label}: stored, handled, answer enqueued", MESSAGES / seconds, "SMS/s")
    show(f"{label}: deliver_sm answered, p95 (baseline)", p95(bare_latencies) * 1000, "ms")
    show(f"{label}: deliver_sm answered once stored, p95", p95(latencies) * 1000, "ms")
    return {
        "messages": MESSAGES,
        "window": WINDOW,
        "baseline_per_second": MESSAGES / bare_seconds,
        "handled_per_second": MESSAGES / seconds,
        "baseline_p95_ms": p95(bare_latencies) * 1000,
        "stored_p95_ms": p95(latencies) * 1000,
        "answers_enqueued": answers,
        "to_the_inbox": inboxed,
    }


async def run() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    async with fresh_database() as database:
        figures["sqlite"] = await _scenario("SQLite", database)
    async with _postgresql("smsin") as pg:
        if pg is not None:
            figures["postgresql"] = await _scenario("PostgreSQL", pg)
    return figures
