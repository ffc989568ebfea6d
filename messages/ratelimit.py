"""Pacing sends to a rate, urgent callers first (replies to members before bulk notices)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable

Sleep = Callable[[float], Awaitable[None]]


class RateGate:
    """Hands out send slots at most `rate` per `per` seconds.

    Waiting urgent callers are always served before waiting bulk ones, so a member's reply
    never queues behind a broadcast. `pause(seconds)` holds every slot (a 429 when the overall
    rate was what was exceeded). Time and sleeping are injected for tests.

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
        # At most `rate` slots in any window of `per` seconds.
        self._recent: deque[float] = deque(maxlen=max(1, math.ceil(rate)))
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

    def busy(self) -> float:
        """The share of the rate used in the last `per` seconds (1.0: at the rate)."""
        now = self._clock()
        used = sum(1 for stamp in self._recent if stamp > now - self._span)
        return used / (self._recent.maxlen or 1)

    @property
    def waiting(self) -> int:
        return len(self._urgent) + len(self._bulk)

    @property
    def urgent_waiting(self) -> int:
        return len(self._urgent)

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


class KeyedLocks:
    """One asyncio.Lock per key (a chat, an account), waited for in arrival order.

    Only keys someone holds or waits for have a lock, so memory stays flat however many
    keys pass through (a broadcast, every member who ever wrote).
    """

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users > 1:
                self._locks[key] = (lock, users - 1)
            else:
                del self._locks[key]


class KeyedGate:
    """At most one send per `interval` seconds for each key (e.g. per chat), one at a time.

    `hold(key)` waits until the key's previous send has finished and its turn has come; the
    next turn counts from when this send finished. The far side saw the send no later than
    that, so a slow network never brings two sends to one chat closer than `interval`.
    `pause(key, seconds)` pushes the key's next turn back (a 429 for that chat only).
    """

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
        self._locks = KeyedLocks()
        self._max_keys = max_keys

    def pause(self, key: Hashable, seconds: float) -> None:
        """Give key no turn for the next `seconds` (on top of any pause already running)."""
        until = self._clock() + max(seconds, self.interval)
        self._next[key] = max(self._next.get(key, 0.0), until)

    def ready_in(self, key: Hashable) -> float:
        """Seconds until key's next turn (0 if it may send now)."""
        return max(0.0, self._next.get(key, 0.0) - self._clock())

    async def wait_turn(self, key: Hashable) -> None:
        """Sleep until key's next turn (also after a pause that came meanwhile)."""
        while (delay := self.ready_in(key)) > 0:
            await self._sleep(delay)

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Wait for key's turn, keep other sends to key waiting while inside, book the next."""
        async with self._locks.hold(key):
            await self.wait_turn(key)
            try:
                yield
            finally:
                now = self._clock()
                self._next[key] = max(self._next.get(key, 0.0), now + self.interval)
                if len(self._next) > self._max_keys:
                    self._next = {k: t for k, t in self._next.items() if t > now}
