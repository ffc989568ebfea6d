"""What the request modules share: names and labels, refusals, a change of status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram import Update

from bot.context import LiaisonContext
from bot.replies import label, replace_buttons, reply
from messages.requests import localized_name
from storage.models import RequestStatus
from storage.requests import RequestError, set_status

# Button labels are cut to this (a measure's title may be 200 characters).
BUTTON_TEXT = 40


def short(text: str) -> str:
    """A label that fits on a button."""
    return text if len(text) <= BUTTON_TEXT else text[: BUTTON_TEXT - 1] + "…"


def named(context: LiaisonContext) -> Callable[[Any], str]:
    """A catalogue name ({"zh": …, "en": …}) in the caller's language."""
    return lambda names: localized_name(names, context.locale)


def status_name(context: LiaisonContext) -> Callable[[Any], str]:
    """A request's status in words, in the caller's language."""
    return lambda status: label(context, f"requests.status_{getattr(status, 'value', status)}")


async def refused(update: Update, context: LiaisonContext, error: RequestError) -> None:
    """A refused operation, with its reason and the values that explain it."""
    await reply(
        update,
        context,
        "requests/refused",
        reason=error.reason,
        status_name=status_name(context),
        **error.values,
    )


def not_found(request_id: int) -> RequestError:
    """Not there, or not the caller's to see (the same answer: it reveals nothing)."""
    return RequestError("not found", "not_found", id=request_id)


async def change_status(
    update: Update,
    context: LiaisonContext,
    staff_id: int,
    request_id: int,
    status: RequestStatus,
    *,
    referred_to: str | None = None,
    answer: str | None = None,
) -> None:
    """A request moved to status by staff_id (a status button, or the typed answer that
    closes it); the member is told by storage when they should be."""
    try:
        async with context.services.db.session() as session:
            change = await set_status(
                session,
                context.now(),
                request_id,
                staff_id=staff_id,
                status=status,
                referred_to=referred_to,
                answer=answer,
            )
    except RequestError as error:
        await refused(update, context, error)
        return
    if update.callback_query is not None:
        await replace_buttons(update, None)
    await reply(
        update,
        context,
        "requests/staff/status_changed",
        id=change.request_id,
        status=label(context, f"requests.status_{change.status.value}"),
        told=change.member_told,
        referred_to=referred_to,
        answered=answer is not None,
    )
