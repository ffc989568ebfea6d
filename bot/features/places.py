"""/places: find a members' home, an activity centre or a service point.

/places shows big buttons: "share my location" and one per district (with many districts,
an inline list instead). A shared location, after /places or at any time outside a
conversation, is answered with the nearest three places, their distances and a map pin
each; a district's button (or `/places 江汉区`) lists that district's places, each with a
button that sends its pin.

Privacy: the coordinates a member shares live in this handler's local variables only. They
are not stored (no location report), not audited, not logged and not kept in user_data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.replies import REMOVE_KEYBOARD, inline_keyboard, label, reply, reply_keyboard
from bot.updates import message_text
from messages.callbacks import PLACES_DISTRICT, PLACES_PIN
from storage.coordinates import CoordinateError
from storage.places import (
    PlaceView,
    district_key,
    districts,
    find_district,
    nearest,
    place_by_id,
    places_in,
)

COMMANDS = (Command("places", Audience.EVERYONE),)

# Every district button starts with this mark (the label places.district in each locale),
# so a press is told from a typed message without remembering what was shown.
DISTRICT_MARK = "🏠"
# Up to this many districts are big buttons; more are an inline list under the message.
KEYBOARD_DISTRICTS = 8
# The inline list holds the districts with the most places (Telegram takes 100 buttons).
LISTED_DISTRICTS = 50
# A district's list shows this many places (with a pin button each); the rest are counted.
DISTRICT_SHOWN = 20
# How many nearest places a shared location gets.
NEAREST = 3
# A typed district name is quoted back at most this long.
QUOTE = 40


def _kinds(context: LiaisonContext) -> dict[str, str]:
    labels = context.services.renderer.labels(context.locale, "places")
    return {
        key.removeprefix("kind_"): text for key, text in labels.items() if key.startswith("kind_")
    }


def _argument(update: Update) -> str:
    parts = message_text(update).split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE else text[: QUOTE - 1] + "…"


async def show_places(update: Update, context: LiaisonContext) -> None:
    """/places: the location button and the districts; /places NAME: that district."""
    wanted = _argument(update)
    if wanted:
        await _show_district(update, context, wanted)
        return
    async with context.services.db.session() as session:
        found = await districts(session)
    if not found:
        await reply(update, context, "places/none_yet", markup=REMOVE_KEYBOARD)
        return
    share = label(context, "places.share_location")
    buttons = [label(context, "places.district", name=name) for name, _ in found]
    few = len(found) <= KEYBOARD_DISTRICTS
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)] if few else []
    await reply(
        update,
        context,
        "places/choose",
        markup=reply_keyboard(rows, location_button=share),
        districts=found,
        total=sum(count for _, count in found),
        listed=not few,
    )
    if not few:
        listed = found[:LISTED_DISTRICTS]
        keys = [PLACES_DISTRICT.pack(district_key(name)) for name, _ in listed]
        keyboard = inline_keyboard([[pair] for pair in zip(buttons, keys, strict=False)])
        await reply(
            update, context, "places/districts", markup=keyboard, count=len(found), shown=len(keys)
        )


async def location_shared(update: Update, context: LiaisonContext) -> None:
    """A shared location: the nearest places, each with its map pin. Nothing is stored."""
    message = update.effective_message
    assert message is not None and message.location is not None
    try:
        async with context.services.db.session() as session:
            found = await nearest(
                session, message.location.latitude, message.location.longitude, limit=NEAREST
            )
    except CoordinateError as error:
        # No Telegram client sends such a point; a forged or broken one is told so.
        await reply(update, context, "places/bad_location", reason=error.reason)
        return
    if not found:
        await reply(update, context, "places/none_yet", markup=REMOVE_KEYBOARD)
        return
    near_m = context.services.settings.places_near_km * 1000
    await reply(
        update,
        context,
        "places/nearest",
        markup=REMOVE_KEYBOARD,
        found=found,
        far=found[0].distance_m > near_m,
        near_km=context.services.settings.places_near_km,
        kinds=_kinds(context),
    )
    for near in found:
        await _pin(context, message.chat_id, near.place)


async def _pin(context: LiaisonContext, chat_id: int, place: PlaceView) -> None:
    await context.bot.send_venue(
        chat_id,
        latitude=place.latitude,
        longitude=place.longitude,
        title=place.name,
        address=place.address,
    )


async def _show_district(update: Update, context: LiaisonContext, wanted: str) -> None:
    async with context.services.db.session() as session:
        district = await find_district(session, wanted)
        found = await places_in(session, district) if district is not None else []
        known = await districts(session) if not found else []
    if not found:
        template = "places/unknown_district" if known else "places/none_yet"
        await reply(update, context, template, wanted=_quote(wanted), districts=known)
        return
    await _list_district(update, context, district or wanted, found)


async def _list_district(
    update: Update, context: LiaisonContext, district: str, found: Sequence[PlaceView]
) -> None:
    shown = found[:DISTRICT_SHOWN]
    pins = inline_keyboard(
        [[(label(context, "places.pin", name=p.name), PLACES_PIN.pack(p.id))] for p in shown]
    )
    await reply(
        update,
        context,
        "places/district",
        markup=pins,
        district=district,
        places=shown,
        more=len(found) - len(shown),
        kinds=_kinds(context),
    )


async def district_typed(update: Update, context: LiaisonContext) -> None:
    """A district's big button (its text, "🏠 江汉区")."""
    wanted = message_text(update).removeprefix(DISTRICT_MARK).strip()
    if not wanted:  # the mark alone: the choice again
        await show_places(update, context)
        return
    await _show_district(update, context, wanted)


async def district_pressed(update: Update, context: LiaisonContext) -> None:
    """A district in the inline list (with many districts)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    pressed = PLACES_DISTRICT.unpack(query.data)
    async with context.services.db.session() as session:
        district = await find_district(session, pressed[0]) if pressed is not None else None
        found = await places_in(session, district) if district is not None else []
    if district is None or not found:
        await query.answer(text=label(context, "places.gone_district"))
        return
    await query.answer()
    await _list_district(update, context, district, found)


async def pin_pressed(update: Update, context: LiaisonContext) -> None:
    """The pin button of a place in a district's list."""
    query = update.callback_query
    assert query is not None and query.data is not None
    pressed = PLACES_PIN.unpack(query.data)
    place: PlaceView | None = None
    if pressed is not None:
        async with context.services.db.session() as session:
            place = await place_by_id(session, *pressed)
    if place is None:
        await query.answer(text=label(context, "places.gone"))
        return
    await query.answer()
    chat = update.effective_chat
    assert chat is not None
    await _pin(context, chat.id, place)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("places", show_places, filters=private),
        # After the conversations (a check-in takes a shared location as its place).
        MessageHandler(private & filters.UpdateType.MESSAGE & filters.LOCATION, location_shared),
        MessageHandler(
            private & filters.UpdateType.MESSAGE & filters.Regex(f"^{re.escape(DISTRICT_MARK)}"),
            district_typed,
        ),
        CallbackQueryHandler(district_pressed, pattern=PLACES_DISTRICT.any_pattern),
        CallbackQueryHandler(pin_pressed, pattern=PLACES_PIN.any_pattern),
    ]
