"""What the `liaison` command's groups share: failing, the audit actor, times, the database.

Every module of bot/cli/ imports from here, and only bot/cli/__init__.py imports the
modules of the groups, so no module imports the one that imports it.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from storage.calendar import SCHEDULE_LIMIT, WhenError, parse_when
from storage.clock import SystemClock
from storage.db import Database
from storage.migrate import revision_status
from storage.models import MAX_ID
from storage.settings import LOCALES, Settings
from storage.text import printable, strip_nul

T = TypeVar("T")

# A notice, material, certificate or idea id: anything larger is refused before a query.
RECORD_ID: click.IntRange = click.IntRange(1, MAX_ID)

# Telegram's user ids have at most 52 significant bits (Bot API, User.id).
MAX_TELEGRAM_USER_ID = 2**52 - 1

# The oldest moment `schedule run-due --now` acts for: well before any record, and far
# enough from year 1 that the date arithmetic of catching up cannot leave the calendar.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def echo(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """Print a line of output (stderr if err): every command prints through here.

    What members and staff wrote (names, ideas, requests, notices) is shown without control
    characters and bidi controls: an escape sequence in a name must not clear the operator's
    screen or retitle the window, nor an override reorder a listing (storage.text.printable).
    """
    click.echo(printable(str(message)), err=err, nl=nl)


def fail(message: str, status: int = 1) -> NoReturn:
    """Print message to stderr and exit with status."""
    echo(f"error: {message}", err=True)
    sys.exit(status)


def cli_actor() -> str:
    """How a command-line user appears in the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def local_time(moment: datetime | None, settings: Settings, missing: str = "-") -> str:
    """A moment as operators read it: "2026-11-15 10:00+08:00" in LIAISON_TIMEZONE."""
    if moment is None:
        return missing
    return moment.astimezone(settings.zone).isoformat(sep=" ", timespec="minutes")


def settings_of(ctx: click.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


def run_with_db(settings: Settings, operation: Callable[[Database], Coroutine[Any, Any, T]]) -> T:
    """Open the database, run operation, close it; a missing schema is a clear error."""

    async def main() -> T:
        database = Database.from_url(settings.database_url)
        try:
            current, head = await revision_status(database.engine)
            if current != head:
                fail("the database is not up to date: run `liaison db upgrade` first")
            return await operation(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


def parse_at(value: str, settings: Settings, *, option: str = "--at") -> datetime:
    """A moment as storage.calendar.parse_when reads it (ISO 8601 among its forms), past or
    future; without an offset it is in LIAISON_TIMEZONE.

    option is how the error names the option the value came from.
    """
    try:
        return parse_when(value, SystemClock().now(), settings.zone, ahead=None)
    except WhenError:
        fail(f"{option} {value!r} is not an ISO 8601 time (e.g. 2026-12-01T09:00 or …+08:00)")


def parse_future(
    value: str, settings: Settings, now: datetime, *, option: str = "--at"
) -> datetime:
    """A moment after now and at most a year ahead (SCHEDULE_LIMIT), as the bot takes it."""
    try:
        return parse_when(value, now, settings.zone)
    except WhenError as error:
        if error.reason == "past":
            fail(f"{option} {value} is in the past")
        if error.reason == "too_far":
            fail(f"{option} {value} is more than a year ahead: schedule it at most a year ahead")
        fail(f"{option} {value!r} is not an ISO 8601 time (e.g. 2026-12-01T09:00 or …+08:00)")


def parse_near(value: str, settings: Settings, now: datetime, *, option: str = "--now") -> datetime:
    """A moment from 2000 to a year after now: past (catching up) or the near future."""
    moment = parse_at(value, settings, option=option)
    # Compared, never converted: a moment near year 9999 or 1 cannot even be put in UTC.
    too = "more than a year ahead" if moment - now > SCHEDULE_LIMIT else None
    if moment < EARLIEST:
        too = f"before {EARLIEST.year}"
    if too is not None:
        fail(f"{option} {value} is {too}: give a moment from {EARLIEST.year} to a year from now")
    return moment


def telegram_user_id(value: int, *, option: str) -> int:
    """value, if it can be a Telegram user's id (positive, 52 bits); else fail saying so."""
    if not 1 <= value <= MAX_TELEGRAM_USER_ID:
        fail(f"{option} {value} is not a Telegram user id (1 to {MAX_TELEGRAM_USER_ID})")
    return value


def read_text_file(path: Path) -> str:
    """A UTF-8 text file (a byte-order mark and NUL characters dropped, as from what is
    typed in the bot: storage.text.strip_nul); anything else is a clear error."""
    if not path.is_file():
        fail(f"no such file: {path}")
    try:
        return strip_nul(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        fail(f"{path.name} is not UTF-8 text (byte {error.start}); save it as UTF-8")


# The options the reports share (police, letters, the yearly report).
UNIT_OPTION = click.option(
    "--unit", "unit_name", default=None, help="A street: this unit and the units below it."
)


def locale_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--lang / --locale: the language a report is written in (what: "The workbook's")."""
    return click.option(
        "--lang",
        "--locale",
        "locale",
        type=click.Choice(list(LOCALES)),
        default=None,
        help=f"{what} language (default LIAISON_LOCALE).",
    )
