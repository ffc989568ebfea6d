"""Sending rendered templates: one call per reply, split under Telegram's limit."""

from __future__ import annotations

import logging
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
from telegram.error import BadRequest, TelegramError

from bot.context import LiaisonContext
from messages.split import split_html
from storage.models import Platform

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def not_modified(error: TelegramError) -> bool:
    """Telegram's answer to an edit that changes nothing: the message already says it."""
    return isinstance(error, BadRequest) and "message is not modified" in error.message.lower()


def label(context: LiaisonContext, key: str, /, **values: Any) -> str:
    """A short label in the caller's language."""
    return context.services.renderer.label(context.locale, key, **values)


PLATFORM_NAMES = {Platform.TELEGRAM: "Telegram", Platform.QQ: "QQ"}


def render(context: LiaisonContext, template: str, /, **values: Any) -> str:
    """A template rendered in the caller's language; `platform` names where the caller is
    ("Telegram", "QQ") for texts about their account."""
    values.setdefault("platform", PLATFORM_NAMES[context.platform])
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
    pending, context.lead = context.lead, None
    html = "\n\n".join(
        part for part in (pending, lead, render(context, template, **values)) if part
    )
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
    lead, already rendered, goes first, as in reply.

    What was pressed is done by now (a consent saved, an answer taken): a failed edit must
    not make the turn fail and the person read that nothing happened. The text comes as a
    new message instead; if that fails too, the log says so and the person is told nothing.
    """
    query = update.callback_query
    assert query is not None
    html = render(context, template, **values)
    if lead:
        html = f"{lead}\n\n{html}"
    try:
        await query.edit_message_text(html, parse_mode=ParseMode.HTML, reply_markup=markup)
    except TelegramError as error:
        if not_modified(error):
            return  # pressed twice: the message already reads so
        log.warning("edit failed, sending the text as a new message: %s", error)
        chat = update.effective_chat
        assert chat is not None
        try:
            await send_html(context, chat.id, html, markup)
        except TelegramError:
            log.exception("the text of a failed edit could not be sent either")


def still_has_buttons(update: Update) -> bool:
    """Whether the pressed message still shows buttons; Telegram gives it as it is now, so
    none means an earlier press took them away (a second tap). True when it cannot tell."""
    query = update.callback_query
    message = query.message if query is not None else None
    if not isinstance(message, Message):
        return True
    markup = message.reply_markup
    return markup is not None and bool(markup.inline_keyboard)


async def replace_buttons(update: Update, markup: InlineKeyboardMarkup | None) -> None:
    """Set the buttons under the message whose button was pressed (None: take them away).

    Only when they change: a second press finds them as the first left them. Cosmetic once
    the press has done its work, so a failure is logged, not passed on.
    """
    query = update.callback_query
    assert query is not None
    message = query.message
    if isinstance(message, Message):
        now = message.reply_markup
        if (now if now and now.inline_keyboard else None) == (
            markup if markup and markup.inline_keyboard else None
        ):
            return
    try:
        await query.edit_message_reply_markup(markup)
    except TelegramError as error:
        if not not_modified(error):
            log.warning("buttons not changed: %s", error)


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


async def remove_pressed_button(update: Update) -> None:
    """Take the pressed button off its message (a "cancel #3" done); the others stay."""
    query = update.callback_query
    assert query is not None
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    rows = []
    if markup is not None:
        for row in markup.inline_keyboard:
            kept = [b for b in row if b.callback_data != query.data]
            if kept:
                rows.append(kept)
    await replace_buttons(update, InlineKeyboardMarkup(rows) if rows else None)


async def retire_pressed_button(update: Update) -> None:
    """Answer a press on a button that no longer does anything, and take the buttons away."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    # A message too old to edit keeps its buttons; the caller's explanation is enough.
    await replace_buttons(update, None)
