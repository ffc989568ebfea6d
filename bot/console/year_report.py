"""The yearly report in the console: a form (the year; a unit for administrators) and the
PDF and workbook `liaison report year` writes, as downloads.

Whose figures: the visitor's scope (storage/scope.py), one definition for the whole
console: a liaison's report covers the groups they look after, a unit's administrator's
their units, the district's administrator everything; an administrator may narrow it to a
unit they look after. Each download is audited as an export (report.year). The routes live
under /reports (the reports area's index links them).
"""

from __future__ import annotations

import asyncio
from datetime import UTC

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.core import Console, download_headers
from bot.updates import parse_id
from messages.year_report import report_filename, year_report_pdf, year_report_xlsx
from storage.calendar import year_bounds
from storage.console import Visitor
from storage.models import Unit
from storage.year_report import report_units, year_report

FORMS = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _year(text: str | None) -> int | None:
    if text is None or not (text.isascii() and text.isdigit() and len(text) == 4):
        return None
    try:
        year_bounds(int(text), UTC)
    except ValueError:
        return None
    return int(text)


def routes(console: Console) -> list[Route]:
    services = console.services
    settings = services.settings

    async def page(
        visitor: Visitor,
        year: int | None,
        unit_id: int | None,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        async with services.db.session() as session:
            units = await report_units(session, visitor.staff_id)
        this_year = services.clock.now().astimezone(settings.zone).year
        return console.render(
            "year_report/form",
            visitor,
            status=status,
            # The yearly report is made in January: last year's by default.
            year=year or this_year - 1,
            this_year=this_year,
            units=units,
            unit_id=unit_id,
            error=error,
        )

    async def form(request: Request, visitor: Visitor) -> Response:
        query = request.query_params
        return await page(visitor, _year(query.get("year")), parse_id(query.get("unit", "")))

    def download(extension: str) -> Route:
        async def handler(request: Request, visitor: Visitor) -> Response:
            query = request.query_params
            year = _year(query.get("year"))
            wanted = query.get("unit", "")
            unit_id = parse_id(wanted) if wanted else None
            if year is None:
                return await page(visitor, None, unit_id, error="bad_year", status=400)
            now = services.clock.now()
            async with services.db.session() as session:
                unit: Unit | None = None
                if wanted:
                    # Only a unit the form offers this visitor; any other is "no such unit".
                    allowed = {u.id: u for u in await report_units(session, visitor.staff_id)}
                    unit = allowed.get(unit_id) if unit_id is not None else None
                    if unit is None:
                        return await page(visitor, year, None, error="bad_unit", status=404)
                filename = report_filename(year, unit.name if unit else None, extension)
                report = await year_report(
                    session,
                    now,
                    year,
                    zone=settings.zone,
                    regions=services.regions,
                    unit=unit,
                    staff_id=visitor.staff_id,
                    actor=visitor.actor,
                    subject=filename,
                )
            draw = year_report_pdf if extension == "pdf" else year_report_xlsx
            data = await asyncio.to_thread(
                draw, report, services.renderer, console.locale(visitor), settings.zone
            )
            return Response(
                data,
                media_type=FORMS[extension],
                headers=download_headers(filename),
            )

        return Route(f"/reports/year.{extension}", console.page(handler), methods=["GET"])

    return [
        Route("/reports/year", console.page(form), methods=["GET"]),
        *(download(extension) for extension in FORMS),
    ]
