"""Rejecting a certificate application: "reject" on a card, then the reason, typed.

The flow "certificate_rejection" holds the staff member's chat until the reason comes (or
/cancel): the next text typed is the reason, told to the applicant. A reason too long or
empty is asked for again; a certificate that moved on meanwhile is refused with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telegram import Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.features.certificates.desk import take_step
from bot.flow import END, Flow, Start, Step, typed
from bot.replies import Markup, inline_keyboard, label, render, reply
from bot.updates import message_text
from messages.callbacks import CERTIFICATE_REJECT, CERTIFICATE_REJECT_QUIT
from storage.certificates import MAX_NOTE_LENGTH, REJECTED, get_certificate

# The first question names the application; asked again, it says only what is wanted.
REASON = "reason"
RETYPE = "retype"

# Typing again can help these refusals; a certificate that moved on meanwhile cannot.
RETYPE_REASONS = ("note_too_long", "note_needed")


@dataclass(slots=True)
class Rejection:
    """The application being rejected, and its applicant's name for the question."""

    certificate_id: int
    member_name: str


async def reject_pressed(update: Update, context: LiaisonContext) -> str:
    """ "Reject" under a card: the reason is typed next (the scope is checked again)."""
    query = update.callback_query
    staff = context.staff()
    assert query is not None and staff is not None  # the flow's guard
    pressed = CERTIFICATE_REJECT.unpack(query.data)
    if pressed is None:
        await reply(update, context, "certificates/refused", reason="not_found")
        return END
    (certificate_id,) = pressed
    async with context.services.db.session() as session:
        view = await get_certificate(session, certificate_id, staff_id=staff[1])
    if view is None or not view.is_open:
        await reply(
            update,
            context,
            "certificates/refused",
            reason="not_found" if view is None else "wrong_step",
            id=certificate_id,
        )
        return END
    draft = Rejection(certificate_id=view.id, member_name=view.member_name)
    return await FLOW.begin(update, context, draft, REASON)


async def reason_typed(update: Update, context: LiaisonContext, draft: Rejection) -> str:
    staff = context.staff()
    assert staff is not None  # the flow's guard
    await FLOW.drop_buttons(update, context)
    note = message_text(update).strip()
    refused = await take_step(
        update, context, *staff, draft.certificate_id, REJECTED, note, retype=RETYPE_REASONS
    )
    if refused in RETYPE_REASONS:
        # One message: why, and the question again.
        why = render(context, "certificates/refused", reason=refused, id=draft.certificate_id)
        return await FLOW.ask(update, context, draft, RETYPE, lead=why)
    return END


async def not_text(update: Update, context: LiaisonContext, draft: Rejection) -> str:
    """A sticker or a photo: the reason must be typed."""
    return await FLOW.ask(update, context, draft, RETYPE)


def _keyboard(context: LiaisonContext, draft: Rejection) -> Markup:
    return inline_keyboard(
        [[(label(context, "certificates.cancel"), CERTIFICATE_REJECT_QUIT.pack())]]
    )


def _values(context: LiaisonContext, draft: Rejection) -> Mapping[str, Any]:
    return {"id": draft.certificate_id, "name": draft.member_name, "limit": MAX_NOTE_LENGTH}


FLOW = Flow(
    "certificate_rejection",
    Rejection,
    audience=Audience.STAFF,
    templates="certificates/rejection",
    starts=[Start(reject_pressed, action=CERTIFICATE_REJECT)],
    steps={
        REASON: Step("certificates/ask_reject_reason", [typed(reason_typed)], keyboard=_keyboard),
        RETYPE: Step(
            "certificates/ask_reject_reason_again", [typed(reason_typed)], keyboard=_keyboard
        ),
    },
    cancel_action=CERTIFICATE_REJECT_QUIT,
    unexpected=not_text,
    values=_values,
)
