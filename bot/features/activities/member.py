"""Members and activities: "I'll come / I can't" under an invitation, and their own list.

A press answers the invitation of the member bound to the pressing account (a forwarded
copy records nothing): a toast says what was recorded, and the chosen button is marked. The
same answer again changes nothing; a "yes" when the places are taken puts the member on the
waiting list, with a message saying their place in line; an answer to a cancelled activity
says it is cancelled. /activities lists the invitations still to come with their answers (or
place in line, or that it is cancelled; buttons to change them), then the last ones that
ended, attended or not.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.context import LiaisonContext
from bot.replies import inline_keyboard, label, replace_buttons, reply
from messages.callbacks import ACTIVITY_ANSWER
from storage.activities import (
    ActivityView,
    Answered,
    answer,
    member_activities,
)
from storage.models import ActivityAnswer

# /activities offers answer buttons for this many coming activities.
ANSWER_ROWS = 8


def _local(context: LiaisonContext, view: ActivityView) -> str:
    zone = context.services.settings.zone
    starts = view.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return f"{starts}–{view.ends_at.astimezone(zone):%H:%M}"


async def show_mine(update: Update, context: LiaisonContext, member_id: int) -> None:
    """/activities for a member: coming invitations with their answer, then the past."""
    now = context.now()
    async with context.services.db.session() as session:
        mine = await member_activities(session, now, member_id)
    rows: list[list[tuple[str, str]]] = []
    for item in mine.upcoming:
        view = item.activity
        if view.starts_at <= now or view.cancelled or len(rows) >= ANSWER_ROWS:
            continue  # under way or cancelled: answers are closed
        rows.append(_answer_row(context, view.id, item.answer, mine=True))
    await reply(
        update,
        context,
        "activities/mine",
        markup=inline_keyboard(rows) if rows else None,
        upcoming=[(item, _local(context, item.activity)) for item in mine.upcoming],
        past=[(item, _local(context, item.activity)) for item in mine.past],
    )


def _answer_row(
    context: LiaisonContext, activity_id: int, chosen: ActivityAnswer | None, *, mine: bool
) -> list[tuple[str, str]]:
    row = []
    for choice in ActivityAnswer:
        key = f"activities.{'mine_' if mine else ''}{choice.value}"
        text = label(context, key, id=activity_id)
        if choice is chosen:
            text = label(context, "activities.chosen", text=text)
        row.append((text, ACTIVITY_ANSWER.pack(activity_id, choice)))
    return row


def _marked(
    update: Update, context: LiaisonContext, activity_id: int, chosen: ActivityAnswer | None
) -> InlineKeyboardMarkup | None:
    """The pressed message's buttons with this activity's answer buttons showing the answer
    on record (the others stay, as in /activities); None: it has no buttons left."""
    query = update.callback_query
    assert query is not None
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return None
    suffix = label(context, "activities.chosen", text="")
    rows = []
    for row in markup.inline_keyboard:
        kept = []
        for button in row:
            data = button.callback_data if isinstance(button.callback_data, str) else None
            pressed = ACTIVITY_ANSWER.unpack(data)
            if pressed is None or pressed[0] != activity_id:
                kept.append(button)
                continue
            text = button.text.removesuffix(suffix)
            if pressed[1] is chosen:
                text = label(context, "activities.chosen", text=text)
            kept.append(InlineKeyboardButton(text, callback_data=button.callback_data))
        rows.append(kept)
    return InlineKeyboardMarkup(rows)


async def answer_pressed(update: Update, context: LiaisonContext) -> None:
    """ "I'll come" / "I can't" (under an invitation, a reminder or /activities)."""
    query = update.callback_query
    assert query is not None
    pressed = ACTIVITY_ANSWER.unpack(query.data)
    identity = context.identity
    if pressed is None or identity is None or identity.member_id is None:
        # A forwarded copy, or someone else's phone: nothing is recorded.
        await query.answer(text=label(context, "activities.toast_not_yours"))
        return
    activity_id, choice = pressed
    async with context.services.db.session() as session:
        outcome = await answer(
            session,
            context.now(),
            activity_id=activity_id,
            member_id=identity.member_id,
            choice=choice,
            zone=context.services.settings.zone,
        )
    if outcome.result is Answered.NOT_INVITED:
        await query.answer(text=label(context, "activities.toast_not_yours"))
        return
    await query.answer(text=label(context, f"activities.toast_{outcome.result.value}"))
    if outcome.result in (Answered.CLOSED, Answered.CANCELLED):
        await replace_buttons(update, None)
        return
    # Unchanged (pressed twice) or too old to edit: the answer is recorded all the same.
    await replace_buttons(update, _marked(update, context, activity_id, outcome.answer))
    if outcome.result is Answered.WAITING:
        # A toast is easily missed: that they are waiting, not coming, deserves a message.
        await reply(
            update, context, "activities/waiting", a=outcome.activity, waiting=outcome.waiting
        )
