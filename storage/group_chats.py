"""Linking a group to its Telegram group chat or its QQ group, where notices to the group
are posted too.

One chat per group and one group per chat, on each platform: linking a group that already
had a chat moves the link, and linking a chat that served another group takes it over from
that group, but only when the staff member also looks after that other group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage import audit
from storage.models import Group, Platform
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


def _chat_column(platform: Platform) -> InstrumentedAttribute[int | None]:
    return Group.qq_group_id if platform is Platform.QQ else Group.chat_id


def _chat_of(group: Group, platform: Platform) -> int | None:
    return group.qq_group_id if platform is Platform.QQ else group.chat_id


def _set_chat(group: Group, platform: Platform, chat_id: int | None, title: str | None) -> None:
    if platform is Platform.QQ:
        group.qq_group_id = chat_id
    else:
        # Only Telegram tells us a chat's title.
        group.chat_id = chat_id
        group.chat_title = title


async def group_for_chat(
    session: AsyncSession, chat_id: int, platform: Platform = Platform.TELEGRAM
) -> Group | None:
    """The group linked to chat_id (a Telegram chat or a QQ group), if any."""
    return await session.scalar(select(Group).where(_chat_column(platform) == chat_id))


async def link_group_chat(
    session: AsyncSession,
    now: datetime,
    *,
    group_name: str,
    chat_id: int,
    chat_title: str | None,
    staff_id: int | None,
    actor: str,
    platform: Platform = Platform.TELEGRAM,
) -> Link:
    """Link the named group (one the staff member looks after; any for None) to chat_id,
    a Telegram group chat or, on Platform.QQ, a QQ group number."""
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
    if _chat_of(group, platform) == chat_id:
        _set_chat(group, platform, chat_id, title)
        return Link(group=group.name, moved_from=None, replaced=None, already=True)
    current = await group_for_chat(session, chat_id, platform)
    if current is not None and staff_id is not None:
        allowed = await session.scalar(
            select(Group.id).where(Group.id == current.id, group_scope_condition(staff_id))
        )
        if allowed is None:
            raise GroupChatError("this chat is linked to a group you do not look after", "foreign")
    previous_chat = _chat_of(group, platform)
    moved_from = None
    if previous_chat is not None:
        moved_from = (platform is Platform.TELEGRAM and group.chat_title) or str(previous_chat)
    if current is not None:
        _set_chat(current, platform, None, None)
        # The chat column is unique: the old link must be gone before the new one is written.
        await session.flush()
    _set_chat(group, platform, chat_id, title)
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="group.link",
        subject=f"group:{group.id}",
        platform=platform.value,
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
    session: AsyncSession,
    now: datetime,
    *,
    chat_id: int,
    staff_id: int | None,
    actor: str,
    platform: Platform = Platform.TELEGRAM,
) -> str:
    """Remove the link of chat_id; the name of the group it served."""
    group = await group_for_chat(session, chat_id, platform)
    if group is None:
        raise GroupChatError("this chat is not linked to any group", "not_linked")
    if staff_id is not None:
        allowed = await session.scalar(
            select(Group.id).where(Group.id == group.id, group_scope_condition(staff_id))
        )
        if allowed is None:
            raise GroupChatError("this chat is linked to a group you do not look after", "foreign")
    _set_chat(group, platform, None, None)
    await audit.record(
        session,
        now,
        actor=actor,
        action="group.unlink",
        subject=f"group:{group.id}",
        platform=platform.value,
        chat_id=chat_id,
    )
    return group.name
