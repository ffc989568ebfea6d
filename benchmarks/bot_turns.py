"""Bot turns: updates through the full Application vs a bare python-telegram-bot echo."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from benchmarks.common import Timer, fresh_database, p95, show
from bot.app import LOCAL_TOKEN, build_application
from bot.botapi import LocalBotApi, LocalBotApiRequest, UpdateFactory
from bot.context import Services
from messages.render import Renderer
from storage.clock import FakeClock
from storage.models import Consent, Member, MemberStatus
from storage.regions import default_index
from storage.settings import Settings

MEMBERS = 500
TURNS = 2_000
NOW = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)


async def _drive(app: Any, api: LocalBotApi, command: str) -> tuple[float, list[float]]:
    factory = UpdateFactory(api)
    users = [factory.user(1_000 + i % MEMBERS) for i in range(TURNS)]
    updates = [Update.de_json(factory.text(user, command), app.bot) for user in users]
    latencies = []
    with Timer() as total:
        for update in updates:
            start = time.perf_counter()
            await app.process_update(update)
            latencies.append(time.perf_counter() - start)
    assert len(api.sent) >= TURNS, "some turns got no reply"
    return total.seconds, latencies


async def _bare() -> tuple[float, list[float]]:
    api = LocalBotApi(enforce_limits=False)  # each member has four turns within a second
    request = LocalBotApiRequest(api)
    app = (
        Application.builder()
        .token(LOCAL_TOKEN)
        .request(request)
        .get_updates_request(request)
        .build()
    )

    async def reply(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await update.get_bot().send_message(update.effective_chat.id, "ok")

    app.add_handler(CommandHandler("where", reply))
    await app.initialize()
    try:
        return await _drive(app, api, "/where")
    finally:
        await app.shutdown()


async def _full(command: str) -> tuple[float, list[float]]:
    async with fresh_database() as database:
        async with database.session() as session:
            for i in range(MEMBERS):
                session.add(
                    Member(
                        name=f"党员{i}",
                        phone=f"+86138{i:08d}",
                        status=MemberStatus.OUTFLOW,
                        telegram_user_id=1_000 + i,
                        consent=Consent.GIVEN,
                        registered_at=NOW,
                        updated_at=NOW,
                    )
                )
        services = Services(
            # The handlers' own cost: Telegram's limits (which replies keep in service) are
            # lifted here; the broadcast and flood benchmarks measure pacing.
            settings=Settings(
                telegram_rate=100_000,
                telegram_chat_interval=0,
                telegram_group_per_minute=100_000,
            ),
            db=database,
            clock=FakeClock(NOW),
            renderer=Renderer(),
            regions=default_index(),
        )
        api = LocalBotApi(enforce_limits=False)
        app = build_application(services, request=LocalBotApiRequest(api))
        await app.initialize()
        try:
            return await _drive(app, api, command)
        finally:
            await app.shutdown()


async def run() -> dict[str, Any]:
    results: dict[str, Any] = {"turns": TURNS}
    seconds, latencies = await _bare()
    results["baseline_echo"] = {"per_s": TURNS / seconds, "p95_ms": p95(latencies) * 1e3}
    show("baseline: bare PTB reply", TURNS / seconds, "turns/s")
    for command in ("/help", "/where"):
        seconds, latencies = await _full(command)
        figures = {
            "per_s": TURNS / seconds,
            "p95_ms": p95(latencies) * 1e3,
            "vs_baseline": (TURNS / seconds) / results["baseline_echo"]["per_s"],
        }
        results[command.strip("/")] = figures
        show(f"full bot {command} (identity + DB + template)", figures["per_s"], "turns/s")
        show(f"full bot {command} p95 latency", figures["p95_ms"], "ms")
    return results
