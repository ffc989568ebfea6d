"""`liaison catalogue …`: the service catalogue (categories of need, departments, measures).

Registered in bot/cli/__init__.py; the shared helpers come from bot/cli/common.py.

Every change (load, set, add, activate, deactivate) and every export is audited; a change
that cannot be taken prints each reason and changes nothing.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.exc import IntegrityError

from bot.cli.common import cli_actor, echo, fail, run_with_db, settings_of
from storage.catalogue import (
    FIELDS,
    KINDS,
    SHIPPED,
    Catalogue,
    CatalogueError,
    Entry,
    Kind,
    LoadReport,
    add_entry,
    current_catalogue,
    dump_catalogue,
    dump_entry,
    export_catalogue,
    load_catalogue,
    read_catalogue,
    seed_if_empty,
    set_active,
    set_fields,
)
from storage.clock import SystemClock
from storage.db import Database

T = TypeVar("T")

PLURALS: dict[str, Kind] = {
    "categories": "category",
    "departments": "department",
    "measures": "measure",
}
EXPORT_HEADER = """The service catalogue of Liaison, exported by `liaison service export`.
Load it again with `liaison service load FILE`; the format is described in the shipped
catalogue (storage/data/service_catalogue.toml)."""


def _refused(error: CatalogueError) -> NoReturn:
    for problem in error.problems:
        echo(f"error: {problem}", err=True)
    echo("nothing was changed", err=True)
    sys.exit(1)


def _run(ctx: click.Context, operation: Callable[[Database], Coroutine[Any, Any, T]]) -> T:
    return run_with_db(settings_of(ctx), operation)


def _print_report(report: LoadReport, *, dry_run: bool = False) -> None:
    for label in report.added:
        echo(f"added\t{label}")
    for label, fields in report.changed:
        echo(f"changed\t{label}\t{','.join(fields)}")
    for label in report.deactivated:
        echo(f"deactivated\t{label}")
    for label in report.moved:
        echo(f"moved\t{label}")
    prefix = "dry run, nothing written: would be " if dry_run else ""
    echo(prefix + report.summary())


def _pairs(values: Sequence[str]) -> list[tuple[str, str]]:
    if len(values) % 2:
        fail("give FIELD VALUE pairs (a value with spaces in quotes; '' clears a field)")
    return list(zip(values[::2], values[1::2], strict=True))


def _measures(count: int) -> str:
    return f"{count} measure" if count == 1 else f"{count} measures"


def _status(entry: Entry) -> str:
    return "active" if entry.active else "inactive"


@click.group()
def catalogue() -> None:
    """The service catalogue: categories of need, departments and their measures."""


@catalogue.command("list")
@click.argument("what", required=False, type=click.Choice(list(PLURALS)))
@click.pass_context
def catalogue_list(ctx: click.Context, what: str | None) -> None:
    """Categories, departments and measures (or one of them), inactive ones marked."""

    async def read(database: Database) -> Catalogue:
        async with database.session() as session:
            return await current_catalogue(session)

    catalogue = _run(ctx, read)
    kinds: Sequence[Kind] = [PLURALS[what]] if what else KINDS
    counts: dict[str, Counter[str]] = {
        kind: Counter(str(m.values[kind]) for m in catalogue.measures if m.active)
        for kind in ("department", "category")
    }
    for kind in kinds:
        for entry in catalogue.entries(kind):
            if kind == "measure":
                fields = [
                    entry.values["department"],
                    entry.values["category"],
                    entry.values["title_zh"],
                    entry.values["title_en"],
                    f"{entry.values['target_days']} days",
                ]
            else:
                fields = [
                    entry.values["name_zh"],
                    entry.values["name_en"],
                    _measures(counts[kind][entry.code]),
                ]
            echo("\t".join(str(f) for f in [kind, entry.code, *fields, _status(entry)]))


@catalogue.command("show")
@click.argument("code")
@click.pass_context
def catalogue_show(ctx: click.Context, code: str) -> None:
    """One entry, as the catalogue file writes it (with a department's or category's measures)."""

    async def read(database: Database) -> Catalogue:
        async with database.session() as session:
            return await current_catalogue(session)

    catalogue = _run(ctx, read)
    entry = catalogue.find(code)
    if entry is None:
        fail(f"no category, department or measure has the code {code[:50]!r}")
    echo(dump_entry(entry), nl=False)
    if entry.kind != "measure":
        for measure in catalogue.measures:
            if measure.values[entry.kind] == code:
                echo(f"# measure {measure.code} ({_status(measure)}): {measure.values['title_zh']}")


@catalogue.command("load")
@click.argument(
    "file", required=False, type=click.Path(path_type=Path, dir_okay=False), default=None
)
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change.")
@click.pass_context
def catalogue_load(ctx: click.Context, file: Path | None, dry_run: bool) -> None:
    """Load a catalogue file (default: the shipped one): an upsert by code; entries the
    file leaves out become inactive. A file with any problem changes nothing."""
    path = file or SHIPPED
    try:
        catalogue = read_catalogue(path)
    except CatalogueError as error:
        _refused(error)

    async def load(database: Database) -> LoadReport:
        async with database.session() as session:
            return await load_catalogue(
                session,
                SystemClock().now(),
                catalogue,
                actor=cli_actor(),
                source=str(path) if file else SHIPPED.name,
                dry_run=dry_run,
            )

    _print_report(_run(ctx, load), dry_run=dry_run)


@catalogue.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def catalogue_export(ctx: click.Context, file: Path) -> None:
    """Write the catalogue, inactive entries included, to FILE in the format `load` reads."""

    async def export(database: Database) -> Catalogue:
        async with database.session() as session:
            return await export_catalogue(
                session, SystemClock().now(), actor=cli_actor(), target=str(file)
            )

    catalogue = _run(ctx, export)
    try:
        file.write_text(dump_catalogue(catalogue, header=EXPORT_HEADER), encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {file}: {error.strerror or error}")
    counts = {kind: len(catalogue.entries(kind)) for kind in KINDS}
    echo(
        f"wrote {file}: {counts['category']} categories, {counts['department']} departments,"
        f" {counts['measure']} measures"
    )


@catalogue.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("code")
@click.argument("values", nargs=-1, required=True)
@click.pass_context
def catalogue_set(ctx: click.Context, code: str, values: tuple[str, ...]) -> None:
    """Change fields of one entry: set CODE FIELD VALUE [FIELD VALUE …].

    Fields are the keys of the catalogue file; documents are separated by "|"; an empty
    value clears an optional field (a text needs both languages or neither)."""
    pairs = _pairs(values)

    async def change(database: Database) -> LoadReport:
        try:
            async with database.session() as session:
                return await set_fields(
                    session, SystemClock().now(), code, pairs, actor=cli_actor()
                )
        except CatalogueError as error:
            _refused(error)

    report = _run(ctx, change)
    if not report.has_changes:
        echo(f"{code}: nothing changed (the values were already so)")
        return
    _print_report(report)


@catalogue.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.argument("code")
@click.argument("values", nargs=-1)
@click.pass_context
def catalogue_add(ctx: click.Context, kind: Kind, code: str, values: tuple[str, ...]) -> None:
    """Add an entry at the end of its menu: add KIND CODE FIELD VALUE [FIELD VALUE …].

    A category needs name_zh and name_en; a department the same; a measure department,
    category, title_zh, title_en and target_days."""
    pairs = _pairs(values)

    async def add(database: Database) -> LoadReport:
        try:
            async with database.session() as session:
                return await add_entry(
                    session, SystemClock().now(), kind, code, pairs, actor=cli_actor()
                )
        except CatalogueError as error:
            _refused(error)

    _print_report(_run(ctx, add))


def _activation(ctx: click.Context, code: str, active: bool) -> None:
    async def change(database: Database) -> LoadReport:
        try:
            async with database.session() as session:
                return await set_active(
                    session, SystemClock().now(), code, active, actor=cli_actor()
                )
        except CatalogueError as error:
            _refused(error)

    report = _run(ctx, change)
    if not report.has_changes:
        echo(f"{code} was already {'active' if active else 'inactive'}")
        return
    _print_report(report)


@catalogue.command("deactivate")
@click.argument("code")
@click.pass_context
def catalogue_deactivate(ctx: click.Context, code: str) -> None:
    """Stop offering an entry (a department's or category's measures with it); requests
    made under it keep it, and nothing is deleted."""
    _activation(ctx, code, False)


@catalogue.command("activate")
@click.argument("code")
@click.pass_context
def catalogue_activate(ctx: click.Context, code: str) -> None:
    """Offer an inactive entry again (a measure only under an active department and category)."""
    _activation(ctx, code, True)


# The keys each kind takes, for `--help` readers who have no catalogue file at hand.
catalogue_add.help = (
    (catalogue_add.help or "")
    + "\n\nFields: "
    + "; ".join(
        f"{kind}: {', '.join(f.name for f in FIELDS[kind] if f.name not in ('code', 'active'))}"
        for kind in KINDS
    )
)


async def seed_catalogue(database: Database) -> None:
    """At start (serve, chat): load the shipped catalogue into a database that has none."""
    try:
        async with database.session() as session:
            await seed_if_empty(session, SystemClock().now())
    except IntegrityError:
        # Another process starting at the same moment seeded it first.
        return
