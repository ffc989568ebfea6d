"""What is due at an instant, and when things fall due next: one list of job kinds.

`JOB_KINDS` declares every kind of scheduled work once: what it does at an instant and the
timers at which it falls due. Both functions below come from it, so a new kind is one more
entry there.

`run_due(now)` is the whole of the scheduler's work: every kind, in the order of the list,
enqueues what has come due by `now` and whose grace has not run out — once, whatever else
has run before. APScheduler (scheduler/timers.py) only decides *when* to call it;
`liaison schedule run-due --now` and the tests call it directly with the instant they choose.

`job_specs()` turns the schedule rows into timers (one per cycle step and time zone in use,
the daily checks, one per study schedule, ...). The same specs build the APScheduler jobs
and `liaison schedule list`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messages.channels import sms_log
from storage import activities, certificates, conversations, qq_choices, requests, retention, study
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

# Conversation drafts nobody came back to are deleted once a day, at night in the default
# time zone. Not at every run: until the purge, a member who returns to an expired draft
# is told it expired rather than having their answer taken for something else.
PURGE_AT = time(4, 0)
# A purge timer that fired late (a busy or suspended machine) still purges within this;
# after it, the next night's does.
PURGE_GRACE = timedelta(hours=1)


@dataclass(slots=True)
class RunReport:
    """What one run enqueued: a line per step taken, and the number of messages."""

    now: datetime
    lines: list[str] = field(default_factory=list)
    messages: int = 0

    def merge(self, report: StepReport) -> None:
        self.lines += report.lines
        self.messages += report.messages


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One timer: an id stable across rebuilds, what it is for, and when it fires."""

    id: str
    description: str
    trigger: BaseTrigger
    # What templates need to say it in the reader's language (messages/.../cycle/_job.html).
    kind: str = ""  # prompt | reminder | escalation | lost_contact | study | requests | …
    number: int = 0  # the reminder's number; the minutes between deadline checks
    # The group whose cycle or study schedule it is (None: the default cycle, or everyone).
    group_id: int | None = None
    group: str | None = None
    zone: str | None = None  # the members' time zone it fires for

    def next_time(self, now: datetime) -> datetime | None:
        when: datetime | None = self.trigger.get_next_fire_time(None, now)
        return when


@dataclass(slots=True)
class Moment:
    """What every kind of job is given: the instant, the settings, and the cycles and time
    zones in use (read once per run however many kinds ask)."""

    now: datetime
    settings: Settings
    _cycles: list[GroupCycle] | None = None
    _zones: dict[str, list[str | None]] | None = None

    async def cycles(self, session: AsyncSession) -> list[GroupCycle]:
        if self._cycles is None:
            self._cycles = await group_cycles(session, self.settings.default_cycle)
        return self._cycles

    async def zones(self, session: AsyncSession) -> dict[str, list[str | None]]:
        if self._zones is None:
            self._zones = await zones_in_use(session, self.settings.zone)
        return self._zones

    def daily(self, at: time) -> CronTrigger:
        """Every day at a time of the default time zone."""
        return CronTrigger(hour=at.hour, minute=at.minute, timezone=self.settings.zone)


Run = Callable[[AsyncSession, Moment, StepReport], Awaitable[None]]
Timers = Callable[[AsyncSession, Moment], Awaitable[list[JobSpec]]]


@dataclass(frozen=True, slots=True)
class JobKind:
    """One kind of scheduled work: what it does at an instant, and the timers that call it.

    `run` enqueues what is due by the instant and not yet enqueued, so any timer, a
    catch-up after a restart or a second call may run it; `timers` only decide when
    run_due is called. Each kind runs in its own transaction.
    """

    name: str
    run: Run
    timers: Timers


def _zone(name: str) -> tzinfo:
    return ZoneInfo(name)


def _owner(cycle: GroupCycle) -> str:
    return f"group:{cycle.group_id}" if cycle.group_id else "default"


def _whose(cycle: GroupCycle) -> str:
    return cycle.group_name or "default cycle"


# --- the monthly cycle: prompts and reminders, lost contact, escalation --------------------


async def _run_checkin_steps(session: AsyncSession, at: Moment, report: StepReport) -> None:
    zones = await at.zones(session)
    for share in shared_cycles(await at.cycles(session)):
        for zone_name, names in zones.items():
            await enqueue_member_steps(
                session,
                at.now,
                cycle=share,
                zone=_zone(zone_name),
                zone_names=names,
                quiet=at.settings.quiet_hours,
                report=report,
            )


async def _checkin_timers(session: AsyncSession, at: Moment) -> list[JobSpec]:
    """One timer per cycle step (the prompt, each reminder) and time zone in use."""
    zones = await at.zones(session)
    specs = []
    for cycle in await at.cycles(session):
        rule = cycle.rule
        if not rule.enabled:
            continue
        clock = rule.prompt_time
        steps = [("prompt", "check-in prompt", 0, rule.prompt_day)] + [
            (f"r{n}", f"check-in reminder {n}", n, rule.prompt_day + days)
            for n, days in enumerate(rule.reminder_days, 1)
        ]
        for zone_name in sorted(zones):
            for name, what, number, day in steps:
                specs.append(
                    JobSpec(
                        f"cycle:{_owner(cycle)}:{zone_name}:{name}",
                        f"{what} ({_whose(cycle)}, {zone_name})",
                        CronTrigger(
                            day=day, hour=clock.hour, minute=clock.minute, timezone=_zone(zone_name)
                        ),
                        kind="reminder" if number else "prompt",
                        number=number,
                        group_id=cycle.group_id,
                        group=cycle.group_name,
                        zone=zone_name,
                    )
                )
    return specs


async def _run_lost_contact(session: AsyncSession, at: Moment, report: StepReport) -> None:
    await flag_lost_contact(
        session,
        at.now,
        cycles=shared_cycles(await at.cycles(session)),
        quiet=at.settings.quiet_hours,
        default_zone=at.settings.zone,
        report=report,
    )


async def _lost_contact_timers(session: AsyncSession, at: Moment) -> list[JobSpec]:
    daily = at.daily(at.settings.default_cycle.prompt_time)
    return [JobSpec("lost-contact", "lost contact check (daily)", daily, kind="lost_contact")]


async def _run_escalations(session: AsyncSession, at: Moment, report: StepReport) -> None:
    await enqueue_escalations(
        session,
        at.now,
        cycles=await at.cycles(session),
        default_zone=at.settings.zone,
        quiet=at.settings.quiet_hours,
        report=report,
    )


async def _escalation_timers(session: AsyncSession, at: Moment) -> list[JobSpec]:
    """One timer per cycle: the day its liaisons get the list of silent members."""
    specs = []
    for cycle in await at.cycles(session):
        rule = cycle.rule
        if not rule.enabled:
            continue
        specs.append(
            JobSpec(
                f"cycle:{_owner(cycle)}:escalation",
                f"escalation to liaisons ({_whose(cycle)})",
                CronTrigger(
                    day=rule.escalation_day,
                    hour=rule.prompt_time.hour,
                    minute=rule.prompt_time.minute,
                    timezone=at.settings.zone,
                ),
                kind="escalation",
                group_id=cycle.group_id,
                group=cycle.group_name,
            )
        )
    return specs


# --- study pushes --------------------------------------------------------------------------


async def _run_study(session: AsyncSession, at: Moment, report: StepReport) -> None:
    for push in await study.push_due_study(session, at.now, zone=at.settings.zone):
        report.lines.append(_push_line(push))
        report.messages += push.recipients


def _push_line(push: study.PushReport) -> str:
    what = f"study push {push.occurrence} to {push.group}"
    if push.title is not None:
        return f"{what}: #{push.material_id} {push.title!r}, {push.recipients} member(s)"
    return f"{what}: {push.outcome.value}"


async def _study_timers(session: AsyncSession, at: Moment) -> list[JobSpec]:
    """One timer per active study schedule (a one-off push only while still ahead)."""
    zone = at.settings.zone
    rows = await session.execute(
        select(StudySchedule, Group.name)
        .join(Group, Group.id == StudySchedule.group_id)
        .where(StudySchedule.active.is_(True))
        .order_by(StudySchedule.id)
    )
    specs = []
    for schedule, group_name in rows:
        clock = parse_clock(schedule.at_time)
        if schedule.weekday is not None:
            trigger: BaseTrigger = CronTrigger(
                day_of_week=WEEKDAYS[schedule.weekday],
                hour=clock.hour,
                minute=clock.minute,
                timezone=zone,
            )
            what = f"study push {WEEKDAYS[schedule.weekday]} {schedule.at_time} ({group_name})"
        elif schedule.on_date is not None:
            when = at_local(schedule.on_date, clock, zone)
            if when <= at.now:
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


# --- service request deadlines -------------------------------------------------------------


async def _run_deadlines(session: AsyncSession, at: Moment, report: StepReport) -> None:
    deadlines = await requests.check_deadlines(
        session,
        at.now,
        remind_before=timedelta(hours=at.settings.request_remind_hours),
        zone=at.settings.zone,
    )
    report.lines += deadlines.lines
    report.messages += deadlines.messages


async def _deadline_timers(session: AsyncSession, at: Moment) -> list[JobSpec]:
    # Only while some open request still has a reminder or an escalation to come.
    if not await requests.deadlines_pending(session):
        return []
    every = at.settings.request_check_minutes
    return [
        JobSpec(
            "requests:deadlines",
            f"service request deadlines (every {every} minutes)",
            CronTrigger(minute=f"*/{every}", timezone=at.settings.zone),
            kind="requests",
            number=every,
        )
    ]


# --- activity certificate reviews ----------------------------------------------------------


async def _run_reviews(session: AsyncSession, at: Moment, report: StepReport) -> None:
    for review in await certificates.enqueue_due_reviews(session, at.now, zone=at.settings.zone):
        report.lines.append(
            f"certificate review due {review.due_on} for #{review.certificate_id} "
            f"{review.number} ({review.member_name}): {review.messages} message(s)"
        )
        report.messages += review.messages


async def _review_timers(session: AsyncSession, at: Moment) -> list[JobSpec]:
    return [
        JobSpec(
            "certificates:review",
            "activity certificate yearly review reminders (daily)",
            at.daily(at.settings.default_cycle.prompt_time),
            kind="cert_review",
        )
    ]


# --- activities: the reminder the day before ----------------------------------------------


async def _run_activity_reminders(session: AsyncSession, at: Moment, report: StepReport) -> None:
    for reminded in await activities.enqueue_due_reminders(session, at.now, zone=at.settings.zone):
        report.lines.append(
            f"activity reminder for #{reminded.activity_id} {reminded.title!r}: "
            f"{reminded.messages} member(s)"
        )
        report.messages += reminded.messages


async def _activity_timers(session: AsyncSession, at: Moment) -> list[JobSpec]:
    """One timer per activity whose reminder is still ahead (a missed one is caught up by
    the run at start, until the activity begins)."""
    return [
        JobSpec(
            f"activity:{activity_id}:remind",
            f"activity reminder ({title})",
            DateTrigger(run_date=when),
            kind="activity",
            group=title,
        )
        for activity_id, title, when in await activities.reminders_ahead(session, at.now)
        if when > at.now
    ]


# --- the conversation purge ----------------------------------------------------------------


def _purge_window(at: Moment) -> bool:
    """Whether the instant is in tonight's purge window (PURGE_AT, and its grace)."""
    local = at.now.astimezone(at.settings.zone)
    since = datetime.combine(local.date(), PURGE_AT, tzinfo=at.settings.zone)
    return since <= local < since + PURGE_GRACE


async def _run_purge(session: AsyncSession, at: Moment, report: StepReport) -> None:
    if not _purge_window(at):
        return
    purged = await conversations.purge_expired(session, at.now)
    if purged:
        # Drafts are not messages: a line, and the message count stays as it is.
        report.lines.append(f"conversation purge: {purged} expired draft(s) deleted")
    # A QQ chat's last choices are kept a month (storage/qq_choices.py).
    stale = await qq_choices.purge(session, at.now - qq_choices.KEPT)
    if stale:
        report.lines.append(f"conversation purge: {stale} stale QQ choice list(s) deleted")


async def _purge_timers(session: AsyncSession, at: Moment) -> list[JobSpec]:
    return [
        JobSpec(
            "conversations:purge",
            f"expired conversation drafts purge (daily at {PURGE_AT:%H:%M})",
            at.daily(PURGE_AT),
            kind="purge",
        )
    ]


# --- retention (PIPL Art. 19) --------------------------------------------------------------


async def _run_retention(session: AsyncSession, at: Moment, report: StepReport) -> None:
    # In the conversation purge's window: once a night, at the quietest hour.
    if not _purge_window(at):
        return
    keep = retention.Retention.of(at.settings)
    before = keep.sms_log_cutoff(at.now)
    dropped = await asyncio.to_thread(sms_log.drop_older, at.settings.sms_log_path, before)
    purged = await retention.purge(
        session, at.now, keep, also=[retention.Purged("sms_log", before, dropped)]
    )
    # Not messages: a line per kind that lost something, and the message count stays.
    report.lines += [f"retention purge: {p.line()}" for p in purged.kinds if p.total]


async def _retention_timers(session: AsyncSession, at: Moment) -> list[JobSpec]:
    return [
        JobSpec(
            "privacy:purge",
            f"records past their retention time purged (daily at {PURGE_AT:%H:%M})",
            at.daily(PURGE_AT),
            kind="retention",
        )
    ]


# The order in which a run takes them (and in which timers are listed): a member's prompt
# before the lost-contact check and the escalation that look at who stayed silent.
JOB_KINDS: tuple[JobKind, ...] = (
    JobKind("checkin", _run_checkin_steps, _checkin_timers),
    JobKind("lost_contact", _run_lost_contact, _lost_contact_timers),
    JobKind("escalation", _run_escalations, _escalation_timers),
    JobKind("study", _run_study, _study_timers),
    JobKind("requests", _run_deadlines, _deadline_timers),
    JobKind("cert_review", _run_reviews, _review_timers),
    JobKind("activities", _run_activity_reminders, _activity_timers),
    JobKind("purge", _run_purge, _purge_timers),
    JobKind("retention", _run_retention, _retention_timers),
)


async def run_due(db: Database, now: datetime, settings: Settings) -> RunReport:
    """Enqueue everything due by now: every kind of job, each in its own transaction."""
    report = RunReport(now=now)
    at = Moment(now, settings)
    for kind in JOB_KINDS:
        steps = StepReport()
        async with db.session() as session:
            await kind.run(session, at, steps)
        report.merge(steps)
    for line in report.lines:
        log.info("scheduler: %s", line)
    return report


async def job_specs(db: Database, settings: Settings, now: datetime) -> list[JobSpec]:
    """Every timer the schedule rows call for (one-off study pushes only if still ahead)."""
    at = Moment(now, settings)
    specs: list[JobSpec] = []
    async with db.session() as session:
        for kind in JOB_KINDS:
            specs += await kind.timers(session, at)
    return specs


def upcoming(specs: list[JobSpec], now: datetime) -> list[tuple[JobSpec, datetime]]:
    """Each spec with its next time after now, soonest first."""
    timed = [(spec, spec.next_time(now)) for spec in specs]
    return sorted(
        ((spec, when) for spec, when in timed if when is not None), key=lambda item: item[1]
    )


__all__ = [
    "JOB_KINDS",
    "JobKind",
    "JobSpec",
    "Moment",
    "RunReport",
    "job_specs",
    "run_due",
    "upcoming",
]
