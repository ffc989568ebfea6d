"""A local SMS channel for the demo: each SMS is appended to a UTF-8 file instead of sent.

Used when no SMPP host is configured, so a new user sees what would go out (and how many
SMS each text takes) without an SMS centre.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from messages.channels.base import OutboundMessage, SendResult
from messages.sms_text import choose_encoding, split_text
from storage.models import ChannelName


class SmsLogChannel:
    """Writes every SMS to a file and reports it delivered."""

    name: ChannelName = ChannelName.SMS

    def __init__(self, path: str | Path, *, now: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = asyncio.Lock()
        self._count = 0

    async def start(self) -> None:
        """Nothing to connect; here so both SMS channels have the same lifecycle."""

    async def close(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> SmsLogChannel:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(self, message: OutboundMessage) -> SendResult:
        try:
            encoding = choose_encoding(message.text)
            parts = split_text(message.text, encoding)
        except ValueError as exc:
            return SendResult.failed(str(exc))
        stamp = self._now().isoformat(timespec="seconds")
        entry = (
            f"--- {stamp} to {message.address} "
            f"({len(parts)} SMS, {encoding.name}) delivery {message.delivery_id}\n"
            f"{message.text}\n"
        )
        async with self._lock:
            self._count += 1
            external_id = f"log-{message.delivery_id}-{self._count}"
            try:
                await asyncio.to_thread(self._append, entry)
            except OSError as exc:
                return SendResult.retry(f"cannot write {self.path}: {exc.strerror or exc}")
        return SendResult.accepted(external_id, delivered=True)

    def _append(self, entry: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(entry)


__all__ = ["SmsLogChannel"]
