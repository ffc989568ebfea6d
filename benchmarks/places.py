"""Places: import 10,000 places, then the nearest three to a point, against a brute-force scan."""

from __future__ import annotations

import csv
import heapq
import random
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from benchmarks.common import Timer, fresh_database, p95, show
from storage.models import Place
from storage.places import haversine_m, import_places, nearest, read_places

PLACES = 10_000
QUERIES = 1_000
NOW = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)
HEADER = ["名称", "类型", "地址", "所在区", "纬度", "经度", "开放时间", "联系电话"]
KINDS = ("党员之家", "活动中心", "服务站")


def _places(rng: random.Random) -> tuple[list[list[str]], list[tuple[float, float]]]:
    """Places as a district network would have them: most in 200 towns, some scattered."""
    towns = [(rng.uniform(20, 45), rng.uniform(100, 122)) for _ in range(200)]
    rows, points = [], []
    for i in range(PLACES):
        if i % 10 == 0:
            lat, lon = rng.uniform(18, 53), rng.uniform(74, 134)
        else:
            town_lat, town_lon = towns[i % len(towns)]
            lat, lon = town_lat + rng.gauss(0, 0.05), town_lon + rng.gauss(0, 0.05)
        points.append((lat, lon))
        rows.append(
            [
                f"第{i:05d}号党员之家",
                KINDS[i % 3],
                f"某市某区某路 {i} 号",
                f"第{i % 300:03d}区",
                f"{lat:.6f}",
                f"{lon:.6f}",
                "周二至周日 9:00-17:00",
                f"027-8{i:07d}",
            ]
        )
    return rows, points


def _brute_force(
    everything: list[tuple[int, float, float]], lat: float, lon: float
) -> list[tuple[float, int]]:
    return heapq.nsmallest(
        3, ((haversine_m(lat, lon, p_lat, p_lon), pid) for pid, p_lat, p_lon in everything)
    )


async def run() -> dict[str, Any]:
    rng = random.Random(11)
    rows, points = _places(rng)
    queries = [
        # Half where members are (near a place), half anywhere in the country.
        (lat + rng.gauss(0, 0.1), lon + rng.gauss(0, 0.1))
        if i % 2
        else (rng.uniform(18, 53), rng.uniform(74, 134))
        for i, (lat, lon) in enumerate(rng.sample(points, QUERIES))
    ]
    figures: dict[str, Any] = {"places": PLACES, "queries": QUERIES}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "places.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(rows)
        async with fresh_database() as database:
            with Timer() as parse:
                parsed = read_places(path)
            with Timer() as write:
                async with database.session() as session:
                    report = await import_places(
                        session, NOW, parsed, actor="bench", source=path.name
                    )
            assert report.added == PLACES, report.errors[:3]
            with Timer() as again:
                async with database.session() as session:
                    second = await import_places(
                        session, NOW, read_places(path), actor="bench", source=path.name
                    )
            assert second.unchanged == PLACES

            # Baseline: every row loaded once into memory, then a haversine scan per query.
            with Timer() as load:
                async with database.session() as session:
                    result = await session.execute(
                        select(Place.id, Place.latitude, Place.longitude)
                    )
                    everything = [(pid, lat, lon) for pid, lat, lon in result]
            baseline: list[float] = []
            expected = []
            for lat, lon in queries:
                with Timer() as one:
                    expected.append(_brute_force(everything, lat, lon))
                baseline.append(one.seconds)

            # nearest(): a bounding box in SQL, widened until it holds enough, as /places calls it.
            samples: list[float] = []
            for (lat, lon), want in zip(queries, expected, strict=True):
                with Timer() as one:
                    async with database.session() as session:
                        found = await nearest(session, lat, lon, limit=3)
                samples.append(one.seconds)
                assert [near.place.id for near in found] == [pid for _, pid in want]

    figures.update(
        {
            "parse_s": parse.seconds,
            "write_s": write.seconds,
            "reimport_s": again.seconds,
            "baseline_load_ms": load.seconds * 1e3,
            "baseline_mean_ms": sum(baseline) / len(baseline) * 1e3,
            "baseline_p95_ms": p95(baseline) * 1e3,
            "nearest_mean_ms": sum(samples) / len(samples) * 1e3,
            "nearest_p95_ms": p95(samples) * 1e3,
        }
    )
    show(f"parse {PLACES:,} places (CSV)", figures["parse_s"], "s")
    show(f"write {PLACES:,} new places", figures["write_s"], "s")
    show("re-import, nothing changed", figures["reimport_s"], "s")
    show("baseline: load every place into memory", figures["baseline_load_ms"], "ms")
    show("baseline: brute-force haversine scan, mean", figures["baseline_mean_ms"], "ms/query")
    show("baseline: brute-force haversine scan, p95", figures["baseline_p95_ms"], "ms/query")
    show("nearest(): SQL box + haversine, mean", figures["nearest_mean_ms"], "ms/query")
    show("nearest(): SQL box + haversine, p95", figures["nearest_p95_ms"], "ms/query")
    return figures
