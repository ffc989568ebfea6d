"""Anything no feature handled: a short helpful answer, never silence or a traceback."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import LiaisonContext
from bot.replies import REMOVE_KEYBOARD, label, reply
from bot.updates import message_text

log = logging.getLogger(__name__)


async def nothing_to_cancel(update: Update, context: LiaisonContext) -> None:
    # Here, after every feature: a conversation in progress (a check-in, a notice, a
    # material) takes /cancel first, whichever feature it belongs to.
    await reply(update, context, "fallback/nothing_to_cancel", markup=REMOVE_KEYBOARD)


async def unknown_command(update: Update, context: LiaisonContext) -> None:
    command = message_text(update).split(maxsplit=1)[0][:40]
    await reply(update, context, "fallback/unknown_command", command=command)


async def not_text(update: Update, context: LiaisonContext) -> None:
    await reply(update, context, "fallback/not_text")


async def free_text(update: Update, context: LiaisonContext) -> None:
    too_long = len(message_text(update)) > context.services.settings.max_text_length
    identity = context.identity
    await reply(
        update,
        context,
        "fallback/free_text",
        too_long=too_long,
        limit=context.services.settings.max_text_length,
        is_member=bool(identity and identity.is_member),
        is_staff=bool(identity and identity.is_staff),
    )


async def edited(update: Update, context: LiaisonContext) -> None:
    await reply(update, context, "fallback/edited")


async def in_group(update: Update, context: LiaisonContext) -> None:
    # Only commands reach us in groups (privacy mode); point the sender to a private chat.
    await reply(update, context, "fallback/group", username=context.bot.username)


async def unknown_button(update: Update, context: LiaisonContext) -> None:
    # Data no feature makes (forged, or from a version of the bot that is gone): every
    # press is answered, or the member's app shows a spinner until it gives up.
    query = update.callback_query
    assert query is not None
    await query.answer(label(context, "fallback.button_gone"))


async def on_error(update: object, context: LiaisonContext) -> None:
    """Log the failure and tell the person something went wrong, without the details."""
    log.error("handler failed", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await reply(update, context, "fallback/error")
        except Exception:  # the apology itself failed; the log already has the cause
            log.exception("could not send the error reply")


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        MessageHandler(filters.UpdateType.EDITED & private, edited),
        MessageHandler(filters.ChatType.GROUPS & filters.COMMAND, in_group),
        CommandHandler("cancel", nothing_to_cancel, filters=private),
        MessageHandler(private & filters.COMMAND, unknown_command),
        MessageHandler(private & filters.TEXT, free_text),
        MessageHandler(private & ~filters.TEXT, not_text),
        CallbackQueryHandler(unknown_button),
    ]
