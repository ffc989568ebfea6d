"""Sending rendered templates: one call per reply, split under Telegram's limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode

from bot.context import LiaisonContext
from messages.split import split_html

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def label(context: LiaisonContext, key: str, /, **values: Any) -> str:
    """A short label in the caller's language."""
    return context.services.renderer.label(context.locale, key, **values)


def render(context: LiaisonContext, template: str, /, **values: Any) -> str:
    """A template rendered in the caller's language."""
    return context.services.renderer.render(context.locale, template, **values)


async def send_html(
    context: LiaisonContext, chat_id: int, html: str, markup: Markup | None = None
) -> Message:
    """Send html to chat_id, split if needed; the markup goes under the last part."""
    parts = split_html(html)
    message: Message | None = None
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        message = await context.bot.send_message(
            chat_id,
            part,
            parse_mode=ParseMode.HTML,
            reply_markup=markup if last else None,
            disable_web_page_preview=True,
        )
    assert message is not None
    return message


async def reply(
    update: Update,
    context: LiaisonContext,
    template: str,
    /,
    markup: Markup | None = None,
    *,
    lead: str | None = None,
    **values: Any,
) -> Message:
    """Answer the update's chat with a template in the caller's language.

    lead, already rendered (the confirmation of the answer just given, or why it was not
    taken), goes first in the same message: one message per turn, not a confirmation and
    then the next question, which the per-chat rate limit would hold back or refuse.
    """
    chat = update.effective_chat
    assert chat is not None
    html = render(context, template, **values)
    if lead:
        html = f"{lead}\n\n{html}"
    return await send_html(context, chat.id, html, markup)


async def edit(
    update: Update,
    context: LiaisonContext,
    template: str,
    /,
    markup: InlineKeyboardMarkup | None = None,
    *,
    lead: str | None = None,
    **values: Any,
) -> None:
    """Replace the text of the message whose button was pressed (e.g. to drop its buttons);
    lead, already rendered, goes first, as in reply."""
    query = update.callback_query
    assert query is not None
    html = render(context, template, **values)
    if lead:
        html = f"{lead}\n\n{html}"
    await query.edit_message_text(html, parse_mode=ParseMode.HTML, reply_markup=markup)


def inline_keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Buttons from rows of (label, callback data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def reply_keyboard(
    rows: Sequence[Sequence[str]], *, location_button: str | None = None
) -> ReplyKeyboardMarkup:
    """Big buttons under the text box; optionally a first row that shares the location."""
    keyboard: list[list[KeyboardButton]] = []
    if location_button is not None:
        keyboard.append([KeyboardButton(location_button, request_location=True)])
    keyboard.extend([KeyboardButton(text) for text in row] for row in rows)
    return ReplyKeyboardMarkup(keyboard, resize_keyboard=True, one_time_keyboard=True)


REMOVE_KEYBOARD = ReplyKeyboardRemove()
