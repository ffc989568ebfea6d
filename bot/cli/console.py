"""`liaison console link`: a one-time login link to the web console, for a staff member.

Registered in bot/cli/__init__.py. For the terminal mode (no Telegram to send /console in)
and for operators; the link is audited as made by "cli:<os user>", for the staff member.
"""

from __future__ import annotations

import click
from sqlalchemy import select

from bot.cli.common import cli_actor, echo, fail, run_with_db, settings_of, telegram_user_id
from storage.clock import SystemClock
from storage.console import LINK_VALID, create_link, login_url
from storage.db import Database
from storage.models import Staff


@click.group()
def console() -> None:
    """The staff web console."""


@console.command("link")
@click.option("--user", "user_id", type=int, required=True, help="The staff member's Telegram id.")
@click.pass_context
def console_link(ctx: click.Context, user_id: int) -> None:
    """Print a one-time login link (valid 10 minutes) on the last line."""
    telegram_user_id(user_id, option="--user")
    settings = settings_of(ctx)
    base_url = settings.console_base_url
    if base_url is None:
        fail("the web console is off: set LIAISON_CONSOLE_LISTEN", status=2)

    async def make(database: Database) -> str | None:
        async with database.session() as session:
            staff_id = await session.scalar(
                select(Staff.id).where(Staff.telegram_user_id == user_id)
            )
            if staff_id is None:
                return None
            return await create_link(
                session, SystemClock().now(), staff_id=staff_id, actor=cli_actor()
            )

    token = run_with_db(settings, make)
    if token is None:
        fail(f"no staff member has Telegram id {user_id}")
    minutes = int(LINK_VALID.total_seconds() // 60)
    echo(f"Login link for Telegram id {user_id}, valid {minutes} minutes, once:")
    echo(login_url(base_url, token))


@console.command("url")
@click.pass_context
def console_url(ctx: click.Context) -> None:
    """Print where staff open the console (`make run` shows it), or that it is off."""
    base_url = settings_of(ctx).console_base_url
    echo(f"Web console: {base_url}" if base_url else "Web console: off (LIAISON_CONSOLE_LISTEN)")
