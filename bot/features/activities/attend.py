"""Checking in at an activity (members): /attend, "I'm here" under the reminder, or the code
typed in reply to the invitation.

`/attend CODE` checks in at once. `/attend` alone, or "I'm here", asks for the code shown at
the venue or a shared location (the flow "attend", with a button that shares it); a wrong
code or a location too far is said and asked again. The code typed as a reply to the
invitation or the reminder counts for that activity. Check-in is open from half an hour
before the start to the end; outside it nothing is recorded and the answer says when it is.
The location is used to measure the distance and kept nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telegram import Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.flow import END, Flow, Start, Step, pin, typed
from bot.replies import REMOVE_KEYBOARD, Markup, label, render, reply, reply_keyboard
from bot.updates import command_argument, message_text
from messages.callbacks import ACTIVITY_HERE
from storage.activities import (
    ActivityView,
    Attended,
    AttendOutcome,
    activity_of_message,
    check_in,
    get_activity,
    open_for,
)
from storage.coordinates import CoordinateError
from storage.models import ChannelName, Platform

ASK = "ask"

# Said, and the question asked again: the member may try once more where they stand.
_TRY_AGAIN = (Attended.WRONG_CODE, Attended.TOO_FAR, Attended.NO_LOCATION)


@dataclass(slots=True)
class Draft:
    # "I'm here" under one activity's reminder: that one only; None: any open now.
    activity_id: int | None = None


def _member_id(context: LiaisonContext) -> int:
    identity = context.identity
    assert identity is not None and identity.member_id is not None  # the flow's guard
    return identity.member_id


def _times(context: LiaisonContext, activity: ActivityView | None) -> dict[str, str]:
    if activity is None:
        return {}
    zone = context.services.settings.zone
    return {
        "starts": activity.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "opens": activity.opens_at.astimezone(zone).strftime("%m-%d %H:%M"),
        "ends": activity.ends_at.astimezone(zone).strftime("%H:%M"),
    }


def _outcome_values(context: LiaisonContext, outcome: AttendOutcome) -> dict[str, Any]:
    return {
        "result": outcome.result.value,
        "a": outcome.activity,
        "distance": round(outcome.distance_m) if outcome.distance_m is not None else None,
        **_times(context, outcome.activity),
    }


def outcome_text(context: LiaisonContext, outcome: AttendOutcome) -> str:
    """What a check-in did, in the member's words."""
    return render(context, "activities/attend/outcome", **_outcome_values(context, outcome))


async def _answer(update: Update, context: LiaisonContext, outcome: AttendOutcome) -> None:
    await reply(
        update,
        context,
        "activities/attend/outcome",
        markup=REMOVE_KEYBOARD,
        **_outcome_values(context, outcome),
    )


# --- the starts ------------------------------------------------------------------------------


async def start_attend(update: Update, context: LiaisonContext) -> str:
    """/attend CODE at once; /attend alone asks, if an activity of theirs is open now."""
    member_id = _member_id(context)
    code = command_argument(update)
    if code:
        async with context.services.db.session() as session:
            outcome = await check_in(session, context.now(), member_id=member_id, code=code)
        await _answer(update, context, outcome)
        return END
    async with context.services.db.session() as session:
        opened = await open_for(session, context.now(), member_id)
    if not opened:
        await reply(update, context, "activities/attend/none_open", markup=REMOVE_KEYBOARD)
        return END
    return await FLOW.begin(update, context, Draft(), ASK)


async def here_pressed(update: Update, context: LiaisonContext) -> str:
    """ "I'm here" under a reminder: the code or a location, for that activity."""
    query = update.callback_query
    assert query is not None
    pressed = ACTIVITY_HERE.unpack(query.data)
    member_id = _member_id(context)
    activity = None
    if pressed is not None:
        async with context.services.db.session() as session:
            mine = await open_for(session, context.now(), member_id)
            activity = await get_activity(session, pressed[0])
        if any(a.id == pressed[0] for a in mine):
            return await FLOW.begin(update, context, Draft(pressed[0]), ASK)
    if activity is None:
        await reply(update, context, "activities/attend/none_open", markup=REMOVE_KEYBOARD)
        return END
    closed = Attended.CANCELLED if activity.cancelled else Attended.NOT_OPEN
    await _answer(update, context, AttendOutcome(closed, activity))
    return END


# --- the answer: a code or a location --------------------------------------------------------


async def code_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    async with context.services.db.session() as session:
        outcome = await check_in(
            session,
            context.now(),
            member_id=_member_id(context),
            code=message_text(update),
            activity_id=draft.activity_id,
        )
    return await _after(update, context, draft, outcome)


async def location_shared(update: Update, context: LiaisonContext, draft: Draft) -> str:
    message = update.effective_message
    assert message is not None and message.location is not None
    try:
        async with context.services.db.session() as session:
            outcome = await check_in(
                session,
                context.now(),
                member_id=_member_id(context),
                latitude=message.location.latitude,
                longitude=message.location.longitude,
                activity_id=draft.activity_id,
            )
    except CoordinateError:
        # No Telegram client sends such a point: as for any other unreadable answer.
        return await FLOW.unexpected(update, context, draft)
    return await _after(update, context, draft, outcome)


async def _after(
    update: Update, context: LiaisonContext, draft: Draft, outcome: AttendOutcome
) -> str:
    if outcome.result in _TRY_AGAIN:
        return await FLOW.again(update, context, draft, lead=outcome_text(context, outcome))
    await _answer(update, context, outcome)
    return END


async def _asked_about(context: LiaisonContext, draft: Draft) -> list[ActivityView]:
    async with context.services.db.session() as session:
        opened = await open_for(session, context.now(), _member_id(context))
    return [a for a in opened if draft.activity_id in (None, a.id)]


async def _ask_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    # QQ shares no location; a typed address has no position: the code only.
    located = any(a.located for a in await _asked_about(context, draft))
    if context.platform is not Platform.TELEGRAM or not located:
        return REMOVE_KEYBOARD
    return reply_keyboard([], location_button=label(context, "activities.share"))


async def _ask_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    shown = await _asked_about(context, draft)
    located = any(a.located for a in shown) and context.platform is Platform.TELEGRAM
    return {"activities": shown, "located": located}


# --- the code typed in reply to the invitation -------------------------------------------------


async def code_in_reply(update: Update, context: LiaisonContext) -> None:
    """Digits typed in reply to a message: the code, for the activity that message was about
    (any of the member's open ones if it was about none)."""
    identity = context.identity
    message = update.effective_message
    assert message is not None and message.reply_to_message is not None
    if identity is None or identity.member_id is None:
        await reply(update, context, "activities/not_member")
        return
    async with context.services.db.session() as session:
        activity_id = await activity_of_message(
            session,
            channel=ChannelName.TELEGRAM,
            address=str(message.chat_id),
            message_id=str(message.reply_to_message.message_id),
        )
        outcome = await check_in(
            session,
            context.now(),
            member_id=identity.member_id,
            code=message_text(update),
            activity_id=activity_id,
        )
    await _answer(update, context, outcome)


# No buttons of its own (the question's keyboard shares the location): a press is never
# this flow's, so it has no stale_button text.
FLOW = Flow(
    "attend",
    Draft,
    audience=Audience.MEMBERS,
    templates="activities/attend",
    starts=[Start(start_attend, command="attend"), Start(here_pressed, action=ACTIVITY_HERE)],
    steps={
        ASK: Step(
            "activities/attend/ask",
            [typed(code_typed), pin(location_shared)],
            _ask_keyboard,
            _ask_values,
        ),
    },
    not_member="activities/not_member",
)
