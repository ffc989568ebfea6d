"""The `liaison` command line: plain output, exit status 0 only on success.

This module is the root group with the database, serving, structure and member commands;
each other group is a module of this package (notice, material, request, idea,
certificate, schedule, service, place, sms) registered at the end, and what they all use is
in bot/cli/common.py.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from telegram.error import InvalidToken, TelegramError

from bot.app import build_application
from bot.background import attach_background, running_background
from bot.botapi import LocalBotApi, LocalBotApiRequest
from bot.cli.activity import activity
from bot.cli.catalogue import catalogue, seed_catalogue
from bot.cli.certificate import certificate
from bot.cli.common import cli_actor, echo, fail, run_with_db, settings_of, telegram_user_id
from bot.cli.console import console
from bot.cli.idea import idea
from bot.cli.material import material
from bot.cli.mydata import member_data_command
from bot.cli.notice import notice
from bot.cli.partner import partner, report_letters
from bot.cli.place import place
from bot.cli.police import reconcile_group, report
from bot.cli.privacy import privacy
from bot.cli.qq import qq
from bot.cli.rating import rating
from bot.cli.request import request
from bot.cli.rights import member_erase
from bot.cli.schedule import member_lost, schedule
from bot.cli.sms import sms
from bot.cli.year_report import report_year
from bot.connect import connect, pause_until
from bot.console.server import running_console
from bot.context import LiaisonApplication, Services
from bot.logs import configure_logging
from bot.terminal import run_terminal
from messages.render import Renderer
from storage import audit, demo, directory, invites, members, overdue, roster
from storage.channels import ChannelOrderError, parse_channels
from storage.clock import SystemClock
from storage.db import Database
from storage.group_chats import GroupChatError, link_group_chat, unlink_group_chat
from storage.identity import identify
from storage.invite_key import load_invite_key
from storage.migrate import revision_status, upgrade
from storage.models import GroupKind, Member, Platform, StaffRole
from storage.phones import InvalidPhone, mask_phone, normalize_phone
from storage.regions import default_index
from storage.settings import ConfigError, Settings, load_settings
from storage.zones import ZoneError, parse_zone


def invite_key_of(settings: Settings) -> bytes:
    """The invite key, as `serve` and every command that makes invites read it."""
    try:
        return load_invite_key(settings)
    except ConfigError as error:
        fail(str(error), status=2)


def make_services(settings: Settings, database: Database) -> Services:
    return Services(
        settings=settings,
        db=database,
        clock=SystemClock(),
        renderer=Renderer(),
        regions=default_index(),
        invite_key=invite_key_of(settings),
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Liaison: keep in touch with mobile members (bot, check-ins, notices)."""
    try:
        ctx.obj = load_settings()
    except ConfigError as error:
        fail(str(error), status=2)


# --- database --------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


async def _upgrade(settings: Settings) -> tuple[str | None, str | None]:
    database = Database.from_url(settings.database_url)
    try:
        await upgrade(database.engine)
        return await revision_status(database.engine)
    finally:
        await database.dispose()


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create the database or bring it up to the newest schema."""
    current, _ = asyncio.run(_upgrade(settings_of(ctx)))
    echo(f"database at revision {current}")


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Show the database's schema revision and the newest one."""

    async def status() -> tuple[str | None, str | None]:
        database = Database.from_url(settings_of(ctx).database_url)
        try:
            return await revision_status(database.engine)
        finally:
            await database.dispose()

    current, head = asyncio.run(status())
    echo(f"current: {current or 'empty'}\nnewest:  {head}")
    if current != head:
        sys.exit(1)


# --- serving ---------------------------------------------------------------------------


async def _terminal(settings: Settings, user_id: int, name: str | None, banner: bool) -> int:
    database = Database.from_url(settings.database_url)
    services = make_services(settings, database)
    if not banner:
        return await _terminal_chat(services, database, user_id, name, banner=False)
    # `serve` in terminal mode: the web console runs beside the terminal chat.
    async with running_console(services) as console_address:
        return await _terminal_chat(
            services, database, user_id, name, banner=True, console_address=console_address
        )


async def _terminal_chat(
    services: Services,
    database: Database,
    user_id: int,
    name: str | None,
    *,
    banner: bool,
    console_address: str | None = None,
) -> int:
    settings = services.settings
    async with database.session() as session:
        identity = await identify(session, user_id)
    shown = name or identity.member_name or identity.staff_name or "Guest"
    api = LocalBotApi()
    application = build_application(services, request=LocalBotApiRequest(api))
    message = None
    if banner:
        message = (
            f"No LIAISON_TELEGRAM_TOKEN set: chatting in the terminal as {shown} "
            f"(Telegram id {user_id}); set a token to run the Telegram bot, or use "
            f"`liaison chat --user ID` to chat as someone else (liaison: "
            f"{demo.LIAISON_TELEGRAM_IDS[0]}, try /overdue and /notice; admin: "
            f"{demo.ADMIN_TELEGRAM_ID}). Try /checkin, /where, /lang, /help; Ctrl-D quits."
        )
        if console_address is not None:
            message += (
                f" Web console: {console_address} (a login link: `liaison console link "
                f"--user {demo.LIAISON_TELEGRAM_IDS[0]}`)."
            )
    try:
        return await run_terminal(
            application,
            api,
            user_id=user_id,
            name=shown,
            banner=message,
            # Without a token there is no Telegram to deliver to but this terminal: notices to
            # this account go out here (and SMS to the log file), and the monthly cycle runs.
            # Other accounts' notices wait for their own terminal chat. With a token, `serve`
            # does both; a terminal chat must not take deliveries away from it.
            background=(
                (lambda: running_background(services, application, account=user_id))
                if settings.telegram_token is None
                else None
            ),
        )
    finally:
        await database.dispose()


class _StartFailureFilter(logging.Filter):
    """python-telegram-bot logs a failed start (getMe, deleteWebhook) with its traceback;
    _run_telegram says what failed in one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Network Retry Loop (Bootstrap")


def _run_telegram(settings: Settings) -> None:
    logging.getLogger("telegram.ext").addFilter(_StartFailureFilter())
    database = Database.from_url(settings.database_url)
    application: LiaisonApplication = build_application(make_services(settings, database))

    async def close_database(_: LiaisonApplication) -> None:
        await database.dispose()

    application.post_shutdown = close_database
    attach_background(application)
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    # run_polling runs on the current event loop: the connection made here is the one it
    # uses, and it finds the application initialised.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    polling = False
    try:
        if not loop.run_until_complete(_reach_bot_api(application, settings, token)):
            return  # stopped while waiting for the network
        polling = True
        # run_polling handles SIGINT/SIGTERM, shuts down cleanly and closes the loop.
        application.run_polling(allowed_updates=None, drop_pending_updates=False)
    except InvalidToken:
        # The library's message quotes the token; ours must not.
        fail("Telegram rejected LIAISON_TELEGRAM_TOKEN: check it with @BotFather", status=2)
    except TelegramError as error:
        # The Bot API answered, but with an error (at getMe or deleteWebhook): waiting would
        # not mend it. One line, as for a configuration error.
        reason = str(error).replace(token, "…") if token else str(error)
        fail(
            f"could not start: the Telegram Bot API at {settings.telegram_api_url} "
            f"failed ({reason}); check LIAISON_TELEGRAM_API_URL and the network",
            status=2,
        )
    finally:
        if not polling:
            loop.run_until_complete(database.dispose())
            loop.close()


async def _reach_bot_api(application: LiaisonApplication, settings: Settings, token: str) -> bool:
    """Connect, waiting out a network that is down; False when stopped (SIGINT, SIGTERM)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    for stop_signal in stop_signals:
        loop.add_signal_handler(stop_signal, stopping.set)
    try:
        return await connect(
            application, url=settings.telegram_api_url, pause=pause_until(stopping), hide=token
        )
    finally:
        for stop_signal in stop_signals:
            loop.remove_signal_handler(stop_signal)


@main.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the service: the Telegram bot with a token, else the terminal chat."""
    settings = settings_of(ctx)
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    configure_logging(logging.INFO if token else logging.WARNING, secrets=[token])
    asyncio.run(_upgrade(settings))
    # The service guide is never empty: the shipped catalogue when none was loaded.
    run_with_db(settings, seed_catalogue)
    if token:
        _run_telegram(settings)
    else:
        sys.exit(asyncio.run(_terminal(settings, demo.SAMPLE_MEMBER_TELEGRAM_ID, None, True)))


@main.command()
@click.option("--user", "user_id", type=int, required=True, help="Telegram user id to be.")
@click.option("--name", default=None, help="Display name (default: the member's name).")
@click.pass_context
def chat(ctx: click.Context, user_id: int, name: str | None) -> None:
    """Chat with the bot in the terminal as a Telegram user (reads standard input)."""
    telegram_user_id(user_id, option="--user")
    settings = settings_of(ctx)
    configure_logging(logging.WARNING)
    run_with_db(settings, seed_catalogue)
    sys.exit(asyncio.run(_terminal(settings, user_id, name, False)))


@main.command("demo")
@click.option("--if-empty", is_flag=True, help="Only when the registry has no members.")
@click.pass_context
def load_demo(ctx: click.Context, if_empty: bool) -> None:
    """Load the sample district (running it twice changes nothing)."""
    settings = settings_of(ctx)

    async def load(database: Database) -> str:
        now = SystemClock().now()
        async with database.session() as session:
            if if_empty and await members.count_members(session) > 0:
                return "members already registered: sample district not loaded"
            changed = await demo.load_demo(session, now)
        return "sample district loaded" if changed else "sample district already loaded"

    echo(run_with_db(settings, load))


# --- structure -------------------------------------------------------------------------


def _directory_call(
    ctx: click.Context, action: str, operation: Callable[[Any, Any], Awaitable[str]]
) -> None:
    settings = settings_of(ctx)

    async def call(database: Database) -> str:
        now = SystemClock().now()
        try:
            async with database.session() as session:
                result = await operation(session, now)
                await audit.record(session, now, actor=cli_actor(), action=action, subject=result)
                return result
        except (directory.DirectoryError, GroupChatError) as error:
            fail(str(error))

    echo(run_with_db(settings, call))


@main.group()
def unit() -> None:
    """Units of the organisation tree."""


@unit.command("add")
@click.argument("name")
@click.option("--parent", default=None, help="The unit this one belongs to.")
@click.pass_context
def unit_add(ctx: click.Context, name: str, parent: str | None) -> None:
    """Add a unit."""

    async def add(session: Any, now: Any) -> str:
        row, created = await directory.add_unit(session, now, name, parent=parent)
        return f"{'added' if created else 'exists'}: unit {row.name}"

    _directory_call(ctx, "unit.add", add)


@unit.command("list")
@click.pass_context
def unit_list(ctx: click.Context) -> None:
    """List units."""

    async def listing(database: Database) -> list[str]:
        async with database.session() as session:
            return [u.name for u in await directory.list_units(session)]

    for name in run_with_db(settings_of(ctx), listing):
        echo(name)


@main.group()
def group() -> None:
    """Party groups."""


@group.command("add")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in GroupKind]),
    default=GroupKind.OTHER.value,
    show_default=True,
)
@click.option("--unit", "unit_name", default=None, help="The unit the group belongs to.")
@click.pass_context
def group_add(ctx: click.Context, name: str, kind: str, unit_name: str | None) -> None:
    """Add a group."""

    async def add(session: Any, now: Any) -> str:
        row, created = await directory.add_group(
            session, now, name, kind=GroupKind(kind), unit=unit_name
        )
        return f"{'added' if created else 'exists'}: group {row.name} ({row.kind.value})"

    _directory_call(ctx, "group.add", add)


@group.command("list")
@click.pass_context
def group_list(ctx: click.Context) -> None:
    """List groups."""

    async def listing(database: Database) -> list[str]:
        async with database.session() as session:
            return [f"{g.name}\t{g.kind.value}" for g in await directory.list_groups(session)]

    for line in run_with_db(settings_of(ctx), listing):
        echo(line)


@group.command("link-qq")
@click.argument("name")
@click.argument("qq_group_id", type=click.IntRange(10_000, 2**40))
@click.pass_context
def group_link_qq(ctx: click.Context, name: str, qq_group_id: int) -> None:
    """Post the group's notices in its QQ group too (the bot's QQ account must be in it)."""

    async def link(session: Any, now: Any) -> str:
        linked = await link_group_chat(
            session,
            now,
            group_name=name,
            chat_id=qq_group_id,
            chat_title=None,
            staff_id=None,
            actor=cli_actor(),
            platform=Platform.QQ,
        )
        moved = f" (was QQ group {linked.moved_from})" if linked.moved_from else ""
        replaced = f"; QQ group no longer serves {linked.replaced}" if linked.replaced else ""
        return f"linked: group {linked.group} to QQ group {qq_group_id}{moved}{replaced}"

    _directory_call(ctx, "group.link_qq", link)


@group.command("unlink-qq")
@click.argument("qq_group_id", type=click.IntRange(10_000, 2**40))
@click.pass_context
def group_unlink_qq(ctx: click.Context, qq_group_id: int) -> None:
    """Stop posting notices in a QQ group."""

    async def unlink(session: Any, now: Any) -> str:
        name = await unlink_group_chat(
            session,
            now,
            chat_id=qq_group_id,
            staff_id=None,
            actor=cli_actor(),
            platform=Platform.QQ,
        )
        return f"unlinked: QQ group {qq_group_id} from group {name}"

    _directory_call(ctx, "group.unlink_qq", unlink)


@main.group()
def staff() -> None:
    """Administrators and liaisons."""


@staff.command("add")
@click.option("--telegram-id", type=int, required=True)
@click.option(
    "--qq-id",
    type=click.IntRange(10_000, 2**40),
    default=None,
    help="Their QQ number: links QQ groups from inside them, uses the bot in QQ.",
)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in StaffRole]), required=True)
@click.option("--group", "groups", multiple=True, help="A group this person looks after.")
@click.option("--unit", "units", multiple=True, help="A unit this person looks after.")
@click.pass_context
def staff_add(
    ctx: click.Context,
    telegram_id: int,
    name: str,
    role: str,
    groups: tuple[str, ...],
    units: tuple[str, ...],
    qq_id: int | None,
) -> None:
    """Add a staff member, or change one's role, scope and QQ account."""
    telegram_user_id(telegram_id, option="--telegram-id")

    async def add(session: Any, now: Any) -> str:
        person, created = await directory.add_staff(
            session,
            now,
            telegram_user_id=telegram_id,
            name=name,
            role=StaffRole(role),
            groups=groups,
            units=units,
            qq_user_id=qq_id,
        )
        scope = ", ".join([*groups, *units]) or "everything"
        return f"{'added' if created else 'updated'}: {person.role.value} {person.name} ({scope})"

    _directory_call(ctx, "staff.add", add)


@staff.command("list")
@click.pass_context
def staff_list(ctx: click.Context) -> None:
    """List staff and their scope."""

    async def listing(database: Database) -> list[str]:
        async with database.session() as session:
            return [
                "\t".join(
                    [
                        str(person.telegram_user_id),
                        person.name,
                        person.role.value,
                        ";".join(g.name for g in person.groups),
                        ";".join(u.name for u in person.units),
                    ]
                )
                for person in await directory.list_staff(session)
            ]

    for line in run_with_db(settings_of(ctx), listing):
        echo(line)


# --- members ---------------------------------------------------------------------------


@main.group()
def member() -> None:
    """The member registry."""


@member.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def member_import(ctx: click.Context, file: Path) -> None:
    """Import a roster (CSV or XLSX): all rows or none; members are matched by phone."""
    if not file.is_file():
        fail(f"no such file: {file}")
    try:
        parsed = roster.read_roster(file, progress=sys.stderr.isatty())
    except roster.RosterFileError as error:
        fail(f"{file.name}: {error}")

    async def apply(database: Database) -> members.ImportReport:
        async with database.session() as session:
            return await members.import_roster(
                session, SystemClock().now(), parsed, actor=cli_actor(), source=file.name
            )

    report = run_with_db(settings_of(ctx), apply)
    if parsed.ignored_columns:
        echo(f"ignored columns: {', '.join(parsed.ignored_columns)}", err=True)
    if not report.ok:
        for problem in report.errors:
            column = f" ({problem.column})" if problem.column else ""
            echo(f"row {problem.row_number}{column}: {problem.message}", err=True)
        fail(f"{len(report.errors)} problem(s) found; nothing was imported")
    echo(
        f"imported {file.name}: {report.created} new, {report.updated} updated, "
        f"{report.unchanged} unchanged"
    )


@member.command("list")
@click.option("--group", "group_name", default=None, help="Only this group's members.")
@click.option("--overdue", "overdue_only", is_flag=True, help="Only those not checked in.")
@click.option("--full", is_flag=True, help="Show whole phone numbers (audited).")
@click.pass_context
def member_list(ctx: click.Context, group_name: str | None, overdue_only: bool, full: bool) -> None:
    """List members (name, phone, status, home unit, groups, bound); phones masked."""
    settings = settings_of(ctx)

    async def listing(database: Database) -> list[members.MemberRow]:
        now = SystemClock().now()
        async with database.session() as session:
            if (
                group_name is not None
                and await directory.group_by_name(session, group_name) is None
            ):
                fail(f"no group named {group_name!r}")
            ids = None
            if overdue_only:
                silent = await overdue.overdue_members(
                    session, now, default_zone=settings.zone, group=group_name
                )
                ids = [m.member_id for m in silent]
            rows = await members.list_members(session, group=group_name, member_ids=ids)
            await audit.record(
                session,
                now,
                actor=cli_actor(),
                action="member.list.full" if full else "member.list",
                subject=group_name,
                overdue=overdue_only,
                count=len(rows),
            )
            return rows

    for line in _member_lines(run_with_db(settings, listing), full):
        echo(line)


def _member_lines(rows: list[members.MemberRow], full: bool) -> list[str]:
    lines = []
    for row in rows:
        phone = row.phone or "-"
        if row.phone and not full:
            phone = mask_phone(row.phone)
        lines.append(
            "\t".join(
                [
                    row.name,
                    phone,
                    row.status.value,
                    row.home_unit or "-",
                    ";".join(row.groups) or "-",
                    "bound" if row.bound else "unbound",
                ]
            )
        )
    return lines


@main.group()
def invite() -> None:
    """Invite codes that bind a Telegram account to a member."""


@invite.command("create")
@click.option("--phone", required=True, help="The member's phone number.")
@click.pass_context
def invite_create(ctx: click.Context, phone: str) -> None:
    """Create a one-time invite code (printed on the last line)."""
    settings = settings_of(ctx)
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone as error:
        fail(f"invalid phone {phone!r}: {error}")
    key = invite_key_of(settings)

    async def create(database: Database) -> tuple[str, str, str | None]:
        now = SystemClock().now()
        try:
            async with database.session() as session:
                code, invite = await invites.create_invite(
                    session,
                    now,
                    phone=e164,
                    created_by=cli_actor(),
                    valid_days=settings.invite_valid_days,
                    key=key,
                )
                member = await session.get(Member, invite.member_id)
                assert member is not None
                username = settings.telegram_bot_username or await directory.bot_username(session)
        except invites.InviteError as error:
            fail(str(error))
        return code, member.name, username

    code, name, username = run_with_db(settings, create)
    # The masked phone alone does not say who it is: many numbers share 138****0001.
    echo(f"invite for {name} {mask_phone(e164)}, valid {settings.invite_valid_days} days")
    if username:
        echo(f"https://t.me/{username}?start={code}")
    echo(code)


@member.command("channels")
@click.option("--phone", required=True, help="The member's phone number.")
@click.argument("order")
@click.pass_context
def member_channels(ctx: click.Context, phone: str, order: str) -> None:
    """Set how a member is reached: e.g. "sms,telegram", "telegram", or "default"."""
    try:
        e164 = normalize_phone(phone)
        channels = parse_channels(order)
    except (InvalidPhone, ChannelOrderError) as error:
        fail(str(error))

    async def apply(database: Database) -> str:
        async with database.session() as session:
            try:
                row = await members.set_channels(
                    session, SystemClock().now(), phone=e164, channels=channels, actor=cli_actor()
                )
            except LookupError as error:
                fail(str(error))
            default = "default (Telegram when bound, then QQ when bound, else SMS)"
            return f"{row.name}: {channels or default}"

    echo(run_with_db(settings_of(ctx), apply))


@member.command("timezone")
@click.option("--phone", required=True, help="The member's phone number.")
@click.argument("zone")
@click.pass_context
def member_timezone(ctx: click.Context, phone: str, zone: str) -> None:
    """Set a member's own time zone: an IANA name like Asia/Dubai (or UTC+4).

    Their monthly prompt then comes at 09:00 there, and their month is the month there.
    """
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone as error:
        fail(str(error))
    try:
        name = parse_zone(zone)
    except ZoneError as error:
        fail(str(error), status=2)

    async def apply(database: Database) -> str:
        now = SystemClock().now()
        async with database.session() as session:
            row = await members.member_by_phone(session, e164)
            if row is None:
                fail(f"no member with phone {mask_phone(e164)}")
            changed = await members.set_timezone(
                session, now, member=row, timezone=name, actor=cli_actor()
            )
            there = now.astimezone(ZoneInfo(name)).isoformat(sep=" ", timespec="minutes")
            what = "time zone" if changed else "time zone unchanged"
            return f"{row.name} ({mask_phone(e164)}): {what} {name}, local time now {there}"

    echo(run_with_db(settings_of(ctx), apply))


# The groups of their own modules (bot/cli/<group>.py).
main.add_command(notice)
main.add_command(material)
main.add_command(request)
main.add_command(idea)
main.add_command(certificate)
main.add_command(schedule)
main.add_command(catalogue)
# The name it had before "catalogue" (one word per concept): operators' scripts keep working,
# the help lists it once.
main.add_command(
    click.Group("service", commands=catalogue.commands, hidden=True, help=catalogue.help)
)
main.add_command(place)
main.add_command(activity)
main.add_command(rating)
main.add_command(qq)
member.add_command(member_lost)
member.add_command(member_data_command)
main.add_command(privacy)
member.add_command(member_erase)
main.add_command(sms)
main.add_command(console)
report.add_command(report_year)
main.add_command(report)
report.add_command(report_letters)
main.add_command(partner)
main.add_command(reconcile_group)
