"""/certificate: a member's activity certificate — its status, or an application.

A member without an application applies in a short conversation (the flow "certificate"):
an inflow member is first asked whether their origin issued a certificate (if not, it is a
reverse issuance); then the origin organisation, the destination, the reason and the
expected months away; then a preview to confirm. Nothing is stored before "apply". With an
application, /certificate shows its status and history (and "withdraw" while it is open).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import Update

from bot.commands import Audience
from bot.context import LiaisonContext
from bot.features.certificates.common import view_values
from bot.flow import END, Answer, Flow, Keyboard, Start, Step, press, typed
from bot.replies import Markup, inline_keyboard, label, render, replace_buttons, reply
from bot.updates import message_text
from messages.callbacks import (
    CERTIFICATE_AGAIN,
    CERTIFICATE_CONFIRM,
    CERTIFICATE_ISSUED,
    CERTIFICATE_MONTHS,
    CERTIFICATE_QUIT,
    CERTIFICATE_WITHDRAW,
)
from storage.certificates import (
    MAX_MONTHS,
    MAX_ORGANISATION_LENGTH,
    MAX_REASON_LENGTH,
    CertificateError,
    apply,
    check_organisation,
    check_reason,
    member_certificate,
    parse_months,
    withdraw,
)
from storage.models import CertificateStatus, Member, MemberStatus

# Steps, one per question.
ISSUED = "issued"
ORIGIN = "origin"
DESTINATION = "destination"
REASON = "reason"
MONTHS = "months"
PREVIEW = "preview"

MONTH_CHOICES = (6, 12, 24)


@dataclass(slots=True)
class Draft:
    """The member's answers so far; stored only when they press "apply"."""

    reverse: bool = False
    origin: str | None = None
    destination: str | None = None
    reason: str | None = None
    months: int | None = None


async def _member(context: LiaisonContext) -> Member | None:
    identity = context.identity
    if identity is None or identity.member_id is None:
        return None
    async with context.services.db.session() as session:
        return await session.get(Member, identity.member_id)


# --- the start: the status, or a new application ------------------------------------------


async def start(update: Update, context: LiaisonContext) -> str:
    """/certificate: the status of my application, or a new one."""
    member = await _member(context)
    if member is None:
        await reply(update, context, "certificates/not_member")
        return END
    async with context.services.db.session() as session:
        view = await member_certificate(session, member.id)
    if view is None:
        return await _begin(update, context, member)
    buttons: list[list[tuple[str, str]]] = []
    if view.is_open:
        buttons.append(
            [(label(context, "certificates.withdraw"), CERTIFICATE_WITHDRAW.pack(view.id))]
        )
    elif view.status is not CertificateStatus.ISSUED:
        buttons.append([(label(context, "certificates.again"), CERTIFICATE_AGAIN.pack())])
    # Only the status: a conversation open in this chat goes on.
    await reply(
        update,
        context,
        "certificates/status",
        markup=inline_keyboard(buttons) if buttons else None,
        **view_values(context, view),
    )
    return END


async def again(update: Update, context: LiaisonContext) -> str:
    """ "Apply again" under a rejected or withdrawn application."""
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


async def _begin(update: Update, context: LiaisonContext, member: Member) -> str:
    if member.status is MemberStatus.LOCAL:
        await reply(update, context, "certificates/refused", reason="not_mobile")
        return END
    inflow = member.status is MemberStatus.INFLOW
    # One message: the introduction opens the first question.
    intro = render(context, "certificates/intro", inflow=inflow)
    return await FLOW.begin(update, context, Draft(), ISSUED if inflow else ORIGIN, lead=intro)


# --- the questions ------------------------------------------------------------------------


def _cancel_row(context: LiaisonContext) -> list[tuple[str, str]]:
    return [(label(context, "certificates.cancel"), CERTIFICATE_QUIT.pack())]


def _cancel_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard([_cancel_row(context)])


def _issued_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "certificates.issued_yes"), CERTIFICATE_ISSUED.pack(True))],
            [(label(context, "certificates.issued_no"), CERTIFICATE_ISSUED.pack(False))],
            _cancel_row(context),
        ]
    )


def _months_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard(
        [
            [
                (label(context, "certificates.months", n=n), CERTIFICATE_MONTHS.pack(n))
                for n in MONTH_CHOICES
            ],
            _cancel_row(context),
        ]
    )


def _preview_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "certificates.confirm"), CERTIFICATE_CONFIRM.pack())],
            _cancel_row(context),
        ]
    )


_LIMITS = {
    "organisation_limit": MAX_ORGANISATION_LENGTH,
    "reason_limit": MAX_REASON_LENGTH,
    "max_months": MAX_MONTHS,
}


def _values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"draft": draft, **_LIMITS}


def _question(
    step: str, answers: Sequence[Answer[Draft]], keyboard: Keyboard[Draft]
) -> Step[Draft]:
    """Every question is one template (certificates/_question.html) that picks by step."""
    return Step(
        f"certificates/ask_{step}",
        answers,
        keyboard=keyboard,
        values=lambda context, draft: {"step": step},
    )


async def _refuse(update: Update, context: LiaisonContext, draft: Draft, reason: str) -> str:
    """Say why the answer was not taken, and ask the same question again."""
    lead = render(context, "certificates/bad_input", reason=reason, **_LIMITS)
    return await FLOW.again(update, context, draft, lead=lead)


async def issued_chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    pressed = CERTIFICATE_ISSUED.unpack(query.data)
    if pressed is None:
        return FLOW.step(context)
    (issued_before,) = pressed
    draft.reverse = not issued_before
    return await FLOW.ask(update, context, draft, ORIGIN)


async def origin_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    try:
        draft.origin = check_organisation(message_text(update))
    except CertificateError as error:
        return await _refuse(update, context, draft, error.reason)
    return await FLOW.ask(update, context, draft, DESTINATION)


async def destination_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    try:
        draft.destination = check_organisation(message_text(update))
    except CertificateError as error:
        return await _refuse(update, context, draft, error.reason)
    return await FLOW.ask(update, context, draft, REASON)


async def reason_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    try:
        draft.reason = check_reason(message_text(update))
    except CertificateError as error:
        return await _refuse(update, context, draft, error.reason)
    return await FLOW.ask(update, context, draft, MONTHS)


async def _months(update: Update, context: LiaisonContext, draft: Draft, raw: str) -> str:
    try:
        draft.months = parse_months(raw)
    except CertificateError as error:
        return await _refuse(update, context, draft, error.reason)
    return await FLOW.ask(update, context, draft, PREVIEW)


async def months_typed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    return await _months(update, context, draft, message_text(update))


async def months_chosen(update: Update, context: LiaisonContext, draft: Draft) -> str:
    query = update.callback_query
    assert query is not None
    pressed = CERTIFICATE_MONTHS.unpack(query.data)
    if pressed is None:
        # Beyond any id: refused as a typed number out of range would be.
        return await _refuse(update, context, draft, "bad_months")
    (months,) = pressed
    return await _months(update, context, draft, str(months))


async def confirmed(update: Update, context: LiaisonContext, draft: Draft) -> str:
    identity = context.identity
    assert identity is not None and identity.member_id is not None  # the flow's guard
    assert draft.origin and draft.destination and draft.reason and draft.months
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
        await FLOW.drop_buttons(update, context)
        await reply(update, context, "certificates/refused", reason=error.reason)
        return END
    # Only now: if the database failed, the preview and its buttons are still there to retry.
    await FLOW.drop_buttons(update, context)
    await reply(update, context, "certificates/applied", id=certificate_id, draft=draft)
    return END


FLOW = Flow(
    "certificate",
    Draft,
    audience=Audience.MEMBERS,
    templates="certificates",
    not_member="certificates/not_member",
    starts=[Start(start, command="certificate"), Start(again, action=CERTIFICATE_AGAIN)],
    steps={
        ISSUED: _question(ISSUED, [press(CERTIFICATE_ISSUED, issued_chosen)], _issued_keyboard),
        ORIGIN: _question(ORIGIN, [typed(origin_typed)], _cancel_keyboard),
        DESTINATION: _question(DESTINATION, [typed(destination_typed)], _cancel_keyboard),
        REASON: _question(REASON, [typed(reason_typed)], _cancel_keyboard),
        MONTHS: _question(
            MONTHS,
            [typed(months_typed), press(CERTIFICATE_MONTHS, months_chosen)],
            _months_keyboard,
        ),
        PREVIEW: _question(PREVIEW, [press(CERTIFICATE_CONFIRM, confirmed)], _preview_keyboard),
    },
    cancel_action=CERTIFICATE_QUIT,
    values=_values,
)


# --- withdrawing an open application ------------------------------------------------------


async def withdraw_pressed(update: Update, context: LiaisonContext) -> None:
    """ "Withdraw" under the status of an open application."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    identity = context.identity
    if identity is None or identity.member_id is None:
        await reply(update, context, "certificates/not_member")
        return
    # Pressed once is enough: a second press finds nothing to withdraw.
    await replace_buttons(update, None)
    try:
        async with context.services.db.session() as session:
            view = await withdraw(session, context.now(), member_id=identity.member_id)
    except CertificateError as error:
        await reply(update, context, "certificates/refused", reason=error.reason)
        return
    await reply(update, context, "certificates/withdrawn", id=view.id)
