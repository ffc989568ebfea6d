"""Build ``bot/console/static/china_map.json``, the province outlines the console draws.

Like ``build_regions.py`` this runs once, at development time, and its output is committed;
the console only reads the JSON (``bot/console/china_map.py``) and draws it as SVG on the
server, so the dashboard needs no map script and no map service.

Source
    ``map/json/china.json`` of the Apache-2.0 licensed ``echarts`` npm package, version
    4.9.0 (``npm pack echarts@4.9.0``), and the 南海诸岛 inset that echarts adds to it in
    ``src/coord/geo/fix/nanhai.js`` (copied into :data:`NANHAI` below). See
    ``bot/console/static/china_map.json.LICENSE.md``.

Usage (re-runnable; the output is deterministic)::

    .venv/bin/python storage/data/build_china_map.py path/to/package/map/json/china.json \
        [-o bot/console/static/china_map.json]

What it does
    * decodes echarts' compressed "UTF8Encoding" coordinates as echarts 4's
      ``parseGeoJson`` does (zigzag deltas over ``encodeOffsets``, divided by the scale);
    * projects longitude/latitude equirectangularly, with x shrunk by cos 35° (the middle
      of China's latitudes) so the country does not look stretched, onto a viewBox
      :data:`WIDTH` units wide;
    * simplifies each ring (Douglas-Peucker, :data:`TOLERANCE` units) and drops islands
      smaller than :data:`SPECK` square units, always keeping a province's largest part;
    * names each province as ``regions.csv`` does (广东 → 广东省, 内蒙古 → 内蒙古自治区);
    * picks a label anchor inside each province: the point of its largest part farthest
      from its border, and how far that is (the room a label has).

Output
    ``{"source", "width", "height", "projection": {...}, "provinces": [{"name",
    "short_name", "d", "anchor": [x, y], "room"}], "outlines": [{"key", "name", "d"}]}``;
    path coordinates are in viewBox units rounded to 0.1. A place at (longitude, latitude)
    is at ``x = margin + (longitude - west) * cos(standard_parallel) * scale`` and
    ``y = margin + (north - latitude) * scale``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE.parent.parent / "bot" / "console" / "static" / "china_map.json"

WIDTH = 800
MARGIN = 10.0
STANDARD_PARALLEL = 35.0
#: Douglas-Peucker tolerance in viewBox units: well under a pixel at the drawn size.
TOLERANCE = 0.35
#: Islands with a smaller area (square viewBox units) are dropped: they would be specks.
SPECK = 0.8

Point = tuple[float, float]
Ring = list[Point]

#: echarts' 南海诸岛 inset (src/coord/geo/fix/nanhai.js): the box in the lower right with
#: the islands' coastline and the dashed line, in echarts' own units. echarts places unit
#: (u, v) at longitude 126 + u / 10.5 and latitude 25 - v * 0.75 / 10.5, drawn with its
#: aspect 0.75; :func:`nanhai_rings` keeps that shape under this map's x-scaling.
NANHAI: tuple[tuple[Point, ...], ...] = (
    (
        (0, 3.5),
        (7, 11.2),
        (15, 11.9),
        (30, 7),
        (42, 0.7),
        (52, 0.7),
        (56, 7.7),
        (59, 0.7),
        (64, 0.7),
        (64, 0),
        (5, 0),
        (0, 3.5),
    ),
    ((13, 16.1), (19, 14.7), (16, 21.7), (11, 23.1), (13, 16.1)),
    ((12, 32.2), (14, 38.5), (15, 38.5), (13, 32.2), (12, 32.2)),
    ((16, 47.6), (12, 53.2), (13, 53.2), (18, 47.6), (16, 47.6)),
    ((6, 64.4), (8, 70), (9, 70), (8, 64.4), (6, 64.4)),
    ((23, 82.6), (29, 79.8), (30, 79.8), (25, 82.6), (23, 82.6)),
    ((37, 70.7), (43, 62.3), (44, 62.3), (39, 70.7), (37, 70.7)),
    ((48, 51.1), (51, 45.5), (53, 45.5), (50, 51.1), (48, 51.1)),
    ((51, 35), (51, 28.7), (53, 28.7), (53, 35), (51, 35)),
    ((52, 22.4), (55, 17.5), (56, 17.5), (53, 22.4), (52, 22.4)),
    ((58, 12.6), (62, 7), (63, 7), (60, 12.6), (58, 12.6)),
    (
        (0, 3.5),
        (0, 93.1),
        (64, 93.1),
        (64, 0),
        (63, 0),
        (63, 92.4),
        (1, 92.4),
        (1, 3.5),
        (0, 3.5),
    ),
)
NANHAI_ORIGIN: Point = (126.0, 25.0)
NANHAI_NAME = "南海诸岛"
#: Its label in console_map.toml.
NANHAI_KEY = "south_china_sea_islands"


@dataclass(frozen=True, slots=True)
class Projection:
    west: float
    north: float
    scale: float  # viewBox units per degree of latitude

    @property
    def x_scale(self) -> float:
        return math.cos(math.radians(STANDARD_PARALLEL))

    def __call__(self, point: Point) -> Point:
        longitude, latitude = point
        return (
            MARGIN + (longitude - self.west) * self.x_scale * self.scale,
            MARGIN + (self.north - latitude) * self.scale,
        )


# --- decoding ------------------------------------------------------------------------------


def decode_ring(encoded: str, offset: Sequence[int], scale: float) -> Ring:
    """One ring of echarts' UTF8Encoding: zigzag-encoded deltas, two characters a point."""
    ring: Ring = []
    x, y = offset[0], offset[1]
    for i in range(0, len(encoded) - 1, 2):
        dx = ord(encoded[i]) - 64
        dy = ord(encoded[i + 1]) - 64
        x += (dx >> 1) ^ -(dx & 1)
        y += (dy >> 1) ^ -(dy & 1)
        ring.append((x / scale, y / scale))
    return ring


def decode_feature(geometry: dict[str, Any], scale: float) -> list[list[Ring]]:
    """The polygons (each a list of rings, outer first) of one feature, in degrees."""
    kind = geometry["type"]
    coordinates = geometry["coordinates"]
    offsets = geometry["encodeOffsets"]
    if kind == "Polygon":
        return [[decode_ring(ring, offsets[i], scale) for i, ring in enumerate(coordinates)]]
    if kind == "MultiPolygon":
        return [
            [decode_ring(ring, offsets[c][i], scale) for i, ring in enumerate(polygon)]
            for c, polygon in enumerate(coordinates)
        ]
    raise ValueError(f"unexpected geometry {kind!r}")


def nanhai_rings(x_scale: float) -> list[Ring]:
    """The 南海诸岛 inset in degrees, as wide for its height as echarts draws it."""
    west, north = NANHAI_ORIGIN
    per_unit = 0.75 / 10.5  # degrees of latitude per echarts unit
    return [
        [(west + u * per_unit / x_scale, north - v * per_unit) for u, v in ring] for ring in NANHAI
    ]


# --- geometry ------------------------------------------------------------------------------


def area(ring: Ring) -> float:
    """Unsigned shoelace area."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def simplify(ring: Ring, tolerance: float) -> Ring:
    """Douglas-Peucker on an open ring (first point not repeated at the end)."""
    if len(ring) < 4:
        return ring
    # Split the closed ring at its first point and the point farthest from it, so both
    # halves are open polylines with fixed ends.
    far = max(range(len(ring)), key=lambda i: math.dist(ring[0], ring[i]))
    first = _douglas_peucker([*ring[: far + 1]], tolerance)
    second = _douglas_peucker([*ring[far:], ring[0]], tolerance)
    return first[:-1] + second[:-1]


def _douglas_peucker(line: Ring, tolerance: float) -> Ring:
    keep = [False] * len(line)
    keep[0] = keep[-1] = True
    stack = [(0, len(line) - 1)]
    while stack:
        start, end = stack.pop()
        worst, index = 0.0, -1
        for i in range(start + 1, end):
            distance = _segment_distance(line[i], line[start], line[end])
            if distance > worst:
                worst, index = distance, i
        if index >= 0 and worst > tolerance:
            keep[index] = True
            stack.extend(((start, index), (index, end)))
    return [point for point, kept in zip(line, keep, strict=True) if kept]


def rounded(ring: Ring) -> list[tuple[int, int]]:
    """Tenths of a unit, consecutive duplicates (and a closing repeat) removed."""
    out: list[tuple[int, int]] = []
    for x, y in ring:
        point = (round(x * 10), round(y * 10))
        if not out or out[-1] != point:
            out.append(point)
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


def path(rings: Sequence[list[tuple[int, int]]]) -> str:
    """SVG path data, absolute, one decimal: ``M x y L x y … Z`` per ring."""
    parts: list[str] = []
    for ring in rings:
        points = [f"{_number(x)} {_number(y)}" for x, y in ring]
        parts.append("M" + points[0] + "L" + " ".join(points[1:]) + "Z")
    return "".join(parts)


def _number(tenths: int) -> str:
    whole, part = divmod(tenths, 10)
    return str(whole) if part == 0 else f"{whole}.{part}"


def inside(point: Point, ring: Ring) -> bool:
    """Even-odd point in polygon."""
    x, y = point
    result = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            result = not result
    return result


def border_distance(point: Point, ring: Ring) -> float:
    return min(
        _segment_distance(point, a, b) for a, b in zip(ring, ring[1:] + ring[:1], strict=True)
    )


def label_anchor(ring: Ring) -> tuple[Point, float]:
    """The point inside the ring farthest from its border (a coarse grid, then finer
    grids around the best point), and that distance."""
    xs = [x for x, _ in ring]
    ys = [y for _, y in ring]
    step = max(max(xs) - min(xs), max(ys) - min(ys)) / 24
    best = (sum(xs) / len(xs), sum(ys) / len(ys))
    best_room = border_distance(best, ring) if inside(best, ring) else -1.0
    centre_x, centre_y, reach = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, 12
    for _ in range(4):
        for i in range(-reach, reach + 1):
            for j in range(-reach, reach + 1):
                candidate = (centre_x + i * step, centre_y + j * step)
                if not inside(candidate, ring):
                    continue
                room = border_distance(candidate, ring)
                if room > best_room:
                    best, best_room = candidate, room
        centre_x, centre_y = best
        step, reach = step / 4, 6
    return best, best_room


# --- building ------------------------------------------------------------------------------


def province_names(regions: Path) -> dict[str, str]:
    """Short name → full name of the province-level rows of regions.csv, in its order
    (by adcode: 北京市, 天津市, 河北省 …)."""
    with regions.open(encoding="utf-8", newline="") as handle:
        return {
            row["short_name"]: row["name"]
            for row in csv.DictReader(handle)
            if row["level"] == "province"
        }


def build(source: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    scale = float(source.get("UTF8Scale") or 1024)
    features = [
        (feature["properties"]["name"], decode_feature(feature["geometry"], scale))
        for feature in source["features"]
    ]
    missing = sorted(set(names) - {name for name, _ in features})
    unknown = sorted({name for name, _ in features} - set(names))
    if missing or unknown:
        raise ValueError(f"no outline for {missing}; not in regions.csv: {unknown}")

    x_scale = math.cos(math.radians(STANDARD_PARALLEL))
    inset = nanhai_rings(x_scale)
    every = [p for _, polygons in features for poly in polygons for ring in poly for p in ring]
    every += [p for ring in inset for p in ring]
    west, east = min(x for x, _ in every), max(x for x, _ in every)
    south, north = min(y for _, y in every), max(y for _, y in every)
    per_degree = (WIDTH - 2 * MARGIN) / ((east - west) * x_scale)
    project = Projection(west=west, north=north, scale=per_degree)
    height = math.ceil(2 * MARGIN + (north - south) * per_degree)

    provinces = []
    order = list(names)
    for short, polygons in sorted(features, key=lambda item: order.index(item[0])):
        # Each part's outer ring only: the source has no holes (checked here).
        if any(len(polygon) != 1 for polygon in polygons):
            raise ValueError(f"{short}: polygons with holes are not handled")
        parts = sorted(
            ([project(p) for p in polygon[0]] for polygon in polygons), key=area, reverse=True
        )
        rings = []
        for rank, part in enumerate(parts):
            if rank > 0 and area(part) < SPECK:
                continue
            ring = rounded(simplify(part, TOLERANCE))
            if len(ring) < 4:  # too small to simplify (澳门): keep every point
                ring = rounded(part)
            if len(ring) >= 3:
                rings.append(ring)
        (anchor_x, anchor_y), room = label_anchor(parts[0])
        provinces.append(
            {
                "name": names[short],
                "short_name": short,
                "d": path(rings),
                "anchor": [round(anchor_x, 1), round(anchor_y, 1)],
                "room": round(room, 1),
            }
        )

    outline = [rounded([project(p) for p in ring]) for ring in inset]
    return {
        "source": "echarts 4.9.0 map/json/china.json (Apache-2.0), by build_china_map.py",
        "width": WIDTH,
        "height": height,
        "projection": {
            "west": round(west, 6),
            "north": round(north, 6),
            "standard_parallel": STANDARD_PARALLEL,
            "scale": round(per_degree, 6),
            "margin": MARGIN,
        },
        "provinces": provinces,
        "outlines": [{"key": NANHAI_KEY, "name": NANHAI_NAME, "d": path(outline)}],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("china", type=Path, help="path to echarts' map/json/china.json")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write china_map.json (default: bot/console/static/)",
    )
    args = parser.parse_args(argv)
    source = json.loads(args.china.read_text(encoding="utf-8"))
    built = build(source, province_names(HERE / "regions.csv"))
    text = json.dumps(built, ensure_ascii=False, indent=1)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(built['provinces'])} provinces, {len(text)} bytes to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
