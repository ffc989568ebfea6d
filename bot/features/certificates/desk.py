"""/certificates: the staff desk of activity certificates.

/certificates lists the applications in the staff member's scope awaiting a step (and
issued certificates whose yearly review is due), one card each, with buttons for the next
step, reject (the reason is typed next: bot/features/certificates/rejection.py) and the
letter to the origin organisation as a PDF. /certificates ID shows one card. Every press is
checked against the scope again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from telegram import InlineKeyboardMarkup, Update

from bot.access import staff_only, staff_press
from bot.context import LiaisonContext
from bot.features.certificates.common import view_values
from bot.replies import inline_keyboard, label, render, replace_buttons, reply
from bot.updates import message_text, parse_id
from messages.callbacks import CERTIFICATE_LETTER, CERTIFICATE_REJECT, CERTIFICATE_STEP
from messages.letters import letter_filename, letter_html, letter_pdf
from storage.certificates import (
    REVIEW_WINDOW,
    CertificateError,
    CertificateView,
    advance,
    letter_data,
    view_certificate,
    waiting_certificates,
)
from storage.identity import Identity
from storage.models import CertificateStatus

# /certificates shows this many cards; /certificates ID reaches any other.
CARDS_SHOWN = 10


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
        **view_values(context, view),
    )


@staff_only
async def staff_list(
    update: Update, context: LiaisonContext, identity: Identity, staff_id: int
) -> None:
    """/certificates: a card per application awaiting a step; /certificates ID: that one."""
    parts = message_text(update).split(maxsplit=1)
    argument = parts[1].strip() if len(parts) > 1 else ""
    if argument:
        certificate_id = parse_id(argument)
        view = None
        if certificate_id is not None:
            async with context.services.db.session() as session:
                view = await view_certificate(
                    session, context.now(), certificate_id, staff_id=staff_id, actor=identity.actor
                )
        if view is None:
            await reply(update, context, "certificates/refused", reason="not_found")
            return
        await _card(update, context, view)
        return
    async with context.services.db.session() as session:
        waiting = await waiting_certificates(
            session,
            context.now(),
            staff_id=staff_id,
            actor=identity.actor,
            zone=context.services.settings.zone,
            limit=CARDS_SHOWN,
        )
    await reply(update, context, "certificates/list", total=waiting.total, shown=len(waiting.shown))
    for view in waiting.shown:
        await _card(update, context, view)


async def take_step(
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
    press = await staff_press(update, context, CERTIFICATE_STEP)
    if press is None:
        return
    identity, staff_id, pressed = press
    # Pressed once is enough: the card comes again below with the buttons of its next step.
    await replace_buttons(update, None)
    if pressed is None:
        # Forged or from an older bot: nothing is looked up or changed.
        await reply(update, context, "certificates/refused", reason="unknown_step")
        return
    certificate_id, step = pressed
    await take_step(update, context, identity, staff_id, certificate_id, step)


async def letter_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Letter": the letter to the origin organisation, as a PDF document."""
    press = await staff_press(update, context, CERTIFICATE_LETTER)
    if press is None:
        return
    identity, staff_id, pressed = press
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
        if letter is None:
            raise CertificateError("no such certificate", "not_found")
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
