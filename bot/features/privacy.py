"""/privacy: what is kept about a member, why, who sees it; give or withdraw consent."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.replies import edit, inline_keyboard, label, reply
from bot.updates import sender_id
from messages.callbacks import (
    PRIVACY_CONSENT,
    RIGHTS_START_FIX,
    RIGHTS_START_LEAVE,
    feature_pattern,
)
from storage.consent import consent_status, set_consent
from storage.identity import identify
from storage.models import Consent

COMMANDS = (Command("privacy", Audience.EVERYONE),)


def _buttons(context: LiaisonContext, consent: Consent) -> InlineKeyboardMarkup:
    give = (label(context, "privacy.give"), PRIVACY_CONSENT.pack(Consent.GIVEN))
    if consent is Consent.GIVEN:
        rows = [[(label(context, "privacy.withdraw"), PRIVACY_CONSENT.pack(Consent.DECLINED))]]
    elif consent is Consent.DECLINED:
        rows = [[give]]
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
        markup=_buttons(context, status.consent),
        is_member=True,
        consent=status.consent,
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
    async with context.services.db.session() as session:
        await set_consent(session, context.now(), identity.member_id, wanted)
        context.caller.identity = await identify(session, sender_id(update))
    await edit(update, context, "privacy/changed", consent=wanted)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("privacy", show_privacy, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(change_consent, pattern=feature_pattern(PRIVACY_CONSENT.prefix)),
    ]
