"""Activities in the console: the list, and an activity's card with its roster and waiting
list, where staff mark who came, change the time, place or places, or cancel it (with the
reason, and a box ticked to confirm). The bot's storage operations (storage/activities.py),
the bot's scope; each change goes back to the card, which says what was done.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console.core import SECURITY_HEADERS, Console, Form
from storage.activities import (
    KEEP,
    ActivityError,
    cancel_activity,
    change_activity,
    has_end,
    list_activities,
    mark_attendance,
    parse_capacity,
    parse_times,
    record_refused_change,
    view_activity,
)
from storage.console import Visitor
from storage.places import match_places

# Why a change was refused, as the card says it (other reasons read as "refused_other").
REFUSALS = frozenset(
    {
        "past",
        "too_far",
        "unreadable",
        "end_before_start",
        "bad_capacity",
        "below_coming",
        "no_reason",
        "reason_too_long",
        "no_place",
        "address_too_long",
        "several_places",
        "started",
        "cancelled",
        "over",
        "unconfirmed",
    }
)


def _back(activity_id: int, done: str) -> RedirectResponse:
    # Back to the card, which says what was done: a reload sends nothing again.
    return RedirectResponse(
        f"/activities/{activity_id}?done={done}", status_code=303, headers=SECURITY_HEADERS
    )


def _refused(reason: str) -> str:
    return f"refused_{reason if reason in REFUSALS else 'other'}"


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
        return _back(activity_id, done)

    async def not_found(activity_id: int, visitor: Visitor, what: str) -> Response:
        # The refused session was rolled back: the refusal is recorded in one of its own.
        async with services.db.session() as session:
            await record_refused_change(
                session, services.clock.now(), activity_id, actor=visitor.actor, what=what
            )
        return console.message("activities.not_found", visitor, status=404)

    async def cancel(request: Request, visitor: Visitor, form: Form) -> Response:
        activity_id = _number(request.path_params["activity_id"])
        if activity_id is None:
            return console.message("activities.not_found", visitor, status=404)
        if form.get("confirm") != "yes":
            return _back(activity_id, _refused("unconfirmed"))
        async with services.db.session() as session:
            try:
                cancelled = await cancel_activity(
                    session,
                    services.clock.now(),
                    activity_id,
                    reason=form.get("reason", ""),
                    actor=visitor.actor,
                    zone=services.settings.zone,
                    staff_id=visitor.staff_id,
                )
            except ActivityError as error:
                if error.reason == "not_found":
                    return await not_found(activity_id, visitor, "cancel")
                return _back(activity_id, _refused(error.reason))
        return _back(activity_id, "already_cancelled" if cancelled.already else "cancelled")

    async def change(request: Request, visitor: Visitor, form: Form) -> Response:
        activity_id = _number(request.path_params["activity_id"])
        if activity_id is None:
            return console.message("activities.not_found", visitor, status=404)
        now = services.clock.now()
        at = form.get("at", "").strip()
        place = form.get("place", "").strip()
        capacity = form.get("capacity", "").strip()
        async with services.db.session() as session:
            try:
                starts_at = ends_at = None
                if at:
                    starts_at, ends_at = parse_times(at, now, services.settings.zone)
                    if not has_end(at):
                        ends_at = None  # a start only: the same length
                place_id = address = None
                if place:
                    found = await match_places(session, place, limit=2)
                    if len(found) == 1 and (found[0].name == place or place.isdigit()):
                        place_id = found[0].id
                    elif found:
                        raise ActivityError("several places match", "several_places")
                    else:
                        address = place
                changed = await change_activity(
                    session,
                    now,
                    activity_id,
                    actor=visitor.actor,
                    zone=services.settings.zone,
                    staff_id=visitor.staff_id,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    place_id=place_id,
                    address=address,
                    capacity=parse_capacity(capacity) if capacity else KEEP,
                )
            except ActivityError as error:
                if error.reason == "not_found":
                    return await not_found(activity_id, visitor, "change")
                return _back(activity_id, _refused(error.reason))
        return _back(activity_id, "changed" if changed.changed else "unchanged")

    return [
        Route("/activities", console.page(listing), methods=["GET"]),
        Route("/activities/{activity_id}", console.page(card), methods=["GET"]),
        Route(
            "/activities/{activity_id}/attendance",
            console.action(attendance),
            methods=["POST"],
        ),
        Route("/activities/{activity_id}/cancel", console.action(cancel), methods=["POST"]),
        Route("/activities/{activity_id}/change", console.action(change), methods=["POST"]),
    ]
