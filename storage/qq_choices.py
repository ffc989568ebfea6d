"""The numbered choices each QQ private chat was last shown, kept across restarts.

The QQ transport (bot/qq.py) numbers a question's buttons; the member answers "1". What
"1" means lives in memory while the service runs and here as well, so that a member whose
conversation continues after a restart (storage/conversations.py) can still answer by number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import QqChoices

# A notice's "received" or a prompt's "check in now" may be answered weeks later; after a
# month the choices go (their text may quote the member).
KEPT = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Shown:
    """A message with buttons as the chat last saw it."""

    message_id: int
    text: str
    buttons: list[list[dict[str, Any]]]
    inline: bool


async def load(session: AsyncSession, chat_id: int) -> Shown | None:
    row = await session.get(QqChoices, chat_id)
    if row is None:
        return None
    return Shown(row.message_id, row.text, [list(r) for r in row.buttons], row.inline)


async def save(session: AsyncSession, now: datetime, chat_id: int, shown: Shown | None) -> None:
    """Remember what chat_id was shown (None: no choices now)."""
    row = await session.get(QqChoices, chat_id)
    if shown is None:
        if row is not None:
            await session.delete(row)
        return
    if row is None:
        row = QqChoices(chat_id=chat_id)
        session.add(row)
    row.message_id = shown.message_id
    row.text = shown.text
    row.buttons = shown.buttons
    row.inline = shown.inline
    row.updated_at = now


async def forget(session: AsyncSession, chat_id: int) -> None:
    """An erased member's QQ chat keeps nothing."""
    await session.execute(delete(QqChoices).where(QqChoices.chat_id == chat_id))


async def purge(session: AsyncSession, before: datetime) -> int:
    """Delete choice lists last written before `before`; how many."""
    result = await session.execute(delete(QqChoices).where(QqChoices.updated_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
