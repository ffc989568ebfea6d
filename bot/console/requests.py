"""Service requests at the desk: what the bot's /requests offers staff, in the browser.

/requests lists the requests of the visitor's members: the open ones by default, or of one
status, of one age (how long they have waited), oldest or newest first. /requests/ID is a
request's card with its whole history (internal notes too) and the forms for what can be
done with it now: take it, hand it to a colleague who looks after the member, an internal
note, a new status with the answer the member reads. Each form calls the storage operation
the bot's buttons call (scope, checks, audit; the member told through the outbox in their
language) and carries the request's version it was drawn from: a colleague's change
meanwhile, or the same form sent twice, is refused in words, and what was typed is shown
again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.core import Console, Form
from bot.console.desk import back_to, choice, form_id, record_id, refused
from messages.requests import localized_name
from storage.console import Visitor
from storage.models import RequestStatus
from storage.requests import (
    AGES,
    MAX_ANSWER_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_REFERRED_LENGTH,
    RequestError,
    add_note,
    allowed_statuses,
    assign,
    colleagues,
    open_card,
    set_status,
    staff_requests,
    take,
)

AREA = "requests"
# The list shows this many; the filters narrow it down.
SHOWN = 100
STATUSES = tuple(status.value for status in RequestStatus)
STATUS_FILTERS = ("open", "all", *STATUSES)
ORDERS = ("oldest", "newest")
# What the card says after a change (?done=…).
DONE = ("taken", "taken_untold", "assigned", "noted", "status", "status_untold")
LIMITS = {"note": MAX_NOTE_LENGTH, "answer": MAX_ANSWER_LENGTH, "referred": MAX_REFERRED_LENGTH}
TOO_LONG = {
    "note_too_long": MAX_NOTE_LENGTH,
    "answer_too_long": MAX_ANSWER_LENGTH,
    "referred_too_long": MAX_REFERRED_LENGTH,
}
# Refusals of what was typed or chosen (400); the others are about the request as it now
# is (409: taken meanwhile, closed, already so).
BAD_INPUT = {
    "note_empty",
    "note_too_long",
    "referred_needs_place",
    "referred_too_long",
    "answer_needed",
    "answer_too_long",
    "unknown_status",
    "unknown_colleague",
    "assignee_cannot_see",
}

Act = Callable[[Visitor, int, Form], Awaitable[str]]


def routes(console: Console) -> list[Route]:
    services = console.services

    def named(visitor: Visitor) -> Callable[[Any], str]:
        locale = console.locale(visitor)
        return lambda names: localized_name(names, locale)

    async def desk(request: Request, visitor: Visitor) -> Response:
        query = request.query_params
        status = choice(query.get("status"), STATUS_FILTERS, "open")
        age = choice(query.get("age"), AGES)
        order = choice(query.get("order"), ORDERS, "oldest")
        now = services.clock.now()
        async with services.db.session() as session:
            shown, total = await staff_requests(
                session,
                now,
                staff_id=visitor.staff_id,
                limit=SHOWN,
                status=RequestStatus(status) if status in STATUSES else None,
                include_closed=status == "all",
                age=age,
                newest_first=order == "newest",
            )
        return console.render(
            "requests/list",
            visitor,
            requests=shown,
            total=total,
            chosen={"status": status, "age": age or "", "order": order},
            statuses=STATUS_FILTERS,
            ages=AGES,
            orders=ORDERS,
            now=now,
            named=named(visitor),
        )

    async def show(
        visitor: Visitor,
        request_id: int,
        *,
        status: int = 200,
        done: str | None = None,
        error: RequestError | None = None,
        typed: Form | None = None,
    ) -> Response:
        """The card (its opening audited), with what was done or why not."""
        now = services.clock.now()
        async with services.db.session() as session:
            view = await open_card(session, now, request_id, staff_id=visitor.staff_id)
            if view is None:
                return refused(console, visitor, AREA)
            # A request is handed on to those who look after its member (not to oneself:
            # that is "take").
            others = (
                [
                    (staff_id, name)
                    for staff_id, name in await colleagues(
                        session, request_id, staff_id=visitor.staff_id
                    )
                    if staff_id != visitor.staff_id
                ]
                if view.is_open
                else []
            )
        return console.render(
            "requests/card",
            visitor,
            status=status,
            r=view,
            now=now,
            waited=max((now - view.created_at).days, 0),
            colleagues=others,
            next_statuses=[s.value for s in allowed_statuses(view.status)],
            done=done,
            error=_error(console, visitor, error) if error is not None else None,
            typed=typed or {},
            limits=LIMITS,
            named=named(visitor),
        )

    async def card(request: Request, visitor: Visitor) -> Response:
        request_id = record_id(request, "request_id")
        if request_id is None:
            return refused(console, visitor, AREA)
        return await show(visitor, request_id, done=choice(request.query_params.get("done"), DONE))

    def acting(name: str, act: Act) -> Route:
        """A form of the card (/requests/ID/name): the change, then the card again (or the
        refusal on it)."""

        async def handler(request: Request, visitor: Visitor, form: Form) -> Response:
            request_id = record_id(request, "request_id")
            if request_id is None:
                return refused(console, visitor, AREA)
            try:
                done = await act(visitor, request_id, form)
            except RequestError as error:
                if error.reason == "not_found":
                    return refused(console, visitor, AREA)
                # Sent twice: it is done, and typing it again would do it twice.
                typed = {} if error.reason == "already_done" else form
                return await show(
                    visitor,
                    request_id,
                    status=400 if error.reason in BAD_INPUT else 409,
                    error=error,
                    typed=typed,
                )
            return back_to(f"/requests/{request_id}", done)

        return Route(f"/requests/{{request_id}}/{name}", console.action(handler), methods=["POST"])

    async def take_it(visitor: Visitor, request_id: int, form: Form) -> str:
        async with services.db.session() as session:
            change = await take(
                session,
                services.clock.now(),
                request_id,
                staff_id=visitor.staff_id,
                seen=form_id(form, "seen"),
            )
        return "taken" if change.member_told else "taken_untold"

    async def assign_it(visitor: Visitor, request_id: int, form: Form) -> str:
        to_staff_id = form_id(form, "to")
        if to_staff_id is None:
            raise RequestError("no colleague chosen", "unknown_colleague", id=request_id)
        async with services.db.session() as session:
            await assign(
                session,
                services.clock.now(),
                request_id,
                staff_id=visitor.staff_id,
                to_staff_id=to_staff_id,
                zone=services.settings.zone,
                seen=form_id(form, "seen"),
            )
        return "assigned"

    async def note_it(visitor: Visitor, request_id: int, form: Form) -> str:
        async with services.db.session() as session:
            await add_note(
                session,
                services.clock.now(),
                request_id,
                staff_id=visitor.staff_id,
                text=form.get("note", ""),
                seen=form_id(form, "seen"),
            )
        return "noted"

    async def status_it(visitor: Visitor, request_id: int, form: Form) -> str:
        wanted = choice(form.get("status"), STATUSES)
        if wanted is None:
            raise RequestError("no such status", "unknown_status", id=request_id)
        async with services.db.session() as session:
            change = await set_status(
                session,
                services.clock.now(),
                request_id,
                staff_id=visitor.staff_id,
                status=RequestStatus(wanted),
                referred_to=form.get("referred_to"),
                answer=form.get("answer"),
                seen=form_id(form, "seen"),
            )
        return "status" if change.member_told else "status_untold"

    return [
        Route("/requests", console.page(desk), methods=["GET"]),
        Route("/requests/{request_id}", console.page(card), methods=["GET"]),
        acting("take", take_it),
        acting("assign", assign_it),
        acting("note", note_it),
        acting("status", status_it),
    ]


def _error(console: Console, visitor: Visitor, error: RequestError) -> dict[str, Any]:
    """A refusal as the card words it: the reason, and its values in the visitor's words."""
    values: dict[str, Any] = {"id": None, "by": None, "name": None, **error.values}
    locale = console.locale(visitor)
    for key in ("current", "wanted"):
        if key in values:
            values[key] = console.services.renderer.label(
                locale, f"console_requests.status_{values[key]}"
            )
    values["limit"] = TOO_LONG.get(error.reason)
    return {"reason": error.reason, "values": values}
