"""`liaison qq …`: the bot's QQ account as the service sees it.

`status` says whether QQ rests after risk control, until when, and which groups are linked to
QQ groups; `resume` ends a rest early, once the account has been looked after (a running
service notices within a minute). Both are audited as staff actions.
"""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy import func, select

from bot.cli.common import cli_actor, echo, run_with_db, settings_of
from storage import audit, qq_rest
from storage.clock import SystemClock
from storage.db import Database
from storage.models import Group, Member
from storage.settings import Settings


def _local(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M")


@click.group()
def qq() -> None:
    """QQ over OneBot v11: the rest after risk control, linked QQ groups."""


@qq.command("status")
@click.pass_context
def qq_status(ctx: click.Context) -> None:
    """Whether QQ rests, and what is linked to QQ."""
    settings = settings_of(ctx)

    async def read(database: Database) -> list[str]:
        now = SystemClock().now()
        async with database.session() as session:
            ends = await qq_rest.until(session, now)
            groups = (
                await session.execute(
                    select(Group.name, Group.qq_group_id)
                    .where(Group.qq_group_id.is_not(None))
                    .order_by(Group.name)
                )
            ).all()
            counted = await session.scalar(
                select(func.count()).select_from(Member).where(Member.qq_user_id.is_not(None))
            )
            await audit.record(session, now, actor=cli_actor(), action="qq.status")
        listen = settings.onebot_listen or "off (LIAISON_ONEBOT_LISTEN unset)"
        lines = [f"listening: {listen}"]
        lines.append(
            f"resting until {_local(ends, settings)} after risk control"
            if ends
            else "sending: yes (not resting)"
        )
        lines.append(f"members bound to QQ: {counted}")
        lines += [f"QQ group {chat}: {name}" for name, chat in groups]
        return lines

    for line in run_with_db(settings, read):
        echo(line)


@qq.command("resume")
@click.pass_context
def qq_resume(ctx: click.Context) -> None:
    """End QQ's rest now (after the account was unfrozen or verified on the QQ host)."""
    settings = settings_of(ctx)

    async def resume(database: Database) -> datetime | None:
        async with database.session() as session:
            return await qq_rest.end(session, SystemClock().now(), actor=cli_actor())

    ended = run_with_db(settings, resume)
    if ended is None:
        echo("QQ was not resting: nothing to resume")
        return
    echo(
        f"QQ resumes (the rest would have lasted until {_local(ended, settings)}); "
        "a running service sends again within a minute"
    )
