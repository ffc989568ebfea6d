"""The "received" button under a member's copy of a notice: a receipt, once."""

from __future__ import annotations

from telegram import Update

from bot.context import LiaisonContext
from bot.replies import inline_keyboard, label, replace_buttons
from messages.callbacks import NOTICE_ACK
from storage.notices import Ack, acknowledge_notice


async def received(update: Update, context: LiaisonContext) -> None:
    """Records a receipt for the member bound to the pressing account, once."""
    query = update.callback_query
    assert query is not None
    pressed = NOTICE_ACK.unpack(query.data)
    identity = context.identity
    if pressed is None or identity is None or identity.member_id is None:
        # A forwarded copy, or someone else's phone: nothing is recorded.
        await query.answer(text=label(context, "notices.ack_not_yours"))
        return
    (notice_id,) = pressed
    async with context.services.db.session() as session:
        outcome = await acknowledge_notice(
            session, context.now(), notice_id=notice_id, member_id=identity.member_id
        )
    if outcome is Ack.NOT_RECIPIENT:
        await query.answer(text=label(context, "notices.ack_not_yours"))
        return
    toast = "notices.ack_thanks" if outcome is Ack.FIRST else "notices.ack_again"
    await query.answer(text=label(context, toast))
    done = inline_keyboard([[(label(context, "notices.acknowledged"), NOTICE_ACK.pack(notice_id))]])
    # Unchanged (pressed twice) or too old to edit: the receipt is recorded all the same.
    await replace_buttons(update, done)
