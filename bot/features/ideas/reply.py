"""Replying to an idea: "reply" on a card, then the reply, typed (the flow "idea_reply").

The reply is shown exactly as the member will get it, then sent with "send". Replying
again replaces the reply and the member hears the new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.features.ideas.common import LINE_EXCERPT, short, take_text
from bot.flow import END, Flow, Start, Step, press, typed
from bot.replies import Markup, inline_keyboard, label, render, reply
from bot.updates import message_text
from messages.callbacks import IDEAS_REPLY, IDEAS_REPLY_QUIT, IDEAS_REPLY_SEND
from messages.ideas import idea_reply
from messages.render import Reader
from storage.ideas import (
    MAX_REPLY_LENGTH,
    IdeaError,
    check_reply,
    excerpt,
    get_idea,
    reply_to,
)
from storage.models import ChannelName
from storage.payloads import IdeaReply

WRITE = "write"
PREVIEW = "preview"


@dataclass(slots=True)
class ReplyDraft:
    """A reply being written; sent only when the staff member presses "send"."""

    idea_id: int
    body: str | None = None
    # A long paste in parts (bot/drafts.take_paste).
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None


async def start_reply(update: Update, context: LiaisonContext) -> str:
    """ "Reply" on a card: the next message is the reply (the scope is checked again)."""
    query = update.callback_query
    staff = context.staff()
    assert query is not None and staff is not None  # the flow's guard
    pressed = IDEAS_REPLY.unpack(query.data)
    found = None
    if pressed is not None:
        async with context.services.db.session() as session:
            found = await get_idea(session, pressed[0], staff_id=staff[1])
    if found is None:
        idea_id = pressed[0] if pressed else 0
        await reply(update, context, "ideas/refused", reason="not_found", id=idea_id)
        return END
    # The first question quotes the idea; asked again, it does not.
    return await FLOW.begin(
        update,
        context,
        ReplyDraft(idea_id=found.id),
        WRITE,
        s=found,
        body=short(found.body, LINE_EXCERPT * 2),
    )


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "ideas.cancel"), IDEAS_REPLY_QUIT.pack())]


def _write_keyboard(context: LiaisonContext, draft: ReplyDraft) -> Markup:
    return inline_keyboard([_cancel_row(context)])


def _write_values(context: LiaisonContext, draft: ReplyDraft) -> Mapping[str, Any]:
    return {"id": draft.idea_id, "s": None, "body": "", "limit": MAX_REPLY_LENGTH}


def _preview_keyboard(context: LiaisonContext, draft: ReplyDraft) -> Markup:
    return inline_keyboard(
        [[(label(context, "ideas.send"), IDEAS_REPLY_SEND.pack())], _cancel_row(context)]
    )


def _preview_values(context: LiaisonContext, draft: ReplyDraft) -> Mapping[str, Any]:
    return {"id": draft.idea_id, "length": len(draft.body or "")}


async def reply_typed(update: Update, context: LiaisonContext, draft: ReplyDraft) -> str:
    body, refused = take_text(
        context, draft, message_text(update), check=check_reply, limit=MAX_REPLY_LENGTH
    )
    if refused is not None:
        return await FLOW.again(update, context, draft, lead=refused)
    if body is None:
        return WRITE  # the rest of a paste refused already: dropped unread
    draft.body = body
    # The reply exactly as the member will get it (in the staff member's language), and the
    # choices under it: one message.
    return await FLOW.ask(update, context, draft, PREVIEW, lead=await _as_sent(context, draft))


async def _as_sent(context: LiaisonContext, draft: ReplyDraft) -> str | None:
    assert draft.body is not None
    async with context.services.db.session() as session:
        found = await get_idea(session, draft.idea_id, staff_id=None)
    if found is None:
        return None
    payload = IdeaReply(
        id=found.id,
        kind=found.kind.value,
        body=excerpt(found.body),
        event="reply",
        reply=draft.body,
        replaced=found.reply is not None,
        adopted=found.adopted,
    )
    reader = Reader(context.services.renderer, context.locale, context.zone, ChannelName.TELEGRAM)
    text, _ = idea_reply(reader, payload)
    return text


async def unexpected(update: Update, context: LiaisonContext, draft: ReplyDraft) -> str:
    """A photo where the reply is typed, or typing where a button is: say so, ask again."""
    lead = render(context, "ideas/unexpected", step=FLOW.step(context))
    return await FLOW.again(update, context, draft, lead=lead)


async def send(update: Update, context: LiaisonContext, draft: ReplyDraft) -> str:
    staff = context.staff()
    assert staff is not None and draft.body is not None  # the flow's guard
    identity, staff_id = staff
    try:
        async with context.services.db.session() as session:
            found = await reply_to(
                session,
                context.now(),
                draft.idea_id,
                text=draft.body,
                actor=identity.actor,
                staff_id=staff_id,
            )
    except IdeaError as error:
        # Out of scope since the draft began (a member moved to another group).
        await FLOW.drop_buttons(update, context)
        await reply(update, context, "ideas/refused", reason=error.reason, id=draft.idea_id)
        return END
    await FLOW.drop_buttons(update, context)
    await reply(update, context, "ideas/replied", s=found)
    return END


FLOW = Flow(
    "idea_reply",
    ReplyDraft,
    audience=Audience.STAFF,
    templates="ideas/staff",
    starts=[Start(start_reply, action=IDEAS_REPLY)],
    steps={
        WRITE: Step(
            "ideas/ask_reply",
            [typed(reply_typed)],
            keyboard=_write_keyboard,
            values=_write_values,
        ),
        PREVIEW: Step(
            "ideas/reply_preview",
            [press(IDEAS_REPLY_SEND, send)],
            keyboard=_preview_keyboard,
            values=_preview_values,
        ),
    },
    cancel_action=IDEAS_REPLY_QUIT,
    unexpected=unexpected,
)
