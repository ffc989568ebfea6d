"""Multi-step conversations keep their answers in a draft until the last step confirms it."""

from __future__ import annotations

import contextlib
import enum
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, Generic, Protocol, TypeVar

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ConversationHandler
from telegram.warnings import PTBUserWarning

from bot.access import refuse
from bot.context import LiaisonContext
from bot.replies import replace_buttons, reply

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
    # Already gone or too old to edit: nothing left to remove. Any other failure leaves an
    # old button, which says so when pressed: not worth failing the turn for.
    with contextlib.suppress(TelegramError):
        await context.bot.edit_message_reply_markup(chat.id, question_id, reply_markup=None)


async def retire_pressed_button(update: Update) -> None:
    """Answer a press on a button that no longer does anything, and take the buttons away."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    # A message too old to edit keeps its buttons; the caller's explanation is enough.
    await replace_buttons(update, None)


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


class StaffDraft(Protocol):
    """What every staff draft (/notice, /material) keeps besides its answers."""

    question_id: int | None
    touched_at: datetime
    step: str


S = TypeVar("S", bound=StaffDraft)
StepHandler = Callable[[Update, LiaisonContext, S], Awaitable[object]]
Handler = Callable[[Update, LiaisonContext], Coroutine[Any, Any, object]]


class StaffDraftFlow(Generic[S]):
    """The moves a staff member's draft shares whatever it drafts: each step checks the
    draft is live, /cancel and the cancel button drop it, an old button says so.

    feature names the templates: <feature>/expired, /cancelled and /stale_button.
    """

    def __init__(self, store: DraftStore[S], feature: str, idle_limit: timedelta) -> None:
        self.store = store
        self.feature = feature
        self.idle_limit = idle_limit

    def step(self, handler: StepHandler[S]) -> Handler:
        """A state handler: the live draft of a staff member, or the conversation ends."""

        @wraps(handler)
        async def run(update: Update, context: LiaisonContext) -> object:
            query = update.callback_query
            draft = self.store.get(context)
            now = context.now()
            no_longer_staff = context.staff() is None
            if no_longer_staff or draft is None or now - draft.touched_at > self.idle_limit:
                if query is not None:
                    await query.answer()
                if draft is not None:
                    await drop_buttons(update, context, draft)
                self.store.set(context, None)
                if no_longer_staff:
                    # No longer staff since the draft began.
                    await refuse(update, context)
                else:
                    await reply(update, context, f"{self.feature}/expired")
                return ConversationHandler.END
            if query is not None and (
                query.message is None or query.message.message_id != draft.question_id
            ):
                # A button of an earlier step whose buttons could not be removed.
                await self.stale_button(update, context)
                return draft.step
            draft.touched_at = now
            return await handler(update, context, draft)

        return run

    async def cancel(self, update: Update, context: LiaisonContext) -> object:
        """/cancel, or the cancel button of the current step: the draft is dropped."""
        if update.callback_query is not None:
            await update.callback_query.answer()
        draft = self.store.get(context)
        if draft is not None:
            await drop_buttons(update, context, draft)
        self.store.set(context, None)
        await reply(update, context, f"{self.feature}/cancelled")
        return ConversationHandler.END

    async def stale_button(self, update: Update, context: LiaisonContext) -> None:
        """A button of a draft that is finished or abandoned: remove it and say so."""
        await retire_pressed_button(update)
        await reply(update, context, f"{self.feature}/stale_button")


# A message this long may be one part of a paste the Telegram app split (at 4,096).
PART_LENGTH = 3000
# The parts of one paste arrive together; a text typed after this is a new attempt.
PASTE_WINDOW = timedelta(seconds=5)


class Pasting(Protocol):
    """A draft collecting a long text that may arrive in parts (/notice, /material)."""

    parts: list[str]
    discard_until: datetime | None


class PasteStep(enum.Enum):
    IGNORED = "ignored"  # the rest of a paste already refused as too long
    REFUSED = "refused"  # check() refused the text so far
    PART = "part"  # long enough to be one part of a split paste: wait for more
    WHOLE = "whole"  # the text is complete


@dataclass(frozen=True, slots=True)
class Paste:
    step: PasteStep
    body: str = ""
    # What was checked (REFUSED): the parts so far and this text.
    whole: str = ""
    error: ValueError | None = None


def take_paste(
    draft: Pasting,
    text: str,
    now: datetime,
    *,
    check: Callable[[str], str],
    error_type: type[ValueError],
    too_long: str,
) -> Paste:
    """One typed message of a long text: joined to the parts before it and checked.

    check returns the text as it will be kept or raises error_type, whose reason too_long
    means the rest of that paste, arriving within PASTE_WINDOW, is dropped unread.
    """
    if draft.discard_until is not None and now <= draft.discard_until:
        draft.discard_until = now + PASTE_WINDOW
        return Paste(PasteStep.IGNORED)
    draft.discard_until = None
    whole = "\n".join([*draft.parts, text])
    try:
        body = check(whole)
    except error_type as error:
        draft.parts.clear()
        if getattr(error, "reason", None) == too_long:
            draft.discard_until = now + PASTE_WINDOW
        return Paste(PasteStep.REFUSED, whole=whole, error=error)
    if len(text) >= PART_LENGTH:
        # Perhaps the Telegram app split a longer paste: wait for the rest, or the button.
        draft.parts.append(text)
        return Paste(PasteStep.PART, body=body)
    draft.parts.clear()
    return Paste(PasteStep.WHOLE, body=body)
