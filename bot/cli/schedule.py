"""`liaison schedule …`: the monthly cycle's settings, upcoming jobs, running what is due;
`liaison member lost …`: members flagged lost contact, and confirming them.

Registered in bot/cli/__init__.py; the shared helpers come from bot/cli/common.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from sqlalchemy import select

from bot.cli.common import cli_actor, echo, fail, parse_near, run_with_db, settings_of
from scheduler.jobs import RunReport, job_specs, run_due, upcoming
from storage import audit
from storage.calendar import CycleError, CycleRule
from storage.clock import SystemClock
from storage.cycles import (
    GroupCycle,
    LostContactError,
    changed_rule,
    confirm_lost_contact,
    cycle_of_group,
    group_cycles,
    lost_members,
    reset_group_cycle,
    set_group_cycle,
)
from storage.db import Database
from storage.directory import group_by_name
from storage.models import Member
from storage.phones import InvalidPhone, mask_phone, normalize_phone
from storage.settings import Settings


def describe(rule: CycleRule) -> str:
    """One line an admin can read: when each step of the month happens."""
    if not rule.enabled:
        return "off (no prompts, reminders, escalation or lost-contact checks)"
    reminders = (
        ", ".join(f"+{days}d" for days in rule.reminder_days) if rule.reminder_days else "none"
    )
    return (
        f"prompt day {rule.prompt_day} at {rule.prompt_time:%H:%M}; reminders {reminders}; "
        f"escalation day {rule.escalation_day}; lost contact after "
        f"{rule.lost_contact_months} months"
    )


def _cycle_line(cycle: GroupCycle) -> str:
    whose = cycle.group_name or "default"
    by = f"  (set by {cycle.updated_by})" if cycle.updated_by else ""
    return f"{whose}: {describe(cycle.rule)}{by}"


@click.group()
def schedule() -> None:
    """The monthly check-in cycle and the scheduler's jobs."""


@schedule.command("list")
@click.option("--days", type=click.IntRange(1, 400), default=40, show_default=True)
@click.pass_context
def schedule_list(ctx: click.Context, days: int) -> None:
    """Every cycle, and every job due in the next DAYS days with its next time."""
    settings = settings_of(ctx)

    async def run(database: Database) -> None:
        now = SystemClock().now()
        async with database.session() as session:
            cycles = await group_cycles(session, settings.default_cycle)
        echo("cycles:")
        for cycle in cycles:
            echo(f"  {_cycle_line(cycle)}")
        quiet = settings.quiet_hours
        echo(f"quiet hours: {quiet.start:%H:%M}–{quiet.end:%H:%M} in each member's time zone")
        listed = upcoming(await job_specs(database, settings, now), now)
        soon = [(spec, when) for spec, when in listed if when - now <= timedelta(days=days)]
        echo(f"jobs in the next {days} days ({len(soon)} of {len(listed)}):")
        for spec, when in soon:
            echo(f"  {_local(when, settings)}  {spec.description}")

    run_with_db(settings, run)


def _local(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M %Z")


@schedule.command("run-due")
@click.option(
    "--now",
    "now_text",
    default=None,
    help="Run for this ISO 8601 instant (default: the present); no offset means LIAISON_TIMEZONE.",
)
@click.pass_context
def schedule_run_due(ctx: click.Context, now_text: str | None) -> None:
    """Enqueue everything due up to an instant and print it (running twice adds nothing)."""
    settings = settings_of(ctx)
    # An empty --now (a script's unset variable) is an error, not "the present".
    present = SystemClock().now()
    now = parse_near(now_text, settings, present) if now_text is not None else present

    async def run(database: Database) -> RunReport:
        report = await run_due(database, now, settings)
        async with database.session() as session:
            await audit.record(
                session,
                SystemClock().now(),
                actor=cli_actor(),
                action="schedule.run_due",
                at=now.isoformat(),
                messages=report.messages,
            )
        return report

    report = run_with_db(settings, run)
    echo(f"due by {_local(now, settings)}:")
    for line in report.lines:
        echo(f"  {line}")
    echo(f"enqueued {report.messages} message(s)")


@schedule.command("show")
@click.option("--group", "group_name", required=True)
@click.pass_context
def schedule_show(ctx: click.Context, group_name: str) -> None:
    """The cycle a group follows."""
    settings = settings_of(ctx)

    async def run(database: Database) -> GroupCycle:
        async with database.session() as session:
            group = await group_by_name(session, group_name.strip())
            if group is None:
                fail(f"no group named {group_name!r}")
            return await cycle_of_group(session, group.id, settings.default_cycle)

    cycle = run_with_db(settings, run)
    own = "own cycle" if cycle.updated_by else "the default cycle"
    echo(f"{cycle.group_name} ({own}): {describe(cycle.rule)}")


@schedule.command("set")
@click.option("--group", "group_name", required=True)
@click.option("--day", default=None, help="Day of the month of the prompt (1–28).")
@click.option("--time", "at", default=None, help="Time of the prompt, e.g. 09:00.")
@click.option("--reminders", default=None, help='Days after the prompt, e.g. "3,7"; "none".')
@click.option("--escalation", default=None, help="Day of the month liaisons get the list.")
@click.option("--lost", default=None, help="Months of silence before lost contact.")
@click.option("--on/--off", "enabled", default=None, help="Run the cycle for this group or not.")
@click.pass_context
def schedule_set(
    ctx: click.Context,
    group_name: str,
    day: str | None,
    at: str | None,
    reminders: str | None,
    escalation: str | None,
    lost: str | None,
    enabled: bool | None,
) -> None:
    """Give a group its own cycle (starting from the one it follows now)."""
    settings = settings_of(ctx)
    changes = {
        key: value
        for key, value in (
            ("day", day),
            ("time", at),
            ("reminders", reminders),
            ("escalation", escalation),
            ("lost", lost),
            ("enabled", None if enabled is None else ("on" if enabled else "off")),
        )
        if value is not None
    }
    if not changes:
        fail("nothing to change: give at least one of --day, --time, --reminders, …")

    async def run(database: Database) -> GroupCycle:
        now = SystemClock().now()
        async with database.session() as session:
            group = await group_by_name(session, group_name.strip())
            if group is None:
                fail(f"no group named {group_name!r}")
            current = await cycle_of_group(session, group.id, settings.default_cycle)
            try:
                rule = changed_rule(current.rule, changes)
            except CycleError as error:
                fail(str(error))
            return await set_group_cycle(
                session, now, group_id=group.id, rule=rule, actor=cli_actor(), changes=changes
            )

    cycle = run_with_db(settings, run)
    echo(f"{cycle.group_name}: {describe(cycle.rule)}")
    echo("a running service picks this up within LIAISON_SCHEDULE_POLL_SECONDS")


@schedule.command("reset")
@click.option("--group", "group_name", required=True)
@click.pass_context
def schedule_reset(ctx: click.Context, group_name: str) -> None:
    """Let a group follow the default cycle again."""
    settings = settings_of(ctx)

    async def run(database: Database) -> bool:
        now = SystemClock().now()
        async with database.session() as session:
            group = await group_by_name(session, group_name.strip())
            if group is None:
                fail(f"no group named {group_name!r}")
            return await reset_group_cycle(session, now, group_id=group.id, actor=cli_actor())

    removed = run_with_db(settings, run)
    if removed:
        echo(f"{group_name} follows the default cycle again: {describe(settings.default_cycle)}")
    else:
        echo(f"{group_name} already follows the default cycle")


@click.command("lost")
@click.option("--confirm", "phone", default=None, help="Confirm this member (by phone).")
@click.pass_context
def member_lost(ctx: click.Context, phone: str | None) -> None:
    """Members flagged lost contact; --confirm PHONE stops their monthly prompts."""
    settings = settings_of(ctx)
    normalized = None
    if phone is not None:
        try:
            normalized = normalize_phone(phone)
        except InvalidPhone as error:
            fail(str(error))

    async def run(database: Database) -> list[Member]:
        now = SystemClock().now()
        async with database.session() as session:
            if normalized is not None:
                member = await session.scalar(select(Member).where(Member.phone == normalized))
                if member is None:
                    fail(f"no member with phone {mask_phone(normalized)}")
                try:
                    await confirm_lost_contact(
                        session, now, member_id=member.id, staff_id=None, actor=cli_actor()
                    )
                except LostContactError as error:
                    fail(str(error))
            flagged = await lost_members(session)
            await audit.record(
                session,
                now,
                actor=cli_actor(),
                action="member.lost_contact_list",
                count=len(flagged),
            )
            return flagged

    flagged = run_with_db(settings, run)
    if not flagged:
        echo("no member is flagged lost contact")
        return
    for member in flagged:
        assert member.lost_contact_at is not None
        state = (
            f"confirmed by {member.lost_contact_confirmed_by}"
            if member.lost_contact_confirmed_at
            else "not confirmed: prompts continue"
        )
        phone_shown = mask_phone(member.phone) if member.phone else "no phone"
        echo(
            f"{member.name}  {phone_shown}  flagged {_local(member.lost_contact_at, settings)}  "
            f"{state}"
        )
