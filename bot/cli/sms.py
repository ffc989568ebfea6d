"""`liaison sms …`: the SMS members (and unknown numbers) sent that no keyword answered.

Registered in bot/cli/__init__.py; the shared helpers come from bot/cli/common.py. The
command line has no scope: it sees the whole inbox, phone numbers masked, and every use is
audited as "cli:<os user>". An answer is signed with LIAISON_ORGANISATION_NAME.
"""

from __future__ import annotations

import click

from bot.cli.common import RECORD_ID, cli_actor, echo, fail, local_time, run_with_db, settings_of
from storage.clock import SystemClock
from storage.db import Database
from storage.settings import Settings
from storage.sms_inbox import InboxItem, SmsInboxError, answer, list_inbox, mark_done


def _line(item: InboxItem, settings: Settings) -> str:
    """One SMS on one line: id, received, state, who sent it, what they wrote."""
    if item.done_at is None:
        state = "open"
    else:
        state = f"answered×{item.answers}" if item.answers else "done"
    who = f"{item.member_name} {item.sender_masked}" if item.member_name else item.sender_masked
    return "\t".join(
        [
            str(item.id),
            local_time(item.received_at, settings),
            state,
            who,
            " ".join(item.text.split()),
        ]
    )


@click.group()
def sms() -> None:
    """Members' SMS: the inbox of what no keyword answered."""


@sms.command("inbox")
@click.option("--all", "everything", is_flag=True, help="Also the SMS already done.")
@click.option("--open", "open_only", is_flag=True, help="Only the open ones (the default).")
@click.option(
    "--answer",
    "answering",
    type=(RECORD_ID, str),
    default=None,
    metavar="ID TEXT",
    help="Answer SMS ID by SMS with TEXT (then it is done).",
)
@click.option("--done", "done_id", type=RECORD_ID, default=None, help="Mark SMS ID done.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.pass_context
def sms_inbox(
    ctx: click.Context,
    everything: bool,
    open_only: bool,
    answering: tuple[int, str] | None,
    done_id: int | None,
    limit: int,
) -> None:
    """List the SMS inbox (open ones, newest first), or answer one, or mark one done."""
    settings = settings_of(ctx)
    if everything and open_only:
        fail("--all and --open exclude each other", status=2)
    if answering is not None and done_id is not None:
        fail("--answer and --done exclude each other", status=2)

    async def act(database: Database) -> list[str]:
        now = SystemClock().now()
        async with database.session() as session:
            try:
                if answering is not None:
                    sms_id, text = answering
                    item = await answer(
                        session,
                        now,
                        sms_id,
                        text=text,
                        signature=settings.organisation_name,
                        actor=cli_actor(),
                        staff_id=None,
                    )
                    return [f"answered SMS {item.id} by SMS to {item.sender_masked}"]
                if done_id is not None:
                    item = await mark_done(session, now, done_id, actor=cli_actor(), staff_id=None)
                    return [f"SMS {item.id} is done"]
            except SmsInboxError as error:
                fail(str(error))
            inbox = await list_inbox(
                session,
                now,
                staff_id=None,
                actor=cli_actor(),
                open_only=not everything,
                limit=limit,
            )
            return [_line(item, settings) for item in inbox.items]

    for line in run_with_db(settings, act):
        echo(line)
