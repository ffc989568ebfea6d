"""Pacing sends to a rate, urgent callers first (replies to members before bulk notices)."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

Sleep = Callable[[float], Awaitable[None]]


class RateGate:
    """Hands out send slots at most `rate` per `per` seconds.

    Waiting urgent callers are always served before waiting bulk ones, so a member's reply
    never queues behind a broadcast. `pause(seconds)` holds every slot (Telegram's 429
    retry_after applies to the whole bot). Time and sleeping are injected for tests.

    While busy, slots keep to a fixed grid: a late wake-up does not push every later slot
    back, so the rate reached is the rate asked for. On top of the grid, no `per` window
    (stretched by `margin`) ever holds more than `rate` slots, even when a late slot is
    followed by on-time ones; the margin absorbs network jitter on the way to the server.
    """

    def __init__(
        self,
        rate: float,
        per: float = 1.0,
        *,
        margin: float = 0.01,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0 or per <= 0:
            raise ValueError("rate and per must be positive")
        self.interval = per / (rate * (1 - margin))
        self._span = per * (1 + margin)
        self._recent: deque[float] = deque(maxlen=max(1, math.ceil(rate * per)))
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._bulk: deque[asyncio.Future[None]] = deque()
        self._ticker: asyncio.Task[None] | None = None

    def pause(self, seconds: float) -> None:
        """Give out no slot for the next `seconds` (on top of any pause already running)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    @property
    def waiting(self) -> int:
        return len(self._urgent) + len(self._bulk)

    def _ready_at(self) -> float:
        ready = max(self._next_slot, self._paused_until)
        if len(self._recent) == self._recent.maxlen:
            # The slot `rate` grants ago must have left the window first.
            ready = max(ready, self._recent[0] + self._span)
        return ready

    async def acquire(self, *, urgent: bool = False) -> None:
        """Wait for a slot."""
        now = self._clock()
        if not self._urgent and not self._bulk and now >= self._ready_at():
            self._next_slot = now + self.interval
            self._recent.append(now)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._bulk).append(future)
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick())
        try:
            await future
            # The event loop may have been busy between the grant and now: what the far
            # side sees is this moment, so the window counts it.
            self._recent[-1] = max(self._recent[-1], self._clock())
        except asyncio.CancelledError:
            # Our slot (if already granted) is simply lost; the queue goes on.
            for queue in (self._urgent, self._bulk):
                if future in queue:
                    queue.remove(future)
            raise

    async def _tick(self) -> None:
        while self._urgent or self._bulk:
            delay = self._ready_at() - self._clock()
            if delay > 0:
                await self._sleep(delay)
                continue
            queue = self._urgent if self._urgent else self._bulk
            future = queue.popleft()
            if future.done():  # cancelled while waiting
                continue
            ready, now = self._ready_at(), self._clock()
            # On the grid unless we fell a whole slot behind (then start a new grid).
            self._next_slot = (ready if now - ready < self.interval else now) + self.interval
            # Counted as sent now; acquire() moves the stamp to when the caller really goes.
            self._recent.append(now)
            future.set_result(None)
            # The woken caller runs (and stamps its real start) before the next slot is given.
            await asyncio.sleep(0)


class KeyedGate:
    """At most one send per `interval` seconds for each key (e.g. per chat)."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_keys: int = 100_000,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[Hashable, float] = {}
        self._max_keys = max_keys

    async def acquire(self, key: Hashable) -> None:
        """Wait until key may send again, and book its next turn."""
        now = self._clock()
        slot = max(now, self._next.get(key, 0.0))
        self._next[key] = slot + self.interval
        if len(self._next) > self._max_keys:
            # Forget keys whose turn has long passed, so memory stays flat in a long broadcast.
            self._next = {k: t for k, t in self._next.items() if t > now}
        if slot > now:
            await self._sleep(slot - now)
