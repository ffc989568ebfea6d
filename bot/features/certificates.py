"""/certificate (members) and /certificates (staff): activity certificates in the chat.

A member without an application applies in a short conversation: an inflow member is first
asked whether their origin issued a certificate (if not, it is a reverse issuance); then the
origin organisation, the destination, the reason and the expected months away; then a
preview to confirm. Nothing is stored before "apply". With an application, /certificate
shows its status and history (and "withdraw" while it is open).

Staff: /certificates lists the applications in their scope awaiting a step (and issued
certificates whose yearly review is due), one card each, with buttons for the next step,
reject (the reason is asked for) and the letter to the origin organisation as a PDF.
/certificates ID shows one card. Every press is checked against the scope again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.access import refuse, staff_only
from bot.commands import Audience, Command
from bot.context import LiaisonContext
from bot.drafts import DraftStore, draft_conversation, drop_buttons, retire_pressed_button
from bot.replies import inline_keyboard, label, render, replace_buttons, reply
from bot.updates import message_text, parse_id
from messages.callbacks import (
    CERTIFICATE_AGAIN,
    CERTIFICATE_CONFIRM,
    CERTIFICATE_ISSUED,
    CERTIFICATE_LETTER,
    CERTIFICATE_MONTHS,
    CERTIFICATE_NEW,
    CERTIFICATE_QUIT,
    CERTIFICATE_REJECT,
    CERTIFICATE_REJECT_QUIT,
    CERTIFICATE_STEP,
    CERTIFICATE_WITHDRAW,
    Action,
    feature_pattern,
)
from messages.letters import letter_filename, letter_html, letter_pdf
from storage import audit
from storage.certificates import (
    MAX_MONTHS,
    MAX_ORGANISATION_LENGTH,
    MAX_REASON_LENGTH,
    OPEN,
    REVIEW_WINDOW,
    CertificateError,
    CertificateView,
    advance,
    apply,
    check_organisation,
    check_reason,
    get_certificate,
    letter_data,
    list_certificates,
    member_certificate,
    parse_months,
    withdraw,
)
from storage.identity import Identity
from storage.models import CertificateStatus, Member, MemberStatus

COMMANDS = (
    Command("certificate", Audience.MEMBERS),
    Command("certificates", Audience.STAFF),
)

# Conversation states of /certificate.
ISSUED = "issued"
ORIGIN = "origin"
DESTINATION = "destination"
REASON = "reason"
MONTHS = "months"
PREVIEW = "preview"
# The staff member's reason for rejecting.
REJECT_REASON = "reject_reason"
END = ConversationHandler.END

IDLE_LIMIT = timedelta(hours=12)
# /certificates shows this many cards; /certificates ID reaches any other.
CARDS_SHOWN = 10
MONTH_CHOICES = (6, 12, 24)


@dataclass(slots=True)
class Application:
    """The member's answers so far; stored only when they press "apply"."""

    touched_at: datetime
    step: str = ORIGIN
    reverse: bool = False
    origin: str | None = None
    destination: str | None = None
    reason: str | None = None
    months: int | None = None
    question_id: int | None = None


@dataclass(slots=True)
class Rejection:
    """A staff member is typing why a certificate is rejected."""

    certificate_id: int
    touched_at: datetime
    question_id: int | None = None


_APPLICATIONS = DraftStore("certificates.application", Application)
_REJECTIONS = DraftStore("certificates.rejection", Rejection)


async def _answer(update: Update, text: str | None = None) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text=text)


def _view_values(context: LiaisonContext, view: CertificateView) -> dict[str, Any]:
    zone = context.zone
    return {
        "c": view,
        "status_name": label(context, f"certificates.step_{view.status.value}"),
        "events": [
            {
                "at": event.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "step": label(context, f"certificates.step_{event.step}"),
                "who": event.actor_name,
                "note": event.note,
            }
            for event in view.events
        ],
        "member_kind": label(context, f"certificates.member_{view.member_status.value}"),
    }


# --- members: /certificate ----------------------------------------------------------------------


async def _member(context: LiaisonContext) -> Member | None:
    identity = context.identity
    if identity is None or identity.member_id is None:
        return None
    async with context.services.db.session() as session:
        return await session.get(Member, identity.member_id)


async def start(update: Update, context: LiaisonContext) -> object:
    """/certificate: the status of my application, or a new one."""
    member = await _member(context)
    if member is None:
        await reply(update, context, "certificates/not_member")
        return END
    async with context.services.db.session() as session:
        view = await member_certificate(session, member.id)
    if view is not None:
        buttons: list[list[tuple[str, str]]] = []
        if view.is_open:
            buttons.append(
                [(label(context, "certificates.withdraw"), CERTIFICATE_WITHDRAW.pack(view.id))]
            )
        elif view.status is not CertificateStatus.ISSUED:
            buttons.append([(label(context, "certificates.again"), CERTIFICATE_AGAIN.pack())])
        await reply(
            update,
            context,
            "certificates/status",
            markup=inline_keyboard(buttons) if buttons else None,
            **_view_values(context, view),
        )
        return END
    return await _begin(update, context, member)


async def again(update: Update, context: LiaisonContext) -> object:
    """ "Apply again" under a rejected or withdrawn application."""
    await _answer(update)
    if update.callback_query is not None:
        await replace_buttons(update, None)
    member = await _member(context)
    if member is None:
        await reply(update, context, "certificates/not_member")
        return END
    async with context.services.db.session() as session:
        view = await member_certificate(session, member.id)
    if view is not None and (view.is_open or view.status is CertificateStatus.ISSUED):
        await reply(update, context, "certificates/refused", reason="already_open")
        return END
    return await _begin(update, context, member)


async def _begin(update: Update, context: LiaisonContext, member: Member) -> object:
    if member.status is MemberStatus.LOCAL:
        await reply(update, context, "certificates/refused", reason="not_mobile")
        return END
    previous = _APPLICATIONS.get(context)
    if previous is not None:
        await drop_buttons(update, context, previous)
    draft = Application(touched_at=context.now())
    _APPLICATIONS.set(context, draft)
    intro = render(context, "certificates/intro", inflow=member.status is MemberStatus.INFLOW)
    first = ISSUED if member.status is MemberStatus.INFLOW else ORIGIN
    # One message: the introduction opens the first question.
    return await _ask(update, context, draft, first, lead=intro)


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "certificates.cancel"), CERTIFICATE_QUIT.pack())]


def _rows(context: LiaisonContext, step: str) -> list[list[tuple[str, str]]]:
    if step == ISSUED:
        return [
            [(label(context, "certificates.issued_yes"), CERTIFICATE_ISSUED.pack(True))],
            [(label(context, "certificates.issued_no"), CERTIFICATE_ISSUED.pack(False))],
            _cancel_row(context),
        ]
    if step == MONTHS:
        return [
            [
                (label(context, "certificates.months", n=n), CERTIFICATE_MONTHS.pack(n))
                for n in MONTH_CHOICES
            ],
            _cancel_row(context),
        ]
    if step == PREVIEW:
        return [
            [(label(context, "certificates.confirm"), CERTIFICATE_CONFIRM.pack())],
            _cancel_row(context),
        ]
    return [_cancel_row(context)]


async def _ask(
    update: Update,
    context: LiaisonContext,
    draft: Application,
    step: str,
    *,
    template: str | None = None,
    lead: str | None = None,
    **values: Any,
) -> str:
    """Ask step's question (or say why an answer was refused) with its buttons."""
    await drop_buttons(update, context, draft)
    draft.step = step
    message = await reply(
        update,
        context,
        template or f"certificates/ask_{step}",
        markup=inline_keyboard(_rows(context, step)),
        lead=lead,
        draft=draft,
        step=step,
        organisation_limit=MAX_ORGANISATION_LENGTH,
        reason_limit=MAX_REASON_LENGTH,
        max_months=MAX_MONTHS,
        **values,
    )
    draft.question_id = message.message_id
    return step


async def _refuse(
    update: Update, context: LiaisonContext, draft: Application, reason: str, **values: Any
) -> str:
    return await _ask(
        update,
        context,
        draft,
        draft.step,
        template="certificates/bad_input",
        reason=reason,
        **values,
    )


MemberStep = Callable[[Update, LiaisonContext, Application], Awaitable[object]]


def _step(handler: MemberStep) -> Callable[[Update, LiaisonContext], Coroutine[Any, Any, object]]:
    """A state handler: the member's live draft, or the conversation ends."""

    @wraps(handler)
    async def run(update: Update, context: LiaisonContext) -> object:
        query = update.callback_query
        draft = _APPLICATIONS.get(context)
        now = context.now()
        if draft is None or now - draft.touched_at > IDLE_LIMIT or context.identity is None:
            await _answer(update)
            if draft is not None:
                await drop_buttons(update, context, draft)
            _APPLICATIONS.set(context, None)
            await reply(update, context, "certificates/expired")
            return END
        if query is not None and (
            query.message is None or query.message.message_id != draft.question_id
        ):
            await stale_button(update, context)
            return draft.step
        draft.touched_at = now
        return await handler(update, context, draft)

    return run


async def cancel(update: Update, context: LiaisonContext) -> object:
    """/cancel or the cancel button: the application is dropped, nothing was stored."""
    await _answer(update)
    draft = _APPLICATIONS.get(context)
    if draft is not None:
        await drop_buttons(update, context, draft)
    _APPLICATIONS.set(context, None)
    await reply(update, context, "certificates/cancelled")
    return END


@_step
async def cancel_pressed(update: Update, context: LiaisonContext, draft: Application) -> object:
    return await cancel(update, context)


@_step
async def unexpected(update: Update, context: LiaisonContext, draft: Application) -> object:
    """A photo where text is expected, or typing where a button is: ask again."""
    return await _refuse(update, context, draft, "unexpected")


async def stale_button(update: Update, context: LiaisonContext) -> None:
    await retire_pressed_button(update)
    await reply(update, context, "certificates/stale_button")


@_step
async def issued_chosen(update: Update, context: LiaisonContext, draft: Application) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    await _answer(update)
    pressed = CERTIFICATE_ISSUED.unpack(query.data)
    if pressed is None:
        return draft.step
    (issued_before,) = pressed
    draft.reverse = not issued_before
    return await _ask(update, context, draft, ORIGIN)


@_step
async def origin_typed(update: Update, context: LiaisonContext, draft: Application) -> object:
    try:
        draft.origin = check_organisation(message_text(update))
    except CertificateError as error:
        return await _refuse(update, context, draft, error.reason)
    return await _ask(update, context, draft, DESTINATION)


@_step
async def destination_typed(update: Update, context: LiaisonContext, draft: Application) -> object:
    try:
        draft.destination = check_organisation(message_text(update))
    except CertificateError as error:
        return await _refuse(update, context, draft, error.reason)
    return await _ask(update, context, draft, REASON)


@_step
async def reason_typed(update: Update, context: LiaisonContext, draft: Application) -> object:
    try:
        draft.reason = check_reason(message_text(update))
    except CertificateError as error:
        return await _refuse(update, context, draft, error.reason)
    return await _ask(update, context, draft, MONTHS)


async def _months(update: Update, context: LiaisonContext, draft: Application, raw: str) -> object:
    try:
        draft.months = parse_months(raw)
    except CertificateError as error:
        return await _refuse(update, context, draft, error.reason)
    return await _ask(update, context, draft, PREVIEW)


@_step
async def months_typed(update: Update, context: LiaisonContext, draft: Application) -> object:
    return await _months(update, context, draft, message_text(update))


@_step
async def months_chosen(update: Update, context: LiaisonContext, draft: Application) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    await _answer(update)
    pressed = CERTIFICATE_MONTHS.unpack(query.data)
    if pressed is None:
        # Beyond any id: refused as a typed number out of range would be.
        return await _refuse(update, context, draft, "bad_months")
    (months,) = pressed
    return await _months(update, context, draft, str(months))


@_step
async def confirmed(update: Update, context: LiaisonContext, draft: Application) -> object:
    await _answer(update)
    identity = context.identity
    assert identity is not None
    assert draft.origin and draft.destination and draft.reason and draft.months
    await drop_buttons(update, context, draft)
    _APPLICATIONS.set(context, None)
    if identity.member_id is None:
        await reply(update, context, "certificates/not_member")
        return END
    try:
        async with context.services.db.session() as session:
            row = await apply(
                session,
                context.now(),
                member_id=identity.member_id,
                origin_organisation=draft.origin,
                destination=draft.destination,
                reason=draft.reason,
                expected_months=draft.months,
                reverse=draft.reverse,
            )
            certificate_id = row.id
    except CertificateError as error:
        await reply(update, context, "certificates/refused", reason=error.reason)
        return END
    await reply(update, context, "certificates/applied", id=certificate_id, draft=draft)
    return END


async def withdraw_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Withdraw" under the status of an open application."""
    identity = context.identity
    if identity is None or identity.member_id is None:
        await _answer(update)
        await reply(update, context, "certificates/not_member")
        return
    await retire_pressed_button(update)
    try:
        async with context.services.db.session() as session:
            view = await withdraw(session, context.now(), member_id=identity.member_id)
    except CertificateError as error:
        await reply(update, context, "certificates/refused", reason=error.reason)
        return
    await reply(update, context, "certificates/withdrawn", id=view.id)


# --- staff: /certificates -----------------------------------------------------------------------


def _card_buttons(context: LiaisonContext, view: CertificateView) -> InlineKeyboardMarkup | None:
    rows: list[list[tuple[str, str]]] = []
    if view.next_step is not None:
        rows.append(
            [
                (
                    label(context, f"certificates.do_{view.next_step}"),
                    CERTIFICATE_STEP.pack(view.id, view.next_step),
                )
            ]
        )
    if view.is_open:
        rows.append([(label(context, "certificates.reject"), CERTIFICATE_REJECT.pack(view.id))])
    today = context.now().astimezone(context.services.settings.zone).date()
    if (
        view.status is CertificateStatus.ISSUED
        and view.review_due_on is not None
        and view.review_due_on - today <= REVIEW_WINDOW
    ):
        rows.append(
            [
                (
                    label(context, "certificates.do_reviewed"),
                    CERTIFICATE_STEP.pack(view.id, "reviewed"),
                )
            ]
        )
    if view.status is not CertificateStatus.WITHDRAWN:
        rows.append([(label(context, "certificates.letter"), CERTIFICATE_LETTER.pack(view.id))])
    return inline_keyboard(rows) if rows else None


async def _card(
    update: Update, context: LiaisonContext, view: CertificateView, lead: str | None = None
) -> None:
    await reply(
        update,
        context,
        "certificates/card",
        markup=_card_buttons(context, view),
        lead=lead,
        **_view_values(context, view),
    )


@staff_only
async def staff_list(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    """/certificates: a card per application awaiting a step; /certificates ID: that one."""
    parts = message_text(update).split(maxsplit=1)
    argument = parts[1].strip() if len(parts) > 1 else ""
    now = context.now()
    if argument:
        certificate_id = parse_id(argument)
        view = None
        if certificate_id is not None:
            async with context.services.db.session() as session:
                view = await get_certificate(session, certificate_id, staff_id=staff_id)
                if view is not None:
                    await audit.record(
                        session,
                        now,
                        actor=identity.actor,
                        action="certificate.view",
                        subject=f"certificate:{certificate_id}",
                    )
        if view is None:
            await reply(update, context, "certificates/refused", reason="not_found")
            return
        await _card(update, context, view)
        return
    today = now.astimezone(context.services.settings.zone).date()
    async with context.services.db.session() as session:
        lines = await list_certificates(
            session, staff_id=staff_id, statuses=(*OPEN, CertificateStatus.ISSUED)
        )
        waiting = [
            line
            for line in lines
            if line.status in OPEN
            or (line.review_due_on is not None and line.review_due_on - today <= REVIEW_WINDOW)
        ]
        views = [
            view
            for line in waiting[:CARDS_SHOWN]
            if (view := await get_certificate(session, line.id, staff_id=staff_id)) is not None
        ]
        await audit.record(
            session, now, actor=identity.actor, action="certificate.list.view", shown=len(views)
        )
    await reply(update, context, "certificates/list", total=len(waiting), shown=len(views))
    for view in views:
        await _card(update, context, view)


async def _staff_press(update: Update, context: LiaisonContext) -> tuple[Identity, int] | None:
    staff = context.staff()
    if staff is None:
        await _answer(update)
        await refuse(update, context)
        return None
    return staff


async def _take_step(
    update: Update,
    context: LiaisonContext,
    identity: Identity,
    staff_id: int,
    certificate_id: int,
    step: str,
    note: str | None = None,
    retype: Sequence[str] = (),
) -> str | None:
    """Take the step and show the card again; the refusal's reason when it was refused
    (said here, unless it is one of retype: the caller asks again with it)."""
    settings = context.services.settings
    try:
        async with context.services.db.session() as session:
            view = await advance(
                session,
                context.now(),
                certificate_id,
                step,
                actor=identity.actor,
                actor_name=identity.staff_name,
                staff_id=staff_id,
                zone=settings.zone,
                review_months=settings.certificate_review_months,
                note=note,
            )
    except CertificateError as error:
        if error.reason not in retype:
            await reply(
                update, context, "certificates/refused", reason=error.reason, id=certificate_id
            )
        return error.reason
    done = render(
        context,
        "certificates/advanced",
        step=step,
        step_name=label(context, f"certificates.step_{step}"),
        c=view,
    )
    await _card(update, context, view, lead=done)
    return None


async def step_pressed(update: Update, context: LiaisonContext) -> None:
    """A next-step button under a card (or under a review reminder)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    staff = await _staff_press(update, context)
    if staff is None:
        return
    pressed = CERTIFICATE_STEP.unpack(query.data)
    await retire_pressed_button(update)
    if pressed is None:
        return
    certificate_id, step = pressed
    await _take_step(update, context, *staff, certificate_id, step)


async def letter_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Letter": the letter to the origin organisation, as a PDF document."""
    query = update.callback_query
    assert query is not None and query.data is not None
    staff = await _staff_press(update, context)
    if staff is None:
        return
    identity, staff_id = staff
    await _answer(update)
    pressed = CERTIFICATE_LETTER.unpack(query.data)
    settings = context.services.settings
    try:
        if pressed is None:
            raise CertificateError("no such certificate", "not_found")
        (certificate_id,) = pressed
        async with context.services.db.session() as session:
            letter = await letter_data(
                session,
                context.now(),
                certificate_id,
                staff_id=staff_id,
                actor=identity.actor,
                issuer=settings.certificate_issuer,
                organisation=settings.organisation_name,
                zone=settings.zone,
                form="pdf",
            )
    except CertificateError as error:
        await reply(update, context, "certificates/refused", reason=error.reason)
        return
    # The letter goes to another organisation: in the service's language, not the caller's.
    html = letter_html(context.services.renderer, settings.locale, letter)
    pdf = await asyncio.to_thread(letter_pdf, html)
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_document(
        chat.id,
        pdf,
        filename=letter_filename(letter, "pdf"),
        caption=label(context, "certificates.letter_caption", id=letter.certificate.id),
    )


# --- staff: rejecting with a reason -------------------------------------------------------------


async def reject_pressed(update: Update, context: LiaisonContext) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    staff = await _staff_press(update, context)
    if staff is None:
        return END
    pressed = CERTIFICATE_REJECT.unpack(query.data)
    await _answer(update)
    if pressed is None:
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
    previous = _REJECTIONS.get(context)
    if previous is not None:
        await drop_buttons(update, context, previous)
    draft = Rejection(certificate_id=certificate_id, touched_at=context.now())
    _REJECTIONS.set(context, draft)
    message = await reply(
        update,
        context,
        "certificates/ask_reject_reason",
        markup=inline_keyboard(
            [[(label(context, "certificates.cancel"), CERTIFICATE_REJECT_QUIT.pack())]]
        ),
        c=view,
    )
    draft.question_id = message.message_id
    return REJECT_REASON


async def reject_reason_typed(update: Update, context: LiaisonContext) -> object:
    draft = _REJECTIONS.get(context)
    staff = context.staff()
    if draft is None or staff is None or context.now() - draft.touched_at > IDLE_LIMIT:
        _REJECTIONS.set(context, None)
        if staff is None:
            await refuse(update, context)
        else:
            await reply(update, context, "certificates/expired")
        return END
    note = message_text(update).strip()
    await drop_buttons(update, context, draft)
    # Typing again can help; a certificate that moved on meanwhile cannot.
    retype = ("note_too_long", "note_needed")
    refused = await _take_step(
        update, context, *staff, draft.certificate_id, "rejected", note, retype=retype
    )
    if refused in retype:
        # One message: why, and the question again.
        message = await reply(
            update,
            context,
            "certificates/ask_reject_reason_again",
            markup=inline_keyboard(
                [[(label(context, "certificates.cancel"), CERTIFICATE_REJECT_QUIT.pack())]]
            ),
            lead=render(context, "certificates/refused", reason=refused, id=draft.certificate_id),
        )
        draft.question_id = message.message_id
        return REJECT_REASON
    _REJECTIONS.set(context, None)
    return END


async def reject_cancelled(update: Update, context: LiaisonContext) -> object:
    await _answer(update)
    draft = _REJECTIONS.get(context)
    if draft is not None:
        await drop_buttons(update, context, draft)
    _REJECTIONS.set(context, None)
    await reply(update, context, "certificates/reject_cancelled")
    return END


async def reject_unexpected(update: Update, context: LiaisonContext) -> object:
    await reply(update, context, "certificates/ask_reject_reason_again")
    return REJECT_REASON


# --- wiring -------------------------------------------------------------------------------------


def _member_conversation() -> ConversationHandler[LiaisonContext]:
    private = filters.ChatType.PRIVATE
    typed = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND

    def button(
        callback: Callable[..., Any], pressed: Action[*tuple[Any, ...]]
    ) -> CallbackQueryHandler[Any, Any]:
        return CallbackQueryHandler(callback, pattern=pressed.pattern)

    return draft_conversation(
        entry_points=[
            CommandHandler("certificate", start, filters=private),
            button(again, CERTIFICATE_AGAIN),
        ],
        states={
            ISSUED: [button(issued_chosen, CERTIFICATE_ISSUED)],
            ORIGIN: [MessageHandler(typed, origin_typed)],
            DESTINATION: [MessageHandler(typed, destination_typed)],
            REASON: [MessageHandler(typed, reason_typed)],
            MONTHS: [
                MessageHandler(typed, months_typed),
                button(months_chosen, CERTIFICATE_MONTHS),
            ],
            PREVIEW: [button(confirmed, CERTIFICATE_CONFIRM)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel, filters=private),
            button(cancel_pressed, CERTIFICATE_QUIT),
            MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND & private, unexpected),
        ],
        allow_reentry=True,
        name="certificate",
    )


def _reject_conversation() -> ConversationHandler[LiaisonContext]:
    private = filters.ChatType.PRIVATE
    typed = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & private
    return draft_conversation(
        entry_points=[CallbackQueryHandler(reject_pressed, pattern=CERTIFICATE_REJECT.any_pattern)],
        states={REJECT_REASON: [MessageHandler(typed, reject_reason_typed)]},
        fallbacks=[
            CommandHandler("cancel", reject_cancelled, filters=private),
            CallbackQueryHandler(reject_cancelled, pattern=CERTIFICATE_REJECT_QUIT.pattern),
            MessageHandler(
                filters.UpdateType.MESSAGE & ~filters.COMMAND & private, reject_unexpected
            ),
        ],
        allow_reentry=True,
        name="certificate_reject",
    )


async def _stale_quit(update: Update, context: LiaisonContext) -> None:
    await retire_pressed_button(update)


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        _member_conversation(),
        _reject_conversation(),
        CommandHandler("certificates", staff_list, filters=private),
        CallbackQueryHandler(step_pressed, pattern=CERTIFICATE_STEP.any_pattern),
        CallbackQueryHandler(letter_pressed, pattern=CERTIFICATE_LETTER.any_pattern),
        CallbackQueryHandler(withdraw_pressed, pattern=CERTIFICATE_WITHDRAW.any_pattern),
        # Reached only outside an application (or by an old button within one).
        CallbackQueryHandler(stale_button, pattern=feature_pattern(CERTIFICATE_NEW)),
        CallbackQueryHandler(_stale_quit, pattern=CERTIFICATE_REJECT_QUIT.pattern),
    ]
