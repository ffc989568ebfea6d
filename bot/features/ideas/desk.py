"""/ideas: the staff desk of members' ideas and opinions.

/ideas lists the ideas of the members in the staff member's scope, unanswered first
and newest first, a button for each; /ideas ID opens one. The card has "reply" (the reply
is typed next: bot/features/ideas/reply.py) and "adopt". Every press is checked against the
scope again.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.access import staff_button, staff_only
from bot.context import LiaisonContext
from bot.features.ideas.common import BUTTON_EXCERPT, LINE_EXCERPT, local, short
from bot.replies import inline_keyboard, label, replace_buttons, reply
from bot.updates import message_text, parse_id
from messages.callbacks import IDEAS_ADOPT, IDEAS_CARD, IDEAS_REPLY
from storage.ideas import (
    IdeaError,
    IdeaView,
    adopt,
    staff_desk,
    view_idea,
)
from storage.identity import Identity

# /ideas shows this many; the command line lists them all.
STAFF_SHOWN = 20


def _card_buttons(context: LiaisonContext, s: IdeaView) -> InlineKeyboardMarkup:
    rows = [
        [
            (
                label(context, "ideas.reply_again" if s.reply else "ideas.reply"),
                IDEAS_REPLY.pack(s.id),
            )
        ]
    ]
    if not s.adopted:
        rows.append([(label(context, "ideas.adopt"), IDEAS_ADOPT.pack(s.id))])
    return inline_keyboard(rows)


async def _show_card(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int, idea_id: int
) -> None:
    async with context.services.db.session() as session:
        found = await view_idea(
            session, context.now(), idea_id, staff_id=staff_id, actor=identity.actor
        )
    if found is None:
        await reply(update, context, "ideas/refused", reason="not_found", id=idea_id)
        return
    await reply(
        update,
        context,
        "ideas/card",
        markup=_card_buttons(context, found),
        s=found,
        created=local(context, found.created_at),
        replied=local(context, found.replied_at),
        adopted=local(context, found.adopted_at),
    )


@staff_only
async def ideas(update: Update, context: LiaisonContext, identity: Identity, staff_id: int) -> None:
    words = message_text(update).split()
    argument = words[1] if len(words) > 1 else ""
    if argument:
        idea_id = parse_id(argument)
        if idea_id is None or len(words) > 2:
            await reply(update, context, "ideas/usage")
            return
        await _show_card(update, context, identity, staff_id, idea_id)
        return
    async with context.services.db.session() as session:
        desk = await staff_desk(
            session, context.now(), staff_id=staff_id, actor=identity.actor, limit=STAFF_SHOWN
        )
    buttons = [
        [
            (
                label(
                    context,
                    f"ideas.line_{s.status.value}",
                    id=s.id,
                    name=s.member_name,
                    text=short(s.body, BUTTON_EXCERPT),
                ),
                IDEAS_CARD.pack(s.id),
            )
        ]
        for s in desk.shown
    ]
    await reply(
        update,
        context,
        "ideas/list",
        markup=inline_keyboard(buttons) if buttons else None,
        items=[(s, local(context, s.created_at), short(s.body, LINE_EXCERPT)) for s in desk.shown],
        unanswered=desk.unanswered,
        shown=STAFF_SHOWN,
    )


async def card_pressed(update: Update, context: LiaisonContext) -> None:
    """An idea's button in /ideas or under the alert of a new one."""
    press = await staff_button(update, context, IDEAS_CARD)
    if press is None:
        return
    identity, staff_id, pressed = press
    (idea_id,) = pressed
    await _show_card(update, context, identity, staff_id, idea_id)


async def adopt_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Adopt" on a card: the member hears it; the button goes."""
    press = await staff_button(update, context, IDEAS_ADOPT)
    if press is None:
        return
    identity, staff_id, pressed = press
    (idea_id,) = pressed
    try:
        # A button may be old or forged: the scope is checked again on every press.
        async with context.services.db.session() as session:
            found = await adopt(
                session, context.now(), idea_id, actor=identity.actor, staff_id=staff_id
            )
    except IdeaError as error:
        await reply(update, context, "ideas/refused", reason=error.reason, id=idea_id)
        return
    # The card's buttons as they now stand: "reply" stays, "adopt" goes.
    await replace_buttons(update, _card_buttons(context, found))
    await reply(update, context, "ideas/adopted", s=found)
