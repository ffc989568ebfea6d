"""Linking a group to its Telegram group chat, where notices to the group are posted too.

One chat per group and one group per chat: linking a group that already had a chat moves
the link, and linking a chat that served another group takes it over from that group,
but only when the staff member also looks after that other group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.models import Group
from storage.scope import group_scope_condition

# Group.chat_title's column size.
MAX_TITLE_LENGTH = 200


class GroupChatError(ValueError):
    """A link that cannot be made or removed; reason is unknown_group, foreign or not_linked."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Link:
    """A group now linked to a chat, and what the link replaced."""

    group: str
    # The chat title (or id) the group was linked to before: notices no longer go there.
    moved_from: str | None
    # The group this chat served before: its notices no longer come here.
    replaced: str | None
    already: bool


async def group_for_chat(session: AsyncSession, chat_id: int) -> Group | None:
    """The group linked to chat_id, if any."""
    return await session.scalar(select(Group).where(Group.chat_id == chat_id))


async def link_group_chat(
    session: AsyncSession,
    now: datetime,
    *,
    group_name: str,
    chat_id: int,
    chat_title: str | None,
    staff_id: int | None,
    actor: str,
) -> Link:
    """Link the named group (one the staff member looks after; any for None) to chat_id."""
    name = " ".join(group_name.split())
    query = select(Group).where(Group.name == name)
    if staff_id is not None:
        query = query.where(group_scope_condition(staff_id))
    group = await session.scalar(query)
    if group is None:
        # Outside one's scope reads the same as nonexistent.
        raise GroupChatError(
            f"no group named {name!r} among the groups you look after", "unknown_group"
        )
    title = (chat_title or "").strip()[:MAX_TITLE_LENGTH] or None
    if group.chat_id == chat_id:
        group.chat_title = title
        return Link(group=group.name, moved_from=None, replaced=None, already=True)
    current = await group_for_chat(session, chat_id)
    if current is not None and staff_id is not None:
        allowed = await session.scalar(
            select(Group.id).where(Group.id == current.id, group_scope_condition(staff_id))
        )
        if allowed is None:
            raise GroupChatError("this chat is linked to a group you do not look after", "foreign")
    moved_from = None
    if group.chat_id is not None:
        moved_from = group.chat_title or str(group.chat_id)
    previous_chat = group.chat_id
    if current is not None:
        current.chat_id = None
        current.chat_title = None
        # chat_id is unique: the old link must be gone before the new one is written.
        await session.flush()
    group.chat_id = chat_id
    group.chat_title = title
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="group.link",
        subject=f"group:{group.id}",
        chat_id=chat_id,
        chat_title=title,
        previous_chat_id=previous_chat,
        replaced_group=current.name if current is not None else None,
    )
    return Link(
        group=group.name,
        moved_from=moved_from,
        replaced=current.name if current is not None else None,
        already=False,
    )


async def unlink_group_chat(
    session: AsyncSession, now: datetime, *, chat_id: int, staff_id: int | None, actor: str
) -> str:
    """Remove the link of chat_id; the name of the group it served."""
    group = await group_for_chat(session, chat_id)
    if group is None:
        raise GroupChatError("this chat is not linked to any group", "not_linked")
    if staff_id is not None:
        allowed = await session.scalar(
            select(Group.id).where(Group.id == group.id, group_scope_condition(staff_id))
        )
        if allowed is None:
            raise GroupChatError("this chat is linked to a group you do not look after", "foreign")
    group.chat_id = None
    group.chat_title = None
    await audit.record(
        session,
        now,
        actor=actor,
        action="group.unlink",
        subject=f"group:{group.id}",
        chat_id=chat_id,
    )
    return group.name
