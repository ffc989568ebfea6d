"""/rights: the staff desk of members' correction and deletion requests.

/rights lists the pending requests of the members in the staff member's scope, oldest
first, a button each; /rights ID opens one (so does the button under the alert of a new
one). A correction's card has "approve" and "reject" (the reason typed next:
bot/features/rights/rejection.py); a deletion's card has, for an administrator, "erase"
(asked once more, since it cannot be undone) and "reject". Every press is checked against
the scope (and the role) again in storage/rights.py.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.access import staff_button, staff_only
from bot.context import LiaisonContext
from bot.features.rights.member import field_name
from bot.replies import inline_keyboard, label, replace_buttons, reply
from bot.updates import message_text, parse_id
from messages.callbacks import RIGHTS_APPROVE, RIGHTS_CARD, RIGHTS_ERASE, RIGHTS_REJECT, RIGHTS_WIPE
from storage.identity import Identity
from storage.models import DataRequestKind, StaffRole
from storage.rights import (
    DataRequestView,
    RightsError,
    approve_correction,
    confirm_deletion,
    get_request,
    pending_requests,
    view_request,
)

# /rights shows this many.
SHOWN = 20


def _card_buttons(
    context: LiaisonContext, identity: Identity, found: DataRequestView
) -> InlineKeyboardMarkup | None:
    if not found.pending:
        return None
    if found.kind is DataRequestKind.CORRECT:
        rows = [
            [(label(context, "rights.approve"), RIGHTS_APPROVE.pack(found.id))],
            [(label(context, "rights.reject"), RIGHTS_REJECT.pack(found.id))],
        ]
    elif identity.staff_role is StaffRole.ADMIN:
        rows = [
            [(label(context, "rights.erase"), RIGHTS_ERASE.pack(found.id))],
            [(label(context, "rights.reject"), RIGHTS_REJECT.pack(found.id))],
        ]
    else:
        return None  # a liaison sees a deletion request; an administrator decides it
    return inline_keyboard(rows)


async def _show_card(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int, request_id: int
) -> None:
    async with context.services.db.session() as session:
        found = await view_request(
            session, context.now(), request_id, staff_id=staff_id, actor=identity.actor
        )
    if found is None:
        await reply(update, context, "rights/refused", reason="not_found", id=request_id)
        return
    await reply(
        update,
        context,
        "rights/card",
        markup=_card_buttons(context, identity, found),
        r=found,
        field=field_name(context, found.field),
        admin=identity.staff_role is StaffRole.ADMIN,
        created=found.created_at.astimezone(context.zone).strftime("%Y-%m-%d %H:%M"),
    )


@staff_only
async def desk(update: Update, context: LiaisonContext, identity: Identity, staff_id: int) -> None:
    words = message_text(update).split()
    if len(words) > 1:
        request_id = parse_id(words[1])
        if request_id is None or len(words) > 2:
            await reply(update, context, "rights/usage")
            return
        await _show_card(update, context, identity, staff_id, request_id)
        return
    async with context.services.db.session() as session:
        shown = await pending_requests(
            session, context.now(), staff_id=staff_id, actor=identity.actor, limit=SHOWN
        )
    buttons = [
        [
            (
                label(context, f"rights.line_{r.kind.value}", id=r.id, name=r.member_name or ""),
                RIGHTS_CARD.pack(r.id),
            )
        ]
        for r in shown
    ]
    await reply(
        update,
        context,
        "rights/list",
        markup=inline_keyboard(buttons) if buttons else None,
        items=[(r, field_name(context, r.field)) for r in shown],
        shown=SHOWN,
    )


async def card_pressed(update: Update, context: LiaisonContext) -> None:
    """A request's button in /rights or under the alert of a new one."""
    press = await staff_button(update, context, RIGHTS_CARD)
    if press is None:
        return
    identity, staff_id, pressed = press
    await _show_card(update, context, identity, staff_id, pressed[0])


async def approve_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Approve" on a correction's card: the record changes, the member hears it."""
    press = await staff_button(update, context, RIGHTS_APPROVE)
    if press is None:
        return
    identity, staff_id, pressed = press
    (request_id,) = pressed
    try:
        async with context.services.db.session() as session:
            found = await approve_correction(
                session, context.now(), request_id, staff_id=staff_id, actor=identity.actor
            )
    except RightsError as error:
        await reply(update, context, "rights/refused", reason=error.reason, id=request_id)
        return
    await replace_buttons(update, None)
    await reply(update, context, "rights/approved", r=found, field=field_name(context, found.field))


async def erase_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Erase" on a deletion's card: asked once more, with what will go."""
    press = await staff_button(update, context, RIGHTS_ERASE)
    if press is None:
        return
    identity, staff_id, pressed = press
    (request_id,) = pressed
    if identity.staff_role is not StaffRole.ADMIN:
        await reply(update, context, "rights/refused", reason="admin_only", id=request_id)
        return
    async with context.services.db.session() as session:
        found = await get_request(session, request_id, staff_id=staff_id)
    if found is None or not found.pending or found.kind is not DataRequestKind.DELETE:
        reason = "not_found" if found is None or found.pending else "decided"
        await reply(update, context, "rights/refused", reason=reason, id=request_id)
        return
    await reply(
        update,
        context,
        "rights/erase_confirm",
        markup=inline_keyboard([[(label(context, "rights.wipe"), RIGHTS_WIPE.pack(request_id))]]),
        r=found,
    )


async def wipe_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Erase for good": everything that identifies the member goes, in one transaction."""
    press = await staff_button(update, context, RIGHTS_WIPE)
    if press is None:
        return
    identity, staff_id, pressed = press
    (request_id,) = pressed
    try:
        async with context.services.db.session() as session:
            report = await confirm_deletion(
                session, context.now(), request_id, staff_id=staff_id, actor=identity.actor
            )
    except RightsError as error:
        await reply(update, context, "rights/refused", reason=error.reason, id=request_id)
        return
    await replace_buttons(update, None)
    await reply(
        update,
        context,
        "rights/erased",
        id=request_id,
        deleted=sum(report.deleted.values()),
        anonymised=sum(report.anonymised.values()),
    )
