"""/requests and a request's card: the staff's desk.

/requests lists the open requests of members in the caller's scope, oldest first, with age
and overdue marks; each opens a card (REQUEST_CARD) with take, assign, status, note and the
attachment. Each button is one operation, its scope checked again by storage (a button may
be old, forwarded or forged). What is typed (a note, a closing answer) is bot/features/
requests/typed.py.
"""

from __future__ import annotations

from typing import TypeVarTuple

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot.access import staff_button, staff_only
from bot.context import LiaisonContext
from bot.features.requests.common import (
    change_status,
    named,
    not_found,
    refused,
    short,
    status_name,
)
from bot.features.requests.typed import moved_on
from bot.replies import inline_keyboard, label, replace_buttons, reply, send_html
from messages.callbacks import (
    REQUEST_ASSIGN,
    REQUEST_ASSIGN_TO,
    REQUEST_CARD,
    REQUEST_CLOSE,
    REQUEST_FILE,
    REQUEST_NOTE,
    REQUEST_REFER,
    REQUEST_SET,
    REQUEST_STATUS,
    REQUEST_TAKE,
    Action,
)
from storage.identity import Identity
from storage.models import RequestStatus
from storage.requests import (
    CLOSED_STATUSES,
    RequestError,
    RequestView,
    allowed_statuses,
    assign,
    attachment_of,
    colleagues,
    open_card,
    request_card,
    staff_requests,
    take,
)

# /requests shows this many buttons (the text counts all).
OPEN_SHOWN = 30

Ts = TypeVarTuple("Ts")


@staff_only
async def show_open(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    now = context.now()
    async with context.services.db.session() as session:
        shown, total = await staff_requests(session, now, staff_id=staff_id, limit=OPEN_SHOWN)
    name = named(context)
    buttons = [
        [
            (
                short(
                    label(
                        context,
                        "requests.item",
                        id=v.id,
                        member=v.member_name,
                        category=name(v.category),
                        late=v.overdue(now),
                    )
                ),
                REQUEST_CARD.pack(v.id),
            )
        ]
        for v in shown
    ]
    await reply(
        update,
        context,
        "requests/staff_list",
        markup=inline_keyboard(buttons) if buttons else None,
        requests=shown,
        total=total,
        named=name,
        status_name=status_name(context),
        zone=context.services.settings.zone,
        now=now,
    )


def _card_markup(context: LiaisonContext, view: RequestView, staff_id: int) -> InlineKeyboardMarkup:
    rows: list[list[tuple[str, str]]] = []
    if view.is_open:
        if view.assignee_id != staff_id:
            rows.append([(label(context, "requests.take"), REQUEST_TAKE.pack(view.id))])
        rows.append([(label(context, "requests.status"), REQUEST_STATUS.pack(view.id))])
        rows.append([(label(context, "requests.assign"), REQUEST_ASSIGN.pack(view.id))])
    rows.append([(label(context, "requests.note"), REQUEST_NOTE.pack(view.id))])
    if view.attachment_file_id is not None:
        rows.append([(label(context, "requests.attachment"), REQUEST_FILE.pack(view.id))])
    return inline_keyboard(rows)


async def _staff_press(
    update: Update, context: LiaisonContext, pressed: Action[int, *Ts]
) -> tuple[int, tuple[int, *Ts]] | None:
    """A button of the desk: the caller's staff id and the values the button carries, the
    request's number first.

    Anyone else is refused; a forged press loses its buttons. A text left half-typed for
    another request ends here (the staff member went on to this one).
    """
    press = await staff_button(update, context, pressed)
    if press is None:
        return None
    _, staff_id, values = press
    await moved_on(update, context, values[0])
    return staff_id, values


async def card_pressed(update: Update, context: LiaisonContext) -> None:
    pressed = await _staff_press(update, context, REQUEST_CARD)
    if pressed is None:
        return
    staff_id, (request_id,) = pressed
    now = context.now()
    async with context.services.db.session() as session:
        view = await open_card(session, now, request_id, staff_id=staff_id)
    if view is None:
        await refused(update, context, not_found(request_id))
        return
    await reply(
        update,
        context,
        "requests/card",
        markup=_card_markup(context, view, staff_id),
        request=view,
        named=named(context),
        status_name=status_name(context),
        zone=context.services.settings.zone,
        now=now,
        age=max((now - view.created_at).days, 0),
    )


async def take_pressed(update: Update, context: LiaisonContext) -> None:
    pressed = await _staff_press(update, context, REQUEST_TAKE)
    if pressed is None:
        return
    staff_id, (request_id,) = pressed
    try:
        async with context.services.db.session() as session:
            change = await take(session, context.now(), request_id, staff_id=staff_id)
    except RequestError as error:
        await refused(update, context, error)
        return
    await reply(
        update,
        context,
        "requests/staff/taken",
        id=change.request_id,
        status=label(context, f"requests.status_{change.status.value}"),
    )


async def assign_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Assign to a colleague": the staff who may see the member, as buttons."""
    pressed = await _staff_press(update, context, REQUEST_ASSIGN)
    if pressed is None:
        return
    staff_id, (request_id,) = pressed
    try:
        async with context.services.db.session() as session:
            found = await colleagues(session, request_id, staff_id=staff_id)
    except RequestError as error:
        await refused(update, context, error)
        return
    others = [(other_id, name) for other_id, name in found if other_id != staff_id]
    rows = [
        [
            (
                short(label(context, "requests.assign_to", name=name)),
                REQUEST_ASSIGN_TO.pack(request_id, other_id),
            )
        ]
        for other_id, name in others
    ]
    await reply(
        update,
        context,
        "requests/staff/choose_colleague",
        markup=inline_keyboard(rows) if rows else None,
        id=request_id,
        count=len(others),
    )


async def assign_to_pressed(update: Update, context: LiaisonContext) -> None:
    pressed = await _staff_press(update, context, REQUEST_ASSIGN_TO)
    if pressed is None:
        return
    staff_id, (request_id, to_staff_id) = pressed
    try:
        async with context.services.db.session() as session:
            change = await assign(
                session,
                context.now(),
                request_id,
                staff_id=staff_id,
                to_staff_id=to_staff_id,
                zone=context.services.settings.zone,
            )
    except RequestError as error:
        await refused(update, context, error)
        return
    await replace_buttons(update, None)
    await reply(
        update, context, "requests/staff/assigned", id=change.request_id, name=change.assignee_name
    )


async def status_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Change status": the statuses the request may go to, as buttons."""
    pressed = await _staff_press(update, context, REQUEST_STATUS)
    if pressed is None:
        return
    staff_id, (request_id,) = pressed
    async with context.services.db.session() as session:
        view = await request_card(session, request_id, staff_id=staff_id)
    if view is None:
        await refused(update, context, not_found(request_id))
        return
    rows = []
    for status in allowed_statuses(view.status):
        # Closing asks for the answer the member gets (referred: where to, first).
        if status is RequestStatus.REFERRED:
            data = REQUEST_REFER.pack(request_id)
        elif status in CLOSED_STATUSES:
            data = REQUEST_CLOSE.pack(request_id, status)
        else:
            data = REQUEST_SET.pack(request_id, status)
        rows.append([(label(context, f"requests.set_{status.value}"), data)])
    await reply(
        update,
        context,
        "requests/staff/choose_status",
        markup=inline_keyboard(rows) if rows else None,
        id=request_id,
        status=label(context, f"requests.status_{view.status.value}"),
        closed=not rows,
    )


async def set_pressed(update: Update, context: LiaisonContext) -> None:
    """A status under "change status" (closing ones ask for the answer: typed.py)."""
    pressed = await _staff_press(update, context, REQUEST_SET)
    if pressed is None:
        return
    staff_id, (request_id, status) = pressed
    await change_status(update, context, staff_id, request_id, status)


async def file_pressed(update: Update, context: LiaisonContext) -> None:
    """The member's photo or document, sent again to the staff member who asked."""
    pressed = await _staff_press(update, context, REQUEST_FILE)
    if pressed is None:
        return
    staff_id, (request_id,) = pressed
    try:
        async with context.services.db.session() as session:
            view = await attachment_of(session, context.now(), request_id, staff_id=staff_id)
    except RequestError as error:
        await refused(update, context, error)
        return
    chat = update.effective_chat
    assert chat is not None and view.attachment_file_id is not None
    if context.lead is not None:
        # A text half-typed for another request ended: said before the file, which is no reply.
        lead, context.lead = context.lead, None
        await send_html(context, chat.id, lead)
    caption = f"#{view.id} {view.attachment_name or ''}".strip()
    try:
        if view.attachment_kind == "photo":
            await context.bot.send_photo(chat.id, view.attachment_file_id, caption=caption)
        else:
            await context.bot.send_document(chat.id, view.attachment_file_id, caption=caption)
    except TelegramError:
        # A file Telegram no longer has, or one from another bot.
        await reply(update, context, "requests/staff/attachment_failed", id=request_id)
