"""Pacing: the rate is kept, urgent callers go first, a pause holds what it says (fake clock)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from messages.ratelimit import KeyedGate, RateGate


class FakeTime:
    """A monotonic clock that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Let everything already woken run first, as it would in real time.
        for _ in range(3):
            await asyncio.sleep(0)
        self.now += max(seconds, 0.0)


async def test_slots_are_spaced_to_the_rate() -> None:
    time = FakeTime()
    gate = RateGate(30, margin=0, clock=time.clock, sleep=time.sleep)
    stamps = []

    async def send() -> None:
        await gate.acquire()
        stamps.append(time.now)

    await asyncio.gather(*(send() for _ in range(90)))
    assert len(stamps) == 90
    assert stamps[-1] - stamps[0] == pytest.approx(89 / 30)
    assert all(b - a >= 1 / 30 - 1e-9 for a, b in itertools.pairwise(stamps))


async def test_urgent_callers_overtake_waiting_bulk() -> None:
    time = FakeTime()
    gate = RateGate(10, clock=time.clock, sleep=time.sleep)
    order: list[str] = []

    async def send(name: str, urgent: bool) -> None:
        await gate.acquire(urgent=urgent)
        order.append(name)

    bulk = [asyncio.create_task(send(f"bulk{i}", False)) for i in range(20)]
    await asyncio.sleep(0)
    reply = asyncio.create_task(send("reply", True))
    await asyncio.gather(*bulk, reply)
    # The first bulk slot was free at once; the reply comes right after it, not 19 later.
    assert order.index("reply") <= 2


async def test_pause_holds_every_slot() -> None:
    time = FakeTime()
    gate = RateGate(30, clock=time.clock, sleep=time.sleep)
    await gate.acquire()
    gate.pause(5)
    start = time.now
    await gate.acquire(urgent=True)
    assert time.now - start >= 5


async def test_keyed_gate_spaces_each_key_alone() -> None:
    time = FakeTime()
    gate = KeyedGate(1.0, clock=time.clock, sleep=time.sleep)
    async with gate.hold("a"):
        pass
    async with gate.hold("b"):
        pass
    assert time.now == 100.0  # different chats do not wait for each other
    async with gate.hold("a"):
        assert time.now == 101.0


async def test_a_chat_s_next_turn_counts_from_when_its_send_finished() -> None:
    time = FakeTime()
    gate = KeyedGate(1.0, clock=time.clock, sleep=time.sleep)
    starts: list[float] = []

    async def send(network_delay: float) -> None:
        async with gate.hold("a"):
            starts.append(time.now)
            await time.sleep(network_delay)

    # The first request took 0.4 s to arrive: the second may not leave before 1.4 s.
    await asyncio.gather(send(0.4), send(0.0))
    assert starts == [100.0, pytest.approx(101.4)]


async def test_pausing_a_chat_holds_that_chat_only() -> None:
    time = FakeTime()
    gate = KeyedGate(1.0, clock=time.clock, sleep=time.sleep)
    gate.pause("a", 5)
    async with gate.hold("b"):
        assert time.now == 100.0
    async with gate.hold("a"):
        assert time.now == 105.0


async def test_busy_tells_how_much_of_the_rate_was_used_in_the_last_second() -> None:
    time = FakeTime()
    gate = RateGate(10, clock=time.clock, sleep=time.sleep)
    for _ in range(9):
        await gate.acquire()
    assert gate.busy() == pytest.approx(0.9)
    time.now += 2
    assert gate.busy() == 0


async def test_late_wakeups_do_not_slow_the_rate() -> None:
    time = FakeTime()

    async def oversleep(seconds: float) -> None:
        await time.sleep(seconds + 0.004)  # a busy event loop wakes 4 ms late every time

    gate = RateGate(30, clock=time.clock, sleep=oversleep)
    stamps = []

    async def send() -> None:
        await gate.acquire()
        stamps.append(time.now)

    await asyncio.gather(*(send() for _ in range(301)))
    rate = 300 / (stamps[-1] - stamps[0])
    assert 29.4 <= rate <= 30  # 1 % under the limit, and no slower
    window = [b - a for a, b in zip(stamps, stamps[30:], strict=False)]
    assert min(window) >= 1.0  # never 31 sends within one second


async def test_a_late_slot_followed_by_punctual_ones_never_overfills_a_second() -> None:
    time = FakeTime()
    late = iter([0.030] + [0.0] * 1000)  # one wake-up 30 ms late, then punctual

    async def sleep(seconds: float) -> None:
        await time.sleep(seconds + next(late))

    gate = RateGate(30, clock=time.clock, sleep=sleep)
    stamps = []

    async def send() -> None:
        await gate.acquire()
        stamps.append(time.now)

    await asyncio.gather(*(send() for _ in range(120)))
    # At most 30 in any second: the 31st after each slot is more than a second later.
    assert min(b - a for a, b in zip(stamps, stamps[30:], strict=False)) >= 1.0


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateGate(0)
