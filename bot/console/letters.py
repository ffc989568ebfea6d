"""The half-yearly partner letters in the console: what `liaison report letters` and
`liaison partner list|sent` do, in the browser, for administrators.

/reports/letters?half=2026H2 lists the partner organisations with their member counts and
the half's letter (not drawn, drawn, sent), and the mobile members no partner has.
/reports/letters/ID/letter.pdf (or .html) draws a partner's letter: an export of personal
data (audited by storage) recorded as drawn, with the file's digest. A POST to
/reports/letters/ID/sent records how it went out. Administrators only: a liaison is refused
(403, audited); a unit administrator sees the partners of their units and, in the letters,
their own members only (storage.partners).

The partner organisations are managed here too, as with `liaison partner add|edit|remove|
assign`: a POST to /reports/letters/partners adds one, /reports/letters/partners/ID shows
it to change (POST to save) and .../ID/remove removes it (a box ticked to confirm), and a
POST to /reports/letters/assign puts an unmatched member with a partner by hand. A unit
administrator's partners are held by their own streets (units) and they may assign only
their own members; anything else reads as not there (404, audited as refused).
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
from bot.console.desk import MAX_CHOICE, back_to, choice, form_id, record_id, refused
from messages.letters import (
    LetterError,
    letter_pdf,
    partner_letter_filename,
    partner_letter_html,
    pdf_digest,
)
from storage import audit
from storage.console import Visitor
from storage.models import LetterMeans, PartnerOrganisation, PartnerSide, StaffRole, Unit
from storage.partners import (
    FIELDS,
    MAX_ADDRESS_LENGTH,
    MAX_NAME_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_PERSON_LENGTH,
    PartnerError,
    PartnerView,
    add_partner,
    assign_member,
    check_half,
    edit_partner,
    get_partner,
    half_of,
    letter_data,
    list_partners,
    mark_sent,
    record_letter,
    remove_partner,
)
from storage.scope import member_in_scope, sees_everyone
from storage.settings import LOCALES
from storage.year_report import report_units

AREA = "letters"
MEANS = tuple(m.value for m in LetterMeans)
# What the list says after marking a letter sent (?done=…).
DONE = ("sent", "added", "saved", "removed", "assigned")
SIDES = tuple(s.value for s in PartnerSide)
# What the partner form may hold: a little over each limit, so a paste somewhat too long
# still arrives to be refused with its reason rather than cut silently.
LIMITS = {
    "name": MAX_NAME_LENGTH,
    "region": 100,
    "address": MAX_ADDRESS_LENGTH,
    "contact_person": MAX_PERSON_LENGTH,
    "contact_phone": 40,
    "note": MAX_NOTE_LENGTH,
}


def _typed(form: Form) -> dict[str, str]:
    """The partner form's fields as typed (the unit as its id), each cut a little past
    its limit."""
    typed = {name: form.get(name, "")[: limit + 100] for name, limit in LIMITS.items()}
    typed["side"] = form.get("side", "")[:MAX_CHOICE]
    typed["unit"] = form.get("unit", "")[:MAX_CHOICE]
    return typed


def _shown(partner: PartnerView, units: list[Unit]) -> dict[str, str]:
    """A partner's fields as the form shows them to change."""
    unit_ids = {u.name: str(u.id) for u in units}
    return {
        "name": partner.name,
        "region": partner.region,
        "side": partner.side.value,
        "address": partner.address or "",
        "contact_person": partner.contact_person or "",
        "contact_phone": partner.contact_phone or "",
        "unit": unit_ids.get(partner.unit or "", ""),
        "note": partner.note or "",
    }


def _unit_name(typed: dict[str, str], units: list[Unit], everyone: bool) -> str | None:
    """The unit's name the form chose, among the visitor's own: an administrator over the
    district may choose none; one with a scope must hold the partner by one of their units
    (else they could not see it again). PartnerError unknown_unit otherwise."""
    chosen = typed["unit"]
    if not chosen and everyone:
        return None
    for unit in units:
        if str(unit.id) == chosen:
            return unit.name
    raise PartnerError(f"{chosen!r} is not one of the visitor's units", "unknown_unit")


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


def _half_of_form(form: Form, now: datetime, console: Console) -> str | None:
    """The half a form came from (the list to go back to), the current one when none."""
    asked = form.get("half", "")
    if not asked.strip():
        return half_of(now, console.services.settings.zone)
    try:
        return check_half(asked[:MAX_CHOICE])
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
            units = await report_units(session, visitor.staff_id)
            everyone = await sees_everyone(session, visitor.staff_id)
        return console.render(
            "letters/list",
            visitor,
            status=status,
            found=found,
            means=MEANS,
            done=done,
            error=error,
            limit=MAX_NOTE_LENGTH,
            # The form to add a partner, empty.
            typed=dict.fromkeys((*LIMITS, "side", "unit"), ""),
            units=units,
            everyone=everyone,
            sides=SIDES,
            limits=LIMITS,
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

    # --- managing the partner organisations ------------------------------------------------

    async def partner_form(
        visitor: Visitor,
        partner_id: int | None,
        typed: dict[str, str] | None,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        """The partner form: empty to add one (partner_id None), or the partner to change,
        as stored or as typed; with why it was not saved."""
        async with services.db.session() as session:
            units = await report_units(session, visitor.staff_id)
            everyone = await sees_everyone(session, visitor.staff_id)
            if typed is None:
                partner = None
                if partner_id is not None:
                    partner = await get_partner(
                        session, partner_id, services.regions, staff_id=visitor.staff_id
                    )
                if partner is None:
                    return refused(console, visitor, AREA)
                typed = _shown(partner, units)
        return console.render(
            "letters/partner",
            visitor,
            status=status,
            partner_id=partner_id,
            typed=typed,
            units=units,
            everyone=everyone,
            sides=SIDES,
            limits=LIMITS,
            error=error,
        )

    async def in_scope(
        session: AsyncSession, visitor: Visitor, partner_id: int | None, action: str
    ) -> bool:
        """Whether the visitor may manage this partner; when not, the refusal is audited
        as action.refused (not there and someone else's are told apart in the trail only)."""
        if partner_id is not None:
            found = await get_partner(
                session, partner_id, services.regions, staff_id=visitor.staff_id
            )
            if found is not None:
                return True
        await audit.record_refused(
            session,
            services.clock.now(),
            actor=visitor.actor,
            action=f"{action}.refused",
            kind="partner",
            model=PartnerOrganisation,
            record_id=partner_id,
        )
        return False

    async def add(request: Request, visitor: Visitor, form: Form) -> Response:
        typed = _typed(form)
        async with services.db.session() as session:
            if visitor.role is not StaffRole.ADMIN:
                return await _refuse_liaison(console, session, visitor, "partner.add", None)
        try:
            async with services.db.session() as session:
                units = await report_units(session, visitor.staff_id)
                everyone = await sees_everyone(session, visitor.staff_id)
                await add_partner(
                    session,
                    services.clock.now(),
                    index=services.regions,
                    name=typed["name"],
                    region=typed["region"],
                    side=typed["side"],
                    address=typed["address"],
                    contact_person=typed["contact_person"],
                    contact_phone=typed["contact_phone"],
                    unit=_unit_name(typed, units, everyone),
                    note=typed["note"],
                    actor=visitor.actor,
                )
        except PartnerError as error:
            return await partner_form(visitor, None, typed, error=error.reason, status=400)
        return back_to("/reports/letters", "added")

    async def partner_refused(
        visitor: Visitor, partner_id: int | None, action: str
    ) -> Response | None:
        """None when the visitor may change this partner; else the refusal to answer with
        (a liaison: 403; a partner not there or not theirs: 404), audited."""
        async with services.db.session() as session:
            if visitor.role is not StaffRole.ADMIN:
                subject = f"partner:{partner_id}" if partner_id is not None else None
                return await _refuse_liaison(console, session, visitor, action, subject)
            if not await in_scope(session, visitor, partner_id, action):
                return refused(console, visitor, AREA)
        return None

    async def edit_page(request: Request, visitor: Visitor) -> Response:
        partner_id = record_id(request, "partner_id")
        if (refusal := await partner_refused(visitor, partner_id, "partner.edit")) is not None:
            return refusal
        return await partner_form(visitor, partner_id, None)

    async def save(request: Request, visitor: Visitor, form: Form) -> Response:
        partner_id = record_id(request, "partner_id")
        typed = _typed(form)
        if (refusal := await partner_refused(visitor, partner_id, "partner.edit")) is not None:
            return refusal
        assert partner_id is not None  # in scope
        try:
            async with services.db.session() as session:
                units = await report_units(session, visitor.staff_id)
                everyone = await sees_everyone(session, visitor.staff_id)
                changes: dict[str, str | None] = {name: typed[name] for name in FIELDS}
                changes["unit"] = _unit_name(typed, units, everyone)
                await edit_partner(
                    session,
                    services.clock.now(),
                    partner_id,
                    changes,
                    index=services.regions,
                    actor=visitor.actor,
                )
        except PartnerError as error:
            return await partner_form(visitor, partner_id, typed, error=error.reason, status=400)
        return back_to("/reports/letters", "saved")

    async def remove(request: Request, visitor: Visitor, form: Form) -> Response:
        partner_id = record_id(request, "partner_id")
        if (refusal := await partner_refused(visitor, partner_id, "partner.remove")) is not None:
            return refusal
        assert partner_id is not None  # in scope
        if form.get("confirm") != "yes":
            # Its page again, saying the box was not ticked; nothing removed.
            return await partner_form(visitor, partner_id, None, error="unconfirmed", status=400)
        try:
            async with services.db.session() as session:
                await remove_partner(session, services.clock.now(), partner_id, actor=visitor.actor)
        except PartnerError:
            # Removed by someone else in the meantime.
            return refused(console, visitor, AREA)
        return back_to("/reports/letters", "removed")

    async def assign(request: Request, visitor: Visitor, form: Form) -> Response:
        member_id = form_id(form, "member_id")
        partner_id = form_id(form, "partner_id")
        half = _half_of_form(form, services.clock.now(), console)
        now = services.clock.now()
        async with services.db.session() as session:
            if visitor.role is not StaffRole.ADMIN:
                subject = f"member:{member_id}" if member_id is not None else None
                return await _refuse_liaison(console, session, visitor, "partner.assign", subject)
            if not await in_scope(session, visitor, partner_id, "partner.assign"):
                return refused(console, visitor, AREA)
            member = await member_in_scope(
                session,
                now,
                staff_id=visitor.staff_id,
                member_id=member_id,
                actor=visitor.actor,
                action="partner.assign",
                partner=partner_id,
            )
        if member is None:
            return console.message("letters.member_not_found", visitor, status=404)
        assert partner_id is not None  # in scope
        try:
            async with services.db.session() as session:
                await assign_member(session, now, member.id, partner_id, actor=visitor.actor)
        except PartnerError as error:
            # A local member: the list again, saying why.
            return await listing(visitor, half, status=400, error=error.reason)
        query = urlencode({"half": half or "", "done": "assigned"})
        return RedirectResponse(
            f"/reports/letters?{query}", status_code=303, headers=SECURITY_HEADERS
        )

    return [
        Route("/reports/letters", console.page(page), methods=["GET"]),
        Route("/reports/letters/partners", console.action(add), methods=["POST"]),
        Route("/reports/letters/partners/{partner_id}", console.page(edit_page), methods=["GET"]),
        Route("/reports/letters/partners/{partner_id}", console.action(save), methods=["POST"]),
        Route(
            "/reports/letters/partners/{partner_id}/remove",
            console.action(remove),
            methods=["POST"],
        ),
        Route("/reports/letters/assign", console.action(assign), methods=["POST"]),
        Route("/reports/letters/{partner_id}/letter.pdf", console.page(pdf), methods=["GET"]),
        Route("/reports/letters/{partner_id}/letter.html", console.page(html), methods=["GET"]),
        Route("/reports/letters/{partner_id}/sent", console.action(sent), methods=["POST"]),
    ]
