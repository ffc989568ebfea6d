"""The half-yearly partner letters in the console: what `liaison report letters` and
`liaison partner list|sent` do, in the browser, for administrators.

/reports/letters?half=2026H2 lists the partner organisations with their member counts and
the half's letter (not drawn, drawn, sent), and the mobile members no partner has.
/reports/letters/ID/letter.pdf (or .html) draws a partner's letter: an export of personal
data (audited by storage) recorded as drawn, with the file's digest. A POST to
/reports/letters/ID/sent records how it went out. Administrators only: a liaison is refused
(403, audited); a unit administrator sees the partners of their units and, in the letters,
their own members only (storage.partners).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console.core import SECURITY_HEADERS, Console, Form, download_headers
from bot.console.desk import MAX_CHOICE, choice, record_id, refused
from messages.letters import (
    LetterError,
    letter_pdf,
    partner_letter_filename,
    partner_letter_html,
    pdf_digest,
)
from storage import audit
from storage.console import Visitor
from storage.models import LetterMeans, StaffRole
from storage.partners import (
    MAX_NOTE_LENGTH,
    PartnerError,
    check_half,
    half_of,
    letter_data,
    list_partners,
    mark_sent,
    record_letter,
)
from storage.settings import LOCALES

AREA = "letters"
MEANS = tuple(m.value for m in LetterMeans)
# What the list says after marking a letter sent (?done=…).
DONE = ("sent",)


def _half(request: Request, now: datetime, console: Console) -> str | None:
    """The half asked for (?half=2026H2), the current one when none; None when malformed."""
    asked = request.query_params.get("half")
    if asked is None or not asked.strip():
        return half_of(now, console.services.settings.zone)
    if len(asked) > MAX_CHOICE:
        return None
    try:
        return check_half(asked)
    except PartnerError:
        return None


async def _refuse_liaison(
    console: Console, session: AsyncSession, visitor: Visitor, action: str, subject: str | None
) -> Response:
    """A liaison asked for partners' letters: administrators' work (403), kept in the trail."""
    await audit.record(
        session,
        console.services.clock.now(),
        actor=visitor.actor,
        action=f"{action}.refused",
        subject=subject,
        reason="not_admin",
    )
    return console.message("letters.admin_only", visitor, status=403)


def routes(console: Console) -> list[Route]:
    services = console.services
    settings = services.settings

    async def listing(
        visitor: Visitor,
        half: str | None,
        *,
        done: str | None = None,
        status: int = 200,
        error: str | None = None,
    ) -> Response:
        now = services.clock.now()
        async with services.db.session() as session:
            if visitor.role is not StaffRole.ADMIN:
                return await _refuse_liaison(console, session, visitor, "partner.list", None)
            if half is None:
                return console.message("letters.bad_half", visitor, status=400)
            found = await list_partners(
                session,
                now,
                half,
                index=services.regions,
                staff_id=visitor.staff_id,
                actor=visitor.actor,
            )
        return console.render(
            "letters/list",
            visitor,
            status=status,
            found=found,
            means=MEANS,
            done=done,
            error=error,
            limit=MAX_NOTE_LENGTH,
        )

    async def page(request: Request, visitor: Visitor) -> Response:
        half = _half(request, services.clock.now(), console)
        return await listing(visitor, half, done=choice(request.query_params.get("done"), DONE))

    async def draw(request: Request, visitor: Visitor, form: str) -> Response:
        """A partner's letter for the half, as PDF or HTML, in the service's language (it
        goes to another organisation) unless ?lang= says otherwise; recorded as drawn."""
        partner_id = record_id(request, "partner_id")
        now = services.clock.now()
        half = _half(request, now, console)
        locale = choice(request.query_params.get("lang"), LOCALES, settings.locale)
        assert locale is not None  # the default is one
        async with services.db.session() as session:
            subject = f"partner:{partner_id}" if partner_id is not None else None
            if visitor.role is not StaffRole.ADMIN:
                return await _refuse_liaison(console, session, visitor, "partner.letter", subject)
            if half is None:
                return console.message("letters.bad_half", visitor, status=400)
            found = None
            if partner_id is not None:
                found = await letter_data(
                    session,
                    now,
                    partner_id,
                    half,
                    index=services.regions,
                    zone=settings.zone,
                    issuer=settings.certificate_issuer or settings.organisation_name,
                    actor=visitor.actor,
                    staff_id=visitor.staff_id,
                )
        if found is None:
            return refused(console, visitor, AREA)
        html = partner_letter_html(services.renderer, locale, found)
        if form == "pdf":
            try:
                body = await asyncio.to_thread(letter_pdf, html)
            except LetterError:
                return console.message("letters.not_drawn", visitor, status=500)
            media = "application/pdf"
        else:
            body, media = html.encode("utf-8"), "text/html; charset=utf-8"
        async with services.db.session() as session:
            await record_letter(
                session, now, found.partner.id, half, digest=pdf_digest(body), actor=visitor.actor
            )
        filename = partner_letter_filename(found, form)
        return Response(
            body,
            media_type=media,
            headers=download_headers(filename),
        )

    async def pdf(request: Request, visitor: Visitor) -> Response:
        return await draw(request, visitor, "pdf")

    async def html(request: Request, visitor: Visitor) -> Response:
        return await draw(request, visitor, "html")

    async def sent(request: Request, visitor: Visitor, form: Form) -> Response:
        partner_id = record_id(request, "partner_id")
        half = form.get("half", "")[:MAX_CHOICE]
        back = f"/reports/letters?{urlencode({'half': half})}"
        async with services.db.session() as session:
            if visitor.role is not StaffRole.ADMIN:
                subject = f"partner:{partner_id}" if partner_id is not None else None
                return await _refuse_liaison(console, session, visitor, "partner.sent", subject)
        if partner_id is None:
            return refused(console, visitor, AREA)
        try:
            async with services.db.session() as session:
                await mark_sent(
                    session,
                    services.clock.now(),
                    partner_id,
                    half,
                    how=form.get("how", "")[:MAX_CHOICE],
                    note=form.get("note"),
                    actor=visitor.actor,
                    staff_id=visitor.staff_id,
                    index=services.regions,
                )
        except PartnerError as error:
            if error.reason == "not_found":
                return refused(console, visitor, AREA)
            if error.reason == "bad_half":
                return console.message("letters.bad_half", visitor, status=400)
            # The list again, saying why (the letter not drawn yet, an unknown way, a long note).
            return await listing(visitor, check_half(half), status=409, error=error.reason)
        return RedirectResponse(f"{back}&done=sent", status_code=303, headers=SECURITY_HEADERS)

    return [
        Route("/reports/letters", console.page(page), methods=["GET"]),
        Route("/reports/letters/{partner_id}/letter.pdf", console.page(pdf), methods=["GET"]),
        Route("/reports/letters/{partner_id}/letter.html", console.page(html), methods=["GET"]),
        Route("/reports/letters/{partner_id}/sent", console.action(sent), methods=["POST"]),
    ]
