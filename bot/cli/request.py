"""`liaison request …`: service requests from the command line — list, show, export.

Registered in bot/cli/__init__.py; the shared helpers come from bot/cli/common.py. The
command line sees every request (no scope); each listing, card and export
is audited, and phone numbers are masked unless --full is given (audited as such).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path

import click

from bot.cli.common import cli_actor, echo, fail, local_time, run_with_db, settings_of
from bot.updates import parse_id
from storage import audit
from storage.clock import SystemClock
from storage.db import Database
from storage.models import RequestStatus
from storage.phones import mask_phone
from storage.requests import RequestView, list_requests, request_card
from storage.settings import Settings
from storage.sheets import spreadsheet_safe, write_table

EXPORT_COLUMNS = (
    "number",
    "status",
    "member",
    "phone",
    "category",
    "measure",
    "description",
    "attachment",
    "source",
    "assignee",
    "referred_to",
    "created",
    "due",
    "closed",
    "overdue",
    "solved",
    "satisfaction",
)

# Not closed yet (and the like) reads as an empty cell.
_local = partial(local_time, missing="")


def _line(*fields: object) -> str:
    """One tab-separated row; fields that could hold a tab or newline are flattened."""
    return "\t".join(" ".join(str(f).split()) if f not in (None, "") else "-" for f in fields)


def _status(value: str | None) -> RequestStatus | None:
    if value is None:
        return None
    try:
        return RequestStatus(value)
    except ValueError:
        names = ", ".join(s.value for s in RequestStatus)
        fail(f"unknown status {value!r}; use one of {names}")


def _phone(view: RequestView, full: bool) -> str:
    if view.member_phone is None:
        return ""
    return view.member_phone if full else mask_phone(view.member_phone)


STATUS_OPTION = click.option(
    "--status",
    default=None,
    help="Only requests with this status (received, in_progress, resolved, cannot_help, referred).",
)
ALL_OPTION = click.option("--all", "everything", is_flag=True, help="Closed requests too.")


@click.group()
def request() -> None:
    """Service requests: list, show one with its history, export."""


@request.command("list")
@STATUS_OPTION
@ALL_OPTION
@click.pass_context
def request_list(ctx: click.Context, status: str | None, everything: bool) -> None:
    """Requests, oldest first (open ones unless --all or --status): number, status, age …"""
    settings = settings_of(ctx)
    wanted = _status(status)

    async def listing(database: Database) -> list[RequestView]:
        now = SystemClock().now()
        async with database.session() as session:
            rows, _ = await list_requests(
                session, staff_id=None, status=wanted, include_closed=everything
            )
            await audit.record(
                session,
                now,
                actor=cli_actor(),
                action="request.list",
                status=status,
                all=everything,
                count=len(rows),
            )
        return rows

    now = SystemClock().now()
    for view in run_with_db(settings, listing):
        echo(
            _line(
                f"#{view.id}",
                view.status.value,
                f"{max((now - view.created_at).days, 0)}d",
                "overdue" if view.overdue(now) else "",
                view.member_name,
                view.category["zh"],
                view.assignee_name,
                _local(view.due_at, settings),
            )
        )


@request.command("show")
@click.argument("number")
@click.option("--full", is_flag=True, help="Show the whole phone number (audited).")
@click.pass_context
def request_show(ctx: click.Context, number: str, full: bool) -> None:
    """One request (12 or #12) with its whole history, internal notes included."""
    settings = settings_of(ctx)
    request_id = parse_id(number)
    if request_id is None:
        fail(f"{number!r} is not a request number like 12 or #12")

    async def show(database: Database) -> RequestView | None:
        async with database.session() as session:
            view = await request_card(session, request_id, staff_id=None)
            if view is not None:
                await audit.record(
                    session,
                    SystemClock().now(),
                    actor=cli_actor(),
                    action="request.view.full" if full else "request.view",
                    subject=f"request:{request_id}",
                )
        return view

    view = run_with_db(settings, show)
    if view is None:
        fail(f"no request #{request_id}")
    now = SystemClock().now()
    measure = f" / {view.measure['zh']}" if view.measure else ""
    echo(f"#{view.id}\t{view.status.value}{'  (overdue)' if view.overdue(now) else ''}")
    echo(f"member\t{view.member_name}\t{_phone(view, full) or '-'}")
    echo(f"category\t{view.category['zh']}{measure}")
    echo(f"source\t{view.source}")
    echo(f"created\t{_local(view.created_at, settings)}")
    echo(f"due\t{_local(view.due_at, settings)}")
    echo(f"assignee\t{view.assignee_name or '-'}")
    if view.referred_to:
        echo(f"referred to\t{view.referred_to}")
    if view.attachment_kind:
        echo(f"attachment\t{view.attachment_kind} {view.attachment_name or ''}".rstrip())
    if view.solved is not None:
        rating = f", {view.satisfaction}/5" if view.satisfaction else ""
        echo(f"feedback\t{'solved' if view.solved else 'not solved'}{rating}")
    echo("")
    echo(view.description)
    echo("")
    for event in view.events:
        echo(
            _line(
                _local(event.at, settings),
                event.kind.value,
                event.actor_name or "system",
                event.status.value if event.status else "",
                f"to {event.assignee_name}" if event.assignee_name else "",
                event.note,
                "" if event.shown_to_member else "internal",
            )
        )


def _row(view: RequestView, now: datetime, settings: Settings, full: bool) -> list[object]:
    measure = view.measure["zh"] if view.measure else ""
    return [
        view.id,
        view.status.value,
        spreadsheet_safe(view.member_name),
        _phone(view, full),
        view.category["zh"],
        measure,
        spreadsheet_safe(view.description),
        spreadsheet_safe(view.attachment_name or view.attachment_kind or "")
        if view.attachment_kind
        else "",
        view.source,
        view.assignee_name or "",
        spreadsheet_safe(view.referred_to or ""),
        _local(view.created_at, settings),
        _local(view.due_at, settings),
        _local(view.closed_at, settings),
        "yes" if view.overdue(now) else "",
        "" if view.solved is None else ("yes" if view.solved else "no"),
        view.satisfaction or "",
    ]


@request.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@STATUS_OPTION
@click.option("--open", "open_only", is_flag=True, help="Only open requests (default: all).")
@click.option("--full", is_flag=True, help="Whole phone numbers (audited).")
@click.pass_context
def request_export(
    ctx: click.Context, file: Path, status: str | None, open_only: bool, full: bool
) -> None:
    """Write the requests to FILE: .xlsx for Excel, anything else as CSV (UTF-8)."""
    settings = settings_of(ctx)
    wanted = _status(status)
    if file.suffix.lower() not in (".csv", ".xlsx"):
        fail("FILE must end in .csv or .xlsx")

    async def export(database: Database) -> list[RequestView]:
        async with database.session() as session:
            rows, _ = await list_requests(
                session, staff_id=None, status=wanted, include_closed=not open_only
            )
            await audit.record(
                session,
                SystemClock().now(),
                actor=cli_actor(),
                action="request.export.full" if full else "request.export",
                subject=file.name,
                status=status,
                count=len(rows),
            )
        return rows

    views = run_with_db(settings, export)
    now = SystemClock().now()
    rows = [_row(view, now, settings, full) for view in views]
    try:
        write_table(file, "requests", EXPORT_COLUMNS, rows)
    except OSError as error:
        fail(f"cannot write {file}: {error.strerror or error}")
    echo(f"exported {len(rows)} request(s) to {file}")
