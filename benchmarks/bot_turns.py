"""Bot turns: updates through the full Application vs a bare python-telegram-bot echo, and
whole check-in conversations, whose state the engine reads and writes in the database at
every turn."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from benchmarks.common import Timer, fresh_database, p95, show
from bot.app import LOCAL_TOKEN, build_application
from bot.botapi import LocalBotApi, LocalBotApiRequest, UpdateFactory
from bot.context import Services
from messages.render import Renderer
from storage.clock import FakeClock
from storage.models import CheckIn, Consent, Member, MemberStatus
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


# A check-in as a member goes through it: the command, a typed place, then a button under
# each question (work, note skipped, no need, confirm) — six turns.
CHECKIN_PRESSES = ("checkin:work:", "checkin:note:skip", "checkin:needs:", "checkin:confirm")


async def _checkins(app: Any, api: LocalBotApi) -> tuple[float, list[float], int]:
    factory = UpdateFactory(api)
    latencies = []

    async def turn(update: dict[str, Any]) -> None:
        start = time.perf_counter()
        await app.process_update(Update.de_json(update, app.bot))
        latencies.append(time.perf_counter() - start)

    with Timer() as total:
        for i in range(MEMBERS):
            user = factory.user(1_000 + i)
            await turn(factory.text(user, "/checkin"))
            await turn(factory.text(user, "武汉市江汉区"))
            for prefix in CHECKIN_PRESSES:
                question = next(o for o in reversed(api.sent) if o.chat_id == user["id"])
                button = next(
                    b
                    for row in question.buttons
                    for b in row
                    if b.callback_data and b.callback_data.startswith(prefix)
                )
                await turn(factory.press(user, question, button))
    return total.seconds, latencies, len(latencies)


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
            invite_key=b"benchmark: no invites are redeemed",
        )
        api = LocalBotApi(enforce_limits=False)
        app = build_application(services, request=LocalBotApiRequest(api))
        await app.initialize()
        try:
            if command != "checkin conversation":
                return await _drive(app, api, command)
            seconds, latencies, turns = await _checkins(app, api)
            async with database.session() as session:
                saved = await session.scalar(select(func.count()).select_from(CheckIn))
            assert saved == MEMBERS, f"{saved} of {MEMBERS} check-ins saved"
            assert turns == MEMBERS * (2 + len(CHECKIN_PRESSES))
            return seconds * TURNS / turns, latencies  # scaled to TURNS turns
        finally:
            await app.shutdown()


async def run() -> dict[str, Any]:
    results: dict[str, Any] = {"turns": TURNS}
    seconds, latencies = await _bare()
    results["baseline_echo"] = {"per_s": TURNS / seconds, "p95_ms": p95(latencies) * 1e3}
    show("baseline: bare PTB reply", TURNS / seconds, "turns/s")
    for command in ("/help", "/where", "checkin conversation"):
        seconds, latencies = await _full(command)
        figures = {
            "per_s": TURNS / seconds,
            "p95_ms": p95(latencies) * 1e3,
            "vs_baseline": (TURNS / seconds) / results["baseline_echo"]["per_s"],
        }
        results[command.strip("/").replace(" ", "_")] = figures
        show(f"full bot {command} (identity + DB + template)", figures["per_s"], "turns/s")
        show(f"full bot {command} p95 latency", figures["p95_ms"], "ms")
    return results
