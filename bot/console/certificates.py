"""Activity certificates at the desk: what the bot's /certificates offers staff, in the browser.

/certificates lists the certificates of the visitor's members: those awaiting a step (open
applications, and issued ones whose yearly review is due) by default, or of one status, or
all. /certificates/ID is the card with its history and the steps it may take now: the next
one forward, reject (with the reason the applicant reads), the yearly review when it is
due; and the letter to the other organisation as a PDF. Each step is the storage operation
the bot's buttons call (scope, the same checks, audit, the member told through the outbox)
and carries the certificate's version the card was drawn from.
"""

from __future__ import annotations

import asyncio
from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.core import Console, Form, download_headers
from bot.console.desk import back_to, choice, form_id, record_id, refused
from messages.letters import letter_filename, letter_html, letter_pdf
from storage.certificates import (
    MAX_NOTE_LENGTH,
    REJECTED,
    REVIEW_WINDOW,
    STAFF_STEPS,
    CertificateError,
    CertificateView,
    advance,
    letter_data,
    staff_certificates,
    view_certificate,
)
from storage.console import Visitor
from storage.models import CertificateStatus

AREA = "certificates"
STATUSES = tuple(status.value for status in CertificateStatus)
SHOWN = ("waiting", "all", *STATUSES)
# What the card says after a step (?done=…): the step taken.
DONE = STAFF_STEPS
BAD_INPUT = {"note_needed", "note_too_long", "unknown_step"}


def review_due(view: CertificateView, today: date) -> bool:
    """Whether the yearly review may be recorded now (as the bot's card offers it)."""
    return (
        view.status is CertificateStatus.ISSUED
        and view.review_due_on is not None
        and view.review_due_on - today <= REVIEW_WINDOW
    )


def routes(console: Console) -> list[Route]:
    services = console.services
    settings = services.settings

    async def desk(request: Request, visitor: Visitor) -> Response:
        shown = choice(request.query_params.get("show"), SHOWN, "waiting")
        async with services.db.session() as session:
            lines = await staff_certificates(
                session,
                services.clock.now(),
                staff_id=visitor.staff_id,
                actor=visitor.actor,
                zone=settings.zone,
                status=CertificateStatus(shown) if shown in STATUSES else None,
                waiting=shown == "waiting",
            )
        return console.render(
            "certificates/list", visitor, certificates=lines, shown=shown, choices=SHOWN
        )

    async def show(
        visitor: Visitor,
        certificate_id: int,
        *,
        status: int = 200,
        done: str | None = None,
        error: str | None = None,
        typed: Form | None = None,
    ) -> Response:
        """The card (its opening audited), with what was done or why not."""
        now = services.clock.now()
        async with services.db.session() as session:
            view = await view_certificate(
                session, now, certificate_id, staff_id=visitor.staff_id, actor=visitor.actor
            )
        if view is None:
            return refused(console, visitor, AREA)
        return console.render(
            "certificates/card",
            visitor,
            status=status,
            c=view,
            review=review_due(view, now.astimezone(settings.zone).date()),
            done=done,
            error=error,
            typed=typed or {},
            limit=MAX_NOTE_LENGTH,
        )

    async def card(request: Request, visitor: Visitor) -> Response:
        certificate_id = record_id(request, "certificate_id")
        if certificate_id is None:
            return refused(console, visitor, AREA)
        done = choice(request.query_params.get("done"), DONE)
        return await show(visitor, certificate_id, done=done)

    async def step(request: Request, visitor: Visitor, form: Form) -> Response:
        certificate_id = record_id(request, "certificate_id")
        if certificate_id is None:
            return refused(console, visitor, AREA)
        # advance refuses anything but a step (unknown_step).
        wanted = form.get("step", "").strip().lower()
        try:
            async with services.db.session() as session:
                await advance(
                    session,
                    services.clock.now(),
                    certificate_id,
                    wanted,
                    actor=visitor.actor,
                    actor_name=visitor.name,
                    staff_id=visitor.staff_id,
                    zone=settings.zone,
                    review_months=settings.certificate_review_months,
                    # Only a rejection says why; the steps forward go without a note.
                    note=form.get("note") if wanted == REJECTED else None,
                    seen=form_id(form, "seen"),
                )
        except CertificateError as error:
            if error.reason == "not_found":
                return refused(console, visitor, AREA)
            return await show(
                visitor,
                certificate_id,
                status=400 if error.reason in BAD_INPUT else 409,
                error=error.reason,
                typed={} if error.reason == "already_done" else form,
            )
        return back_to(f"/certificates/{certificate_id}", wanted)

    async def letter(request: Request, visitor: Visitor) -> Response:
        """The letter to the other organisation, as the bot sends it: a PDF, in the
        service's language (it goes to another organisation); its export audited."""
        certificate_id = record_id(request, "certificate_id")
        if certificate_id is None:
            return refused(console, visitor, AREA)
        try:
            async with services.db.session() as session:
                found = await letter_data(
                    session,
                    services.clock.now(),
                    certificate_id,
                    staff_id=visitor.staff_id,
                    actor=visitor.actor,
                    issuer=settings.certificate_issuer,
                    organisation=settings.organisation_name,
                    zone=settings.zone,
                    form="pdf",
                )
        except CertificateError as error:
            return await show(visitor, certificate_id, status=409, error=error.reason)
        if found is None:
            return refused(console, visitor, AREA)
        html = letter_html(services.renderer, settings.locale, found)
        pdf = await asyncio.to_thread(letter_pdf, html)
        filename = letter_filename(found, "pdf")
        return Response(
            pdf,
            media_type="application/pdf",
            headers=download_headers(filename),
        )

    return [
        Route("/certificates", console.page(desk), methods=["GET"]),
        Route("/certificates/{certificate_id}", console.page(card), methods=["GET"]),
        Route("/certificates/{certificate_id}/step", console.action(step), methods=["POST"]),
        Route("/certificates/{certificate_id}/letter.pdf", console.page(letter), methods=["GET"]),
    ]
