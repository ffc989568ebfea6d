"""`liaison material …`: the study library, its push schedules and who studied what.

Registered in bot/cli/__init__.py; the shared helpers come from bot/cli/common.py.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from bot.cli.common import (
    RECORD_ID,
    cli_actor,
    echo,
    fail,
    local_time,
    read_text_file,
    run_with_db,
    settings_of,
)
from storage import audit
from storage.clock import SystemClock
from storage.db import Database
from storage.study import (
    WEEKDAY_NAMES,
    GroupProgress,
    MaterialLine,
    MemberReport,
    ScheduleLine,
    StudyError,
    add_material,
    add_schedule,
    archive_material,
    get_schedule,
    group_completion,
    list_materials,
    list_schedules,
    member_completion,
    next_occurrence,
    parse_day,
    parse_weekday,
    stop_schedule,
)


def _line(*fields: object) -> str:
    """One tab-separated row; fields that could hold a tab or newline are flattened."""
    return "\t".join(" ".join(str(f).split()) if f not in (None, "") else "-" for f in fields)


@click.group()
def material() -> None:
    """Study materials of the mobile party school, and their pushes to groups."""


@material.command("add")
@click.option("--title", required=True, help="The title (at most 200 characters).")
@click.option("--text", default=None, help="The text.")
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Read the text from a UTF-8 file.",
)
@click.option("--link", default=None, help="A web page to go with it (http:// or https://).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable, or comma-separated).")
@click.pass_context
def material_add(
    ctx: click.Context,
    title: str,
    text: str | None,
    file: Path | None,
    link: str | None,
    tags: tuple[str, ...],
) -> None:
    """Add a material to the library; its id is printed on the last line."""
    settings = settings_of(ctx)
    if (text is None) == (file is None):
        fail("give the text with exactly one of --text or --file")
    if text is not None:
        body = text
    else:
        assert file is not None
        body = read_text_file(file)

    async def add(database: Database) -> tuple[int, str, str | None]:
        try:
            async with database.session() as session:
                row = await add_material(
                    session,
                    SystemClock().now(),
                    actor=cli_actor(),
                    title=title,
                    body=body,
                    link=link,
                    tags=[t for raw in tags for t in raw.split(",")],
                )
                return row.id, row.title, row.tags
        except StudyError as error:
            fail(str(error))

    material_id, stored_title, stored_tags = run_with_db(settings, add)
    echo(f"material {material_id}: {stored_title} (tags: {stored_tags or 'none'})")
    echo(str(material_id))


@material.command("list")
@click.option("--all", "everything", is_flag=True, help="Archived materials too.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_context
def material_list(ctx: click.Context, everything: bool, limit: int) -> None:
    """The library, newest first: id, added, title, tags, groups pushed to, archived, extras."""
    settings = settings_of(ctx)

    async def listing(database: Database) -> list[MaterialLine]:
        async with database.session() as session:
            return await list_materials(session, include_archived=everything, limit=limit)

    for row in run_with_db(settings, listing):
        extras = [f"document {row.document_name}" if row.document_name else "", row.link or ""]
        echo(
            _line(
                row.id,
                local_time(row.created_at, settings),
                row.title,
                ",".join(row.tags),
                f"{row.groups} groups",
                f"archived {local_time(row.archived_at, settings)}" if row.archived_at else "",
                " ".join(e for e in extras if e),
            )
        )


@material.command("archive")
@click.argument("material_id", type=RECORD_ID)
@click.pass_context
def material_archive(ctx: click.Context, material_id: int) -> None:
    """Take a material out of the library: no schedule pushes it again."""
    settings = settings_of(ctx)

    async def archive(database: Database) -> str:
        try:
            async with database.session() as session:
                row = await archive_material(
                    session, SystemClock().now(), material_id, actor=cli_actor()
                )
                return row.title
        except StudyError as error:
            fail(str(error))

    title = run_with_db(settings, archive)
    echo(f"archived material {material_id}: {title}")


# --- schedules --------------------------------------------------------------------------------


@material.group("plan")
def plan() -> None:
    """When groups get materials: weekly, or one material on a date."""


def _describe(line: ScheduleLine) -> tuple[str, str]:
    """When and what, as `plan list` shows them."""
    if line.weekday is not None:
        what = f"next material tagged {line.tag}" if line.tag else "next material"
        return f"every {WEEKDAY_NAMES[line.weekday]} {line.at_time}", what
    return f"{line.on_date} {line.at_time}", f"material {line.material_id} {line.material_title}"


@plan.command("add")
@click.option("--group", required=True, help="The group's name.")
@click.option("--weekly", default=None, help="Every week on this day: mon, tue … sun.")
@click.option("--on", "on", default=None, help="Once, on this date: 2026-12-05.")
@click.option("--at", "at", required=True, help="The time, 19:00 (in LIAISON_TIMEZONE).")
@click.option("--tag", default=None, help="Weekly: only materials with this tag.")
@click.option(
    "--material", "material_id", type=RECORD_ID, default=None, help="Once: this material."
)
@click.pass_context
def plan_add(
    ctx: click.Context,
    group: str,
    weekly: str | None,
    on: str | None,
    at: str,
    tag: str | None,
    material_id: int | None,
) -> None:
    """Add a push schedule; its id is printed on the last line."""
    settings = settings_of(ctx)
    if (weekly is None) == (on is None):
        fail("give exactly one of --weekly DAY or --on DATE")
    if weekly is not None and material_id is not None:
        fail("--material is for --on; a weekly push sends the library's next material")
    if on is not None and material_id is None:
        fail("--on needs --material ID: the material to push that day")
    if on is not None and tag is not None:
        fail("--tag is for --weekly pushes")
    try:
        weekday = parse_weekday(weekly) if weekly is not None else None
        on_date = parse_day(on) if on is not None else None
    except StudyError as error:
        fail(str(error))

    async def add(database: Database) -> tuple[ScheduleLine, datetime | None]:
        now = SystemClock().now()
        try:
            async with database.session() as session:
                schedule = await add_schedule(
                    session,
                    now,
                    actor=cli_actor(),
                    group=group,
                    at=at,
                    zone=settings.zone,
                    weekday=weekday,
                    on_date=on_date,
                    material_id=material_id,
                    tag=tag,
                )
                line = await get_schedule(session, schedule.id, staff_id=None)
                assert line is not None
        except StudyError as error:
            fail(str(error))
        return line, next_occurrence(line, now, settings.zone)

    line, first = run_with_db(settings, add)
    when, what = _describe(line)
    echo(f"schedule {line.id} for {line.group}: {when}, {what}")
    echo(f"first push: {local_time(first, settings)}")
    echo(str(line.id))


@plan.command("list")
@click.option("--all", "everything", is_flag=True, help="Stopped schedules too.")
@click.pass_context
def plan_list(ctx: click.Context, everything: bool) -> None:
    """Push schedules by group: id, group, when, what, next push, pushes so far, state."""
    settings = settings_of(ctx)

    async def listing(database: Database) -> list[ScheduleLine]:
        async with database.session() as session:
            return await list_schedules(session, staff_id=None, include_stopped=everything)

    now = SystemClock().now()
    for line in run_with_db(settings, listing):
        when, what = _describe(line)
        echo(
            _line(
                line.id,
                line.group,
                when,
                what,
                local_time(next_occurrence(line, now, settings.zone), settings),
                f"{line.pushes} pushed",
                "active" if line.active else "stopped",
            )
        )


@plan.command("stop")
@click.argument("schedule_id", type=RECORD_ID)
@click.pass_context
def plan_stop(ctx: click.Context, schedule_id: int) -> None:
    """Stop a push schedule: it pushes nothing more."""
    settings = settings_of(ctx)

    async def stop(database: Database) -> ScheduleLine:
        try:
            async with database.session() as session:
                return await stop_schedule(
                    session, SystemClock().now(), schedule_id, actor=cli_actor(), staff_id=None
                )
        except StudyError as error:
            fail(str(error))

    line = run_with_db(settings, stop)
    echo(f"stopped schedule {schedule_id} for {line.group}")


# --- who studied what --------------------------------------------------------------------------


@material.command("report")
@click.option("--group", default=None, help="One group, with a line per member.")
@click.pass_context
def material_report(ctx: click.Context, group: str | None) -> None:
    """Completion: per group and material pushed, how many members studied it (audited)."""
    settings = settings_of(ctx)

    async def report(database: Database) -> tuple[list[GroupProgress], MemberReport | None]:
        now = SystemClock().now()
        try:
            async with database.session() as session:
                groups = await group_completion(session, staff_id=None, group=group)
                members = (
                    await member_completion(session, staff_id=None, group=group)
                    if group is not None
                    else None
                )
                await audit.record(
                    session,
                    now,
                    actor=cli_actor(),
                    action="study.report.export",
                    group=group,
                    groups=len(groups),
                )
        except StudyError as error:
            fail(str(error))
        return groups, members

    groups, members = run_with_db(settings, report)
    for progress in groups:
        echo(_line("group", progress.name, f"{progress.members} members"))
        for row in progress.materials:
            echo(
                _line(
                    "material",
                    row.material_id,
                    row.title,
                    local_time(row.pushed_at, settings),
                    f"{row.studied}/{progress.members} studied",
                )
            )
    if members is not None:
        for person in members.members:
            echo(
                _line(
                    "member",
                    person.name,
                    f"{person.studied}/{members.pushed} studied",
                    local_time(person.last_studied_at, settings),
                )
            )
