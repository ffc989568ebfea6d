"""Offline place resolution: typed names and shared pins, per call."""

from __future__ import annotations

import random
from typing import Any

from benchmarks.common import Timer, show
from storage.regions import RegionIndex

TEXTS = [
    "武汉市江汉区",
    "深圳",
    "广东省深圳市南山区",
    "Shenzhen Nanshan",
    "北京海淀",
    "不知道的地方",
]


async def run() -> dict[str, Any]:
    with Timer() as load:
        index = RegionIndex.load()
    calls = 20_000
    with Timer() as texts:
        for i in range(calls):
            index.resolve_text(TEXTS[i % len(TEXTS)])
    # A member pasting junk into the place question: the worst case of a typed place.
    junk = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要" * 150
    with Timer() as paste:
        for _ in range(20):
            index.resolve_text(junk)
    rng = random.Random(7)
    points = [(rng.uniform(20, 45), rng.uniform(100, 122)) for _ in range(2_000)]
    with Timer() as pins:
        for latitude, longitude in points:
            index.resolve_point(latitude, longitude)
    figures = {
        "load_ms": load.seconds * 1e3,
        "text_us": texts.seconds / calls * 1e6,
        "point_us": pins.seconds / len(points) * 1e6,
        "paste_ms": paste.seconds / 20 * 1e3,
    }
    show("load the bundled data set", figures["load_ms"], "ms")
    show("resolve a typed place", figures["text_us"], "µs/call")
    show("resolve a shared pin", figures["point_us"], "µs/call")
    show("resolve a 5,000-character paste", figures["paste_ms"], "ms/call")
    return figures
