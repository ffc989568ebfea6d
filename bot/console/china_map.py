"""A map of China for the console: provinces shaded by how many members live there.

The outlines are static/china_map.json, built once from echarts' map data by
storage/data/build_china_map.py; this module only reads it and works out what to draw,
and templates/_china_map.html draws it as inline SVG on the server (no map script, no
map service: the console works offline and under its strict CSP).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, NamedTuple

DATA: Final = Path(__file__).resolve().parent / "static" / "china_map.json"

#: Fill of a province with no members, then one fill per class, light to dark
#: (ColorBrewer "Reds", in the console's red).
NO_MEMBERS: Final = "#eeeeee"
PALETTE: Final = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
#: Class bounds are the largest of these "round" numbers (times a power of ten) under
#: the ideal geometric bounds, so the legend reads 1–3, 4–10, 11–50 …
ROUND: Final = (1, 2, 3, 5)
#: City dots: the area grows with the count, between these radii (viewBox units).
DOT_RADIUS: Final = (2.5, 9.0)
#: A province's short name is written on it when the label fits (viewBox units from the
#: anchor to the border).
LABEL_ROOM: Final = 8.5


class City(NamedTuple):
    """A place to mark with a dot: a regions.csv city and its members."""

    name: str
    longitude: float
    latitude: float
    members: int


@dataclass(frozen=True, slots=True)
class LegendClass:
    """One fill step: counts from ``low`` to ``high`` (``None``: and above)."""

    step: int
    low: int
    high: int | None
    fill: str

    @property
    def label(self) -> str:
        if self.high is None:
            return f"{self.low}+"
        return str(self.low) if self.low == self.high else f"{self.low}–{self.high}"

    def holds(self, count: int) -> bool:
        return self.low <= count and (self.high is None or count <= self.high)


@dataclass(frozen=True, slots=True)
class MapProvince:
    """A province as drawn: its outline, members and fill, and where its label goes."""

    name: str
    short_name: str
    path: str
    count: int
    step: int
    fill: str
    label_x: float
    label_y: float
    labelled: bool


@dataclass(frozen=True, slots=True)
class CityDot:
    name: str
    x: float
    y: float
    radius: float
    count: int


@dataclass(frozen=True, slots=True)
class Outline:
    """A drawn shape that is no province (the 南海诸岛 inset); ``key`` names its label."""

    key: str
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class ChinaMap:
    """Everything templates/_china_map.html draws."""

    width: int
    height: int
    provinces: tuple[MapProvince, ...]
    outlines: tuple[Outline, ...]
    dots: tuple[CityDot, ...]
    legend: tuple[LegendClass, ...]
    #: Members counted under a name that is no province on the map (abroad, unknown).
    unplaced: int

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def no_members_fill(self) -> str:
        return NO_MEMBERS

    @property
    def total(self) -> int:
        return sum(province.count for province in self.provinces) + self.unplaced


@dataclass(frozen=True, slots=True)
class _Shape:
    name: str
    short_name: str
    path: str
    anchor: tuple[float, float]
    room: float


@dataclass(frozen=True, slots=True)
class _Projection:
    west: float
    north: float
    x_scale: float
    scale: float
    margin: float


@dataclass(frozen=True, slots=True)
class _Outlines:
    width: int
    height: int
    projection: _Projection
    provinces: tuple[_Shape, ...]
    outlines: tuple[Outline, ...]


@cache
def _outlines() -> _Outlines:
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    projection = data["projection"]
    return _Outlines(
        width=int(data["width"]),
        height=int(data["height"]),
        projection=_Projection(
            west=float(projection["west"]),
            north=float(projection["north"]),
            x_scale=math.cos(math.radians(float(projection["standard_parallel"]))),
            scale=float(projection["scale"]),
            margin=float(projection["margin"]),
        ),
        provinces=tuple(
            _Shape(
                name=str(shape["name"]),
                short_name=str(shape["short_name"]),
                path=str(shape["d"]),
                anchor=(float(shape["anchor"][0]), float(shape["anchor"][1])),
                room=float(shape["room"]),
            )
            for shape in data["provinces"]
        ),
        outlines=tuple(
            Outline(key=str(outline["key"]), name=str(outline["name"]), path=str(outline["d"]))
            for outline in data["outlines"]
        ),
    )


def province_names() -> tuple[str, ...]:
    """The provinces on the map, by their regions.csv names (广东省, 内蒙古自治区 …)."""
    return tuple(shape.name for shape in _outlines().provinces)


def project(longitude: float, latitude: float) -> tuple[float, float]:
    """Where a place is on the map, in viewBox units."""
    p = _outlines().projection
    return (
        round(p.margin + (longitude - p.west) * p.x_scale * p.scale, 1),
        round(p.margin + (p.north - latitude) * p.scale, 1),
    )


def legend_classes(highest: int) -> tuple[LegendClass, ...]:
    """Five classes for counts up to ``highest``, growing geometrically so one crowded
    province does not leave every other one in the first class."""
    highest = max(highest, 1)
    classes = len(PALETTE)
    bounds: list[int] = []
    for i in range(1, classes):
        ideal = highest ** (i / classes)
        bound = _round_down(ideal)
        bounds.append(max(bound, bounds[-1] + 1) if bounds else bound)
    lows = [1, *(bound + 1 for bound in bounds)]
    highs: list[int | None] = [*bounds, None]
    return tuple(
        LegendClass(step=i + 1, low=low, high=high, fill=fill)
        for i, (low, high, fill) in enumerate(zip(lows, highs, PALETTE, strict=True))
    )


def _round_down(value: float) -> int:
    """The largest 1, 2, 3 or 5 times a power of ten that is at most ``value`` (≥ 1)."""
    power = int(10 ** max(0, math.floor(math.log10(max(value, 1)))))
    return max(step * power for step in ROUND if step * power <= max(value, 1))


def china_map(
    by_province: Mapping[str, int], cities: Sequence[tuple[str, float, float, int]] = ()
) -> ChinaMap:
    """The map for members counted by province (regions.csv names) and, optionally,
    cities as (name, longitude, latitude, members) — see :class:`City`."""
    shapes = _outlines()
    known = {shape.name for shape in shapes.provinces}
    legend = legend_classes(max(by_province.values(), default=0))
    provinces = []
    for shape in shapes.provinces:
        count = by_province.get(shape.name, 0)
        step = next((c for c in legend if c.holds(count)), None)
        provinces.append(
            MapProvince(
                name=shape.name,
                short_name=shape.short_name,
                path=shape.path,
                count=count,
                step=0 if step is None else step.step,
                fill=NO_MEMBERS if step is None else step.fill,
                label_x=shape.anchor[0],
                label_y=shape.anchor[1],
                labelled=shape.room >= LABEL_ROOM,
            )
        )
    return ChinaMap(
        width=shapes.width,
        height=shapes.height,
        provinces=tuple(provinces),
        outlines=shapes.outlines,
        dots=_dots(cities),
        legend=legend,
        unplaced=sum(count for name, count in by_province.items() if name not in known),
    )


def _dots(cities: Sequence[tuple[str, float, float, int]]) -> tuple[CityDot, ...]:
    marked = [City(*city) for city in cities if city[3] > 0]
    most = max((city.members for city in marked), default=1)
    smallest, largest = DOT_RADIUS
    dots = []
    # Largest first, so a small city's dot is drawn on top of a big neighbour's.
    for city in sorted(marked, key=lambda city: (-city.members, city.name)):
        x, y = project(city.longitude, city.latitude)
        radius = smallest + (largest - smallest) * math.sqrt(city.members / most)
        dots.append(CityDot(city.name, x, y, round(radius, 1), city.members))
    return tuple(dots)
