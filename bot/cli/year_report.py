"""`liaison report year 2026`: the yearly statistics as a PDF and a workbook.

Registered on the `report` group (bot/cli/police.py) in bot/cli/__init__.py. The report is
counts only, but of the whole district (or a unit): audited as an export (report.year).
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import (
    UNIT_OPTION,
    cli_actor,
    echo,
    fail,
    locale_option,
    run_with_db,
    settings_of,
)
from messages.render import Renderer
from messages.year_report import report_filename, year_report_pdf, year_report_xlsx
from storage import directory
from storage.calendar import year_bounds
from storage.clock import SystemClock
from storage.db import Database
from storage.regions import default_index
from storage.year_report import YearReport, year_report


@click.command("year")
@click.argument("year", metavar="YEAR")
@UNIT_OPTION
@locale_option("The report's")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    help="The folder to write liaison-year-YEAR.pdf and .xlsx to (default: here).",
)
@click.pass_context
def report_year(
    ctx: click.Context, year: str, unit_name: str | None, locale: str | None, out: Path
) -> None:
    """The year's statistics (members, check-ins, activities, services …) as PDF and XLSX."""
    settings = settings_of(ctx)
    if not (year.isascii() and year.isdigit() and len(year) == 4):
        fail(f"{year!r} is not a year like 2026")
    try:
        year_bounds(int(year), settings.zone)
    except ValueError as error:
        fail(str(error))
    if not out.is_dir():
        fail(f"no such folder: {out}")
    unit_label = unit_name.strip() if unit_name else None
    pdf_path = out / report_filename(int(year), unit_label, "pdf")
    xlsx_path = out / report_filename(int(year), unit_label, "xlsx")

    async def gather(database: Database) -> YearReport:
        async with database.session() as session:
            unit = None
            if unit_label is not None:
                unit = await directory.unit_by_name(session, unit_label)
                if unit is None:
                    fail(f"no unit named {unit_label!r}")
            return await year_report(
                session,
                SystemClock().now(),
                int(year),
                zone=settings.zone,
                regions=default_index(),
                unit=unit,
                actor=cli_actor(),
                subject=f"{pdf_path.name},{xlsx_path.name}",
            )

    report = run_with_db(settings, gather)
    language = locale or settings.locale
    renderer = Renderer()
    try:
        pdf_path.write_bytes(year_report_pdf(report, renderer, language, settings.zone))
        xlsx_path.write_bytes(year_report_xlsx(report, renderer, language, settings.zone))
    except OSError as error:
        fail(f"cannot write to {out}: {error.strerror or error}")
    echo(f"{report.members} member(s) in {year}; wrote {pdf_path} and {xlsx_path}")
