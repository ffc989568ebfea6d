"""Staff-only commands: one refusal for everyone else, before anything is looked up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from functools import wraps
from typing import Any

from telegram import Update

from bot.context import LiaisonContext
from bot.replies import reply
from storage.identity import Identity

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
