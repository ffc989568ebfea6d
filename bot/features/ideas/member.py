"""/idea: a member sends an idea ("golden idea", 金点子) or an opinion (the flow "idea").

1. idea or opinion (two buttons); 2. the text, up to MAX_TEXT_LENGTH characters; 3. a
preview with send, rewrite or cancel. Nothing is stored before "send"; the member then gets
the idea's number. A longer text is refused with its length and the limit, and
nothing of it is kept; the rest of the same paste (the Telegram app splits a paste at 4,096
characters) arriving within seconds is dropped unread, so a cut-off tail never becomes the
idea (bot/drafts.take_paste).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.features.ideas.common import take_text
from bot.flow import END, Flow, Start, Step, press, typed
from bot.replies import Markup, inline_keyboard, label, reply
from bot.updates import message_text
from messages.callbacks import IDEA_KIND, IDEA_QUIT, IDEA_REWRITE, IDEA_SEND
from storage.ideas import MAX_TEXT_LENGTH, check_text, submit
from storage.models import IdeaKind

# Steps, one per question.
KIND = "kind"
WRITE = "write"
PREVIEW = "preview"


@dataclass(slots=True)
class Draft:
    """The idea being written; stored only when the member sends it."""

    kind: IdeaKind | None = None
    body: str | None = None
    # A long paste in parts (bot/drafts.take_paste).
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None


def not_member_values(context: LiaisonContext) -> Mapping[str, Any]:
    # Staff asking are pointed to /ideas.
    return {"is_staff": context.staff() is not None}


async def start_idea(update: Update, context: LiaisonContext) -> str:
    """/idea: from the first question (again, if one was being written)."""
    return await FLOW.begin(update, context, Draft(), KIND)


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "ideas.cancel"), IDEA_QUIT.pack())]


def _kind_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "ideas.kind_idea"), IDEA_KIND.pack(IdeaKind.IDEA))],
            [(label(context, "ideas.kind_opinion"), IDEA_KIND.pack(IdeaKind.OPINION))],
            _cancel_row(context),
        ]
    )


def _write_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard([_cancel_row(context)])


def _preview_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "ideas.send"), IDEA_SEND.pack())],
            [(label(context, "ideas.rewrite"), IDEA_REWRITE.pack())],
            _cancel_row(context),
        ]
    )


def _values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {
        "kind": draft.kind.value if draft.kind else "",
        "body": draft.body or "",
        "length": len(draft.body or ""),
        "limit": MAX_TEXT_LENGTH,
    }


async def kind_chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    pressed = IDEA_KIND.unpack(query.data)
    if pressed is None:
        return FLOW.step(context)
    (draft.kind,) = pressed
    return await FLOW.ask(update, context, draft, WRITE)


async def text_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    body, refused = take_text(
        context, draft, message_text(update), check=check_text, limit=MAX_TEXT_LENGTH
    )
    if refused is not None:
        return await FLOW.again(update, context, draft, lead=refused)
    if body is None:
        return WRITE  # the rest of a paste refused already: dropped unread
    draft.body = body
    return await FLOW.ask(update, context, draft, PREVIEW)


async def rewrite(update: Update, context: LiaisonContext, draft: Draft) -> str:
    return await FLOW.ask(update, context, draft, WRITE)


async def send(update: Update, context: LiaisonContext, draft: Draft) -> str:
    identity = context.identity
    assert identity is not None and identity.member_id is not None  # the flow's guard
    assert draft.kind is not None and draft.body is not None
    async with context.services.db.session() as session:
        idea = await submit(
            session, context.now(), member_id=identity.member_id, kind=draft.kind, text=draft.body
        )
        number = idea.id
    # Only now: if the database failed, the preview and its buttons are still there to retry.
    await FLOW.drop_buttons(update, context)
    await reply(update, context, "ideas/sent", id=number, kind=draft.kind.value)
    return END


FLOW = Flow(
    "idea",
    Draft,
    audience=Audience.MEMBERS,
    templates="ideas",
    not_member="ideas/not_member",
    not_member_values=not_member_values,
    starts=[Start(start_idea, command="idea")],
    steps={
        KIND: Step("ideas/ask_kind", [press(IDEA_KIND, kind_chosen)], keyboard=_kind_keyboard),
        WRITE: Step("ideas/ask_write", [typed(text_typed)], keyboard=_write_keyboard),
        PREVIEW: Step(
            "ideas/ask_preview",
            [press(IDEA_SEND, send), press(IDEA_REWRITE, rewrite)],
            keyboard=_preview_keyboard,
        ),
    },
    cancel_action=IDEA_QUIT,
    values=_values,
)
