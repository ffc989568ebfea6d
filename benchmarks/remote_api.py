"""A local Bot API endpoint in a process of its own, as a real one would be.

Sharing the benchmark's event loop would make the server stamp requests late and in bursts
(and so see a sliding-window rate the client never sent); in its own process it sees them
as they arrive.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from bot.botapi import LocalBotApi, Outgoing
from tests.botapi_server import BotApiServer


@dataclass(frozen=True, slots=True)
class Sent:
    chat_id: int
    text: str
    at: float  # the server's clock, seconds


def _serve(connection: Connection, token: str, rate_limit: int | None) -> None:
    # A collector pause would stamp several requests at once and fake a burst: this short-
    # lived process keeps everything instead.
    gc.disable()

    async def main() -> None:
        # Telegram's limits when a rate is asked for; the engine's own speed without.
        api = LocalBotApi(enforce_limits=rate_limit is not None)
        sent: list[tuple[int, str, float]] = []

        def note(outgoing: Outgoing) -> None:
            sent.append((outgoing.chat_id, outgoing.text[:200], time.monotonic()))

        api.subscribe(note)
        async with BotApiServer(api, token, rate_limit=rate_limit, record_requests=False) as server:
            connection.send(server.base_url)
            await asyncio.get_running_loop().run_in_executor(None, connection.recv)
            connection.send({"throttled": server.throttled, "sent": sent})

    asyncio.run(main())


class RemoteBotApi:
    """`async with RemoteBotApi(token, rate_limit=30) as api: api.base_url …; api.result()`."""

    def __init__(self, token: str, *, rate_limit: int | None = None) -> None:
        self.token = token
        self.rate_limit = rate_limit
        self.base_url = ""
        self.throttled = 0
        self.sent: list[Sent] = []
        self._context = multiprocessing.get_context("spawn")
        self._ours, theirs = self._context.Pipe()
        self._process = self._context.Process(
            target=_serve, args=(theirs, token, rate_limit), daemon=True
        )

    async def __aenter__(self) -> RemoteBotApi:
        self._process.start()
        loop = asyncio.get_running_loop()
        self.base_url = await loop.run_in_executor(None, self._ours.recv)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self._ours.send("stop")
        result: dict[str, Any] = await loop.run_in_executor(None, self._ours.recv)
        self.throttled = int(result["throttled"])
        self.sent = [Sent(chat, text, at) for chat, text, at in result["sent"]]
        await loop.run_in_executor(None, self._process.join, 10)
