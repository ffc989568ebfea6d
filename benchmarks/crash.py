"""`liaison serve` killed with SIGKILL mid-broadcast and started again: when it sends again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.common import show
from bot.botapi import LocalBotApi, Outgoing
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Delivery, DeliveryStatus
from tests.botapi_server import BotApiServer
from tests.factories import make_broadcast

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"  # noqa: S105 (the local server's)
MEMBERS = 240
KILLED_AFTER = 118
BODY = "本月主题党日改到周六上午九点。"
DEADLINE = 120.0


async def _district(url: str) -> None:
    database = Database.from_url(url)
    await upgrade(database.engine)
    now = datetime.now(UTC)
    await make_broadcast(
        database, now, members=MEMBERS, first_user_id=800_000, author="bench", body=BODY
    )
    await database.dispose()


async def _held(url: str) -> int:
    database = Database.from_url(url)
    async with database.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status == DeliveryStatus.SENDING)
        )
    await database.dispose()
    return int(count or 0)


async def run() -> dict[str, Any]:
    """The settings `serve` has by default (30 messages/s, 20 s lease)."""
    api = LocalBotApi()
    sends: list[tuple[float, int]] = []

    def note(outgoing: Outgoing) -> None:
        if BODY in outgoing.text:
            sends.append((time.monotonic(), outgoing.chat_id))

    api.subscribe(note)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'crash.db'}"
        await _district(url)
        async with BotApiServer(api, TOKEN, record_requests=False) as server:
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "LIAISON_DATABASE_URL": url,
                "LIAISON_TELEGRAM_TOKEN": TOKEN,
                "LIAISON_TELEGRAM_API_URL": server.base_url,
                "LIAISON_QUIET_HOURS_START": "00:00",
                "LIAISON_QUIET_HOURS_END": "00:00",
                "LIAISON_SMS_LOG_PATH": str(Path(folder) / "sms.log"),
            }

            async def start() -> asyncio.subprocess.Process:
                return await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "serve",
                    env=env,
                    cwd=folder,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )

            first = await start()
            try:
                await asyncio.wait_for(
                    server.wait_until(lambda: len(sends) >= KILLED_AFTER), DEADLINE
                )
            finally:
                first.send_signal(signal.SIGKILL)
                await first.wait()
            killed_at = time.monotonic()
            before = len(sends)
            held = await _held(url)

            second = await start()
            try:
                await asyncio.wait_for(
                    server.wait_until(lambda: len({c for _, c in sends}) == MEMBERS), DEADLINE
                )
            finally:
                second.send_signal(signal.SIGINT)
                await second.wait()

    after = [at for at, _ in sends[before:]]
    received = Counter(chat for _, chat in sends)
    figures = {
        "members": MEMBERS,
        "sent_before_kill": before,
        "held_by_the_killed_process": held,
        "sent_twice": sum(received.values()) - MEMBERS,
        "kill_to_first_send_s": round(after[0] - killed_at, 2),
        "kill_to_last_send_s": round(after[-1] - killed_at, 2),
    }
    show("sent before SIGKILL", before, "messages")
    show("held by the killed process (status sending)", held, "rows")
    show("sent twice (sent, outcome not yet written)", figures["sent_twice"], "messages")
    show("SIGKILL → first send of the restarted service", figures["kill_to_first_send_s"], "s")
    show("SIGKILL → every member has the notice", figures["kill_to_last_send_s"], "s")
    return figures
