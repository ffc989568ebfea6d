"""`liaison privacy …`: what the service keeps about members, and for how long.

`purge` deletes (or anonymises) every record older than its LIAISON_RETENTION_* setting,
as the nightly job does (scheduler/jobs.py), and prints what goes per kind; with --dry-run
it prints the same counts and deletes nothing. Every use is audited.
"""

from __future__ import annotations

import asyncio

import click

from bot.cli.common import cli_actor, echo, run_with_db, settings_of
from messages.channels.sms_log import drop_older
from storage import audit
from storage.clock import SystemClock
from storage.db import Database
from storage.retention import Purged, PurgeReport, Retention, purge


class _DryRun(Exception):
    """Raised inside the purge's transaction so that it rolls back, carrying its report."""

    def __init__(self, report: PurgeReport) -> None:
        super().__init__("dry run")
        self.report = report


@click.group()
def privacy() -> None:
    """Members' data: retention of records (PIPL Art. 19)."""


@privacy.command("purge")
@click.option("--dry-run", is_flag=True, help="Print what would go; delete nothing.")
@click.pass_context
def purge_command(ctx: click.Context, dry_run: bool) -> None:
    """Delete or anonymise the records past their retention time, and say what went."""
    settings = settings_of(ctx)
    keep = Retention.of(settings)

    async def run(database: Database) -> PurgeReport:
        now = SystemClock().now()
        before = keep.sms_log_cutoff(now)
        dropped = await asyncio.to_thread(
            drop_older, settings.sms_log_path, before, dry_run=dry_run
        )
        sms_log = Purged("sms_log", before, dropped)
        try:
            async with database.session() as session:
                report = await purge(session, now, keep, actor=cli_actor(), also=[sms_log])
                if dry_run:
                    # The very statements of a purge, counted and undone: the same numbers.
                    raise _DryRun(report)
        except _DryRun as undone:
            report = undone.report
            async with database.session() as session:
                await audit.record(
                    session,
                    now,
                    actor=cli_actor(),
                    action="privacy.purge.dry_run",
                    counts=report.counts(),
                )
        return report

    report = run_with_db(settings, run)
    if dry_run:
        echo("dry run: what a purge would take now (nothing was deleted)")
    for line in report.lines():
        echo(line)
    if not dry_run:
        echo(f"purged: {report.total} record(s)")
