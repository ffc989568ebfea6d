"""`liaison idea …`: the members' ideas and opinions, answered and exported from a terminal.

Registered in bot/cli/__init__.py; the shared helpers come from bot/cli/common.py. The
command line has no scope: it sees every idea, and every use is audited as
"cli:<os user>".
"""

from __future__ import annotations

from functools import partial
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
from storage.ideas import (
    IdeaError,
    IdeaView,
    adopt,
    list_ideas,
    reply_to,
    view_idea,
)
from storage.models import IdeaKind, IdeaStatus
from storage.settings import Settings
from storage.sheets import spreadsheet_safe, write_table

# `list` quotes this much of an idea and its reply; `show` and `export` have all of it.
LIST_EXCERPT = 60
EXPORT_COLUMNS = (
    "id",
    "sent",
    "kind",
    "status",
    "member",
    "groups",
    "text",
    "reply",
    "replied",
    "replied by",
    "adopted",
    "adopted by",
)


def _flat(text: str | None, limit: int | None = None) -> str:
    """text on one line (tabs and newlines would break the columns), cut to limit."""
    flat = " ".join((text or "").split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat or "-"


# Nothing replied or adopted yet reads as an empty cell.
_local = partial(local_time, missing="")


def _row(s: IdeaView, settings: Settings) -> list[str]:
    """An export row; every cell inert, since most of them are what people typed."""
    cells = [
        str(s.id),
        _local(s.created_at, settings),
        s.kind.value,
        s.status.value,
        s.member_name,
        ", ".join(s.groups),
        s.body,
        s.reply or "",
        _local(s.replied_at, settings),
        s.replied_by or "",
        _local(s.adopted_at, settings),
        s.adopted_by or "",
    ]
    return [spreadsheet_safe(cell) for cell in cells]


@click.group()
def idea() -> None:
    """Members' ideas ("golden ideas") and opinions: list, answer, adopt, export."""


@idea.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in IdeaStatus]),
    default=None,
    help="Only these: new (unanswered), replied or adopted.",
)
@click.option(
    "--kind",
    type=click.Choice([k.value for k in IdeaKind]),
    default=None,
    help="Only ideas or opinions.",
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.pass_context
def idea_list(ctx: click.Context, status: str | None, kind: str | None, limit: int) -> None:
    """Unanswered first, then newest first: id, sent, kind, status, member, text, reply."""
    settings = settings_of(ctx)

    async def listing(database: Database) -> list[IdeaView]:
        async with database.session() as session:
            found = await list_ideas(
                session,
                staff_id=None,
                status=IdeaStatus(status) if status else None,
                kind=IdeaKind(kind) if kind else None,
                limit=limit,
            )
            await audit.record(
                session,
                SystemClock().now(),
                actor=cli_actor(),
                action="idea.list.view",
                status=status,
                kind=kind,
                count=len(found),
            )
            return found

    for s in run_with_db(settings, listing):
        echo(
            "\t".join(
                [
                    str(s.id),
                    _local(s.created_at, settings),
                    s.kind.value,
                    s.status.value,
                    _flat(s.member_name),
                    _flat(s.body, LIST_EXCERPT),
                    _flat(s.reply, LIST_EXCERPT),
                ]
            )
        )


async def _one(database: Database, idea_id: int) -> IdeaView:
    async with database.session() as session:
        found = await view_idea(
            session, SystemClock().now(), idea_id, staff_id=None, actor=cli_actor()
        )
        if found is None:
            fail(f"no suggestion {idea_id}")
        return found


def _show(s: IdeaView, settings: Settings) -> list[str]:
    lines = [
        f"suggestion {s.id}: {s.kind.value}, {s.status.value}",
        f"member: {s.member_name}" + (f" ({s.phone_masked})" if s.phone_masked else ""),
        f"groups: {', '.join(s.groups) or '-'}",
        f"sent: {_local(s.created_at, settings)}",
        "",
        s.body,
    ]
    if s.reply is not None:
        lines += ["", f"reply ({s.replied_by}, {_local(s.replied_at, settings)}):", s.reply]
    if s.adopted_at is not None:
        lines += ["", f"adopted ({s.adopted_by}, {_local(s.adopted_at, settings)})"]
    return lines


@idea.command("show")
@click.argument("idea_id", type=RECORD_ID)
@click.pass_context
def idea_show(ctx: click.Context, idea_id: int) -> None:
    """One suggestion in full, with its reply (the phone number masked)."""
    settings = settings_of(ctx)
    found = run_with_db(settings, lambda database: _one(database, idea_id))
    echo("\n".join(_show(found, settings)))


@idea.command("reply")
@click.argument("idea_id", type=RECORD_ID)
@click.argument("text", required=False)
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Read the reply from a UTF-8 file.",
)
@click.pass_context
def idea_reply(ctx: click.Context, idea_id: int, text: str | None, file: Path | None) -> None:
    """Answer a suggestion; the member hears it. A second reply replaces the first."""
    settings = settings_of(ctx)
    if (text is None) == (file is None):
        fail("give the reply as TEXT or with --file, not both")
    if text is not None:
        body = text
    else:
        assert file is not None
        body = read_text_file(file)

    async def answer(database: Database) -> IdeaView:
        try:
            async with database.session() as session:
                return await reply_to(
                    session,
                    SystemClock().now(),
                    idea_id,
                    text=body,
                    actor=cli_actor(),
                    staff_id=None,
                )
        except IdeaError as error:
            fail(str(error))

    found = run_with_db(settings, answer)
    echo(f"replied to suggestion {found.id} of {found.member_name}; they will hear it")


@idea.command("adopt")
@click.argument("idea_id", type=RECORD_ID)
@click.pass_context
def idea_adopt(ctx: click.Context, idea_id: int) -> None:
    """Mark a suggestion adopted; the member hears it."""
    settings = settings_of(ctx)

    async def adopting(database: Database) -> IdeaView:
        try:
            async with database.session() as session:
                return await adopt(
                    session,
                    SystemClock().now(),
                    idea_id,
                    actor=cli_actor(),
                    staff_id=None,
                )
        except IdeaError as error:
            fail(str(error))

    found = run_with_db(settings, adopting)
    echo(f"adopted suggestion {found.id} of {found.member_name}; they will hear it")


@idea.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--status", type=click.Choice([s.value for s in IdeaStatus]), default=None)
@click.pass_context
def idea_export(ctx: click.Context, file: Path, status: str | None) -> None:
    """Every suggestion, with text and reply, to FILE (.xlsx, otherwise CSV); audited."""
    settings = settings_of(ctx)

    async def export(database: Database) -> int:
        async with database.session() as session:
            found = await list_ideas(
                session,
                staff_id=None,
                status=IdeaStatus(status) if status else None,
                limit=None,
            )
            # Written before the audit row commits: a failed write leaves no "exported".
            try:
                write_table(file, "suggestions", EXPORT_COLUMNS, [_row(s, settings) for s in found])
            except OSError as error:
                fail(f"cannot write {file}: {error.strerror or error}")
            await audit.record(
                session,
                SystemClock().now(),
                actor=cli_actor(),
                action="idea.export",
                file=file.name,
                status=status,
                count=len(found),
            )
            return len(found)

    count = run_with_db(settings, export)
    echo(f"{count} suggestion(s) written to {file}")
