"""`liaison rating …`: the yearly ratings and commendations from a terminal — the rules read
and changed, adjustments with a reason, the ranked list (on screen with phones masked, or
to a workbook), the commendation list and its notice.

Registered in bot/cli/__init__.py; the shared helpers come from bot/cli/common.py. The
command line has no scope and an administrator's rights; every change and export is
audited as "cli:<os user>". A command that cannot do all it was asked does nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TypeVar

import click

from bot.cli.common import cli_actor, echo, fail, local_time, run_with_db, settings_of
from storage.clock import SystemClock
from storage.db import Database
from storage.ratings import (
    CRITERIA,
    FIRST_YEAR,
    LAST_YEAR,
    MAX_POINTS,
    AdjustmentView,
    CommendationView,
    Ranking,
    RatingError,
    Refusal,
    Rule,
    adjust,
    change_rule,
    commend,
    commendations,
    export_columns,
    export_row,
    find_member,
    notify_commended,
    ranking,
    rules,
    uncommend,
    workbook,
)
from storage.sheets import write_table

T = TypeVar("T")
YEAR = click.IntRange(FIRST_YEAR, LAST_YEAR)
EXPORT_SUFFIXES = (".xlsx", ".csv")


def _done(result: T | Refusal) -> T:
    """What an operation did; the command line has an administrator's rights over everyone,
    so a refusal here is a bug, said plainly rather than ignored."""
    if isinstance(result, Refusal):
        fail(f"refused ({result.value}); nothing was changed")
    return result


def _line(*fields: object) -> str:
    """One tab-separated row; a field that could hold a tab or newline is flattened."""
    return "\t".join(" ".join(str(f).split()) if f not in (None, "") else "-" for f in fields)


def _cap(rule: Rule) -> str:
    return "no cap" if rule.cap is None else f"cap {rule.cap}"


def _write(out: Path, found: Ranking) -> None:
    """The list to a workbook (the console's download, the same sheet) or a CSV file."""
    if out.suffix.lower() == ".xlsx":
        out.write_bytes(workbook(found))
    else:
        rows = map(export_row, found.scores)
        write_table(out, str(found.year), export_columns(), rows)


@click.group()
def rating() -> None:
    """Yearly ratings (five-star members) and commendations: rules, scores, the list."""


@rating.command("rules")
@click.pass_context
def rating_rules(ctx: click.Context) -> None:
    """Each criterion: points each time it is met, the yearly cap, last changed by whom."""
    settings = settings_of(ctx)

    async def read(database: Database) -> list[Rule]:
        async with database.session() as session:
            return await rules(session)

    for rule in run_with_db(settings, read):
        echo(
            _line(
                rule.criterion,
                f"{rule.points} each",
                _cap(rule),
                rule.updated_by or "default",
                local_time(rule.updated_at, settings, missing=""),
            )
        )


@rating.command("rule")
@click.argument("criterion", type=click.Choice(CRITERIA))
@click.option("--points", required=True, type=click.IntRange(0, MAX_POINTS))
@click.option("--cap", type=click.IntRange(0, None), default=None, help="Most points a year.")
@click.option("--no-cap", "no_cap", is_flag=True, help="No yearly cap.")
@click.pass_context
def rating_rule(
    ctx: click.Context, criterion: str, points: int, cap: int | None, no_cap: bool
) -> None:
    """Change a criterion's points (and its cap; neither option: the cap stays)."""
    settings = settings_of(ctx)
    if cap is not None and no_cap:
        fail("give --cap N or --no-cap, not both; nothing was changed")

    async def change(database: Database) -> Rule:
        try:
            async with database.session() as session:
                changed = await change_rule(
                    session,
                    SystemClock().now(),
                    criterion=criterion,
                    points=points,
                    cap=cap,
                    change_cap=cap is not None or no_cap,
                    actor=cli_actor(),
                    staff_id=None,
                )
                return _done(changed)
        except RatingError as error:
            fail(f"{error}; nothing was changed")

    rule = run_with_db(settings, change)
    echo(_line(rule.criterion, f"{rule.points} each", _cap(rule)))


@rating.command("adjust")
@click.argument("member")
@click.option("--year", required=True, type=YEAR)
@click.option("--points", required=True, type=int, help="Added; negative takes points away.")
@click.option("--reason", required=True, help="Why (kept with the adjustment).")
@click.pass_context
def rating_adjust(ctx: click.Context, member: str, year: int, points: int, reason: str) -> None:
    """Add points to (or take them from) MEMBER's year: a phone number or a member id."""
    settings = settings_of(ctx)

    async def add(database: Database) -> AdjustmentView:
        try:
            async with database.session() as session:
                member_id = await find_member(session, member)
                made = await adjust(
                    session,
                    SystemClock().now(),
                    member_id=member_id,
                    year=year,
                    points=points,
                    reason=reason,
                    actor=cli_actor(),
                    staff_id=None,
                )
                return _done(made)
        except RatingError as error:
            fail(f"{error}; nothing was changed")

    made = run_with_db(settings, add)
    echo(f"member {made.member_id}, {made.year}: {made.points:+d} ({made.reason})")


@rating.command("rank")
@click.option("--year", required=True, type=YEAR)
@click.option("--unit", default=None, help="Members of this unit and the units below it.")
@click.option("--top", type=click.IntRange(1, None), default=None, help="The first N ranks.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the list with the breakdown to a .xlsx (or .csv) file: audited.",
)
@click.pass_context
def rating_rank(
    ctx: click.Context, year: int, unit: str | None, top: int | None, out: Path | None
) -> None:
    """The year's ranked list: rank, name, masked phone, home unit, total (equal totals
    share a rank)."""
    settings = settings_of(ctx)
    if out is not None and out.suffix.lower() not in EXPORT_SUFFIXES:
        fail(f"--out must end in .xlsx or .csv, not {out.name!r}")

    async def read(database: Database) -> Ranking:
        try:
            async with database.session() as session:
                found = await ranking(
                    session,
                    SystemClock().now(),
                    year=year,
                    zone=settings.zone,
                    cycle=settings.default_cycle,
                    staff_id=None,
                    actor=cli_actor(),
                    unit=unit,
                    top=top,
                    export=out is not None,
                )
                if out is not None:
                    # Written before the audit row commits: a file that could not be written
                    # leaves no export in the log.
                    try:
                        await asyncio.to_thread(_write, out, found)
                    except OSError as error:
                        fail(f"cannot write {out}: {error.strerror}")
                return found
        except RatingError as error:
            fail(str(error))

    found = run_with_db(settings, read)
    if out is not None:
        echo(f"{len(found.scores)} member(s) of {found.total} written to {out}")
        return
    for score in found.scores:
        echo(_line(score.rank, score.name, score.phone_masked, score.home_unit, score.total))
    if not found.scores:
        echo("no members")


@rating.command("commend")
@click.argument("members", nargs=-1, required=True)
@click.option("--year", required=True, type=YEAR)
@click.option("--citation", default=None, help="What they are commended for (in the notice).")
@click.pass_context
def rating_commend(
    ctx: click.Context, members: tuple[str, ...], year: int, citation: str | None
) -> None:
    """Put MEMBERS (phone numbers or member ids) on the year's commendation list."""
    settings = settings_of(ctx)

    async def choose(database: Database) -> int:
        try:
            async with database.session() as session:
                ids = [await find_member(session, text) for text in members]
                chosen = await commend(
                    session,
                    SystemClock().now(),
                    year=year,
                    member_ids=ids,
                    citation=citation,
                    actor=cli_actor(),
                    staff_id=None,
                )
                return len(_done(chosen))
        except RatingError as error:
            fail(f"{error}; nothing was changed")

    added = run_with_db(settings, choose)
    echo(f"{added} member(s) added to the {year} commendation list")


@rating.command("uncommend")
@click.argument("member")
@click.option("--year", required=True, type=YEAR)
@click.pass_context
def rating_uncommend(ctx: click.Context, member: str, year: int) -> None:
    """Take MEMBER off the year's commendation list."""
    settings = settings_of(ctx)

    async def remove(database: Database) -> None:
        try:
            async with database.session() as session:
                member_id = await find_member(session, member)
                removed = await uncommend(
                    session,
                    SystemClock().now(),
                    year=year,
                    member_id=member_id,
                    actor=cli_actor(),
                    staff_id=None,
                )
                _done(removed)
        except RatingError as error:
            fail(f"{error}; nothing was changed")

    run_with_db(settings, remove)
    echo(f"removed from the {year} commendation list")


@rating.command("commendations")
@click.option("--year", required=True, type=YEAR)
@click.pass_context
def rating_commendations(ctx: click.Context, year: int) -> None:
    """The year's commendation list: member id, name, masked phone, notified, citation."""
    settings = settings_of(ctx)

    async def read(database: Database) -> list[CommendationView]:
        async with database.session() as session:
            return await commendations(session, year=year, staff_id=None)

    listed = run_with_db(settings, read)
    for c in listed:
        notified = local_time(c.notified_at, settings, missing="not notified")
        echo(_line(c.member_id, c.name, c.phone_masked, notified, c.citation))
    if not listed:
        echo(f"nobody on the {year} list")


@rating.command("notify")
@click.option("--year", required=True, type=YEAR)
@click.pass_context
def rating_notify(ctx: click.Context, year: int) -> None:
    """Send the commendation notice to those on the year's list not yet told (each once)."""
    settings = settings_of(ctx)

    async def send(database: Database) -> int:
        async with database.session() as session:
            told = await notify_commended(
                session, SystemClock().now(), year=year, actor=cli_actor(), staff_id=None
            )
            return _done(told)

    told = run_with_db(settings, send)
    echo(f"{told} member(s) notified" if told else "everyone on the list was already notified")
