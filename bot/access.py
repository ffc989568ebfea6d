"""Staff-only commands and buttons: one refusal for everyone else, before anything is looked
up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from functools import wraps
from typing import Any, TypeVarTuple

from telegram import Update

from bot.context import LiaisonContext
from bot.replies import label, replace_buttons, reply
from messages.callbacks import Action
from storage.identity import Identity

Ts = TypeVarTuple("Ts")

StaffHandler = Callable[[Update, LiaisonContext, Identity, int], Awaitable[None]]


async def refuse(update: Update, context: LiaisonContext) -> None:
    """The same polite refusal for every staff command; it reveals nothing."""
    await reply(update, context, "staff/refused")


def staff_only(
    handler: StaffHandler,
) -> Callable[[Update, LiaisonContext], Coroutine[Any, Any, None]]:
    """A command handler for staff: called with the caller's identity and staff id."""

    @wraps(handler)
    async def run(update: Update, context: LiaisonContext) -> None:
        staff = context.staff()
        if staff is None:
            await refuse(update, context)
            return
        identity, staff_id = staff
        await handler(update, context, identity, staff_id)

    return run


async def staff_press(
    update: Update, context: LiaisonContext, action: Action[*Ts]
) -> tuple[Identity, int, tuple[*Ts] | None] | None:
    """A staff button pressed: the press answered, anyone else refused (None). Else the
    staff member and what the button carries, None if forged or stale (for the handler to
    answer as such: remove the buttons, say so, audit the attempt).

    Pressed in a group chat, whoever pressed it: a toast pointing to the private chat and
    None, before anything is looked up, so that no member's details reach the group.
    """
    query = update.callback_query
    assert query is not None
    chat = update.effective_chat
    if chat is None or chat.type != chat.PRIVATE:
        await query.answer(label(context, "staff.private_only"), show_alert=False)
        return None
    await query.answer()
    staff = context.staff()
    if staff is None:
        await refuse(update, context)
        return None
    identity, staff_id = staff
    return identity, staff_id, action.unpack(query.data)


async def staff_button(
    update: Update, context: LiaisonContext, action: Action[*Ts]
) -> tuple[Identity, int, tuple[*Ts]] | None:
    """staff_press for a button with nothing to say about a forged or stale press: that
    press loses its buttons and is done with (None), as is a refused one."""
    press = await staff_press(update, context, action)
    if press is None:
        return None
    identity, staff_id, values = press
    if values is None:
        await replace_buttons(update, None)
        return None
    return identity, staff_id, values
