"""Broadcasts through a local Bot API over HTTP: the rate kept, engine throughput, enqueueing."""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from telegram import Bot, Update
from telegram.request import HTTPXRequest

from benchmarks.common import Timer, fresh_database, p95, show
from benchmarks.remote_api import RemoteBotApi
from bot.app import build_application
from bot.botapi import LocalBotApi, UpdateFactory
from bot.context import Services
from messages.channels.telegram import TelegramChannel
from messages.dispatcher import Dispatcher, DispatcherConfig
from messages.render import Renderer
from storage.clock import SystemClock
from storage.db import Database
from storage.models import (
    ChannelName,
    Consent,
    Group,
    GroupKind,
    Member,
    MemberStatus,
    member_groups,
)
from storage.notices import create_notice
from storage.outbox import enqueue_notice
from storage.regions import default_index
from storage.settings import Settings

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"  # noqa: S105 (local test server)
LIMITED = int(os.environ.get("BENCH_BROADCAST_RECIPIENTS", "10000"))
UNLIMITED = 5_000
ENQUEUED = 100_000
CONCURRENCY = 32
NOW = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)
BODY = "本月主题党日改到周六上午九点，请准时参加。"


async def _district(database: Database, members: int) -> None:
    """members bound members in one group, inserted in bulk."""
    async with database.session() as session:
        await session.execute(
            insert(Group).values(id=1, name="全体", kind=GroupKind.OTHER, created_at=NOW)
        )
        rows = [
            {
                "id": i + 1,
                "name": f"党员{i}",
                "phone": f"+86138{i:08d}",
                "status": MemberStatus.OUTFLOW,
                "telegram_user_id": 1_000_000 + i,
                "consent": Consent.GIVEN,
                "registered_at": NOW,
                "updated_at": NOW,
            }
            for i in range(members)
        ]
        for start in range(0, members, 5_000):
            await session.execute(insert(Member), rows[start : start + 5_000])
            await session.execute(
                insert(member_groups),
                [{"member_id": r["id"], "group_id": 1} for r in rows[start : start + 5_000]],
            )


async def _notice(database: Database) -> int:
    async with database.session() as session:
        notice = await create_notice(
            session,
            SystemClock().now(),
            author="bench",
            author_name="区委组织部",
            body="本月主题党日改到周六上午九点，请准时参加。",
            groups=["全体"],
        )
    return notice.id


def _services(database: Database, base_url: str, rate: float) -> Services:
    settings = Settings(
        database_url="sqlite+aiosqlite:///unused.db",
        telegram_token=TOKEN,  # type: ignore[arg-type]
        telegram_api_url=base_url,
        telegram_rate=rate,
    )
    # No invites are redeemed: any key will do.
    return Services(
        settings, database, SystemClock(), Renderer(), default_index(), invite_key=b"benchmark"
    )


def _dispatcher(services: Services, bot: Any) -> Dispatcher:
    return Dispatcher(
        services.db,
        {ChannelName.TELEGRAM: TelegramChannel(bot)},
        services.renderer,
        services.clock,
        default_locale="zh_CN",
        default_zone=ZoneInfo("Asia/Shanghai"),
        config=DispatcherConfig(batch_size=4 * CONCURRENCY, concurrency=CONCURRENCY),
    )


async def limited_broadcast() -> dict[str, Any]:
    """10,000 recipients through an endpoint that answers 429 beyond 30 messages/s."""
    local = LocalBotApi()  # builds the member's updates; the endpoint is the remote one
    async with fresh_database() as database:
        await _district(database, LIMITED)
        async with RemoteBotApi(TOKEN, rate_limit=30) as remote:
            services = _services(database, remote.base_url, rate=services_rate())
            app = build_application(services)
            await app.initialize()
            try:
                await _notice(database)
                dispatcher = _dispatcher(services, app.bot)
                gc.freeze()  # as bot/background.py does when the service starts
                # Replies to a member while the broadcast drains: urgent, they overtake it.
                latencies: list[float] = []
                factory = UpdateFactory(local)
                member = factory.user(1_000_000)
                drain = asyncio.create_task(dispatcher.run_once())
                while not drain.done():
                    await asyncio.sleep(0.5)
                    start = time.perf_counter()
                    update = Update.de_json(factory.text(member, "/help"), app.bot)
                    await app.process_update(update)
                    latencies.append(time.perf_counter() - start)
                await drain
            finally:
                await app.shutdown()
    broadcast = [m for m in remote.sent if "主题党日" in m.text]
    recipients = {m.chat_id for m in broadcast}
    stamps = [m.at for m in remote.sent]
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    figures = {
        "recipients": LIMITED,
        "delivered_once": len(recipients) == LIMITED and len(broadcast) == LIMITED,
        "rate_per_s": rate,
        "share_of_limit": rate / 30,
        "responses_429": remote.throttled,
        "reply_p95_ms": p95(latencies) * 1e3,
        "reply_max_ms": max(latencies) * 1e3,
        "replies": len(latencies),
        "sent_total": len(remote.sent),
    }
    show("limited (30/s) broadcast: achieved rate", rate, "msg/s")
    show("  share of the 30/s limit", figures["share_of_limit"] * 100, "%")
    show("  429 responses", remote.throttled, "")
    show("  every recipient exactly once", float(figures["delivered_once"]), "(1 = yes)")
    show("  reply to /help while draining: p95", figures["reply_p95_ms"], "ms")
    show("  reply to /help while draining: max", figures["reply_max_ms"], "ms")
    return figures


def services_rate() -> float:
    return float(os.environ.get("BENCH_TELEGRAM_RATE", Settings().telegram_rate))


async def unlimited() -> dict[str, Any]:
    """The limit lifted: the whole engine against a bare send_message loop, same concurrency."""
    async with RemoteBotApi(TOKEN) as server:
        # Baseline: python-telegram-bot alone, CONCURRENCY sends in flight.
        bot = Bot(
            TOKEN, base_url=server.base_url, request=HTTPXRequest(connection_pool_size=CONCURRENCY)
        )
        await bot.initialize()
        gate = asyncio.Semaphore(CONCURRENCY)

        async def bare(chat_id: int) -> None:
            async with gate:
                await bot.send_message(chat_id, "本月主题党日改到周六上午九点，请准时参加。")

        with Timer() as baseline:
            await asyncio.gather(*(bare(1_000_000 + i) for i in range(UNLIMITED)))
        await bot.shutdown()

        async with fresh_database() as database:
            await _district(database, UNLIMITED)
            services = _services(database, server.base_url, rate=100_000)
            app = build_application(services)
            await app.initialize()
            try:
                await _notice(database)
                dispatcher = _dispatcher(services, app.bot)
                with Timer() as engine:
                    handled = await dispatcher.run_once()
            finally:
                await app.shutdown()
        assert handled == UNLIMITED, handled
    figures = {
        "messages": UNLIMITED,
        "baseline_per_s": UNLIMITED / baseline.seconds,
        "engine_per_s": UNLIMITED / engine.seconds,
    }
    figures["engine_vs_baseline"] = figures["engine_per_s"] / figures["baseline_per_s"]
    show("baseline: bare PTB send_message loop", figures["baseline_per_s"], "msg/s")
    show("engine: enqueue + claim + render + send + record", figures["engine_per_s"], "msg/s")
    show("  engine / baseline", figures["engine_vs_baseline"] * 100, "%")
    return figures


async def enqueue_100k() -> dict[str, Any]:
    """Enqueueing a notice for 100,000 members on SQLite."""
    async with fresh_database() as database:
        await _district(database, ENQUEUED)
        notice_id = await _notice(database)
        tracemalloc.start()
        with Timer() as timer:
            async with database.session() as session:
                report = await enqueue_notice(session, SystemClock().now(), notice_id)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert report.per_channel["telegram"] == ENQUEUED
    # SQLite's own memory is not Python's: the process's peak resident size covers both
    # (and everything this process did before, so it is an upper bound).
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "members": ENQUEUED,
        "seconds": timer.seconds,
        "python_peak_mb": peak / 1e6,
        "process_peak_rss_mb": rss_mb,
    }
    show("enqueue a notice for 100,000 members (SQLite)", timer.seconds, "s")
    show("  peak Python memory while enqueueing", figures["python_peak_mb"], "MB")
    show("  process peak resident memory (upper bound)", rss_mb, "MB")
    return figures


async def run() -> dict[str, Any]:
    return {
        "enqueue_100k": await enqueue_100k(),
        "unlimited": await unlimited(),
        "limited": await limited_broadcast(),
    }
