"""/linkgroup NAME and /unlinkgroup, run by staff in a group chat: notices to that group are
posted in the chat too."""

from __future__ import annotations

from telegram import Update

from bot.access import refuse, staff_only
from bot.context import LiaisonContext
from bot.replies import reply
from bot.updates import command_argument
from storage.group_chats import GroupChatError, link_group_chat, unlink_group_chat
from storage.identity import Identity
from storage.models import Platform


def group_chat_number(context: LiaisonContext, chat_id: int) -> int:
    """What the group chat is stored as: Telegram's chat id, or the QQ group's number (the
    QQ transport shows QQ groups as negative chat ids, bot/qq.py)."""
    return -chat_id if context.platform is Platform.QQ else chat_id


@staff_only
async def link(update: Update, context: LiaisonContext, identity: Identity, staff_id: int) -> None:
    name = command_argument(update)
    if not name:
        await reply(update, context, "notices/link_usage", username=context.bot.username)
        return
    chat = update.effective_chat
    assert chat is not None
    try:
        async with context.services.db.session() as session:
            linked = await link_group_chat(
                session,
                context.now(),
                group_name=name,
                chat_id=group_chat_number(context, chat.id),
                chat_title=chat.title,
                staff_id=staff_id,
                actor=identity.actor,
                platform=context.platform,
            )
    except GroupChatError as error:
        await reply(update, context, "notices/link_refused", reason=error.reason, name=name[:100])
        return
    await reply(update, context, "notices/linked", link=linked)


@staff_only
async def unlink(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    chat = update.effective_chat
    assert chat is not None
    try:
        async with context.services.db.session() as session:
            name = await unlink_group_chat(
                session,
                context.now(),
                chat_id=group_chat_number(context, chat.id),
                staff_id=staff_id,
                actor=identity.actor,
                platform=context.platform,
            )
    except GroupChatError as error:
        await reply(update, context, "notices/link_refused", reason=error.reason, name="")
        return
    await reply(update, context, "notices/unlinked", group=name)


async def link_in_private(update: Update, context: LiaisonContext) -> None:
    """/linkgroup in a private chat: how to use it, in the group chat itself."""
    if context.staff() is None:
        await refuse(update, context)
        return
    await reply(update, context, "notices/link_usage", username=context.bot.username)
