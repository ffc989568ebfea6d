"""/checkin: the monthly check-in — where are you, how is work, anything you need — and /cancel.

One question per message, big buttons, and nothing is stored until the member confirms the
summary. The answers so far live in a Draft kept by the conversation engine (bot/flow.py):
/cancel, an old draft or an unbound account ends the conversation without saving.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telegram import Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.features.checkin.questions import (
    CONFIRM,
    CONSENT,
    NEEDS,
    NEEDS_TEXT,
    NOTE,
    PLACE,
    WORK,
    Draft,
    can_share,
    confirm_keyboard,
    confirm_values,
    consent_keyboard,
    consent_values,
    keeps_no_place,
    needs_keyboard,
    no_keyboard,
    note_keyboard,
    period_values,
    place_keyboard,
    place_values,
    province_only,
    work_keyboard,
)
from bot.features.checkin.saved import clock_in, saved_buttons
from bot.flow import END, Flow, Start, Step, pin, press, typed
from bot.replies import (
    REMOVE_KEYBOARD,
    edit,
    inline_keyboard,
    label,
    render,
    replace_buttons,
    reply,
)
from bot.updates import message_text, sender_id
from messages.callbacks import (
    CHECKIN_CONFIRM,
    CHECKIN_CONSENT,
    CHECKIN_NEEDS,
    CHECKIN_NOTE_SKIP,
    CHECKIN_RESTART,
    CHECKIN_WORK,
    CYCLE_CHECKIN_NOW,
)
from storage.checkins import (
    CHECKIN_FLOW,
    MAX_PLACE_LENGTH,
    CheckInError,
    Whereabouts,
    last_place,
    period_of,
    record_checkin,
)
from storage.consent import set_consent
from storage.coordinates import CoordinateError, check_point
from storage.identity import identify
from storage.models import Consent
from storage.zones import abroad_place


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
    if keeps_no_place(context):
        # They chose, withdrawing consent, that check-ins keep no place: not even asked.
        lead = render(context, "checkin/no_place", period=draft.period)
        return await FLOW.begin(update, context, draft, WORK, lead=lead)
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
        context.caller.identity = await identify(session, sender_id(update), context.platform)
    return await FLOW.ask(update, context, draft, PLACE, first=True)


def _unexpected_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"can_share": can_share(context)}


# --- step 1: where are you --------------------------------------------------------------


async def place_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    text = message_text(update).strip()
    limit = min(MAX_PLACE_LENGTH, context.services.settings.max_text_length)
    if len(text) > limit:
        return await _too_long(update, context, draft, text, limit)
    regions = context.services.regions
    region = regions.resolve_text(text)
    place: Whereabouts | None = Whereabouts.typed(text, region)
    if province_only(context):
        # Only the province is kept: what was typed goes at once, never into the draft.
        place = place.at_most_province(regions) if place else None
        if place is None:
            lead = render(context, "checkin/province_unknown", place=text)
            return await FLOW.again(update, context, draft, lead=lead)
    assert place is not None
    draft.place = place
    noted = render(
        context,
        "checkin/place_noted",
        place=place.label,
        recognised=place.region is not None,
        province_only=province_only(context),
    )
    return await FLOW.ask(update, context, draft, WORK, lead=noted)


async def place_shared(update: Update, context: LiaisonContext, draft: Draft) -> str:
    message = update.effective_message
    assert message is not None and message.location is not None
    if not can_share(context):
        # Declined (or withdrawn meanwhile): the pin is dropped here, never stored.
        refused = render(context, "checkin/pin_refused")
        return await FLOW.ask(update, context, draft, PLACE, lead=refused)
    try:
        latitude, longitude = check_point(message.location.latitude, message.location.longitude)
    except CoordinateError as error:
        # No Telegram client sends such a point; a forged or broken one is not kept.
        invalid = render(context, "checkin/pin_invalid", reason=error.reason)
        return await FLOW.ask(update, context, draft, PLACE, lead=invalid)
    region = context.services.regions.resolve_point(latitude, longitude)
    # Abroad: the country's name (offline) is the place, and its zone may be offered at the end.
    country = abroad_place(latitude, longitude, context.locale) if region is None else None
    if region is None and country is None:
        unknown = render(context, "checkin/pin_unknown")
        return await FLOW.ask(update, context, draft, PLACE, lead=unknown)
    place: Whereabouts | None = Whereabouts(
        text=country, region=region, latitude=latitude, longitude=longitude
    )
    if province_only(context):
        # Reduced at once: the coordinates never reach the draft, let alone a record.
        place = place.at_most_province(context.services.regions) if place else None
        if place is None:
            unknown = render(context, "checkin/pin_unknown")
            return await FLOW.ask(update, context, draft, PLACE, lead=unknown)
    assert place is not None
    draft.place = place
    noted = render(
        context,
        "checkin/place_noted",
        place=place.label,
        recognised=True,
        province_only=province_only(context),
    )
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
    assert draft.work is not None
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
    rows, zone = saved_buttons(context, checkin, draft.place)
    await reply(
        update,
        context,
        "checkin/saved",
        # Without buttons of its own, it takes down the place question's keyboard if still up.
        markup=inline_keyboard(rows) if rows else REMOVE_KEYBOARD,
        period=checkin.period,
        needs_help=checkin.needs_help,
        offer=checkin.needs_text is not None,
        zone=zone,
        zone_time=clock_in(context, zone) if zone else None,
    )
    return END


async def restart(update: Update, context: LiaisonContext, draft: Draft) -> str:
    fresh = Draft(period=draft.period, last_place=draft.last_place)
    return await FLOW.ask(update, context, fresh, WORK if keeps_no_place(context) else PLACE)


# --- the flow ---------------------------------------------------------------------------

FLOW = Flow(
    CHECKIN_FLOW,
    Draft,
    audience=Audience.MEMBERS,
    templates="checkin",
    not_member="checkin/not_member",
    starts=[
        Start(start_checkin, command="checkin"),
        Start(prompt_pressed, action=CYCLE_CHECKIN_NOW),
    ],
    steps={
        CONSENT: Step(
            "checkin/ask_consent",
            [press(CHECKIN_CONSENT, consent_answered)],
            keyboard=consent_keyboard,
            values=consent_values,
        ),
        PLACE: Step(
            "checkin/ask_place",
            [typed(place_typed), pin(place_shared)],
            keyboard=place_keyboard,
            values=place_values,
        ),
        WORK: Step("checkin/ask_work", [press(CHECKIN_WORK, work_chosen)], keyboard=work_keyboard),
        NOTE: Step(
            "checkin/ask_note",
            [typed(note_typed), press(CHECKIN_NOTE_SKIP, note_skipped)],
            keyboard=note_keyboard,
        ),
        NEEDS: Step(
            "checkin/ask_needs", [press(CHECKIN_NEEDS, needs_chosen)], keyboard=needs_keyboard
        ),
        NEEDS_TEXT: Step("checkin/ask_needs_text", [typed(needs_typed)], keyboard=no_keyboard),
        CONFIRM: Step(
            "checkin/ask_confirm",
            [press(CHECKIN_CONFIRM, confirmed), press(CHECKIN_RESTART, restart)],
            keyboard=confirm_keyboard,
            values=confirm_values,
        ),
    },
    unexpected_values=_unexpected_values,
    values=period_values,
)
