"""`liaison report police` and `liaison reconcile police`: the monthly reconciliation with
the police station's population management.

Registered in bot/cli/__init__.py. The report holds whole phone numbers (the station needs
them to find people) and is audited as an export; the reconciliation is audited too, and
shows phones masked on the screen, whole only in its --out workbook. The workbooks and the
findings as shown are messages/police_report.py's, which the console uses as well.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import (
    UNIT_OPTION,
    cli_actor,
    echo,
    fail,
    local_time,
    locale_option,
    run_with_db,
    settings_of,
)
from messages.police_report import findings, findings_workbook, roster_left, roster_workbook
from messages.render import Renderer
from storage import directory
from storage.clock import SystemClock
from storage.db import Database
from storage.police import (
    PoliceListError,
    PoliceRoster,
    Reconciliation,
    month_bounds,
    police_roster,
    read_police_list,
    reconcile,
    record_reconciliation,
)
from storage.settings import Settings

LOCALE_OPTION = locale_option("The workbook's")


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
    book = roster_workbook(
        Renderer(),
        roster,
        locale or settings.locale,
        made=local_time(SystemClock().now(), settings),
    )
    left = roster_left(roster)
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


def _print(result: Reconciliation) -> None:
    shown = findings(result)
    echo(
        f"matched {shown.matched} ({len(shown.by_name)} by name only); "
        f"police list only {len(shown.theirs_only)}; our list only {len(shown.ours_only)}; "
        f"place differs {len(shown.place_differs)}; bad rows {len(shown.bad_rows)}"
    )
    echo("\n== in the police list, not ours")
    for theirs in shown.theirs_only:
        echo(_line(f"row {theirs.row_number}", theirs.name, theirs.phone, theirs.address))
    echo("\n== in our list, not the police's")
    for ours in shown.ours_only:
        echo(_line(ours.name, ours.phone, ours.place))
    echo("\n== place differs (police / ours)")
    for moved in shown.place_differs:
        how = "name only" if moved.by_name else "phone"
        echo(
            _line(
                f"row {moved.row_number}",
                moved.name,
                moved.phone,
                moved.their_address,
                moved.our_place,
                how,
            )
        )
    echo("\n== matched by name only (no phone in the police list)")
    for pair in shown.by_name:
        echo(_line(f"row {pair.row_number}", pair.name, pair.phone))
    echo("\n== bad rows (skipped)")
    for row_number, problem in shown.bad_rows:
        echo(_line(f"row {row_number}", problem))


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
            findings_workbook(Renderer(), result, locale or settings.locale).save(out)
        except OSError as error:
            fail(f"cannot write {out}: {error.strerror or error}")
        echo(f"\nwrote the findings to {out}")
