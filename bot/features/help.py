"""/help: the commands this person can use, from the command table."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.commands import Audience, Command, visible_commands
from bot.context import LiaisonContext
from bot.replies import label, reply

COMMANDS = (Command("help", Audience.EVERYONE),)


async def show_help(update: Update, context: LiaisonContext) -> None:
    identity = context.identity
    is_staff = bool(identity and identity.is_staff)
    commands = visible_commands(context.bot_data.commands, is_staff=is_staff)
    entries = [(c.name, label(context, f"commands.{c.name}"), c.audience) for c in commands]
    await reply(
        update,
        context,
        "help/help",
        entries=entries,
        is_staff=is_staff,
        is_member=bool(identity and identity.is_member),
    )


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [CommandHandler("help", show_help)]
