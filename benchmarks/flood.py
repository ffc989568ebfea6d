"""One account floods the bot: how long does another member wait for an answer? (real time)"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from datetime import timedelta
from typing import Any

from telegram.ext import SimpleUpdateProcessor

from benchmarks.broadcast import TOKEN, _district, _services
from benchmarks.common import fresh_database, p95, show
from bot.app import build_application
from bot.botapi import LocalBotApi, Outgoing, UpdateFactory
from bot.context import LiaisonApplication
from messages.channels.telegram import TelegramRateLimiter
from tests.botapi_server import BotApiServer

FLOODER = 1_000_000  # sends FLOOD messages in FLOOD_SECONDS
MEMBER = 1_000_001  # sends /help every second for MEMBER_SECONDS
FLOOD = 60
FLOOD_SECONDS = 5.0
MEMBER_SECONDS = 15
# How long the member's questions may wait for their answers before we stop counting
# (the baseline needs about a minute: the flood's sixty answers go first, one a second).
GRACE_SECONDS = 90.0


async def _scenario(*, one_at_a_time: bool) -> dict[str, Any]:
    """The real Application, long polling a Bot API over HTTP that enforces 1/s per chat."""
    api = LocalBotApi()  # Telegram's limits on the machine's monotonic clock
    answered: list[float] = []
    all_answered = asyncio.Event()

    def note(outgoing: Outgoing) -> None:
        if outgoing.chat_id == MEMBER:
            answered.append(time.monotonic())
            if len(answered) >= MEMBER_SECONDS:
                all_answered.set()

    api.subscribe(note)
    factory = UpdateFactory(api)
    flooder, member = factory.user(FLOODER), factory.user(MEMBER)
    async with (
        fresh_database() as database,
        BotApiServer(api, TOKEN, record_requests=False) as server,
    ):
        await _district(database, 2)
        app: LiaisonApplication = build_application(_services(database, server.base_url, rate=30))
        if one_at_a_time:
            # The old processing, for the baseline: one update after the other, no flood control.
            app._update_processor = SimpleUpdateProcessor(1)
        await app.initialize()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=timedelta(seconds=10))
        await app.start()
        try:
            asked = await _traffic(server, factory, flooder, member)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_answered.wait(), GRACE_SECONDS)
            stop = time.monotonic()
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
        limiter = app.bot.rate_limiter
        assert isinstance(limiter, TelegramRateLimiter)
    waits = [(answered[i] if i < len(answered) else stop) - sent for i, sent in enumerate(asked)]
    return {
        "member_questions": len(asked),
        "member_answered": min(len(answered), len(asked)),
        "member_median_s": statistics.median(waits),
        "member_p95_s": p95(waits),
        "member_max_s": max(waits),
        "responses_429": server.throttled,
        "bot_saw_429": limiter.throttled,
        "flooder_answers": sum(1 for o in api.sent if o.chat_id == FLOODER),
    }


async def _traffic(
    server: BotApiServer, factory: UpdateFactory, flooder: dict[str, Any], member: dict[str, Any]
) -> list[float]:
    """The flood and the member's questions, pushed as Telegram would; when each was asked."""
    asked: list[float] = []
    start = time.monotonic()

    async def flood() -> None:
        for n in range(FLOOD):
            await _at(start + n * FLOOD_SECONDS / FLOOD)
            server.push_update(factory.text(flooder, f"第{n}条消息"))

    async def questions() -> None:
        for n in range(MEMBER_SECONDS):
            await _at(start + 0.5 + n)
            asked.append(time.monotonic())
            server.push_update(factory.text(member, "/help"))

    await asyncio.gather(flood(), questions())
    return asked


async def _at(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


def _show(label: str, figures: dict[str, Any]) -> None:
    show(f"{label}: member's answer median", figures["member_median_s"], "s")
    show(f"{label}: member's answer p95", figures["member_p95_s"], "s")
    show(f"{label}: member's answer max", figures["member_max_s"], "s")
    show(
        f"{label}: answered in time",
        figures["member_answered"],
        f"of {figures['member_questions']}",
    )
    show(f"{label}: 429 responses", figures["responses_429"], "")
    show(f"{label}: answers to the flooding account", figures["flooder_answers"], "")


async def run() -> dict[str, Any]:
    baseline = await _scenario(one_at_a_time=True)
    _show("baseline: one update at a time", baseline)
    ours = await _scenario(one_at_a_time=False)
    _show("per-chat order + flood control", ours)
    return {"baseline_one_at_a_time": baseline, "concurrent_with_flood_control": ours}
