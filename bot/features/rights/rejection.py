"""Rejecting a member's correction or deletion request: "reject" on its card, then the
reason, typed (the flow "rights_rejection"). The member reads the reason; nothing in their
record changes. A reason empty or too long is asked for again; a request decided meanwhile
is refused with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telegram import Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.features.rights.member import field_name
from bot.flow import END, Flow, Start, Step, typed
from bot.replies import Markup, inline_keyboard, label, render, reply
from bot.updates import message_text
from messages.callbacks import RIGHTS_REJECT, RIGHTS_REJECT_QUIT
from storage.models import DataRequestKind, StaffRole
from storage.rights import MAX_REASON_LENGTH, RightsError, get_request, reject

# Typing again can help these refusals; a request decided meanwhile cannot.
RETYPE_REASONS = ("reason_needed", "too_long")

REASON = "reason"


@dataclass(slots=True)
class Rejection:
    """The request being rejected. Only its number: a draft is stored, and what the member
    wrote is not copied into it."""

    request_id: int
    kind: DataRequestKind


async def reject_pressed(update: Update, context: LiaisonContext) -> str:
    """ "Reject" under a card: the reason is typed next (scope and role checked again)."""
    query = update.callback_query
    staff = context.staff()
    assert query is not None and staff is not None  # the flow's guard
    identity, staff_id = staff
    pressed = RIGHTS_REJECT.unpack(query.data)
    request_id = pressed[0] if pressed else 0
    found = None
    if pressed is not None:
        async with context.services.db.session() as session:
            found = await get_request(session, request_id, staff_id=staff_id)
    if found is None or not found.pending:
        reason = "not_found" if found is None else "decided"
        await reply(update, context, "rights/refused", reason=reason, id=request_id)
        return END
    if found.kind is DataRequestKind.DELETE and identity.staff_role is not StaffRole.ADMIN:
        await reply(update, context, "rights/refused", reason="admin_only", id=request_id)
        return END
    draft = Rejection(request_id=found.id, kind=found.kind)
    return await FLOW.begin(update, context, draft, REASON, field=field_name(context, found.field))


async def reason_typed(update: Update, context: LiaisonContext, draft: Rejection) -> str:
    staff = context.staff()
    assert staff is not None  # the flow's guard
    identity, staff_id = staff
    try:
        async with context.services.db.session() as session:
            found = await reject(
                session,
                context.now(),
                draft.request_id,
                reason=message_text(update),
                staff_id=staff_id,
                actor=identity.actor,
            )
    except RightsError as error:
        why = render(context, "rights/refused", reason=error.reason, id=draft.request_id)
        if error.reason in RETYPE_REASONS:
            return await FLOW.again(update, context, draft, lead=why)
        await FLOW.drop_buttons(update, context)
        await reply(update, context, "rights/refused", reason=error.reason, id=draft.request_id)
        return END
    await FLOW.drop_buttons(update, context)
    await reply(update, context, "rights/rejected", r=found)
    return END


def _keyboard(context: LiaisonContext, draft: Rejection) -> Markup:
    return inline_keyboard([[(label(context, "rights.cancel"), RIGHTS_REJECT_QUIT.pack())]])


def _values(context: LiaisonContext, draft: Rejection) -> Mapping[str, Any]:
    return {
        "id": draft.request_id,
        "kind": draft.kind.value,
        "field": "",
        "limit": MAX_REASON_LENGTH,
    }


FLOW = Flow(
    "rights_rejection",
    Rejection,
    audience=Audience.STAFF,
    templates="rights/rejection",
    starts=[Start(reject_pressed, action=RIGHTS_REJECT)],
    steps={REASON: Step("rights/ask_reject_reason", [typed(reason_typed)], keyboard=_keyboard)},
    cancel_action=RIGHTS_REJECT_QUIT,
    values=_values,
)
