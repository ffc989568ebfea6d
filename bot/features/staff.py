"""/overdue and /member: what liaisons see of the members in their groups and units.

Everyone who is not staff gets the same polite refusal before anything is looked up, and
a member outside the liaison's scope looks exactly like one that does not exist. Staff
commands answer in private chats only: a group chat must never see member details.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.access import staff_only, staff_press
from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.replies import inline_keyboard, label, reply
from bot.updates import message_text
from messages.callbacks import STAFF_MEMBER_CARD
from storage.checkins import period_of
from storage.identity import Identity
from storage.overdue import view_overdue
from storage.scope import clean_query, open_member_card, search_members

COMMANDS = (Command("overdue", Audience.STAFF), Command("member", Audience.STAFF))

# A longer list is cut with "and N more": beyond this a liaison needs an export, not a chat.
OVERDUE_SHOWN = 200
# Buttons under one search result; a longer result asks for a more precise query.
MATCHES_SHOWN = 20


def _words(context: LiaisonContext) -> Mapping[str, str]:
    """Status, consent and situation words of the staff catalogue, for the templates."""
    return context.services.renderer.labels(context.locale, "staff")


@staff_only
async def overdue(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    now = context.now()
    async with context.services.db.session() as session:
        report = await view_overdue(
            session,
            now,
            actor=identity.actor,
            staff_id=staff_id,
            default_zone=context.services.settings.zone,
            limit=OVERDUE_SHOWN,
        )
    await reply(
        update,
        context,
        "staff/overdue",
        report=report,
        period=period_of(now, context.zone),
        words=_words(context),
    )


@staff_only
async def member(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    # The whole rest of the line: names may contain spaces ("Anna Schmidt").
    parts = message_text(update).split(maxsplit=1)
    query = clean_query(parts[1]) if len(parts) > 1 else ""
    if not query:
        await reply(update, context, "staff/member_usage")
        return
    now = context.now()
    async with context.services.db.session() as session:
        search, card = await search_members(
            session,
            now,
            staff_id=staff_id,
            actor=identity.actor,
            query=query,
            default_zone=context.services.settings.zone,
            limit=MATCHES_SHOWN,
        )
    if card is not None:
        await reply(update, context, "staff/card", card=card, words=_words(context))
    elif search.matches:
        buttons = [
            [
                (
                    label(context, "staff.card_button", name=match.name, phone=match.phone_masked),
                    STAFF_MEMBER_CARD.pack(match.member_id),
                )
            ]
            for match in search.matches
        ]
        await reply(
            update,
            context,
            "staff/matches",
            markup=inline_keyboard(buttons),
            search=search,
            words=_words(context),
        )
    else:
        await reply(update, context, "staff/not_found")


async def card_pressed(update: Update, context: LiaisonContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    press = await staff_press(update, context, STAFF_MEMBER_CARD)
    if press is None:
        return
    identity, staff_id, pressed = press
    member_id = pressed[0] if pressed is not None else None
    now = context.now()
    async with context.services.db.session() as session:
        # The button may be old or forged: the scope is checked again on every press.
        card = await open_member_card(
            session,
            now,
            staff_id=staff_id,
            actor=identity.actor,
            member_id=member_id,
            requested=STAFF_MEMBER_CARD.carried(query.data),
            default_zone=context.services.settings.zone,
        )
    if card is None:
        await reply(update, context, "staff/not_found")
        return
    await reply(update, context, "staff/card", card=card, words=_words(context))


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("overdue", overdue, filters=private),
        CommandHandler("member", member, filters=private),
        CallbackQueryHandler(card_pressed, pattern=STAFF_MEMBER_CARD.any_pattern),
    ]
