"""APScheduler as the in-process timer, rebuilt from the schedule rows.

At start the scheduler catches up (one `run_due` for the present instant: anything missed
while the service was down and still within its grace goes now, once), then sets one
APScheduler job per JobSpec. Every job calls `run_due` with the clock's time. A change made
in Telegram takes effect at once (`refresh`); one made by another process (the command
line) is picked up within `schedule_poll_seconds`, when the specs are compared again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.jobs import JobSpec, RunReport, job_specs, run_due, upcoming
from storage.clock import Clock
from storage.db import Database
from storage.settings import Settings

log = logging.getLogger(__name__)

POLL_JOB = "schedule-poll"


class CycleScheduler:
    """Owns the APScheduler instance of a running service."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        *,
        on_run: Callable[[RunReport], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.on_run = on_run
        self._apscheduler = AsyncIOScheduler(
            timezone=settings.zone,
            # A timer that fired late (a busy loop, a suspended laptop) still runs, once:
            # run_due decides what is still worth sending.
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        self._fingerprint: tuple[tuple[str, str], ...] = ()
        # Timers that fire together (the prompt, the daily checks, the certificate reviews
        # at 09:00) share one run: run_due enqueues everything due, whichever timer asked.
        self._running = asyncio.Lock()
        self._last_started: datetime | None = None

    async def start(self) -> RunReport:
        """Catch up, build the jobs, start the timer; returns what the catch-up enqueued.

        A failure here is logged, not raised: the bot must answer members even when a
        schedule row is broken; the next timer or poll tries again.
        """
        report = RunReport(now=self.clock.now())
        try:
            report = await self.run_now()
        except Exception:
            log.exception("catch-up run failed; the timers will try again")
        await self._poll()
        self._apscheduler.add_job(
            self._poll,
            IntervalTrigger(seconds=self.settings.schedule_poll_seconds),
            id=POLL_JOB,
            name="look for schedule changes",
        )
        self._apscheduler.start()
        return report

    async def stop(self) -> None:
        if self._apscheduler.running:
            self._apscheduler.shutdown(wait=False)

    async def run_now(self) -> RunReport:
        """Run everything due at the clock's present instant."""
        report = await self._run()
        assert report is not None, "a run with no condition always runs"
        return report

    async def _run(self, unless_started_since: datetime | None = None) -> RunReport | None:
        """run_due now; None if a run started at or after unless_started_since (it did this)."""
        async with self._running:
            last = self._last_started
            if unless_started_since and last and last >= unless_started_since:
                return None
            now = self._last_started = self.clock.now()
            report = await run_due(self.db, now, self.settings)
        if self.on_run is not None:
            await self.on_run(report)
        return report

    async def refresh(self) -> bool:
        """Rebuild the jobs if the schedule rows changed; True if they did."""
        specs = await job_specs(self.db, self.settings, self.clock.now())
        fingerprint = tuple((spec.id, str(spec.trigger)) for spec in specs)
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        for job in self._apscheduler.get_jobs():
            if job.id != POLL_JOB:
                job.remove()
        for spec in specs:
            self._apscheduler.add_job(self._fire, spec.trigger, id=spec.id, name=spec.description)
        log.info("scheduler: %d job(s) from the schedule rows", len(specs))
        return True

    def jobs(self) -> list[tuple[str, datetime | None]]:
        """The APScheduler jobs as they stand (id, next run time); for operators and tests."""
        return [
            (job.id, getattr(job, "next_run_time", None)) for job in self._apscheduler.get_jobs()
        ]

    async def upcoming(self, within: timedelta | None = None) -> list[tuple[JobSpec, datetime]]:
        now = self.clock.now()
        listed = upcoming(await job_specs(self.db, self.settings, now), now)
        if within is not None:
            listed = [(spec, when) for spec, when in listed if when - now <= within]
        return listed

    async def _fire(self) -> None:
        called = self.clock.now()
        try:
            # A run that started since this timer fired has enqueued what it would.
            await self._run(unless_started_since=called)
        except Exception:  # a bad moment must not unschedule the job
            log.exception("scheduled run failed; the next timer or restart catches up")

    async def _poll(self) -> None:
        try:
            await self.refresh()
        except Exception:
            log.exception("could not read the schedules; trying again at the next poll")
