"""What staff type for a request, started by a button of its card: an internal note
(NOTE_FLOW), or the answer that closes it (ANSWER_FLOW; a referral first asks where to).

Each is a conversation of its own, so starting one ends the other (or any conversation
that was open) with the one-line notice. A staff member who leaves a text half-typed and
goes on to another request — its note, its answer or any button of its card — ends it too,
so that what they type next is not taken as the first request's note (moved_on).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.drafts import PasteStep, take_paste
from bot.features.requests.common import change_status, not_found, refused, status_name
from bot.flow import END, Flow, Start, Step, typed
from bot.replies import Markup, inline_keyboard, label, render, replace_buttons, reply
from bot.updates import message_text
from messages.callbacks import REQUEST_CLOSE, REQUEST_NOTE, REQUEST_REFER, REQUEST_TEXT_QUIT
from storage.models import RequestStatus
from storage.requests import (
    MAX_ANSWER_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_REFERRED_LENGTH,
    RequestError,
    add_note,
    check_answer,
    check_note,
    check_referred,
    request_card,
)

# Steps: the text asked for.
NOTE = "note"
REFER = "refer"
ANSWER = "answer"


_LIMITS = {NOTE: MAX_NOTE_LENGTH, REFER: MAX_REFERRED_LENGTH, ANSWER: MAX_ANSWER_LENGTH}
_CHECKS = {NOTE: check_note, REFER: check_referred, ANSWER: check_answer}
_TOO_LONG = {NOTE: "note_too_long", REFER: "referred_too_long", ANSWER: "answer_too_long"}


@dataclass(slots=True)
class TextDraft:
    """A note, or a closing answer, being typed for one request."""

    request_id: int
    # Closing: the status it goes to, and where to (referred, typed before the answer).
    status: RequestStatus | None = None
    referred_to: str | None = None
    # A long paste the Telegram app split into parts (bot.drafts.take_paste).
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None


def _cancel_keyboard(context: LiaisonContext, draft: TextDraft) -> Markup:
    return inline_keyboard([[(label(context, "requests.cancel"), REQUEST_TEXT_QUIT.pack())]])


def _values(context: LiaisonContext, draft: TextDraft) -> Mapping[str, Any]:
    return {
        "id": draft.request_id,
        "status": status_name(context)(draft.status) if draft.status else None,
        "referred_to": draft.referred_to,
    }


def _step(template: str, step: str) -> Step[TextDraft]:
    def limit(context: LiaisonContext, draft: TextDraft) -> Mapping[str, Any]:
        return {"limit": _LIMITS[step]}

    return Step(template, [typed(text_typed)], keyboard=_cancel_keyboard, values=limit)


# --- the starts: buttons of the card ----------------------------------------------------------


async def note_pressed(update: Update, context: LiaisonContext) -> str:
    """ "Internal note" on a card: the next message is the note."""
    query = update.callback_query
    assert query is not None
    pressed = REQUEST_NOTE.unpack(query.data)
    if pressed is None:
        return await _forged(update)
    return await _begin(update, context, NOTE_FLOW, TextDraft(pressed[0]), NOTE)


async def refer_pressed(update: Update, context: LiaisonContext) -> str:
    """ "Refer elsewhere": where to is typed next, then the answer the member gets."""
    query = update.callback_query
    assert query is not None
    pressed = REQUEST_REFER.unpack(query.data)
    if pressed is None:
        return await _forged(update)
    draft = TextDraft(pressed[0], status=RequestStatus.REFERRED)
    return await _begin(update, context, ANSWER_FLOW, draft, REFER)


async def close_pressed(update: Update, context: LiaisonContext) -> str:
    """A closing status: the answer the member gets is typed next."""
    query = update.callback_query
    assert query is not None
    pressed = REQUEST_CLOSE.unpack(query.data)
    if pressed is None:
        return await _forged(update)
    request_id, status = pressed
    return await _begin(update, context, ANSWER_FLOW, TextDraft(request_id, status=status), ANSWER)


async def _forged(update: Update) -> str:
    # Data no button of ours carries: its buttons go, nothing else happens.
    await replace_buttons(update, None)
    return END


async def _begin(
    update: Update, context: LiaisonContext, flow: Flow[TextDraft], draft: TextDraft, step: str
) -> str:
    staff = context.staff()
    assert staff is not None  # the flow's guard
    _, staff_id = staff
    async with context.services.db.session() as session:
        view = await request_card(session, draft.request_id, staff_id=staff_id)
    if view is None:
        await refused(update, context, not_found(draft.request_id))
        return END
    await moved_on(update, context, draft.request_id)
    return await flow.begin(update, context, draft, step)


async def moved_on(update: Update, context: LiaisonContext, request_id: int) -> None:
    """The staff member turned to request_id: a text left half-typed for another request
    ends, and the next reply says so in one line."""
    open_now = context.conversation
    if open_now is None or open_now.flow not in FLOWS:
        return
    if open_now.draft.request_id != request_id:
        await open_now.flow.close(update, context)


# --- the text ----------------------------------------------------------------------------------


async def text_typed(update: Update, context: LiaisonContext, draft: TextDraft) -> str:
    # Both flows type into this one handler: a closing answer carries the status it closes to.
    flow = ANSWER_FLOW if draft.status is not None else NOTE_FLOW
    step = flow.step(context)
    staff = context.staff()
    assert staff is not None
    _, staff_id = staff
    paste = take_paste(
        draft,
        message_text(update),
        context.now(),
        check=_CHECKS[step],
        error_type=RequestError,
        too_long=_TOO_LONG[step],
    )
    if paste.step is PasteStep.IGNORED:
        return step
    if isinstance(paste.error, RequestError):
        why = render(
            context,
            "requests/bad_input",
            reason=paste.error.reason,
            limit=_LIMITS[step],
            length=len(paste.whole.strip()),
        )
        return await flow.again(update, context, draft, lead=why)
    draft.parts.clear()
    if step == REFER:
        # Where to is kept; the answer the member gets comes next.
        draft.referred_to = paste.body
        return await flow.ask(update, context, draft, ANSWER)
    await flow.drop_buttons(update, context)
    if step == ANSWER:
        assert draft.status is not None
        await change_status(
            update,
            context,
            staff_id,
            draft.request_id,
            draft.status,
            referred_to=draft.referred_to,
            answer=paste.body,
        )
        return END
    try:
        async with context.services.db.session() as session:
            await add_note(
                session, context.now(), draft.request_id, staff_id=staff_id, text=paste.body
            )
    except RequestError as error:
        await refused(update, context, error)
        return END
    await reply(update, context, "requests/staff/noted", id=draft.request_id)
    return END


NOTE_FLOW = Flow(
    "request_note",
    TextDraft,
    audience=Audience.STAFF,
    templates="requests/staff",
    starts=[Start(note_pressed, action=REQUEST_NOTE)],
    steps={NOTE: _step("requests/staff/ask_note", NOTE)},
    cancel_action=REQUEST_TEXT_QUIT,
    values=_values,
)
ANSWER_FLOW = Flow(
    "request_answer",
    TextDraft,
    audience=Audience.STAFF,
    templates="requests/staff",
    starts=[
        Start(refer_pressed, action=REQUEST_REFER),
        Start(close_pressed, action=REQUEST_CLOSE),
    ],
    steps={
        REFER: _step("requests/staff/ask_refer", REFER),
        ANSWER: _step("requests/staff/ask_answer", ANSWER),
    },
    cancel_action=REQUEST_TEXT_QUIT,
    values=_values,
)
FLOWS: tuple[Flow[TextDraft], ...] = (NOTE_FLOW, ANSWER_FLOW)
