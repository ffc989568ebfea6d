"""After the check-in: the buttons under "check-in saved" — turn the need into a service
request, and use the place's clock for the monthly prompts — and the zone's answer."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import Update

from bot.context import LiaisonContext
from bot.replies import inline_keyboard, label, replace_buttons, reply, retire_pressed_button
from messages.callbacks import CHECKIN_KEEP_ZONE, CHECKIN_ZONE, REQUEST_FROM_CHECKIN
from storage.checkins import Whereabouts
from storage.members import set_timezone
from storage.models import CheckIn, Member
from storage.zones import ZoneError, parse_zone, same_clock, zone_of_place


def other_zone(context: LiaisonContext, place: Whereabouts) -> str | None:
    """The zone of place when its clock differs from the member's (None: same, or unknown)."""
    found = zone_of_place(place)
    if found is None:
        return None
    return None if same_clock(ZoneInfo(found), context.zone, context.now()) else found


def clock_in(context: LiaisonContext, zone: str) -> str:
    return context.now().astimezone(ZoneInfo(zone)).strftime("%H:%M")


def request_row(context: LiaisonContext, checkin_id: int) -> list[tuple[str, str]]:
    return [(label(context, "requests.from_checkin"), REQUEST_FROM_CHECKIN.pack(checkin_id))]


async def zone_chosen(update: Update, context: LiaisonContext) -> None:
    """ "Switch" or "keep" under a saved check-in. Switching stores the zone (audited); a
    second press changes nothing and edits nothing."""
    query = update.callback_query
    assert query is not None and query.data is not None
    identity = context.identity
    pressed = CHECKIN_ZONE.unpack(query.data)
    checkin_id, choice = pressed if pressed is not None else (None, CHECKIN_KEEP_ZONE)
    try:
        zone = None if choice == CHECKIN_KEEP_ZONE else parse_zone(choice)
    except ZoneError:
        checkin_id = None
    checkin = None
    if checkin_id is not None and identity is not None and identity.member_id is not None:
        async with context.services.db.session() as session:
            checkin = await session.get(CheckIn, checkin_id)
            if checkin is not None and checkin.member_id != identity.member_id:
                checkin = None  # someone else's confirmation
            if checkin is not None and zone is not None:
                member = await session.get(Member, checkin.member_id)
                assert member is not None
                changed = await set_timezone(
                    session, context.now(), member=member, timezone=zone, actor=identity.actor
                )
                if not changed:
                    # Pressed twice: the zone is theirs already; nothing to store or edit.
                    await query.answer(text=label(context, "checkin.zone_already", zone=zone))
                    return
    if checkin is None:
        # Old, forged or someone else's: the buttons go, and the member is told why.
        await retire_pressed_button(update)
        await reply(update, context, "checkin/stale_button")
        return
    if zone is None:
        await query.answer(text=label(context, "checkin.zone_kept"))
    else:
        toast = label(context, "checkin.zone_switched", zone=zone, time=clock_in(context, zone))
        await query.answer(text=toast)
    # The choice is made: its row goes; the service-request button, if any, stays.
    rows = [request_row(context, checkin.id)] if checkin.needs_text is not None else []
    await replace_buttons(update, inline_keyboard(rows) if rows else None)


def saved_buttons(
    context: LiaisonContext, checkin: CheckIn, place: Whereabouts | None
) -> tuple[list[list[tuple[str, str]]], str | None]:
    """The rows under "check-in saved", and the other zone they offer (None: none)."""
    # A need put in words may become a service request (bot/features/requests/member.py).
    rows = [request_row(context, checkin.id)] if checkin.needs_text is not None else []
    # The place is in another time zone: offer its clock for the monthly prompts, on this
    # same message (one message per turn).
    zone = other_zone(context, place) if place is not None else None
    if zone is not None:
        rows.append(
            [
                (label(context, "checkin.zone_switch"), CHECKIN_ZONE.pack(checkin.id, zone)),
                (
                    label(context, "checkin.zone_keep"),
                    CHECKIN_ZONE.pack(checkin.id, CHECKIN_KEEP_ZONE),
                ),
            ]
        )
    return rows, zone
