"""/checkin: the monthly check-in — where are you, how is work, anything you need — and /cancel.

One question per message, big buttons, and nothing is stored until the member confirms the
summary. The answers so far live in a Draft in chat_data; /cancel, an old draft or an
unbound account ends the conversation without saving.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.drafts import DraftStore, draft_conversation, drop_buttons, retire_pressed_button
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
    CHECKIN,
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
    feature_pattern,
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

# Conversation states, one per question.
CONSENT = "consent"
PLACE = "place"
WORK = "work"
NOTE = "note"
NEEDS = "needs"
NEEDS_TEXT = "needs_text"
CONFIRM = "confirm"
END = ConversationHandler.END
# Questions answered with a button; a typed line there gets a reminder to press one.
BUTTON_STEPS = frozenset({CONSENT, WORK, NEEDS, CONFIRM})

# Without a job queue the conversation never times out by itself: an answer that comes this
# long after the previous one is not taken as a check-in answer ("你好" a week later is not
# a place), the draft is dropped instead.
IDLE_LIMIT = timedelta(hours=12)

_DRAFT = "checkin.draft"


@dataclass(slots=True)
class Draft:
    """The answers so far; stored only when the member confirms the summary."""

    period: str
    touched_at: datetime
    last_place: str | None
    step: str = PLACE
    # The question whose inline buttons are showing, so they can be removed when stale.
    question_id: int | None = None
    place: Whereabouts | None = None
    work: WorkSituation | None = None
    note: str | None = None
    needs_help: bool = False
    needs_text: str | None = None


_DRAFTS = DraftStore(_DRAFT, Draft)
_get_draft = _DRAFTS.get
_set_draft = _DRAFTS.set


StepHandler = Callable[[Update, LiaisonContext, Draft], Awaitable[object]]


def _step(handler: StepHandler) -> Callable[[Update, LiaisonContext], Coroutine[Any, Any, object]]:
    """A state handler: gets the live draft, or ends the conversation if it is gone or old."""

    @wraps(handler)
    async def run(update: Update, context: LiaisonContext) -> object:
        if update.callback_query is not None:
            await update.callback_query.answer()
        draft = _get_draft(context)
        now = context.now()
        if draft is None or now - draft.touched_at > IDLE_LIMIT:
            if draft is not None:
                await _drop_buttons(update, context, draft)
            _set_draft(context, None)
            await reply(update, context, "checkin/expired", markup=REMOVE_KEYBOARD)
            return END
        draft.touched_at = now
        return await handler(update, context, draft)

    return run


_drop_buttons = drop_buttons


def _can_share(context: LiaisonContext) -> bool:
    identity = context.identity
    return identity is not None and identity.consent is Consent.GIVEN


def _work_keyboard(context: LiaisonContext) -> Markup:
    # One per row: big targets for elderly members.
    return inline_keyboard(
        [[(label(context, f"checkin.work_{s.value}"), CHECKIN_WORK.pack(s))] for s in WorkSituation]
    )


async def _ask(
    update: Update,
    context: LiaisonContext,
    draft: Draft,
    step: str,
    *,
    first: bool = False,
    lead: str | None = None,
) -> str:
    """Ask the question of step (again) and make it the current state.

    lead (the answer just noted, or why it was not taken) opens the same message.
    """
    await _drop_buttons(update, context, draft)
    draft.step = step
    markup: Markup | None = None
    values: dict[str, Any] = {}
    if step == CONSENT:
        markup = inline_keyboard(
            [
                [(label(context, "checkin.consent_given"), CHECKIN_CONSENT.pack(Consent.GIVEN))],
                [
                    (
                        label(context, "checkin.consent_declined"),
                        CHECKIN_CONSENT.pack(Consent.DECLINED),
                    )
                ],
            ]
        )
        values = {"store_coordinates": context.services.settings.store_coordinates}
    elif step == PLACE:
        can_share = _can_share(context)
        rows = [[draft.last_place]] if draft.last_place else []
        share = label(context, "checkin.share_location") if can_share else None
        if rows or share:
            markup = reply_keyboard(rows, location_button=share)
        values = {"first": first, "can_share": can_share, "last_place": draft.last_place}
    elif step == WORK:
        markup = _work_keyboard(context)
    elif step == NEEDS_TEXT:
        # The place question's keyboard (one-time, but still there after a typed place)
        # goes with the first message that has no buttons of its own.
        markup = REMOVE_KEYBOARD
    elif step == NOTE:
        markup = inline_keyboard([[(label(context, "checkin.skip"), CHECKIN_NOTE_SKIP.pack())]])
    elif step == NEEDS:
        markup = inline_keyboard(
            [
                [(label(context, "checkin.needs_no"), CHECKIN_NEEDS.pack(False))],
                [(label(context, "checkin.needs_yes"), CHECKIN_NEEDS.pack(True))],
            ]
        )
    elif step == CONFIRM:
        markup = inline_keyboard(
            [
                [(label(context, "checkin.confirm"), CHECKIN_CONFIRM.pack())],
                [(label(context, "checkin.restart"), CHECKIN_RESTART.pack())],
            ]
        )
        assert draft.place is not None and draft.work is not None
        values = {
            "place": draft.place.label,
            "recognised": draft.place.region is not None or draft.place.is_pin,
            "work": label(context, f"checkin.work_{draft.work.value}"),
            "note": draft.note,
            "needs_help": draft.needs_help,
            "needs_text": draft.needs_text,
        }
    message = await reply(
        update,
        context,
        f"checkin/ask_{step}",
        markup=markup,
        lead=lead,
        period=draft.period,
        **values,
    )
    if isinstance(markup, InlineKeyboardMarkup):
        draft.question_id = message.message_id
    return step


async def _too_long(
    update: Update, context: LiaisonContext, draft: Draft, text: str, limit: int
) -> str:
    """Refuse an over-long answer and ask the same question again (the draft is kept)."""
    lead = render(context, "checkin/too_long", limit=limit, length=len(text))
    return await _ask(update, context, draft, draft.step, lead=lead)


async def _chosen(
    update: Update, context: LiaisonContext, draft: Draft, question: str, answer: str
) -> None:
    """Replace a question's buttons with the answer given, so the chat reads as a record."""
    draft.question_id = None
    await edit(
        update,
        context,
        "checkin/chosen",
        question=label(context, f"checkin.q_{question}"),
        answer=label(context, f"checkin.{answer}"),
    )


# --- entry, /cancel and the unexpected --------------------------------------------------


async def start_checkin(update: Update, context: LiaisonContext) -> object:
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "checkin/not_member")
        return END
    previous = _get_draft(context)
    if previous is not None:
        await _drop_buttons(update, context, previous)
    now = context.now()
    async with context.services.db.session() as session:
        place = await last_place(session, identity.member_id)
    draft = Draft(period=period_of(now, context.zone), touched_at=now, last_place=place)
    _set_draft(context, draft)
    if identity.consent is Consent.PENDING:
        # The consent question comes first: it decides whether a pin may be sent. Asked
        # here rather than sending the member off to /privacy and back.
        return await _ask(update, context, draft, CONSENT)
    return await _ask(update, context, draft, PLACE, first=True)


@_step
async def consent_answered(update: Update, context: LiaisonContext, draft: Draft) -> object:
    query = update.callback_query
    identity = context.identity
    assert query is not None and query.data is not None
    if identity is None or identity.member_id is None:
        _set_draft(context, None)
        await reply(update, context, "checkin/not_member")
        return END
    answer = CHECKIN_CONSENT.unpack(query.data)
    if answer is None:
        return draft.step
    given = answer == (Consent.GIVEN,)
    draft.question_id = None
    await edit(
        update,
        context,
        "checkin/chosen",
        question=label(context, "checkin.q_consent"),
        answer=label(context, "checkin.consent_given" if given else "checkin.consent_declined"),
    )
    async with context.services.db.session() as session:
        await set_consent(
            session,
            context.now(),
            identity.member_id,
            Consent.GIVEN if given else Consent.DECLINED,
        )
        context.caller.identity = await identify(session, sender_id(update))
    return await _ask(update, context, draft, PLACE, first=True)


async def prompt_pressed(update: Update, context: LiaisonContext) -> object:
    """ "Check in now" under the monthly prompt: the same conversation as /checkin."""
    await retire_pressed_button(update)
    return await start_checkin(update, context)


async def cancel(update: Update, context: LiaisonContext) -> object:
    draft = _get_draft(context)
    if draft is not None:
        await _drop_buttons(update, context, draft)
    _set_draft(context, None)
    await reply(update, context, "checkin/cancelled", markup=REMOVE_KEYBOARD)
    return END


async def stale_button(update: Update, context: LiaisonContext) -> None:
    """A check-in button from a finished or abandoned check-in: remove it and say so."""
    await retire_pressed_button(update)
    await reply(update, context, "checkin/stale_button")


@_step
async def unexpected(update: Update, context: LiaisonContext, draft: Draft) -> object:
    """A sticker, photo or a typed line where a button is expected: say what to do, ask again."""
    lead = render(
        context,
        "checkin/unexpected",
        step=draft.step,
        buttons=draft.step in BUTTON_STEPS,
        can_share=_can_share(context),
    )
    return await _ask(update, context, draft, draft.step, lead=lead)


# --- step 1: where are you --------------------------------------------------------------


@_step
async def place_typed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    text = message_text(update).strip()
    limit = min(MAX_PLACE_LENGTH, context.services.settings.max_text_length)
    if len(text) > limit:
        return await _too_long(update, context, draft, text, limit)
    region = context.services.regions.resolve_text(text)
    draft.place = Whereabouts.typed(text, region)
    noted = render(
        context, "checkin/place_noted", place=draft.place.label, recognised=region is not None
    )
    return await _ask(update, context, draft, WORK, lead=noted)


@_step
async def place_shared(update: Update, context: LiaisonContext, draft: Draft) -> object:
    message = update.effective_message
    assert message is not None and message.location is not None
    if not _can_share(context):
        # Declined (or withdrawn meanwhile): the pin is dropped here, never stored.
        refused = render(context, "checkin/pin_refused")
        return await _ask(update, context, draft, PLACE, lead=refused)
    latitude, longitude = message.location.latitude, message.location.longitude
    region = context.services.regions.resolve_point(latitude, longitude)
    # Abroad: the country's name (offline) is the place, and its zone may be offered at the end.
    country = abroad_place(latitude, longitude, context.locale) if region is None else None
    if region is None and country is None:
        unknown = render(context, "checkin/pin_unknown")
        return await _ask(update, context, draft, PLACE, lead=unknown)
    draft.place = Whereabouts(text=country, region=region, latitude=latitude, longitude=longitude)
    noted = render(context, "checkin/place_noted", place=draft.place.label, recognised=True)
    return await _ask(update, context, draft, WORK, lead=noted)


# --- step 2: how is work ----------------------------------------------------------------


@_step
async def work_chosen(update: Update, context: LiaisonContext, draft: Draft) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    chosen = CHECKIN_WORK.unpack(query.data)
    if chosen is None:
        return draft.step
    (situation,) = chosen
    draft.work = situation
    await _chosen(update, context, draft, "work", f"work_{situation.value}")
    return await _ask(update, context, draft, NOTE)


@_step
async def note_typed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    text = message_text(update).strip()
    limit = context.services.settings.max_text_length
    if len(text) > limit:
        return await _too_long(update, context, draft, text, limit)
    draft.note = text
    return await _ask(update, context, draft, NEEDS)


@_step
async def note_skipped(update: Update, context: LiaisonContext, draft: Draft) -> object:
    draft.note = None
    await _chosen(update, context, draft, "note", "skip")
    return await _ask(update, context, draft, NEEDS)


# --- step 3: anything you need ----------------------------------------------------------


@_step
async def needs_chosen(update: Update, context: LiaisonContext, draft: Draft) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    answer = CHECKIN_NEEDS.unpack(query.data)
    if answer is None:
        return draft.step
    (draft.needs_help,) = answer
    draft.needs_text = None
    await _chosen(update, context, draft, "needs", "needs_yes" if draft.needs_help else "needs_no")
    return await _ask(update, context, draft, NEEDS_TEXT if draft.needs_help else CONFIRM)


@_step
async def needs_typed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    text = message_text(update).strip()
    limit = context.services.settings.max_text_length
    if len(text) > limit:
        return await _too_long(update, context, draft, text, limit)
    draft.needs_text = text
    return await _ask(update, context, draft, CONFIRM)


# --- step 4: the summary ----------------------------------------------------------------


@_step
async def confirmed(update: Update, context: LiaisonContext, draft: Draft) -> object:
    identity = context.identity
    settings = context.services.settings
    assert draft.place is not None and draft.work is not None
    checkin = None
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
        except CheckInError:
            checkin = None
    # Only now: if the database failed, the summary and its buttons are still there to retry.
    await _drop_buttons(update, context, draft)
    _set_draft(context, None)
    if checkin is None:
        # Consent withdrawn or the account unbound while the check-in was being filled in.
        await reply(update, context, "checkin/not_saved")
        return END
    # A need put in words may become a service request (bot/features/requests.py).
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
        await retire_pressed_button(update)
        await reply(update, context, "checkin/stale_button")
        return
    if zone is None:
        await query.answer(text=label(context, "checkin.zone_kept"))
    else:
        toast = label(context, "checkin.zone_switched", zone=zone, time=_clock_in(context, zone))
        await query.answer(text=toast)
    # The choice is made: its row goes; the service-request button, if any, stays.
    rows = [_request_row(context, checkin.id)] if checkin.needs_text is not None else []
    await replace_buttons(update, inline_keyboard(rows) if rows else None)


@_step
async def restart(update: Update, context: LiaisonContext, draft: Draft) -> object:
    await _drop_buttons(update, context, draft)
    fresh = Draft(period=draft.period, touched_at=draft.touched_at, last_place=draft.last_place)
    _set_draft(context, fresh)
    return await _ask(update, context, fresh, PLACE)


# --- wiring -----------------------------------------------------------------------------


def _conversation() -> ConversationHandler[LiaisonContext]:
    private = filters.ChatType.PRIVATE
    # New messages only: an edited message is not an answer (fallback says so).
    typed = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND

    return draft_conversation(
        entry_points=[
            CommandHandler("checkin", start_checkin, filters=private),
            CallbackQueryHandler(prompt_pressed, pattern=CYCLE_CHECKIN_NOW.pattern),
        ],
        states={
            CONSENT: [CallbackQueryHandler(consent_answered, pattern=CHECKIN_CONSENT.pattern)],
            PLACE: [
                MessageHandler(typed, place_typed),
                MessageHandler(filters.UpdateType.MESSAGE & filters.LOCATION, place_shared),
            ],
            WORK: [CallbackQueryHandler(work_chosen, pattern=CHECKIN_WORK.any_pattern)],
            NOTE: [
                MessageHandler(typed, note_typed),
                CallbackQueryHandler(note_skipped, pattern=CHECKIN_NOTE_SKIP.pattern),
            ],
            NEEDS: [CallbackQueryHandler(needs_chosen, pattern=CHECKIN_NEEDS.pattern)],
            NEEDS_TEXT: [MessageHandler(typed, needs_typed)],
            CONFIRM: [
                CallbackQueryHandler(confirmed, pattern=CHECKIN_CONFIRM.pattern),
                CallbackQueryHandler(restart, pattern=CHECKIN_RESTART.pattern),
            ],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, unexpected),
        ],
        # /checkin in the middle starts again from the first question.
        allow_reentry=True,
        name="checkin",
    )


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [
        _conversation(),
        CallbackQueryHandler(zone_chosen, pattern=CHECKIN_ZONE.any_pattern),
        # Reached only outside a check-in (or by an old button within one).
        CallbackQueryHandler(stale_button, pattern=feature_pattern(CHECKIN)),
    ]
