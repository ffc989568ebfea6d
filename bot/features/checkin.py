"""/checkin: the monthly check-in — where are you, how is work, anything you need — and /cancel.

One question per message, big buttons, and nothing is stored until the member confirms the
summary. The answers so far live in a Draft kept by the conversation engine (bot/flow.py):
/cancel, an old draft or an unbound account ends the conversation without saving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.flow import END, Flow, Start, Step, pin, press, typed
from bot.replies import (
    REMOVE_KEYBOARD,
    Markup,
    edit,
    inline_keyboard,
    label,
    render,
    replace_buttons,
    reply,
    reply_keyboard,
)
from bot.updates import message_text, sender_id
from messages.callbacks import (
    CHECKIN_CONFIRM,
    CHECKIN_CONSENT,
    CHECKIN_KEEP_ZONE,
    CHECKIN_NEEDS,
    CHECKIN_NOTE_SKIP,
    CHECKIN_RESTART,
    CHECKIN_WORK,
    CHECKIN_ZONE,
    CYCLE_CHECKIN_NOW,
    REQUEST_FROM_CHECKIN,
)
from storage.checkins import (
    MAX_PLACE_LENGTH,
    CheckInError,
    Whereabouts,
    last_place,
    period_of,
    record_checkin,
)
from storage.consent import set_consent
from storage.identity import identify
from storage.members import set_timezone
from storage.models import CheckIn, Consent, Member, WorkSituation
from storage.zones import ZoneError, abroad_place, parse_zone, same_clock, zone_of_place

COMMANDS = (Command("checkin", Audience.MEMBERS), Command("cancel", Audience.EVERYONE))

# Steps, one per question.
CONSENT = "consent"
PLACE = "place"
WORK = "work"
NOTE = "note"
NEEDS = "needs"
NEEDS_TEXT = "needs_text"
CONFIRM = "confirm"

# An answer that comes this long after the previous one is not taken as a check-in answer
# ("你好" a week later is not a place): the draft is dropped instead.
IDLE_LIMIT = timedelta(hours=12)


@dataclass(slots=True)
class Draft:
    """The answers so far; stored only when the member confirms the summary."""

    period: str
    last_place: str | None
    place: Whereabouts | None = None
    work: WorkSituation | None = None
    note: str | None = None
    needs_help: bool = False
    needs_text: str | None = None


def _can_share(context: LiaisonContext) -> bool:
    identity = context.identity
    return identity is not None and identity.consent is Consent.GIVEN


def _work_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    # One per row: big targets for elderly members.
    return inline_keyboard(
        [[(label(context, f"checkin.work_{s.value}"), CHECKIN_WORK.pack(s))] for s in WorkSituation]
    )


def _consent_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "checkin.consent_given"), CHECKIN_CONSENT.pack(Consent.GIVEN))],
            [(label(context, "checkin.consent_declined"), CHECKIN_CONSENT.pack(Consent.DECLINED))],
        ]
    )


def _consent_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"store_coordinates": context.services.settings.store_coordinates}


def _place_keyboard(context: LiaisonContext, draft: Draft) -> Markup | None:
    rows = [[draft.last_place]] if draft.last_place else []
    share = label(context, "checkin.share_location") if _can_share(context) else None
    return reply_keyboard(rows, location_button=share) if rows or share else None


def _place_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"first": False, "can_share": _can_share(context), "last_place": draft.last_place}


def _note_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard([[(label(context, "checkin.skip"), CHECKIN_NOTE_SKIP.pack())]])


def _needs_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "checkin.needs_no"), CHECKIN_NEEDS.pack(False))],
            [(label(context, "checkin.needs_yes"), CHECKIN_NEEDS.pack(True))],
        ]
    )


def _no_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    # The place question's keyboard (one-time, but still there after a typed place) goes
    # with the first message that has no buttons of its own.
    return REMOVE_KEYBOARD


def _confirm_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "checkin.confirm"), CHECKIN_CONFIRM.pack())],
            [(label(context, "checkin.restart"), CHECKIN_RESTART.pack())],
        ]
    )


def _confirm_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    assert draft.place is not None and draft.work is not None
    return {
        "place": draft.place.label,
        "recognised": draft.place.region is not None or draft.place.is_pin,
        "work": label(context, f"checkin.work_{draft.work.value}"),
        "note": draft.note,
        "needs_help": draft.needs_help,
        "needs_text": draft.needs_text,
    }


def _period(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"period": draft.period}


async def _too_long(
    update: Update, context: LiaisonContext, draft: Draft, text: str, limit: int
) -> str:
    """Refuse an over-long answer and ask the same question again (the draft is kept)."""
    lead = render(context, "checkin/too_long", limit=limit, length=len(text))
    return await FLOW.again(update, context, draft, lead=lead)


async def _chosen(update: Update, context: LiaisonContext, question: str, answer: str) -> None:
    """Replace a question's buttons with the answer given, so the chat reads as a record."""
    FLOW.answered(context)
    await edit(
        update,
        context,
        "checkin/chosen",
        question=label(context, f"checkin.q_{question}"),
        answer=label(context, f"checkin.{answer}"),
    )


# --- the start ----------------------------------------------------------------------------


async def start_checkin(update: Update, context: LiaisonContext) -> str:
    """/checkin, or "Check in now" under the monthly prompt (again: from the first question)."""
    identity = context.identity
    assert identity is not None and identity.member_id is not None  # the flow's guard
    now = context.now()
    async with context.services.db.session() as session:
        place = await last_place(session, identity.member_id)
    draft = Draft(period=period_of(now, context.zone), last_place=place)
    if identity.consent is Consent.PENDING:
        # The consent question comes first: it decides whether a pin may be sent. Asked
        # here rather than sending the member off to /privacy and back.
        return await FLOW.begin(update, context, draft, CONSENT)
    return await FLOW.begin(update, context, draft, PLACE, first=True)


async def prompt_pressed(update: Update, context: LiaisonContext) -> str:
    """ "Check in now" under the monthly prompt: the same conversation as /checkin."""
    # The prompt's button has done its work; the question comes as a new message.
    await replace_buttons(update, None)
    return await start_checkin(update, context)


async def consent_answered(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    identity = context.identity
    assert query is not None and identity is not None and identity.member_id is not None
    answer = CHECKIN_CONSENT.unpack(query.data)
    if answer is None:
        return FLOW.step(context)
    given = answer == (Consent.GIVEN,)
    await _chosen(update, context, "consent", "consent_given" if given else "consent_declined")
    async with context.services.db.session() as session:
        await set_consent(
            session,
            context.now(),
            identity.member_id,
            Consent.GIVEN if given else Consent.DECLINED,
        )
        context.caller.identity = await identify(session, sender_id(update))
    return await FLOW.ask(update, context, draft, PLACE, first=True)


def _unexpected_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"can_share": _can_share(context)}


# --- step 1: where are you --------------------------------------------------------------


async def place_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    text = message_text(update).strip()
    limit = min(MAX_PLACE_LENGTH, context.services.settings.max_text_length)
    if len(text) > limit:
        return await _too_long(update, context, draft, text, limit)
    region = context.services.regions.resolve_text(text)
    draft.place = Whereabouts.typed(text, region)
    noted = render(
        context, "checkin/place_noted", place=draft.place.label, recognised=region is not None
    )
    return await FLOW.ask(update, context, draft, WORK, lead=noted)


async def place_shared(update: Update, context: LiaisonContext, draft: Draft) -> str:
    message = update.effective_message
    assert message is not None and message.location is not None
    if not _can_share(context):
        # Declined (or withdrawn meanwhile): the pin is dropped here, never stored.
        refused = render(context, "checkin/pin_refused")
        return await FLOW.ask(update, context, draft, PLACE, lead=refused)
    latitude, longitude = message.location.latitude, message.location.longitude
    region = context.services.regions.resolve_point(latitude, longitude)
    # Abroad: the country's name (offline) is the place, and its zone may be offered at the end.
    country = abroad_place(latitude, longitude, context.locale) if region is None else None
    if region is None and country is None:
        unknown = render(context, "checkin/pin_unknown")
        return await FLOW.ask(update, context, draft, PLACE, lead=unknown)
    draft.place = Whereabouts(text=country, region=region, latitude=latitude, longitude=longitude)
    noted = render(context, "checkin/place_noted", place=draft.place.label, recognised=True)
    return await FLOW.ask(update, context, draft, WORK, lead=noted)


# --- step 2: how is work ----------------------------------------------------------------


async def work_chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    chosen = CHECKIN_WORK.unpack(query.data)
    if chosen is None:
        return FLOW.step(context)
    (situation,) = chosen
    draft.work = situation
    await _chosen(update, context, "work", f"work_{situation.value}")
    return await FLOW.ask(update, context, draft, NOTE)


async def note_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    text = message_text(update).strip()
    limit = context.services.settings.max_text_length
    if len(text) > limit:
        return await _too_long(update, context, draft, text, limit)
    draft.note = text
    return await FLOW.ask(update, context, draft, NEEDS)


async def note_skipped(update: Update, context: LiaisonContext, draft: Draft) -> str:
    draft.note = None
    await _chosen(update, context, "note", "skip")
    return await FLOW.ask(update, context, draft, NEEDS)


# --- step 3: anything you need ----------------------------------------------------------


async def needs_chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    answer = CHECKIN_NEEDS.unpack(query.data)
    if answer is None:
        return FLOW.step(context)
    (draft.needs_help,) = answer
    draft.needs_text = None
    await _chosen(update, context, "needs", "needs_yes" if draft.needs_help else "needs_no")
    return await FLOW.ask(update, context, draft, NEEDS_TEXT if draft.needs_help else CONFIRM)


async def needs_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    text = message_text(update).strip()
    limit = context.services.settings.max_text_length
    if len(text) > limit:
        return await _too_long(update, context, draft, text, limit)
    draft.needs_text = text
    return await FLOW.ask(update, context, draft, CONFIRM)


# --- step 4: the summary ----------------------------------------------------------------


async def confirmed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    identity = context.identity
    settings = context.services.settings
    assert draft.place is not None and draft.work is not None
    checkin = None
    refused = "no_member"
    if identity is not None and identity.member_id is not None:
        try:
            async with context.services.db.session() as session:
                checkin = await record_checkin(
                    session,
                    context.now(),
                    member_id=identity.member_id,
                    zone=settings.zone,
                    location=draft.place,
                    work_situation=draft.work,
                    work_note=draft.note,
                    needs_help=draft.needs_help,
                    needs_text=draft.needs_text,
                    store_coordinates=settings.store_coordinates,
                )
        except CheckInError as error:
            refused = error.reason
    # Only now: if the database failed, the summary and its buttons are still there to retry.
    await FLOW.drop_buttons(update, context)
    if checkin is None:
        # Consent withdrawn, or the account unbound, while the check-in was filled in.
        await reply(update, context, "checkin/not_saved", reason=refused)
        return END
    # A need put in words may become a service request (bot/features/requests/member.py).
    offer = checkin.needs_text is not None
    rows = [_request_row(context, checkin.id)] if offer else []
    # The place is in another time zone: offer its clock for the monthly prompts, on this
    # same message (one message per turn).
    zone = _other_zone(context, draft.place)
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
    await reply(
        update,
        context,
        "checkin/saved",
        # Without buttons of its own, it takes down the place question's keyboard if still up.
        markup=inline_keyboard(rows) if rows else REMOVE_KEYBOARD,
        period=checkin.period,
        needs_help=checkin.needs_help,
        offer=offer,
        zone=zone,
        zone_time=_clock_in(context, zone) if zone else None,
    )
    return END


async def restart(update: Update, context: LiaisonContext, draft: Draft) -> str:
    fresh = Draft(period=draft.period, last_place=draft.last_place)
    return await FLOW.ask(update, context, fresh, PLACE)


def _other_zone(context: LiaisonContext, place: Whereabouts) -> str | None:
    """The zone of place when its clock differs from the member's (None: same, or unknown)."""
    found = zone_of_place(place)
    if found is None:
        return None
    return None if same_clock(ZoneInfo(found), context.zone, context.now()) else found


def _clock_in(context: LiaisonContext, zone: str) -> str:
    return context.now().astimezone(ZoneInfo(zone)).strftime("%H:%M")


def _request_row(context: LiaisonContext, checkin_id: int) -> list[tuple[str, str]]:
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
        await FLOW.stale_button(update, context)
        return
    if zone is None:
        await query.answer(text=label(context, "checkin.zone_kept"))
    else:
        toast = label(context, "checkin.zone_switched", zone=zone, time=_clock_in(context, zone))
        await query.answer(text=toast)
    # The choice is made: its row goes; the service-request button, if any, stays.
    rows = [_request_row(context, checkin.id)] if checkin.needs_text is not None else []
    await replace_buttons(update, inline_keyboard(rows) if rows else None)


# --- the flow ---------------------------------------------------------------------------

FLOW = Flow(
    "checkin",
    Draft,
    audience=Audience.MEMBERS,
    templates="checkin",
    not_member="checkin/not_member",
    idle_limit=IDLE_LIMIT,
    starts=[
        Start(start_checkin, command="checkin"),
        Start(prompt_pressed, action=CYCLE_CHECKIN_NOW),
    ],
    steps={
        CONSENT: Step(
            "checkin/ask_consent",
            [press(CHECKIN_CONSENT, consent_answered)],
            keyboard=_consent_keyboard,
            values=_consent_values,
        ),
        PLACE: Step(
            "checkin/ask_place",
            [typed(place_typed), pin(place_shared)],
            keyboard=_place_keyboard,
            values=_place_values,
        ),
        WORK: Step("checkin/ask_work", [press(CHECKIN_WORK, work_chosen)], keyboard=_work_keyboard),
        NOTE: Step(
            "checkin/ask_note",
            [typed(note_typed), press(CHECKIN_NOTE_SKIP, note_skipped)],
            keyboard=_note_keyboard,
        ),
        NEEDS: Step(
            "checkin/ask_needs", [press(CHECKIN_NEEDS, needs_chosen)], keyboard=_needs_keyboard
        ),
        NEEDS_TEXT: Step("checkin/ask_needs_text", [typed(needs_typed)], keyboard=_no_keyboard),
        CONFIRM: Step(
            "checkin/ask_confirm",
            [press(CHECKIN_CONFIRM, confirmed), press(CHECKIN_RESTART, restart)],
            keyboard=_confirm_keyboard,
            values=_confirm_values,
        ),
    },
    unexpected_values=_unexpected_values,
    values=_period,
)
FLOWS = (FLOW,)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [CallbackQueryHandler(zone_chosen, pattern=CHECKIN_ZONE.any_pattern)]
