"""/console: a staff member's one-time login link to the web console (bot/console)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.access import staff_only
from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.replies import reply
from storage.console import LINK_VALID, create_link, login_url
from storage.identity import Identity
from storage.models import Platform

COMMANDS = (Command("console", Audience.STAFF),)


@staff_only
async def console(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    if context.platform is Platform.QQ:
        # A login link is a credential: not through a third party's servers.
        await reply(update, context, "console/not_on_qq")
        return
    base_url = context.services.settings.console_base_url
    if base_url is None:
        await reply(update, context, "console/off")
        return
    async with context.services.db.session() as session:
        token = await create_link(session, context.now(), staff_id=staff_id, actor=identity.actor)
    await reply(
        update,
        context,
        "console/link",
        url=login_url(base_url, token),
        minutes=int(LINK_VALID.total_seconds() // 60),
    )


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    # Private chats only: a login link read in a group chat would let anyone there in.
    return [CommandHandler("console", console, filters=filters.ChatType.PRIVATE)]
