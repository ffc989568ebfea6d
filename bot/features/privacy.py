"""/privacy: what is kept about a member, why, who sees it; give or withdraw consent.

Declining or withdrawing consent to location asks what check-ins keep from then on, the
province or no place (PIPL Arts. 15, 28–29); the choice takes effect on the places already
stored too (storage.consent.withdraw_location_consent).
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.features.checkin.conversation import FLOW as CHECKIN_FLOW
from bot.replies import edit, inline_keyboard, label, reply
from bot.updates import sender_id
from messages.callbacks import (
    PRIVACY_CONSENT,
    PRIVACY_KEEP,
    RIGHTS_START_FIX,
    RIGHTS_START_LEAVE,
    feature_pattern,
)
from storage.consent import consent_status, set_consent, withdraw_location_consent
from storage.identity import identify
from storage.models import Consent, LocationPrecision

COMMANDS = (Command("privacy", Audience.EVERYONE),)


def _keep_rows(
    context: LiaisonContext, current: LocationPrecision | None = None
) -> list[list[tuple[str, str]]]:
    """A button for each choice of what check-ins keep, but the one in force."""
    return [
        [(label(context, f"privacy.keep_{precision.value}"), PRIVACY_KEEP.pack(precision))]
        for precision in LocationPrecision
        if precision is not current
    ]


def _buttons(
    context: LiaisonContext, consent: Consent, precision: LocationPrecision | None
) -> InlineKeyboardMarkup:
    give = (label(context, "privacy.give"), PRIVACY_CONSENT.pack(Consent.GIVEN))
    if consent is Consent.GIVEN:
        rows = [[(label(context, "privacy.withdraw"), PRIVACY_CONSENT.pack(Consent.DECLINED))]]
    elif consent is Consent.DECLINED:
        # Declined: agree after all, or change what check-ins keep meanwhile.
        rows = [[give], *_keep_rows(context, precision)]
    else:
        rows = [
            [give],
            [(label(context, "privacy.decline"), PRIVACY_CONSENT.pack(Consent.DECLINED))],
        ]
    # The rights to correct and to delete (bot/features/rights/member.py start the flows).
    rows.append([(label(context, "privacy.correct"), RIGHTS_START_FIX.pack())])
    rows.append([(label(context, "privacy.leave"), RIGHTS_START_LEAVE.pack())])
    return inline_keyboard(rows)


async def show_privacy(update: Update, context: LiaisonContext) -> None:
    identity = context.identity
    store_coordinates = context.services.settings.store_coordinates
    if identity is None or identity.member_id is None:
        await reply(
            update, context, "privacy/status", is_member=False, store_coordinates=store_coordinates
        )
        return
    async with context.services.db.session() as session:
        status = await consent_status(session, identity.member_id)
    await reply(
        update,
        context,
        "privacy/status",
        markup=_buttons(context, status.consent, status.precision),
        is_member=True,
        consent=status.consent,
        precision=status.precision,
        since=status.since,
        zone=context.zone,
        store_coordinates=store_coordinates,
    )


async def change_consent(update: Update, context: LiaisonContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    pressed = PRIVACY_CONSENT.unpack(query.data)
    if pressed is None:
        return
    (wanted,) = pressed
    identity = context.identity
    if identity is None or identity.member_id is None:
        await edit(update, context, "privacy/changed", consent=None)
        return
    if wanted is Consent.DECLINED:
        # Nothing changes before the member says what check-ins keep instead.
        await edit(update, context, "privacy/choose", markup=inline_keyboard(_keep_rows(context)))
        return
    async with context.services.db.session() as session:
        await set_consent(session, context.now(), identity.member_id, wanted)
        context.caller.identity = await identify(session, sender_id(update), context.platform)
    # Agreeing again counts for check-ins to come; what was reduced or erased stays so.
    restored = identity.location_precision is not None
    await edit(update, context, "privacy/changed", consent=wanted, restored=restored)


async def keep_chosen(update: Update, context: LiaisonContext) -> None:
    """The province or no place: consent is withdrawn, and what is stored reduced to that."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    pressed = PRIVACY_KEEP.unpack(query.data)
    if pressed is None:
        return
    (precision,) = pressed
    identity = context.identity
    if identity is None or identity.member_id is None:
        await edit(update, context, "privacy/changed", consent=None)
        return
    async with context.services.db.session() as session:
        withdrawal = await withdraw_location_consent(
            session, context.now(), identity.member_id, precision, context.services.regions
        )
        context.caller.identity = await identify(session, sender_id(update), context.platform)
    if not withdrawal.changed:
        return  # pressed twice: the first press's message says it all
    # A check-in being filled in may hold a pin: it ends (storage dropped its draft).
    await CHECKIN_FLOW.close(update, context)
    lead, context.lead = context.lead, None
    await edit(
        update,
        context,
        "privacy/changed",
        lead=lead,
        consent=Consent.DECLINED,
        precision=precision,
        coarsened=withdrawal.coarsened,
        erased=withdrawal.erased,
    )


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("privacy", show_privacy, filters=filters.ChatType.PRIVATE),
        # Before the feature's catch-all below, which would take these presses too.
        CallbackQueryHandler(keep_chosen, pattern=PRIVACY_KEEP.any_pattern),
        CallbackQueryHandler(change_consent, pattern=feature_pattern(PRIVACY_CONSENT.prefix)),
    ]
