"""The open conversation of each chat: kept here so that a restart, or another process,
continues it from the step it was at.

The draft is JSON made by the flow that owns it (bot/flow.py); storage does not look inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation, Platform


@dataclass(slots=True)
class OpenConversation:
    """A conversation as a turn works on it: read at its start, written at its end."""

    chat_id: int
    user_id: int
    flow: str
    step: str
    draft: dict[str, Any]
    question_id: int | None
    started_at: datetime
    touched_at: datetime
    expires_at: datetime
    platform: Platform = Platform.TELEGRAM

    def expired(self, now: datetime) -> bool:
        return now > self.expires_at


async def load(
    session: AsyncSession, chat_id: int, user_id: int, platform: Platform = Platform.TELEGRAM
) -> OpenConversation | None:
    row = await session.get(Conversation, (platform, chat_id, user_id))
    if row is None:
        return None
    return OpenConversation(
        chat_id=row.chat_id,
        user_id=row.user_id,
        flow=row.flow,
        step=row.step,
        draft=dict(row.draft),
        question_id=row.question_id,
        started_at=row.started_at,
        touched_at=row.touched_at,
        expires_at=row.expires_at,
        platform=row.platform,
    )


async def save(
    session: AsyncSession, now: datetime, conversation: OpenConversation, idle_limit: timedelta
) -> None:
    """Store the conversation as it stands after this turn; it expires idle_limit from now."""
    conversation.touched_at = now
    conversation.expires_at = now + idle_limit
    key = (conversation.platform, conversation.chat_id, conversation.user_id)
    row = await session.get(Conversation, key)
    if row is None:
        row = Conversation(
            platform=conversation.platform,
            chat_id=conversation.chat_id,
            user_id=conversation.user_id,
        )
        session.add(row)
    row.flow = conversation.flow
    row.step = conversation.step
    row.draft = conversation.draft
    row.question_id = conversation.question_id
    row.started_at = conversation.started_at
    row.touched_at = conversation.touched_at
    row.expires_at = conversation.expires_at


async def end(
    session: AsyncSession, chat_id: int, user_id: int, platform: Platform = Platform.TELEGRAM
) -> None:
    """The conversation is over (finished, cancelled, replaced or expired): its draft goes."""
    await session.execute(
        delete(Conversation).where(
            Conversation.platform == platform,
            Conversation.chat_id == chat_id,
            Conversation.user_id == user_id,
        )
    )


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Delete every draft left past its idle limit (nobody came back to it); how many."""
    result = await session.execute(delete(Conversation).where(Conversation.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)
