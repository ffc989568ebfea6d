"""/activities for staff: their activities, each card with its roster and attendance.

/activities lists the activities the staff member may see (their own, and those to their
groups): those coming first, then the last that ended, a button each, and "new activity"
(bot/features/activities/compose.py). A card shows when and where, the check-in code to
show at the venue, the answers and the attendance so far, with "roster" (who answered what,
who came) and "mark attendance" (a button per member: ☐ marks them as come, ☑ takes it
back), and, until it starts, "change time / place / places" and "cancel activity"
(bot/features/activities/change.py). Every press is checked against the scope again;
another's activity reads as one that does not exist.
"""

from __future__ import annotations

from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.access import staff_button
from bot.context import LiaisonContext
from bot.features.activities.member import show_mine
from bot.replies import inline_keyboard, label, replace_buttons, reply
from bot.updates import command_argument, parse_id
from messages.callbacks import (
    ACTIVITY_CARD,
    ACTIVITY_CHANGE,
    ACTIVITY_MARK,
    ACTIVITY_MARKING,
    ACTIVITY_MINE,
    ACTIVITY_NEW,
    ACTIVITY_ROSTER,
)
from storage.activities import (
    ActivityCard,
    ActivityError,
    ActivityView,
    list_activities,
    mark_attendance,
    view_activity,
)
from storage.identity import Identity

# Buttons under a list or the marking sheet: Telegram shows a longer list badly on a phone;
# the command line (`liaison activity attendance`) takes any number.
LIST_BUTTONS = 20
MARK_BUTTONS = 40
TITLE_IN_BUTTON = 24


def _when(context: LiaisonContext, view: ActivityView) -> dict[str, str]:
    zone = context.services.settings.zone
    return {
        "starts": view.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "ends": view.ends_at.astimezone(zone).strftime("%H:%M"),
        "opens": view.opens_at.astimezone(zone).strftime("%H:%M"),
    }


def _short(title: str) -> str:
    return title if len(title) <= TITLE_IN_BUTTON else title[: TITLE_IN_BUTTON - 1] + "…"


async def show(update: Update, context: LiaisonContext) -> None:
    """/activities: the staff's list, or a member's own invitations."""
    staff = context.staff()
    if staff is not None:
        await _staff_list(update, context, *staff)
        return
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "activities/not_member")
        return
    await show_mine(update, context, identity.member_id)


async def _staff_list(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    argument = command_argument(update)
    if argument:
        activity_id = parse_id(argument)
        if activity_id is not None:
            await _card(update, context, identity, staff_id, activity_id)
            return
    now = context.now()
    async with context.services.db.session() as session:
        listed = await list_activities(session, now, staff_id=staff_id, actor=identity.actor)
    zone = context.services.settings.zone
    rows = [
        [
            (
                label(
                    context,
                    "activities.open",
                    id=view.id,
                    when=view.starts_at.astimezone(zone).strftime("%m-%d"),
                    title=_short(view.title),
                ),
                ACTIVITY_CARD.pack(view.id),
            )
        ]
        for view in listed[:LIST_BUTTONS]
    ]
    rows.append([(label(context, "activities.new"), ACTIVITY_NEW.pack())])
    if identity.member_id is not None:
        rows.append([(label(context, "activities.mine"), ACTIVITY_MINE.pack())])
    await reply(
        update,
        context,
        "activities/list",
        markup=inline_keyboard(rows),
        coming=[(v, _when(context, v)) for v in listed if v.ends_at > now],
        ended=[(v, _when(context, v)) for v in listed if v.ends_at <= now],
    )


def _card_buttons(
    context: LiaisonContext, view: ActivityView, now: datetime
) -> InlineKeyboardMarkup:
    rows = [[(label(context, "activities.roster"), ACTIVITY_ROSTER.pack(view.id))]]
    if not view.cancelled:
        rows.append([(label(context, "activities.marking"), ACTIVITY_MARKING.pack(view.id))])
        # Changes until it starts; a cancellation until it ends (bad weather on the day).
        if now < view.starts_at:
            rows.append(
                [
                    (
                        label(context, f"activities.change_{what}"),
                        ACTIVITY_CHANGE.pack(view.id, what),
                    )
                    for what in ("time", "place", "capacity")
                ]
            )
        if now < view.ends_at:
            rows.append(
                [
                    (
                        label(context, "activities.change_cancel"),
                        ACTIVITY_CHANGE.pack(view.id, "cancel"),
                    )
                ]
            )
    rows.append([(label(context, "activities.refresh"), ACTIVITY_CARD.pack(view.id))])
    return inline_keyboard(rows)


async def _view(
    context: LiaisonContext, identity: Identity, staff_id: int, activity_id: int
) -> ActivityCard | None:
    async with context.services.db.session() as session:
        return await view_activity(
            session, context.now(), activity_id, staff_id=staff_id, actor=identity.actor
        )


async def _card(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int, activity_id: int
) -> None:
    card = await _view(context, identity, staff_id, activity_id)
    if card is None:
        await reply(update, context, "activities/not_found", id=activity_id)
        return
    view = card.activity
    await reply(
        update,
        context,
        "activities/card",
        markup=_card_buttons(context, view, context.now()),
        a=view,
        kind=label(context, f"activities.kind_{view.kind.value}"),
        open_now=view.open_at(context.now()),
        cancelled=view.cancelled_at.astimezone(context.services.settings.zone).strftime(
            "%Y-%m-%d %H:%M"
        )
        if view.cancelled_at
        else "",
        **_when(context, view),
    )


async def card_pressed(update: Update, context: LiaisonContext) -> None:
    """An activity in the staff's list, or "refresh" under its card."""
    press = await staff_button(update, context, ACTIVITY_CARD)
    if press is None:
        return
    identity, staff_id, (activity_id,) = press
    await _card(update, context, identity, staff_id, activity_id)


async def roster_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Roster": who answered what, and who came (phones masked)."""
    press = await staff_button(update, context, ACTIVITY_ROSTER)
    if press is None:
        return
    identity, staff_id, (activity_id,) = press
    card = await _view(context, identity, staff_id, activity_id)
    if card is None:
        await reply(update, context, "activities/not_found", id=activity_id)
        return
    zone = context.services.settings.zone
    await reply(
        update,
        context,
        "activities/roster",
        markup=None,
        a=card.activity,
        lines=[
            (line, line.attended_at.astimezone(zone).strftime("%H:%M") if line.attended_at else "")
            for line in card.roster
        ],
        **_when(context, card.activity),
    )


def _mark_button(
    context: LiaisonContext, activity_id: int, member_id: int, name: str, attended: bool
) -> InlineKeyboardButton:
    key = "activities.mark_off" if attended else "activities.mark_on"
    return InlineKeyboardButton(
        label(context, key, name=name),
        callback_data=ACTIVITY_MARK.pack(activity_id, member_id, not attended),
    )


async def marking_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Mark attendance": a button per member, those coming first."""
    press = await staff_button(update, context, ACTIVITY_MARKING)
    if press is None:
        return
    identity, staff_id, (activity_id,) = press
    card = await _view(context, identity, staff_id, activity_id)
    if card is None:
        await reply(update, context, "activities/not_found", id=activity_id)
        return
    shown = card.roster[:MARK_BUTTONS]
    markup = InlineKeyboardMarkup(
        [
            [
                _mark_button(
                    context, activity_id, line.member_id, line.name, line.attended_at is not None
                )
            ]
            for line in shown
        ]
    )
    await reply(
        update,
        context,
        "activities/marking",
        markup=markup if shown else None,
        a=card.activity,
        shown=len(shown),
        more=len(card.roster) - len(shown),
        open_now=card.activity.open_at(context.now()) or context.now() >= card.activity.ends_at,
        **_when(context, card.activity),
    )


async def mark_pressed(update: Update, context: LiaisonContext) -> None:
    """☐ / ☑ on the marking sheet: the member marked as come (or not); the button follows."""
    press = await staff_button(update, context, ACTIVITY_MARK)
    if press is None:
        return
    identity, staff_id, (activity_id, member_id, attended) = press
    try:
        async with context.services.db.session() as session:
            marked = await mark_attendance(
                session,
                context.now(),
                activity_id,
                member_id=member_id,
                attended=attended,
                actor=identity.actor,
                staff_id=staff_id,
            )
    except ActivityError as error:
        await reply(update, context, "activities/mark_refused", reason=error.reason, id=activity_id)
        return
    query = update.callback_query
    assert query is not None
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return
    data = query.data
    rows = [
        [
            _mark_button(context, activity_id, member_id, marked.name, marked.attended)
            if button.callback_data == data
            else button
            for button in row
        ]
        for row in markup.inline_keyboard
    ]
    await replace_buttons(update, InlineKeyboardMarkup(rows))


async def mine_pressed(update: Update, context: LiaisonContext) -> None:
    """ "My invitations" under the list of a staff member who is also a member."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "activities/not_member")
        return
    await show_mine(update, context, identity.member_id)
