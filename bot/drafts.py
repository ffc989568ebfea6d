"""Multi-step conversations keep their answers in a draft until the last step confirms it."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Generic, Protocol, TypeVar

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import ConversationHandler
from telegram.warnings import PTBUserWarning

from bot.context import LiaisonContext

D = TypeVar("D")


class DraftStore(Generic[D]):
    """One kind of draft, kept in the chat's data under its own key."""

    def __init__(self, key: str, kind: type[D]) -> None:
        self.key = key
        self.kind = kind

    def get(self, context: LiaisonContext) -> D | None:
        data = context.chat_data
        draft = data.get(self.key) if data is not None else None
        return draft if isinstance(draft, self.kind) else None

    def set(self, context: LiaisonContext, draft: D | None) -> None:
        data = context.chat_data
        if data is None:
            raise RuntimeError(f"{self.key} needs a chat")
        if draft is None:
            data.pop(self.key, None)
        else:
            data[self.key] = draft


class HasQuestion(Protocol):
    # The message whose buttons belong to the current step.
    question_id: int | None


async def drop_buttons(update: Update, context: LiaisonContext, draft: HasQuestion) -> None:
    """Remove the buttons under the current question, so an old button cannot be pressed."""
    chat = update.effective_chat
    if draft.question_id is None or chat is None:
        return
    question_id, draft.question_id = draft.question_id, None
    # Already gone or too old to edit: nothing left to remove.
    with contextlib.suppress(BadRequest):
        await context.bot.edit_message_reply_markup(chat.id, question_id, reply_markup=None)


async def retire_pressed_button(update: Update) -> None:
    """Answer a press on a button that no longer does anything, and take the buttons away."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    # A message too old to edit keeps its buttons; the caller's explanation is enough.
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(reply_markup=None)


def draft_conversation(**options: Any) -> ConversationHandler[LiaisonContext]:
    """A ConversationHandler tracked per chat (per_message=False), as the drafts need.

    One draft per person's private chat, moved on by typed answers as well as button
    presses. python-telegram-bot warns that callback queries are then not tracked per
    message; the features check each press against the current step themselves, so only
    that warning is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"If 'per_message=False', 'CallbackQueryHandler' will not be tracked",
            category=PTBUserWarning,
        )
        return ConversationHandler(**options)
