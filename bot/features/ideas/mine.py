"""/myideas: a member's own ideas and opinions, with their status and reply; a button opens
one (also the button under a reply they were sent)."""

from __future__ import annotations

from telegram import Update

from bot.context import LiaisonContext
from bot.features.ideas.common import BUTTON_EXCERPT, LINE_EXCERPT, local, short
from bot.features.ideas.member import not_member_values
from bot.replies import inline_keyboard, label, reply
from messages.callbacks import IDEA_SHOW
from storage.ideas import my_idea, my_ideas

# /myideas shows this many; the command line lists them all.
SHOWN = 10


async def show_mine(update: Update, context: LiaisonContext) -> None:
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "ideas/not_member", **not_member_values(context))
        return
    async with context.services.db.session() as session:
        mine = await my_ideas(session, identity.member_id, limit=SHOWN)
    buttons = [
        [
            (
                label(context, "ideas.item", id=s.id, text=short(s.body, BUTTON_EXCERPT)),
                IDEA_SHOW.pack(s.id),
            )
        ]
        for s in mine
    ]
    await reply(
        update,
        context,
        "ideas/mine",
        markup=inline_keyboard(buttons) if buttons else None,
        items=[(s, local(context, s.created_at), short(s.body, LINE_EXCERPT)) for s in mine],
    )


async def show_pressed(update: Update, context: LiaisonContext) -> None:
    """An idea's button in /myideas, or under a reply: the whole of it, and the reply."""
    query = update.callback_query
    assert query is not None
    pressed = IDEA_SHOW.unpack(query.data)
    identity = context.identity
    found = None
    if pressed is not None and identity is not None and identity.member_id is not None:
        async with context.services.db.session() as session:
            found = await my_idea(session, identity.member_id, pressed[0])
    if found is None:
        # A forwarded copy, or someone else's phone: nothing is shown.
        await query.answer(text=label(context, "ideas.not_yours"))
        return
    await query.answer()
    await reply(
        update,
        context,
        "ideas/own",
        s=found,
        created=local(context, found.created_at),
        replied=local(context, found.replied_at),
        adopted=local(context, found.adopted_at),
    )
