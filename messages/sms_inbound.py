"""Members' SMS replies: stored as they arrive, then read by keyword and answered.

`SmsInbox` is the SMS channel's inbound sink: it stores each deliver_sm in its own
transaction (storage/sms_inbox.py) and returns, so the channel acknowledges it only once it
is stored. Handling comes after, in `run` (one transaction per message): a message stored
just before a crash is handled when the service starts again. Its answers are outbox rows
rendered here, in the member's language: `sms_reply` (what a keyword did) and `sms_answer`
(what staff answered from the inbox), one SMS each.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from datetime import tzinfo

from messages.channels.base import MobileOriginated
from messages.render import Reader, Rendered, Renderer
from messages.sms_keywords import SmsKeywords
from storage import payloads
from storage.clock import Clock
from storage.db import Database
from storage.regions import RegionIndex
from storage.sms_inbox import Handled, handle, store_part, unhandled

log = logging.getLogger(__name__)


class SmsInbox:
    """Stores what members' phones send (the channel's inbound sink) and handles it."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        renderer: Renderer,
        regions: RegionIndex,
        *,
        zone: tzinfo,
        store_coordinates: bool = False,
        batch: int = 100,
        poll_interval: float = 5.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.keywords = SmsKeywords(renderer)
        self.regions = regions
        self.zone = zone
        self.store_coordinates = store_coordinates
        self.batch = batch
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()

    async def __call__(self, message: MobileOriginated) -> None:
        """Store one deliver_sm; raises when it could not be stored (the channel refuses it)."""
        async with self.db.session() as session:
            complete = await store_part(
                session,
                self.clock.now(),
                sender=message.sender,
                recipient=message.recipient,
                text=message.text,
                dedupe_key=message.dedupe_key,
                reference=message.reference,
                total=message.total,
                number=message.number,
            )
        if complete is not None:
            self._wake.set()

    async def handle_pending(self) -> list[Handled]:
        """Handle every stored message not handled yet, oldest first; what became of each."""
        done: list[Handled] = []
        failed: set[int] = set()
        while True:
            async with self.db.session() as session:
                ids = [i for i in await unhandled(session, limit=self.batch) if i not in failed]
            if not ids:
                return done
            for sms_id in ids:
                try:
                    async with self.db.session() as session:
                        handled = await handle(
                            session,
                            self.clock.now(),
                            sms_id,
                            read=self.keywords.read,
                            regions=self.regions,
                            zone=self.zone,
                            store_coordinates=self.store_coordinates,
                        )
                except Exception:  # one bad message must not hold up the others
                    log.exception("could not handle SMS %d; it is tried again later", sms_id)
                    failed.add(sms_id)
                    continue
                if handled is not None:
                    done.append(handled)

    async def run(self, stop: asyncio.Event) -> None:
        """Handle messages as they are stored, until stop is set (and any left on start)."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.handle_pending()
            except Exception:  # the database restarting must not end the loop
                log.exception("handling members' SMS failed; trying again shortly")
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(
                    waits, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
            for waiting in waits:
                waiting.cancel()


def _as_sms(reader: Reader, name: str, **values: object) -> Rendered:
    """The plain text of an SMS template. These kinds answer an SMS and go by SMS; on another
    channel (none sends them today) the same text, escaped for Telegram HTML."""
    text = reader.renderer.render_text(reader.locale, f"{name}_sms", **values)
    return (text if reader.sms else html.escape(text, quote=False)), ()


def sms_reply(reader: Reader, payload: payloads.SmsReply) -> Rendered:
    """The automatic answer to a member's SMS: one SMS."""
    return _as_sms(
        reader,
        "sms/reply",
        what=payload.what,
        period=payload.period,
        place=payload.place,
        activity=payload.activity,
        title=payload.title or "",
        when=payload.when,
        answer=payload.answer,
        waiting=payload.waiting,
    )


def sms_answer(reader: Reader, payload: payloads.SmsAnswer) -> Rendered:
    """What staff answered from the inbox, signed."""
    return _as_sms(reader, "sms/answer", text=payload.text, signature=payload.signature)


__all__ = ["SmsInbox", "sms_answer", "sms_reply"]
