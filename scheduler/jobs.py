"""What is due at an instant, and when things fall due next.

`run_due(now)` is the whole of the scheduler's work: every cycle step, escalation, lost
contact check and study push whose time has come by `now` and whose grace has not run
out is enqueued — once, whatever else has run before. APScheduler (scheduler/service.py)
only decides *when* to call it; `liaison schedule run-due --now` and the tests call it
directly with the instant they choose.

`job_specs()` turns the schedule rows into timers: one per cycle step and time zone in use,
one daily lost-contact check, one per study schedule. The same specs build the APScheduler
jobs and `liaison schedule list`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import select

from storage import certificates, requests, study
from storage.calendar import at_local, parse_clock
from storage.cycles import (
    GroupCycle,
    StepReport,
    enqueue_escalations,
    enqueue_member_steps,
    flag_lost_contact,
    group_cycles,
    shared_cycles,
    zones_in_use,
)
from storage.db import Database
from storage.models import Group, StudySchedule
from storage.settings import Settings

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(slots=True)
class RunReport:
    """What one run enqueued: a line per step taken, and the number of messages."""

    now: datetime
    lines: list[str] = field(default_factory=list)
    messages: int = 0

    def merge(self, report: StepReport) -> None:
        self.lines += report.lines
        self.messages += report.messages


def _zone(name: str) -> tzinfo:
    return ZoneInfo(name)


async def _cycles_and_zones(
    db: Database, settings: Settings
) -> tuple[list[GroupCycle], dict[str, list[str | None]]]:
    async with db.session() as session:
        cycles = await group_cycles(session, settings.default_cycle)
        zones = await zones_in_use(session, settings.zone)
    return cycles, zones


async def run_due(db: Database, now: datetime, settings: Settings) -> RunReport:
    """Enqueue everything due by now: the cycle in one transaction, study pushes in another."""
    report = RunReport(now=now)
    quiet = settings.quiet_hours
    steps = StepReport()
    async with db.session() as session:
        cycles = await group_cycles(session, settings.default_cycle)
        zones = await zones_in_use(session, settings.zone)
        shares = shared_cycles(cycles)
        for share in shares:
            for zone_name, names in zones.items():
                await enqueue_member_steps(
                    session,
                    now,
                    cycle=share,
                    zone=_zone(zone_name),
                    zone_names=names,
                    quiet=quiet,
                    report=steps,
                )
        await flag_lost_contact(
            session,
            now,
            cycles=shares,
            quiet=quiet,
            default_zone=settings.zone,
            report=steps,
        )
        await enqueue_escalations(
            session, now, cycles=cycles, default_zone=settings.zone, quiet=quiet, report=steps
        )
    report.merge(steps)
    async with db.session() as session:
        for push in await study.push_due_study(session, now, zone=settings.zone):
            report.lines.append(_push_line(push))
            report.messages += push.recipients
    async with db.session() as session:
        deadlines = await requests.check_deadlines(
            session,
            now,
            remind_before=timedelta(hours=settings.request_remind_hours),
            zone=settings.zone,
        )
    report.lines += deadlines.lines
    report.messages += deadlines.messages
    async with db.session() as session:
        for review in await certificates.enqueue_due_reviews(session, now, zone=settings.zone):
            report.lines.append(
                f"certificate review due {review.due_on} for #{review.certificate_id} "
                f"{review.number} ({review.member_name}): {review.messages} message(s)"
            )
            report.messages += review.messages
    for line in report.lines:
        log.info("scheduler: %s", line)
    return report


def _push_line(push: study.PushReport) -> str:
    what = f"study push {push.occurrence} to {push.group}"
    if push.title is not None:
        return f"{what}: #{push.material_id} {push.title!r}, {push.recipients} member(s)"
    return f"{what}: {push.outcome.value}"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One timer: an id stable across rebuilds, what it is for, and when it fires."""

    id: str
    description: str
    trigger: BaseTrigger
    # What templates need to say it in the reader's language.
    kind: str = ""  # prompt | reminder | escalation | lost_contact | study | requests
    number: int = 0  # the reminder's number
    # The group whose cycle or study schedule it is (None: the default cycle, or everyone).
    group_id: int | None = None
    group: str | None = None
    zone: str | None = None  # the members' time zone it fires for

    def next_time(self, now: datetime) -> datetime | None:
        when: datetime | None = self.trigger.get_next_fire_time(None, now)
        return when


async def job_specs(db: Database, settings: Settings, now: datetime) -> list[JobSpec]:
    """Every timer the schedule rows call for (one-off study pushes only if still ahead)."""
    cycles, zones = await _cycles_and_zones(db, settings)
    default_zone = settings.zone
    specs: list[JobSpec] = []
    for cycle in cycles:
        rule = cycle.rule
        if not rule.enabled:
            continue
        owner = f"group:{cycle.group_id}" if cycle.group_id else "default"
        whose = cycle.group_name or "default cycle"
        clock = rule.prompt_time
        for zone_name in sorted(zones):
            zone = _zone(zone_name)
            steps = [("prompt", "check-in prompt", 0, rule.prompt_day)] + [
                (f"r{n}", f"check-in reminder {n}", n, rule.prompt_day + days)
                for n, days in enumerate(rule.reminder_days, 1)
            ]
            for name, what, number, day in steps:
                specs.append(
                    JobSpec(
                        f"cycle:{owner}:{zone_name}:{name}",
                        f"{what} ({whose}, {zone_name})",
                        CronTrigger(day=day, hour=clock.hour, minute=clock.minute, timezone=zone),
                        kind="reminder" if number else "prompt",
                        number=number,
                        group_id=cycle.group_id,
                        group=cycle.group_name,
                        zone=zone_name,
                    )
                )
        specs.append(
            JobSpec(
                f"cycle:{owner}:escalation",
                f"escalation to liaisons ({whose})",
                CronTrigger(
                    day=rule.escalation_day,
                    hour=clock.hour,
                    minute=clock.minute,
                    timezone=default_zone,
                ),
                kind="escalation",
                group_id=cycle.group_id,
                group=cycle.group_name,
            )
        )
    daily = settings.default_cycle.prompt_time
    specs.append(
        JobSpec(
            "lost-contact",
            "lost contact check (daily)",
            CronTrigger(hour=daily.hour, minute=daily.minute, timezone=default_zone),
            kind="lost_contact",
        )
    )
    specs.append(
        JobSpec(
            "certificates:review",
            "activity certificate yearly review reminders (daily)",
            CronTrigger(hour=daily.hour, minute=daily.minute, timezone=default_zone),
            kind="cert_review",
        )
    )
    async with db.session() as session:
        # Only while some open request still has a reminder or an escalation to come.
        requests_pending = await requests.deadlines_pending(session)
    if requests_pending:
        every = settings.request_check_minutes
        specs.append(
            JobSpec(
                "requests:deadlines",
                f"service request deadlines (every {every} minutes)",
                CronTrigger(minute=f"*/{every}", timezone=default_zone),
                kind="requests",
                number=every,
            )
        )
    async with db.session() as session:
        rows = await session.execute(
            select(StudySchedule, Group.name)
            .join(Group, Group.id == StudySchedule.group_id)
            .where(StudySchedule.active.is_(True))
            .order_by(StudySchedule.id)
        )
        for schedule, group_name in rows:
            at = parse_clock(schedule.at_time)
            if schedule.weekday is not None:
                trigger: BaseTrigger = CronTrigger(
                    day_of_week=WEEKDAYS[schedule.weekday],
                    hour=at.hour,
                    minute=at.minute,
                    timezone=default_zone,
                )
                what = f"study push {WEEKDAYS[schedule.weekday]} {schedule.at_time} ({group_name})"
            elif schedule.on_date is not None:
                when = at_local(schedule.on_date, at, default_zone)
                if when <= now:
                    continue
                trigger = DateTrigger(run_date=when)
                what = f"study push on {schedule.on_date} {schedule.at_time} ({group_name})"
            else:
                continue
            specs.append(
                JobSpec(
                    f"study:{schedule.id}",
                    what,
                    trigger,
                    kind="study",
                    group_id=schedule.group_id,
                    group=group_name,
                )
            )
    return specs


def upcoming(specs: list[JobSpec], now: datetime) -> list[tuple[JobSpec, datetime]]:
    """Each spec with its next time after now, soonest first."""
    timed = [(spec, spec.next_time(now)) for spec in specs]
    return sorted(
        ((spec, when) for spec, when in timed if when is not None), key=lambda item: item[1]
    )


__all__ = ["JobSpec", "RunReport", "job_specs", "run_due", "upcoming"]
