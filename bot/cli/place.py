"""`liaison place …`: import the places members find with /places, and list them.

Registered in bot/cli/__init__.py; the shared helpers come from bot/cli/common.py.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import cli_actor, echo, fail, run_with_db, settings_of
from storage import audit
from storage.clock import SystemClock
from storage.db import Database
from storage.places import (
    PlaceFileError,
    PlaceImport,
    PlaceView,
    import_places,
    list_places,
    read_places,
)


def _line(*fields: object) -> str:
    """One tab-separated row; a field that could hold a tab or newline is flattened."""
    return "\t".join(" ".join(str(f).split()) if f not in (None, "") else "-" for f in fields)


@click.group()
def place() -> None:
    """Members' homes, activity centres and service points (found with /places)."""


@place.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--replace", is_flag=True, help="Also remove the places the file does not list.")
@click.option("--dry-run", is_flag=True, help="Check the file and count; change nothing.")
@click.pass_context
def place_import(ctx: click.Context, file: Path, replace: bool, dry_run: bool) -> None:
    """Import places (CSV or XLSX): all rows or none; matched by name and district."""
    if not file.is_file():
        fail(f"no such file: {file}")
    try:
        parsed = read_places(file)
    except PlaceFileError as error:
        fail(f"{file.name}: {error}")

    async def apply(database: Database) -> PlaceImport:
        async with database.session() as session:
            return await import_places(
                session,
                SystemClock().now(),
                parsed,
                actor=cli_actor(),
                source=file.name,
                replace=replace,
                dry_run=dry_run,
            )

    report = run_with_db(settings_of(ctx), apply)
    if parsed.ignored_columns:
        echo(f"ignored columns: {', '.join(parsed.ignored_columns)}", err=True)
    if not report.ok:
        for problem in report.errors:
            column = f" ({problem.column})" if problem.column else ""
            echo(f"row {problem.row_number}{column}: {problem.message}", err=True)
        fail(f"{len(report.errors)} problem(s) found; nothing was imported")
    counts = f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged"
    if replace:
        counts += f", {report.removed} removed"
    if dry_run:
        echo(f"dry run of {file.name}, nothing changed: would be {counts}")
    else:
        echo(f"imported {file.name}: {counts}")


@place.command("list")
@click.option("--district", default=None, help="Only this district's places.")
@click.pass_context
def place_list(ctx: click.Context, district: str | None) -> None:
    """List places: id, name, kind, district, address, latitude, longitude, hours, phone."""

    async def listing(database: Database) -> list[PlaceView]:
        async with database.session() as session:
            found = await list_places(session, district)
            await audit.record(
                session,
                SystemClock().now(),
                actor=cli_actor(),
                action="place.list",
                subject=district,
                count=len(found),
            )
            return found

    found = run_with_db(settings_of(ctx), listing)
    if not found and district is not None:
        fail(f"no places in district {district!r}")
    for p in found:
        echo(
            _line(
                p.id,
                p.name,
                p.kind.value,
                p.district,
                p.address,
                f"{p.latitude:.6f}",
                f"{p.longitude:.6f}",
                p.hours,
                p.phone,
            )
        )
