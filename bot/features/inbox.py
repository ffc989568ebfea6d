"""/inbox: the SMS members (and unknown numbers) sent that no keyword answered.

Liaisons see the SMS of the members in their scope, administrators also those of numbers
no member has (storage/sms_inbox.py). Each SMS has "answer" (the answer is typed next, shown
as it will arrive, then sent by SMS to the number: the flow "sms_answer") and "done". Every
listing is audited; every press is checked against the scope again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.access import staff_button, staff_only
from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.flow import END, Flow, Start, Step, press, typed
from bot.replies import Markup, inline_keyboard, label, render, reply
from bot.updates import message_text
from messages.callbacks import (
    INBOX_ANSWER,
    INBOX_ANSWER_QUIT,
    INBOX_ANSWER_SEND,
    INBOX_DONE,
    INBOX_DRAFT,
    feature_pattern,
)
from messages.render import Reader
from messages.sms_inbound import sms_answer
from messages.sms_text import segment_count
from storage.identity import Identity
from storage.models import ChannelName
from storage.payloads import SmsAnswer
from storage.sms_inbox import (
    MAX_ANSWER_LENGTH,
    SmsInboxError,
    answer,
    check_answer,
    list_inbox,
    mark_done,
    view_item,
)

COMMANDS = (Command("inbox", Audience.STAFF),)

# /inbox shows this many; `liaison sms inbox` lists them all.
SHOWN = 10

WRITE = "write"
PREVIEW = "preview"


@staff_only
async def show_inbox(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    """/inbox: the open SMS, newest first, with "answer" and "done" under each."""
    async with context.services.db.session() as session:
        inbox = await list_inbox(
            session, context.now(), staff_id=staff_id, actor=identity.actor, limit=SHOWN
        )
    buttons = [
        [
            (label(context, "inbox.answer", id=item.id), INBOX_ANSWER.pack(item.id)),
            (label(context, "inbox.done", id=item.id), INBOX_DONE.pack(item.id)),
        ]
        for item in inbox.items
    ]
    await reply(
        update,
        context,
        "inbox/list",
        markup=inline_keyboard(buttons) if buttons else None,
        items=[
            (item, item.received_at.astimezone(context.zone).strftime("%Y-%m-%d %H:%M"))
            for item in inbox.items
        ],
        open=inbox.open,
        shown=SHOWN,
    )


async def done_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Done": the SMS leaves the open list; its buttons go."""
    pressed = await staff_button(update, context, INBOX_DONE)
    if pressed is None:
        return
    identity, staff_id, (sms_id,) = pressed
    try:
        async with context.services.db.session() as session:
            item = await mark_done(
                session, context.now(), sms_id, actor=identity.actor, staff_id=staff_id
            )
    except SmsInboxError as error:
        await reply(update, context, "inbox/refused", reason=error.reason, id=sms_id)
        return
    await reply(update, context, "inbox/done", item=item)


# --- answering by SMS ----------------------------------------------------------------------


@dataclass(slots=True)
class AnswerDraft:
    """An answer being written; sent only when the staff member presses "send"."""

    sms_id: int
    body: str | None = None


async def start_answer(update: Update, context: LiaisonContext) -> str:
    """ "Answer" under an SMS: the next message is the answer (the scope is checked again)."""
    query = update.callback_query
    staff = context.staff()
    assert query is not None and staff is not None  # the flow's guard
    pressed = INBOX_ANSWER.unpack(query.data)
    found = None
    if pressed is not None:
        # Opening one SMS to answer it shows the whole of it: a look, audited.
        async with context.services.db.session() as session:
            found = await view_item(
                session, context.now(), pressed[0], staff_id=staff[1], actor=staff[0].actor
            )
    if found is None:
        sms_id = pressed[0] if pressed else 0
        await reply(update, context, "inbox/refused", reason="not_found", id=sms_id)
        return END
    return await FLOW.begin(update, context, AnswerDraft(sms_id=found.id), WRITE, item=found)


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "inbox.cancel"), INBOX_ANSWER_QUIT.pack())]


def _write_keyboard(context: LiaisonContext, draft: AnswerDraft) -> Markup:
    return inline_keyboard([_cancel_row(context)])


def _write_values(context: LiaisonContext, draft: AnswerDraft) -> Mapping[str, Any]:
    return {"id": draft.sms_id, "item": None, "limit": MAX_ANSWER_LENGTH}


def _preview_keyboard(context: LiaisonContext, draft: AnswerDraft) -> Markup:
    return inline_keyboard(
        [[(label(context, "inbox.send"), INBOX_ANSWER_SEND.pack())], _cancel_row(context)]
    )


def _as_sent(context: LiaisonContext, body: str) -> str:
    """The SMS exactly as it will arrive (in the staff member's language)."""
    identity = context.identity
    signature = identity.staff_name if identity and identity.staff_name else ""
    reader = Reader(context.services.renderer, context.locale, context.zone, ChannelName.SMS)
    text, _ = sms_answer(reader, SmsAnswer(text=body, signature=signature))
    return text


def _preview_values(context: LiaisonContext, draft: AnswerDraft) -> Mapping[str, Any]:
    sms = _as_sent(context, draft.body or "")
    return {"id": draft.sms_id, "sms": sms, "length": len(sms), "parts": segment_count(sms)}


async def answer_typed(update: Update, context: LiaisonContext, draft: AnswerDraft) -> str:
    text = message_text(update)
    try:
        draft.body = check_answer(text)
    except SmsInboxError as error:
        why = render(
            context,
            "inbox/bad_text",
            reason=error.reason,
            length=len(text.strip()),
            limit=MAX_ANSWER_LENGTH,
        )
        return await FLOW.again(update, context, draft, lead=why)
    return await FLOW.ask(update, context, draft, PREVIEW)


async def send(update: Update, context: LiaisonContext, draft: AnswerDraft) -> str:
    staff = context.staff()
    assert staff is not None and draft.body is not None  # the flow's guard
    identity, staff_id = staff
    try:
        async with context.services.db.session() as session:
            item = await answer(
                session,
                context.now(),
                draft.sms_id,
                text=draft.body,
                signature=identity.staff_name or "",
                actor=identity.actor,
                staff_id=staff_id,
            )
    except SmsInboxError as error:
        # Out of scope since the draft began, or no number to answer.
        await FLOW.drop_buttons(update, context)
        await reply(update, context, "inbox/refused", reason=error.reason, id=draft.sms_id)
        return END
    await FLOW.drop_buttons(update, context)
    await reply(update, context, "inbox/answered", item=item)
    return END


FLOW = Flow(
    "sms_answer",
    AnswerDraft,
    audience=Audience.STAFF,
    templates="inbox/answer",
    starts=[Start(start_answer, action=INBOX_ANSWER)],
    steps={
        WRITE: Step(
            "inbox/ask_answer",
            [typed(answer_typed)],
            keyboard=_write_keyboard,
            values=_write_values,
        ),
        PREVIEW: Step(
            "inbox/answer_preview",
            [press(INBOX_ANSWER_SEND, send)],
            keyboard=_preview_keyboard,
            values=_preview_values,
        ),
    },
    cancel_action=INBOX_ANSWER_QUIT,
)
FLOWS = (FLOW,)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("inbox", show_inbox, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(done_pressed, pattern=INBOX_DONE.any_pattern),
        # A button of an answer the flow does not know (finished, forged): it says so.
        CallbackQueryHandler(FLOW.stale_button, pattern=feature_pattern(INBOX_DRAFT)),
    ]


__all__ = ["COMMANDS", "FLOWS", "handlers"]
