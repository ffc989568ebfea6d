"""`liaison notice …`: send, schedule, list, cancel notices and see how far they got.

Registered in bot/cli/__init__.py; the shared helpers come from bot/cli/common.py.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import (
    RECORD_ID,
    cli_actor,
    echo,
    fail,
    local_time,
    parse_future,
    read_text_file,
    run_with_db,
    settings_of,
)
from storage import audit
from storage.clock import SystemClock
from storage.db import Database
from storage.models import Notice, NoticeStatus
from storage.notices import (
    NoticeError,
    NoticeLine,
    cancel_notice,
    create_notice,
    get_notice,
    list_notices,
)
from storage.outbox import DeliveryReport, audience_preview, delivery_report

# Notice.author_name's column size.
MAX_FROM_LENGTH = 64
STATES = ("pending", "sending", "sent", "delivered", "failed", "suppressed")
CHANNELS = ("telegram", "sms", "group_chat", "none")


def _audience(groups: tuple[str, ...] | list[str], everyone: bool) -> str:
    return "everyone" if everyone else ", ".join(sorted(groups))


@click.group()
def notice() -> None:
    """Notices to groups of members."""


@notice.command("send")
@click.option("--group", "groups", multiple=True, help="A group to send to (repeatable).")
@click.option("--everyone", is_flag=True, help="Every member in the registry.")
@click.option("--text", default=None, help="The notice text.")
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Read the text from a UTF-8 file.",
)
@click.option("--at", "at", default=None, help="Send at this ISO 8601 time (default: now).")
@click.option("--urgent", is_flag=True, help="Mark urgent: sent before routine messages.")
@click.option(
    "--from",
    "author_name",
    default=None,
    help="Signed as (default: LIAISON_ORGANISATION_NAME).",
)
@click.pass_context
def notice_send(
    ctx: click.Context,
    groups: tuple[str, ...],
    everyone: bool,
    text: str | None,
    file: Path | None,
    at: str | None,
    urgent: bool,
    author_name: str | None,
) -> None:
    """Send (or schedule) a notice; its id is printed on the last line."""
    settings = settings_of(ctx)
    if (text is None) == (file is None):
        fail("give the text with exactly one of --text or --file")
    if not groups and not everyone:
        fail("choose at least one --group, or --everyone")
    if groups and everyone:
        fail("--everyone already includes every group; give one or the other")
    if text is not None:
        body = text
    else:
        assert file is not None
        body = read_text_file(file)
    # Members read the signature; the operator's login is recorded as the author instead.
    signed = (author_name or settings.organisation_name).strip()
    if not signed or len(signed) > MAX_FROM_LENGTH:
        fail(f"--from must be 1 to {MAX_FROM_LENGTH} characters")
    send_at = parse_future(at, settings, SystemClock().now()) if at is not None else None

    async def send(database: Database) -> tuple[Notice, dict[str, int]]:
        now = SystemClock().now()
        try:
            async with database.session() as session:
                created = await create_notice(
                    session,
                    now,
                    author=cli_actor(),
                    author_name=signed,
                    body=body,
                    groups=groups,
                    everyone=everyone,
                    send_at=send_at,
                    urgent=urgent,
                )
                counts = await audience_preview(
                    session,
                    groups=[g.id for g in created.groups],
                    everyone=everyone,
                    staff_id=None,
                )
        except NoticeError as error:
            fail(str(error))
        return created, dict(counts)

    created, counts = run_with_db(settings, send)
    when = "now" if send_at is None else f"at {local_time(created.send_at, settings)}"
    echo(
        f"notice {created.id} to {_audience([g.name for g in created.groups], everyone)}: "
        f"{'scheduled' if send_at is not None else 'sending'} {when}"
    )
    shown = {
        "telegram": "telegram",
        "qq": "qq",
        "sms": "sms",
        "none": "unreachable",
        "group_chat": "group chats",
        "qq_group": "qq groups",
    }
    recipients = ", ".join(f"{word} {counts.get(name, 0)}" for name, word in shown.items())
    echo(f"recipients: {recipients}")
    echo(str(created.id))


@notice.command("status")
@click.argument("notice_id", type=RECORD_ID)
@click.pass_context
def notice_status(ctx: click.Context, notice_id: int) -> None:
    """How far every delivery of a notice got, why some failed, who acknowledged it."""
    settings = settings_of(ctx)

    async def status(database: Database) -> tuple[Notice, DeliveryReport]:
        async with database.session() as session:
            found = await get_notice(session, notice_id)
            if found is None:
                fail(f"no notice {notice_id}")
            report = await delivery_report(session, notice_id)
            await audit.record(
                session,
                SystemClock().now(),
                actor=cli_actor(),
                action="notice.status",
                subject=f"notice:{notice_id}",
            )
        return found, report

    found, report = run_with_db(settings, status)
    echo(
        f"notice {found.id}: {found.status.value}, "
        f"{'urgent, ' if found.urgent else ''}send at {local_time(found.send_at, settings)}, "
        f"from {found.author_name}, "
        f"to {_audience([g.name for g in found.groups], found.everyone)}"
    )
    echo(f"recipients\t{report.recipients}")
    for state in STATES:
        echo(f"{state}\t{report.by_status[state]}")
    for channel in CHANNELS:
        if channel in report.by_channel:
            counts = report.by_channel[channel]
            shown = ", ".join(f"{s} {counts[s]}" for s in STATES if counts[s])
            echo(f"{channel}:\t{shown}")
    for reason, count in report.failures:
        echo(f"failed/suppressed\t{count}\t{reason}")
    echo(f"acknowledged\t{report.acknowledged}")
    if report.acknowledged_names:
        more = report.acknowledged - len(report.acknowledged_names)
        names = ", ".join(report.acknowledged_names) + (f" and {more} more" if more > 0 else "")
        echo(f"acknowledged by\t{names}")


@notice.command("list")
@click.option("--scheduled", is_flag=True, help="Only notices not sent yet.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.pass_context
def notice_list(ctx: click.Context, scheduled: bool, limit: int) -> None:
    """List notices, newest first: id, status, send time, from, to, urgent, text."""
    settings = settings_of(ctx)

    async def listing(database: Database) -> list[NoticeLine]:
        async with database.session() as session:
            return await list_notices(
                session, status=NoticeStatus.SCHEDULED if scheduled else None, limit=limit
            )

    for line in run_with_db(settings, listing):
        echo(
            "\t".join(
                [
                    str(line.id),
                    line.status.value,
                    local_time(line.send_at, settings),
                    line.author_name,
                    _audience(line.groups, line.everyone) or "-",
                    "urgent" if line.urgent else "-",
                    " ".join(line.preview.split()),
                ]
            )
        )


@notice.command("cancel")
@click.argument("notice_id", type=RECORD_ID)
@click.pass_context
def notice_cancel(ctx: click.Context, notice_id: int) -> None:
    """Cancel a scheduled notice before it goes."""
    settings = settings_of(ctx)

    async def stop(database: Database) -> None:
        try:
            async with database.session() as session:
                await cancel_notice(
                    session, SystemClock().now(), notice_id, actor=cli_actor(), staff_id=None
                )
        except NoticeError as error:
            fail(str(error))

    run_with_db(settings, stop)
    echo(f"cancelled notice {notice_id}")
