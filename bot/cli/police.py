"""`liaison report police` and `liaison reconcile police`: the monthly reconciliation with
the police station's population management.

Registered in bot/cli/__init__.py. The report holds whole phone numbers (the station needs
them to find people) and is audited as an export; the reconciliation is audited too, and
shows phones masked on the screen, whole only in its --out workbook.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import click
import openpyxl

from bot.cli.common import cli_actor, echo, fail, local_time, run_with_db, settings_of
from messages.render import Renderer
from storage import directory
from storage.clock import SystemClock
from storage.db import Database
from storage.phones import mask_phone
from storage.police import (
    Change,
    PoliceListError,
    PoliceRoster,
    PoliceRow,
    Reconciliation,
    month_bounds,
    police_roster,
    read_police_list,
    reconcile,
    record_reconciliation,
)
from storage.settings import LOCALES, Settings
from storage.sheets import add_sheet, spreadsheet_safe

LOCALE_OPTION = click.option(
    "--locale",
    "--lang",
    "locale",
    type=click.Choice(list(LOCALES)),
    default=None,
    help="The workbook's language (default LIAISON_LOCALE).",
)
UNIT_OPTION = click.option(
    "--unit", "unit_name", default=None, help="A street: this unit and the units below it."
)


def _labels(locale: str) -> Mapping[str, str]:
    return Renderer().labels(locale, "police")


def _label(locale: str, key: str, **values: object) -> str:
    return Renderer().label(locale, f"police.{key}", **values)


def _safe(text: str | None) -> str:
    return spreadsheet_safe(text) if text else ""


def _changes(row: PoliceRow, locale: str) -> str:
    words = []
    for change in row.changes:
        if change is Change.MOVED:
            words.append(_label(locale, "change_moved", before=row.previous_place or ""))
        else:
            words.append(_label(locale, f"change_{change.value}"))
    return "；".join(words) if locale == "zh_CN" else "; ".join(words)


def _this_month(settings: Settings) -> str:
    return SystemClock().now().astimezone(settings.zone).strftime("%Y-%m")


def _roster(
    settings: Settings, month: str, unit_name: str | None, subject: str, *, audited: bool
) -> PoliceRoster:
    try:
        month_bounds(month, settings.zone)
    except ValueError as error:
        fail(f"--month: {error}")

    async def gather(database: Database) -> PoliceRoster:
        async with database.session() as session:
            unit = None
            if unit_name is not None:
                unit = await directory.unit_by_name(session, unit_name.strip())
                if unit is None:
                    fail(f"no unit named {unit_name!r}")
            return await police_roster(
                session,
                SystemClock().now(),
                month,
                zone=settings.zone,
                unit=unit,
                actor=cli_actor(),
                subject=subject,
                audited=audited,
            )

    return run_with_db(settings, gather)


@click.group()
def report() -> None:
    """Reports for other offices."""


@report.command("police")
@click.option("--month", default=None, help="The month, YYYY-MM (default: this month).")
@UNIT_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The workbook to write (.xlsx; default police-YYYY-MM.xlsx).",
)
@LOCALE_OPTION
@click.pass_context
def report_police(
    ctx: click.Context,
    month: str | None,
    unit_name: str | None,
    out: Path | None,
    locale: str | None,
) -> None:
    """The month's inflow roster for the police station, with whole phone numbers (audited)."""
    settings = settings_of(ctx)
    month = month or _this_month(settings)
    out = out or Path(f"police-{month}.xlsx")
    if out.suffix.lower() != ".xlsx":
        fail("--out must end in .xlsx")
    roster = _roster(settings, month, unit_name, out.name, audited=True)
    language = locale or settings.locale
    words = _labels(language)
    book = openpyxl.Workbook()
    book.remove(book.worksheets[0])
    keys = ("name", "phone", "origin", "place", "workplace", "changes")
    add_sheet(
        book,
        words["sheet_roster"],
        [words[f"col_{key}"] for key in keys],
        (
            [
                _safe(row.name),
                row.phone or "",
                _safe(row.origin),
                _safe(row.place),
                _safe(row.workplace),
                _safe(_changes(row, language)),
            ]
            for row in roster.rows
        ),
    )
    left = sum(Change.LEFT in row.changes for row in roster.rows)
    unit = roster.unit or words["notes_all_units"]
    notes = [
        [_safe(_label(language, "notes_title", month=month, unit=unit))],
        [_label(language, "notes_made", at=local_time(SystemClock().now(), settings))],
        [_label(language, "notes_count", count=len(roster.rows) - left, left=left)],
        [_label(language, "notes_erased", count=roster.erased)],
        [""],
        *([words[f"notes_{key}"]] for key in keys),
    ]
    add_sheet(book, words["sheet_notes"], [words["notes_meaning"]], notes)
    try:
        book.save(out)
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    echo(f"wrote {len(roster.rows) - left} member(s), {left} who left, to {out}")


@click.group("reconcile")
def reconcile_group() -> None:
    """Compare another office's list with ours."""


def _line(*fields: object) -> str:
    return "\t".join(" ".join(str(f).split()) if f not in (None, "") else "-" for f in fields)


def _masked(phone: str | None) -> str:
    return mask_phone(phone) if phone else ""


def _print(result: Reconciliation) -> None:
    echo(
        f"matched {result.matched} ({len(result.by_name)} by name only); "
        f"police list only {len(result.theirs_only)}; our list only {len(result.ours_only)}; "
        f"place differs {len(result.place_differs)}; bad rows {len(result.bad_rows)}"
    )
    echo("\n== in the police list, not ours")
    for row in result.theirs_only:
        echo(_line(f"row {row.row_number}", row.name, _masked(row.phone), row.address))
    echo("\n== in our list, not the police's")
    for member in result.ours_only:
        echo(_line(member.name, _masked(member.phone), member.place))
    echo("\n== place differs (police / ours)")
    for pair in result.place_differs:
        how = "name only" if pair.by_name else "phone"
        echo(
            _line(
                f"row {pair.theirs.row_number}",
                pair.ours.name,
                _masked(pair.ours.phone),
                pair.theirs.address,
                pair.ours.place,
                how,
            )
        )
    echo("\n== matched by name only (no phone in the police list)")
    for pair in result.by_name:
        echo(_line(f"row {pair.theirs.row_number}", pair.ours.name, _masked(pair.ours.phone)))
    echo("\n== bad rows (skipped)")
    for error in result.bad_rows:
        echo(_line(f"row {error.row_number}", error.message))


def _write_report(path: Path, result: Reconciliation, locale: str) -> None:
    words = _labels(locale)
    book = openpyxl.Workbook()
    book.remove(book.worksheets[0])
    person = [words["col_row"], words["col_name"], words["col_phone"]]
    add_sheet(
        book,
        words["sheet_theirs_only"],
        [*person, words["col_their_address"]],
        (
            [r.row_number, _safe(r.name), r.phone or "", _safe(r.address)]
            for r in result.theirs_only
        ),
    )
    add_sheet(
        book,
        words["sheet_ours_only"],
        [words["col_name"], words["col_phone"], words["col_origin"], words["col_place"]],
        ([_safe(m.name), m.phone or "", _safe(m.origin), _safe(m.place)] for m in result.ours_only),
    )
    add_sheet(
        book,
        words["sheet_place_differs"],
        [*person, words["col_their_address"], words["col_our_place"], words["col_matched_by"]],
        (
            [
                p.theirs.row_number,
                _safe(p.ours.name),
                p.ours.phone or "",
                _safe(p.theirs.address),
                _safe(p.ours.place),
                words["matched_by_name" if p.by_name else "matched_by_phone"],
            ]
            for p in result.place_differs
        ),
    )
    add_sheet(
        book,
        words["sheet_bad_rows"],
        [words["col_row"], words["col_problem"]],
        ([e.row_number, _safe(e.message)] for e in result.bad_rows),
    )
    book.save(path)


@reconcile_group.command("police")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--month", default=None, help="Our roster of this month, YYYY-MM (default: now).")
@UNIT_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the findings to this workbook (.xlsx), with whole phone numbers.",
)
@LOCALE_OPTION
@click.pass_context
def reconcile_police(
    ctx: click.Context,
    file: Path,
    month: str | None,
    unit_name: str | None,
    out: Path | None,
    locale: str | None,
) -> None:
    """Compare the police station's list (CSV or XLSX) with our inflow roster (audited)."""
    settings = settings_of(ctx)
    if out is not None and out.suffix.lower() != ".xlsx":
        fail("--out must end in .xlsx")
    try:
        theirs, bad_rows = read_police_list(file)
    except PoliceListError as error:
        fail(f"{file.name}: {error}")
    roster = _roster(settings, month or _this_month(settings), unit_name, file.name, audited=False)
    result = reconcile(roster.rows, theirs, bad_rows)

    async def record(database: Database) -> None:
        async with database.session() as session:
            await record_reconciliation(
                session, SystemClock().now(), result, actor=cli_actor(), subject=file.name
            )

    run_with_db(settings, record)
    _print(result)
    if out is not None:
        try:
            _write_report(out, result, locale or settings.locale)
        except OSError as error:
            fail(f"cannot write {out}: {error.strerror or error}")
        echo(f"\nwrote the findings to {out}")
