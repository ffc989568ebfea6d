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

    `hold(longer_than)` stops that for longer sleeps: they wait until a test moves the clock
    with `advance()` (to see what happens meanwhile in other chats), or until `release()`
    lets time run again.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._held: float | None = None
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self._arrived: asyncio.Event | None = None

    def seconds(self) -> float:
        return self._now

    @property
    def sleeping(self) -> int:
        """How many sleepers wait for a held clock to move."""
        return len(self._sleepers)

    def hold(self, longer_than: float = 0.0) -> None:
        """From now on sleeps longer than `longer_than` wait for advance() or release()."""
        self._held = longer_than
        self._arrived = asyncio.Event()

    def release(self) -> None:
        """Time runs again: every held sleeper wakes (at its own wake-up time)."""
        self._held = None
        self._wake(float("inf"))

    async def someone_held(self) -> None:
        """Return once a sleeper waits on the held clock."""
        assert self._arrived is not None, "hold() the clock first"
        await self._arrived.wait()

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass at once; held sleepers that are due wake up."""
        self._now += max(seconds, 0.0)
        self._wake(self._now)

    def _wake(self, until: float) -> None:
        due = [entry for entry in self._sleepers if entry[0] <= until]
        self._sleepers = [entry for entry in self._sleepers if entry[0] > until]
        for wake, future in due:
            self._now = max(self._now, wake)
            if not future.done():
                future.set_result(None)

    async def sleep(self, seconds: float) -> None:
        wake = self._now + max(seconds, 0.0)
        if self._held is not None and seconds > self._held:
            future = asyncio.get_running_loop().create_future()
            self._sleepers.append((wake, future))
            if self._arrived is not None:
                self._arrived.set()
            await future
            return
        for _ in range(3):
            await asyncio.sleep(0)
        self._now = max(self._now, wake)
