"""Activities in the console: the list, and an activity's card with its roster, where
staff mark who came. The bot's storage operations (storage/activities.py), the bot's scope.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console.core import SECURITY_HEADERS, Console, Form
from storage.activities import (
    ActivityError,
    list_activities,
    mark_attendance,
    view_activity,
)
from storage.console import Visitor


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 10 else None


def routes(console: Console) -> list[Route]:
    services = console.services

    async def listing(request: Request, visitor: Visitor) -> Response:
        now = services.clock.now()
        async with services.db.session() as session:
            activities = await list_activities(
                session, now, staff_id=visitor.staff_id, actor=visitor.actor
            )
        return console.render("activities/list", visitor, activities=activities, now=now)

    async def card(request: Request, visitor: Visitor) -> Response:
        now = services.clock.now()
        activity_id = _number(request.path_params["activity_id"])
        async with services.db.session() as session:
            found = None
            if activity_id is not None:
                found = await view_activity(
                    session, now, activity_id, staff_id=visitor.staff_id, actor=visitor.actor
                )
        if found is None:
            return console.message("activities.not_found", visitor, status=404)
        return console.render(
            "activities/card",
            visitor,
            card=found,
            now=now,
            done=request.query_params.get("done"),
        )

    async def attendance(request: Request, visitor: Visitor, form: Form) -> Response:
        activity_id = _number(request.path_params["activity_id"])
        member_id = _number(form.get("member"))
        attended = form.get("attended") == "yes"
        if activity_id is None or member_id is None:
            return console.message("activities.not_found", visitor, status=404)
        async with services.db.session() as session:
            try:
                marked = await mark_attendance(
                    session,
                    services.clock.now(),
                    activity_id,
                    member_id=member_id,
                    attended=attended,
                    actor=visitor.actor,
                    staff_id=visitor.staff_id,
                )
            except ActivityError as error:
                if error.reason == "not_open":
                    done = "not_open"
                else:
                    return console.message("activities.not_found", visitor, status=404)
            else:
                done = ("marked" if marked.attended else "unmarked") if marked.changed else "same"
        # Back to the card, which says what was done: a reload sends nothing again.
        return RedirectResponse(
            f"/activities/{activity_id}?done={done}", status_code=303, headers=SECURITY_HEADERS
        )

    return [
        Route("/activities", console.page(listing), methods=["GET"]),
        Route("/activities/{activity_id}", console.page(card), methods=["GET"]),
        Route(
            "/activities/{activity_id}/attendance",
            console.action(attendance),
            methods=["POST"],
        ),
    ]
