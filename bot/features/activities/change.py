"""Changing or cancelling an activity (staff, private chat): the flow "activity_change",
begun from a button under the activity's card.

"Change time", "Change place", "Change places" or "Cancel activity": 1. the new value is
typed (a time as for a new activity, a place of /places or an address, a number of places
or 0 for no limit; for a cancellation, the reason members will read); 2. what will happen,
and who is told, with "confirm". Only the confirmation changes anything; a second press of
it is an old button (and the storage operation does nothing twice in any case). /cancel or
the cancel button at any step, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardMarkup, Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.flow import END, Flow, Start, Step, press, typed
from bot.replies import inline_keyboard, label, render, reply
from bot.updates import message_text
from messages.callbacks import ACTIVITY_CHANGE, ACTIVITY_CHANGE_OK, ACTIVITY_CHANGE_QUIT
from storage.activities import (
    KEEP,
    ActivityError,
    ActivityView,
    cancel_activity,
    change_activity,
    check_address,
    check_reason,
    get_activity,
    has_end,
    parse_capacity,
    parse_times,
    record_refused_change,
)
from storage.places import match_places

VALUE = "value"
CONFIRM = "confirm"

# Places named by a part of their name, listed when the typed text names several.
PLACES_LISTED = 5


@dataclass(slots=True)
class Draft:
    """What will change; nothing is recorded until the confirmation."""

    activity_id: int
    # "time", "place", "capacity" or "cancel".
    what: str
    starts_at: datetime | None = None
    # None with a start: the activity keeps its length.
    ends_at: datetime | None = None
    place_id: int | None = None
    place_name: str | None = None
    address: str | None = None
    capacity: int | None = None
    reason: str | None = None


def _local(context: LiaisonContext, moment: datetime | None, form: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None:
        return ""
    return moment.astimezone(context.services.settings.zone).strftime(form)


def _card_values(context: LiaisonContext, view: ActivityView) -> dict[str, Any]:
    return {
        "a": view,
        "starts": _local(context, view.starts_at),
        "ends": _local(context, view.ends_at, "%H:%M"),
    }


async def _activity(context: LiaisonContext, activity_id: int) -> ActivityView | None:
    staff = context.staff()
    assert staff is not None  # the flow's guard
    async with context.services.db.session() as session:
        return await get_activity(session, activity_id, staff_id=staff[1])


async def _refused_not_found(context: LiaisonContext, activity_id: int, what: str) -> None:
    staff = context.staff()
    assert staff is not None
    async with context.services.db.session() as session:
        await record_refused_change(
            session, context.now(), activity_id, actor=staff[0].actor, what=what
        )


def _quit_only(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    return inline_keyboard([[(label(context, "activities.cancel"), ACTIVITY_CHANGE_QUIT.pack())]])


def _bad(context: LiaisonContext, error: ActivityError, **values: Any) -> str:
    return render(context, "activities/change/refused", reason=error.reason, **values)


# --- the start -------------------------------------------------------------------------------


async def start_change(update: Update, context: LiaisonContext) -> str:
    """ "Change time / place / places" or "Cancel activity" under a card."""
    query = update.callback_query
    assert query is not None
    pressed = ACTIVITY_CHANGE.unpack(query.data)
    if pressed is None:
        await reply(update, context, "activities/change/stale_button")
        return END
    activity_id, what = pressed
    view = await _activity(context, activity_id)
    if view is None:
        await _refused_not_found(context, activity_id, what)
        await reply(update, context, "activities/not_found", id=activity_id)
        return END
    now = context.now()
    refused = None
    if view.cancelled:
        refused = "cancelled"
    elif now >= view.ends_at:
        refused = "over"
    elif what != "cancel" and now >= view.starts_at:
        refused = "started"
    if refused is not None:
        await reply(update, context, "activities/change/refused", reason=refused, id=activity_id)
        return END
    return await FLOW.begin(update, context, Draft(activity_id, what), VALUE)


async def _values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    view = await _activity(context, draft.activity_id)
    values: dict[str, Any] = {"what": draft.what, "zone": str(context.services.settings.zone)}
    if view is not None:
        values.update(_card_values(context, view))
    return values


# --- 1. the new value -------------------------------------------------------------------------


async def value_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    text = message_text(update)
    zone = context.services.settings.zone
    try:
        if draft.what == "time":
            draft.starts_at, ends_at = parse_times(text, context.now(), zone)
            draft.ends_at = ends_at if has_end(text) else None
        elif draft.what == "capacity":
            draft.capacity = parse_capacity(text)
        elif draft.what == "cancel":
            draft.reason = check_reason(text)
        else:
            return await _place_typed(update, context, draft, text)
    except ActivityError as error:
        lead = _bad(context, error, typed=text.strip()[:40], zone=str(zone))
        return await FLOW.again(update, context, draft, lead=lead)
    return await FLOW.ask(update, context, draft, CONFIRM)


async def _place_typed(update: Update, context: LiaisonContext, draft: Draft, text: str) -> str:
    async with context.services.db.session() as session:
        found = await match_places(session, text, limit=PLACES_LISTED)
    typed_text = text.strip()
    if len(found) == 1 and (found[0].name == typed_text or typed_text.lstrip("#").isdigit()):
        place = found[0]
        draft.place_id, draft.place_name, draft.address = place.id, place.name, place.address
        return await FLOW.ask(update, context, draft, CONFIRM)
    if found:
        # A part of a name: the full name (or number) decides, not a guess.
        lead = render(
            context,
            "activities/change/refused",
            reason="several_places",
            places=[(p.id, p.name, p.district) for p in found],
        )
        return await FLOW.again(update, context, draft, lead=lead)
    try:
        address = check_address(text)
    except ActivityError as error:
        return await FLOW.again(update, context, draft, lead=_bad(context, error))
    draft.place_id, draft.place_name, draft.address = None, None, address
    return await FLOW.ask(update, context, draft, CONFIRM)


# --- 2. the confirmation ----------------------------------------------------------------------


def _confirm_keyboard(context: LiaisonContext, draft: Draft) -> InlineKeyboardMarkup:
    key = "activities.confirm_cancel" if draft.what == "cancel" else "activities.confirm_change"
    return inline_keyboard(
        [
            [(label(context, key), ACTIVITY_CHANGE_OK.pack())],
            [(label(context, "activities.cancel"), ACTIVITY_CHANGE_QUIT.pack())],
        ]
    )


async def _confirm_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    new_starts = _local(context, draft.starts_at)
    return {
        "new_starts": new_starts,
        "new_ends": _local(context, draft.ends_at, "%H:%M"),
        "same_length": draft.ends_at is None,
        "new_place": draft.place_name,
        "new_address": draft.address,
        "new_capacity": draft.capacity,
        "reason": draft.reason,
    }


async def confirmed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    staff = context.staff()
    assert staff is not None
    identity, staff_id = staff
    await FLOW.drop_buttons(update, context)
    zone = context.services.settings.zone
    promoted = 0
    try:
        async with context.services.db.session() as session:
            if draft.what == "cancel":
                cancelled = await cancel_activity(
                    session,
                    context.now(),
                    draft.activity_id,
                    reason=draft.reason or "",
                    actor=identity.actor,
                    zone=zone,
                    staff_id=staff_id,
                )
                changed: tuple[str, ...] = ("cancel",)
                view, told = cancelled.activity, cancelled.told
                already = cancelled.already
            else:
                done = await change_activity(
                    session,
                    context.now(),
                    draft.activity_id,
                    actor=identity.actor,
                    zone=zone,
                    staff_id=staff_id,
                    starts_at=draft.starts_at,
                    ends_at=draft.ends_at,
                    place_id=draft.place_id,
                    address=draft.address if draft.place_id is None else None,
                    capacity=draft.capacity if draft.what == "capacity" else KEEP,
                )
                view, told, changed, already = done.activity, done.told, done.changed, False
                promoted = len(done.promoted)
    except ActivityError as error:
        # Started, cancelled by someone else, or the time passed meanwhile; or taken out of
        # their scope.
        if error.reason == "not_found":
            await _refused_not_found(context, draft.activity_id, draft.what)
        await reply(
            update, context, "activities/change/refused", reason=error.reason, id=draft.activity_id
        )
        return END
    scheduler = context.bot_data.scheduler
    if scheduler is not None:
        await scheduler.refresh()  # the reminder's timer follows the new time (or goes)
    await reply(
        update,
        context,
        "activities/change/done",
        what=draft.what,
        changed=changed,
        already=already,
        told=told,
        promoted=promoted,
        **_card_values(context, view),
    )
    return END


FLOW = Flow(
    "activity_change",
    Draft,
    audience=Audience.STAFF,
    templates="activities/change",
    starts=[Start(start_change, action=ACTIVITY_CHANGE)],
    steps={
        VALUE: Step("activities/change/ask", [typed(value_typed)], _quit_only),
        CONFIRM: Step(
            "activities/change/confirm",
            [press(ACTIVITY_CHANGE_OK, confirmed)],
            _confirm_keyboard,
            _confirm_values,
        ),
    },
    cancel_action=ACTIVITY_CHANGE_QUIT,
    values=_values,
)
