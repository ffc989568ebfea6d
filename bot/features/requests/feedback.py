"""The member's feedback on a closed request: "solved?", then 1–5, then (unhappy) a comment.

The closing message (sent through the outbox) carries "solved?" (REQUEST_SOLVED); its
answer asks for 1–5 (REQUEST_RATE). After "not solved" or a rating of 1–2 the member may
write what went wrong, or skip it: that is a short conversation (COMMENT_FLOW) whose text
reaches the assignee and the group's liaisons (storage.requests.comment_on). /cancel is
"skip": the staff are told at once. After FEEDBACK_WAIT the staff alert has gone without a
comment, so a late line is not taken as one.
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
from bot.features.requests.common import refused
from bot.flow import END, Flow, Start, Step, press, typed
from bot.replies import Markup, inline_keyboard, label, render, replace_buttons, reply
from bot.updates import message_text
from messages.callbacks import REQUEST_COMMENT_SKIP, REQUEST_RATE, REQUEST_SOLVED
from storage.requests import (
    FEEDBACK_WAIT,
    MAX_COMMENT_LENGTH,
    RequestError,
    answer_solved,
    check_comment,
    comment_on,
    rate,
    unhappy,
)

COMMENT = "comment"


async def solved_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Solved?" under the closing message: recorded once, then 1–5 is asked."""
    query = update.callback_query
    assert query is not None
    pressed = REQUEST_SOLVED.unpack(query.data)
    identity = context.identity
    if pressed is None or identity is None or identity.member_id is None:
        await query.answer(text=label(context, "requests.not_yours"))
        return
    request_id, solved = pressed
    try:
        async with context.services.db.session() as session:
            await answer_solved(
                session, context.now(), request_id, member_id=identity.member_id, solved=solved
            )
    except RequestError as error:
        await _feedback_refused(update, context, error)
        return
    await query.answer(text=label(context, "requests.thanks"))
    await replace_buttons(update, None)
    stars = [
        (label(context, "requests.rate", n=n), REQUEST_RATE.pack(request_id, n))
        for n in range(1, 6)
    ]
    await reply(
        update,
        context,
        "requests/ask_rating",
        markup=inline_keyboard([stars]),
        id=request_id,
        solved=solved,
    )


@dataclass(slots=True)
class CommentDraft:
    """The member's comment on unhappy feedback, asked under their rating."""

    request_id: int
    # A long paste the Telegram app split into parts (bot.drafts.take_paste).
    parts: list[str] = field(default_factory=list)
    discard_until: datetime | None = None


async def rate_pressed(update: Update, context: LiaisonContext) -> str:
    """1–5 after "solved?": recorded once; after "not solved" or 1–2, what went wrong?"""
    query = update.callback_query
    assert query is not None
    pressed = REQUEST_RATE.unpack(query.data)
    identity = context.identity
    if pressed is None or identity is None or identity.member_id is None:
        await query.answer(text=label(context, "requests.not_yours"))
        return END
    request_id, stars = pressed
    try:
        async with context.services.db.session() as session:
            rated = await rate(
                session, context.now(), request_id, member_id=identity.member_id, satisfaction=stars
            )
            ask_comment = unhappy(rated)
    except RequestError as error:
        await _feedback_refused(update, context, error)
        return END
    await query.answer(text=label(context, "requests.thanks"))
    await replace_buttons(update, None)
    thanks = render(context, "requests/rated", id=request_id, stars=stars)
    if not ask_comment:
        await reply(update, context, "requests/rated", id=request_id, stars=stars)
        return END
    return await COMMENT_FLOW.begin(update, context, CommentDraft(request_id), COMMENT, lead=thanks)


async def _feedback_refused(update: Update, context: LiaisonContext, error: RequestError) -> None:
    """A press on feedback that cannot be taken: said in a toast (the chat stays as it is)."""
    query = update.callback_query
    assert query is not None
    key = {
        "already_answered": "requests.already_answered",
        "already_rated": "requests.already_answered",
        "not_closed": "requests.not_closed",
    }.get(error.reason, "requests.not_yours")
    await query.answer(text=label(context, key))
    if error.reason in ("already_answered", "already_rated"):
        await replace_buttons(update, None)


# --- the comment -----------------------------------------------------------------------------


def _skip_keyboard(context: LiaisonContext, draft: CommentDraft) -> Markup:
    skip = REQUEST_COMMENT_SKIP.pack(draft.request_id, "skip")
    return inline_keyboard([[(label(context, "requests.skip"), skip)]])


def _values(context: LiaisonContext, draft: CommentDraft) -> Mapping[str, Any]:
    return {"id": draft.request_id, "limit": MAX_COMMENT_LENGTH}


async def comment_typed(update: Update, context: LiaisonContext, draft: CommentDraft) -> str:
    paste = take_paste(
        draft,
        message_text(update),
        context.now(),
        check=check_comment,
        error_type=RequestError,
        too_long="comment_too_long",
    )
    if paste.step is PasteStep.IGNORED:
        return COMMENT
    if isinstance(paste.error, RequestError):
        why = render(
            context,
            "requests/bad_input",
            reason=paste.error.reason,
            limit=MAX_COMMENT_LENGTH,
            length=len(paste.whole.strip()),
        )
        return await COMMENT_FLOW.again(update, context, draft, lead=why)
    return await _commented(update, context, draft, paste.body)


async def comment_skipped(update: Update, context: LiaisonContext, draft: CommentDraft) -> str:
    """ "Skip", or /cancel: no comment, and the staff are told at once."""
    return await _commented(update, context, draft, None)


async def _commented(
    update: Update, context: LiaisonContext, draft: CommentDraft, text: str | None
) -> str:
    identity = context.identity
    await COMMENT_FLOW.drop_buttons(update, context)
    if identity is None or identity.member_id is None:
        # No longer a member since the rating (the flow is open to anyone: see below).
        await reply(update, context, "requests/not_member")
        return END
    try:
        async with context.services.db.session() as session:
            await comment_on(
                session, context.now(), draft.request_id, member_id=identity.member_id, text=text
            )
    except RequestError as error:
        await refused(update, context, error)
        return END
    await reply(
        update, context, "requests/commented", id=draft.request_id, comment=text is not None
    )
    return END


COMMENT_FLOW = Flow(
    "request_comment",
    CommentDraft,
    # Anyone may press a rating: whose request it is, storage decides, and a refusal is a
    # toast on the press (the engine's guard would answer with a message instead).
    audience=Audience.EVERYONE,
    templates="requests/feedback",
    # After this the staff alert has gone without a comment (storage.requests).
    idle_limit=FEEDBACK_WAIT,
    starts=[Start(rate_pressed, action=REQUEST_RATE, toast=True)],
    steps={
        COMMENT: Step(
            "requests/feedback/ask_comment",
            [typed(comment_typed), press(REQUEST_COMMENT_SKIP, comment_skipped)],
            keyboard=_skip_keyboard,
        )
    },
    on_cancel=comment_skipped,
    unexpected_values=_values,
    values=_values,
)
