"""The clocks every job, handler and pacing gate asks: real in service, fake in tests."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where "now" comes from; domain code receives the value, never the clock."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to: tests and `schedule run-due --now`."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        """Jump to instant."""
        if instant.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move forward by delta."""
        self._now += delta


class Monotonic(Protocol):
    """Elapsed seconds and sleeping, for pacing (Telegram's limits, flood control)."""

    def seconds(self) -> float:
        """Seconds since some fixed point; never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` pass."""
        ...


class SystemMonotonic:
    """The machine's monotonic clock and real sleeping."""

    def seconds(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeMonotonic:
    """Virtual time for pacing: sleeping moves the clock instead of waiting.

    A sleeper first lets every task that is ready run at the current instant (as it would in
    real time), then moves the clock to its wake-up time unless another sleeper already went
    further. Time only goes forward, so a limit kept on this clock is kept on any clock.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self.slept = 0.0  # total virtual seconds waited, for tests that care how long it took

    def seconds(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass at once (a member pausing between two messages)."""
        self._now += max(seconds, 0.0)

    async def sleep(self, seconds: float) -> None:
        wake = self._now + max(seconds, 0.0)
        for _ in range(3):
            await asyncio.sleep(0)
        if wake > self._now:
            self.slept += wake - self._now
            self._now = wake
