"""A local SMS channel for the demo: each SMS is appended to a UTF-8 file instead of sent.

Used when no SMPP host is configured, so a new user sees what would go out (and how many
SMS each text takes) without an SMS centre. The file is for demonstrations: phone numbers
are masked, the service says at start that SMS go nowhere else, and the daily retention
purge drops entries older than LIAISON_RETENTION_SMS_LOG_DAYS (`drop_older`).

An entry is a header line, "--- <ISO time> to <masked phone> (…)", and the text with every
line indented by two spaces, so that no text a member or staff member wrote can pass for a
header. Writer and purge hold an exclusive lock on the file (fcntl.flock) so a purge by
`liaison privacy purge` loses nothing the running service appends meanwhile.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from messages.channels.base import OutboundMessage, SendResult
from messages.sms_text import choose_encoding, split_text
from storage.models import ChannelName
from storage.phones import mask_phone

log = logging.getLogger(__name__)

HEADER = "--- "
INDENT = "  "


class SmsLogChannel:
    """Writes every SMS to a file and reports it delivered."""

    name: ChannelName = ChannelName.SMS

    def __init__(self, path: str | Path, *, now: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = asyncio.Lock()
        self._count = 0

    async def start(self) -> None:
        """Nothing to connect; say that SMS reach no phone (an operator may have forgotten
        LIAISON_SMPP_HOST)."""
        log.warning(
            "no SMS centre configured (LIAISON_SMPP_HOST): SMS are not sent, they go to a "
            "demonstration log only, %s (phone numbers masked)",
            self.path,
        )

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
        body = "".join(f"{INDENT}{line}\n" for line in message.text.split("\n"))
        entry = (
            f"{HEADER}{stamp} to {mask_phone(message.address)} "
            f"({len(parts)} SMS, {encoding.name}) delivery {message.delivery_id}\n{body}"
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
        # newline="": a carriage return in the text is written (and read back) as it is.
        with self.path.open("a", encoding="utf-8", newline="") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            file.write(entry)


def _stamp(line: str) -> datetime | None:
    """The time of a header line; None for any other line."""
    if not line.startswith(HEADER):
        return None
    try:
        moment = datetime.fromisoformat(line[len(HEADER) :].split(" ", 1)[0])
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def drop_older(path: str | Path, before: datetime, *, dry_run: bool = False) -> int:
    """Drop the log's entries written before `before`; how many (none dropped if dry_run).

    Lines before the first header (none in a file this channel wrote) are kept.
    """
    path = Path(path)
    try:
        file = path.open("r+", encoding="utf-8", newline="", errors="surrogateescape")
    except FileNotFoundError:
        return 0
    with file:
        fcntl.flock(file, fcntl.LOCK_EX)
        kept: list[str] = []
        dropped = 0
        keep = True
        text = file.read()
        # Only "\n" ends a line (not str.splitlines's other separators, which a text holds).
        for line in text.removesuffix("\n").split("\n") if text else []:
            moment = _stamp(line)
            if moment is not None:
                keep = moment >= before
                dropped += not keep
            if keep:
                kept.append(line)
        if dropped and not dry_run:
            # Rewritten in place (the same file): an append waiting on the lock follows it.
            file.seek(0)
            file.write("".join(f"{line}\n" for line in kept))
            file.truncate()
    return dropped


__all__ = ["SmsLogChannel", "drop_older"]
