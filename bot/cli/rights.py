"""`liaison member erase`: members' deletion requests, carried out from a terminal.

Registered on the `member` group in bot/cli/__init__.py; the shared helpers come from
bot/cli/common.py. The command line has no scope and stands for an administrator: it lists
every pending deletion request and confirms one by its number. Every use is audited as
"cli:<os user>".
"""

from __future__ import annotations

import click

from bot.cli.common import RECORD_ID, cli_actor, echo, fail, local_time, run_with_db, settings_of
from storage.clock import SystemClock
from storage.db import Database
from storage.erasure import ErasureReport
from storage.models import DataRequestKind
from storage.rights import DataRequestView, RightsError, confirm_deletion, pending_requests


@click.command("erase")
@click.option(
    "--confirm",
    "request_id",
    type=RECORD_ID,
    default=None,
    help="Carry out this deletion request (its number): it cannot be undone.",
)
@click.pass_context
def member_erase(ctx: click.Context, request_id: int | None) -> None:
    """List members' pending deletion requests, or carry one out with --confirm ID.

    Carrying one out erases or anonymises everything that identifies the member, in one
    transaction: name, phone, account binding, what they wrote, their places, the payloads
    of messages to them. Statistics keep their counts without them.
    """
    settings = settings_of(ctx)
    actor = cli_actor()

    if request_id is None:

        async def listing(database: Database) -> list[DataRequestView]:
            async with database.session() as session:
                found = await pending_requests(
                    session, SystemClock().now(), staff_id=None, actor=actor, limit=1000
                )
            return [r for r in found if r.kind is DataRequestKind.DELETE]

        rows = run_with_db(settings, listing)
        if not rows:
            echo("no deletion requests waiting")
        for r in rows:
            echo(f"#{r.id}  {local_time(r.created_at, settings)}  member {r.member_id}")
        return

    async def erase(database: Database) -> ErasureReport:
        async with database.session() as session:
            return await confirm_deletion(
                session, SystemClock().now(), request_id, staff_id=None, actor=actor
            )

    try:
        report = run_with_db(settings, erase)
    except RightsError as error:
        fail(f"deletion request #{request_id}: {error}")
    echo(
        f"deletion request #{request_id} carried out: "
        f"{sum(report.deleted.values())} records deleted, "
        f"{sum(report.anonymised.values())} anonymised"
    )
    for table, count in sorted({**report.deleted, **report.anonymised}.items()):
        if count:
            echo(f"  {table}: {count}")
