"""Ideas and opinions at the desk: what the bot's /ideas offers staff, in the browser.

/ideas lists the ideas of the visitor's members, unanswered first and newest first (of one
status or kind, or all); /ideas/ID is one with its reply, the form to reply (or change the
reply: the member hears the new one) and "adopt". Each is the storage operation the bot
calls (scope, checks, audit, the member told through the outbox in their language). The
reply form carries the reply it was drawn from: a colleague's reply meanwhile is not
overwritten unread, and the same reply sent twice reaches the member once.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.core import Console, Form
from bot.console.desk import MAX_CHOICE, back_to, choice, record_id, refused
from storage.console import Visitor
from storage.ideas import (
    MAX_REPLY_LENGTH,
    IdeaError,
    adopt,
    reply_to,
    staff_desk,
    view_idea,
)
from storage.models import IdeaKind, IdeaStatus
from storage.notices import clean_body

AREA = "ideas"
# The list shows this many, unanswered first.
SHOWN = 100
STATUSES = tuple(status.value for status in IdeaStatus)
KINDS = tuple(kind.value for kind in IdeaKind)
DONE = ("replied", "adopted")
BAD_INPUT = {"empty", "too_long"}


def routes(console: Console) -> list[Route]:
    services = console.services

    async def desk(request: Request, visitor: Visitor) -> Response:
        query = request.query_params
        status = choice(query.get("status"), STATUSES)
        kind = choice(query.get("kind"), KINDS)
        async with services.db.session() as session:
            found = await staff_desk(
                session,
                services.clock.now(),
                staff_id=visitor.staff_id,
                actor=visitor.actor,
                limit=SHOWN,
                status=IdeaStatus(status) if status else None,
                kind=IdeaKind(kind) if kind else None,
            )
        return console.render(
            "ideas/list",
            visitor,
            ideas=found.shown,
            unanswered=found.unanswered,
            limit=SHOWN,
            chosen={"status": status or "", "kind": kind or ""},
            statuses=STATUSES,
            kinds=KINDS,
        )

    async def show(
        visitor: Visitor,
        idea_id: int,
        *,
        status: int = 200,
        done: str | None = None,
        error: IdeaError | None = None,
        typed: Form | None = None,
    ) -> Response:
        """The card (its opening audited), with what was done or why not."""
        async with services.db.session() as session:
            found = await view_idea(
                session,
                services.clock.now(),
                idea_id,
                staff_id=visitor.staff_id,
                actor=visitor.actor,
            )
        if found is None:
            return refused(console, visitor, AREA)
        typed = typed or {}
        return console.render(
            "ideas/card",
            visitor,
            status=status,
            s=found,
            done=done,
            error=error.reason if error is not None else None,
            length=len(clean_body(typed.get("reply", ""))),
            limit=MAX_REPLY_LENGTH,
            typed=typed,
        )

    async def card(request: Request, visitor: Visitor) -> Response:
        idea_id = record_id(request, "idea_id")
        if idea_id is None:
            return refused(console, visitor, AREA)
        return await show(visitor, idea_id, done=choice(request.query_params.get("done"), DONE))

    async def reply(request: Request, visitor: Visitor, form: Form) -> Response:
        idea_id = record_id(request, "idea_id")
        if idea_id is None:
            return refused(console, visitor, AREA)
        seen = form.get("seen")
        try:
            async with services.db.session() as session:
                await reply_to(
                    session,
                    services.clock.now(),
                    idea_id,
                    text=form.get("reply", ""),
                    actor=visitor.actor,
                    staff_id=visitor.staff_id,
                    seen=seen[:MAX_CHOICE] if seen is not None else None,
                )
        except IdeaError as error:
            return await refusal(visitor, idea_id, error, form)
        return back_to(f"/ideas/{idea_id}", "replied")

    async def adopt_it(request: Request, visitor: Visitor, form: Form) -> Response:
        idea_id = record_id(request, "idea_id")
        if idea_id is None:
            return refused(console, visitor, AREA)
        try:
            async with services.db.session() as session:
                await adopt(
                    session,
                    services.clock.now(),
                    idea_id,
                    actor=visitor.actor,
                    staff_id=visitor.staff_id,
                )
        except IdeaError as error:
            return await refusal(visitor, idea_id, error, {})
        return back_to(f"/ideas/{idea_id}", "adopted")

    async def refusal(visitor: Visitor, idea_id: int, error: IdeaError, form: Form) -> Response:
        if error.reason == "not_found":
            return refused(console, visitor, AREA)
        return await show(
            visitor,
            idea_id,
            status=400 if error.reason in BAD_INPUT else 409,
            error=error,
            # Sent twice: the member has it, and typing it again would send it again.
            typed={} if error.reason == "already_done" else form,
        )

    return [
        Route("/ideas", console.page(desk), methods=["GET"]),
        Route("/ideas/{idea_id}", console.page(card), methods=["GET"]),
        Route("/ideas/{idea_id}/reply", console.action(reply), methods=["POST"]),
        Route("/ideas/{idea_id}/adopt", console.action(adopt_it), methods=["POST"]),
    ]
