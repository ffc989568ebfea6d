"""The dashboard's map of where members are: every province drawn, shaded by its members,
city dots where the cities are, drawn as SVG by the console's own templates.

No database: the map is worked out from counts, and the macro rendered on its own.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from bot.console.china_map import NO_MEMBERS, PALETTE, ChinaMap, City, china_map, project
from bot.console.core import Console
from bot.context import Services
from messages.render import Renderer
from storage.clock import FakeClock
from storage.db import Database
from storage.regions import DEFAULT_DATA_PATH, default_index
from storage.settings import Settings
from tests.conftest import START

SVG = "{http://www.w3.org/2000/svg}"
Point = tuple[float, float]


def regions(level: str) -> dict[str, dict[str, str]]:
    with DEFAULT_DATA_PATH.open(encoding="utf-8", newline="") as handle:
        return {row["name"]: row for row in csv.DictReader(handle) if row["level"] == level}


def place(name: str) -> Point:
    """Where a regions.csv city or province seat is drawn."""
    row = {**regions("province"), **regions("city")}[name]
    return project(float(row["longitude"]), float(row["latitude"]))


def outline(drawn: ChinaMap, province: str) -> list[list[Point]]:
    """The rings of a province's path ("M x y L x y … Z" per ring)."""
    path = next(p.path for p in drawn.provinces if p.name == province)
    rings = []
    for ring in re.findall(r"M([^MZ]*)Z", path):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", ring)]
        rings.append(list(zip(numbers[::2], numbers[1::2], strict=True)))
    return rings


def within(point: Point, rings: list[list[Point]]) -> bool:
    """Inside the outline (even-odd over its rings)."""
    x, y = point
    crossings = 0
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                crossings += 1
    return crossings % 2 == 1


def within_box(point: Point, rings: list[list[Point]]) -> bool:
    xs = [x for ring in rings for x, _ in ring]
    ys = [y for ring in rings for _, y in ring]
    return min(xs) <= point[0] <= max(xs) and min(ys) <= point[1] <= max(ys)


Draw = Callable[[ChinaMap, str], str]


def parse(html: str) -> ET.Element:
    """The macro's output as XML: it must be well-formed SVG inside its figure."""
    return ET.fromstring(html.strip())  # noqa: S314 - our own page, not untrusted input


@pytest.fixture
def draw(renderer: Renderer) -> Draw:
    """The macro rendered by the console's own page environment, with its labels."""
    services = Services(
        settings=Settings(database_url="sqlite+aiosqlite://"),
        db=Database.from_url("sqlite+aiosqlite://"),
        clock=FakeClock(START),
        renderer=renderer,
        regions=default_index(),
        invite_key=b"k" * 32,
    )
    page = Console(services).pages.from_string(
        '{% from "_china_map.html" import china_map %}{{ china_map(map, t) }}'
    )

    def render(drawn: ChinaMap, locale: str) -> str:
        def t(key: str, **values: object) -> str:
            return renderer.label(locale, f"console_{key}", **values)

        return page.render(map=drawn, t=t)

    return render


# --- outlines ------------------------------------------------------------------------------


def test_every_province_of_the_region_table_is_drawn() -> None:
    drawn = china_map({})
    assert sorted(p.name for p in drawn.provinces) == sorted(regions("province"))
    for province in drawn.provinces:
        rings = outline(drawn, province.name)
        assert rings and all(len(ring) >= 3 for ring in rings), province.name
    assert [o.name for o in drawn.outlines] == ["南海诸岛"]


def test_each_provincial_capital_lies_in_its_own_province() -> None:
    drawn = china_map({})
    for name, row in regions("province").items():
        seat = project(float(row["longitude"]), float(row["latitude"]))
        assert within(seat, outline(drawn, name)), name
        others = [p.name for p in drawn.provinces if p.name != name]
        assert not any(within(seat, outline(drawn, other)) for other in others), name


def test_shenzhen_and_urumqi_dots_sit_in_guangdong_and_xinjiang() -> None:
    shenzhen, urumqi = place("深圳市"), place("乌鲁木齐市")
    drawn = china_map(
        {"广东省": 12, "新疆维吾尔自治区": 2},
        [City("深圳市", *_lon_lat("深圳市"), 12), City("乌鲁木齐市", *_lon_lat("乌鲁木齐市"), 2)],
    )
    dots = {dot.name: (dot.x, dot.y) for dot in drawn.dots}
    assert dots == {"深圳市": shenzhen, "乌鲁木齐市": urumqi}
    guangdong, xinjiang = outline(drawn, "广东省"), outline(drawn, "新疆维吾尔自治区")
    assert within_box(shenzhen, guangdong) and within(shenzhen, guangdong)
    assert within_box(urumqi, xinjiang) and within(urumqi, xinjiang)
    assert not within_box(urumqi, guangdong)


def _lon_lat(city: str) -> tuple[float, float]:
    row = regions("city")[city]
    return float(row["longitude"]), float(row["latitude"])


# --- shading -------------------------------------------------------------------------------


def test_provinces_are_shaded_by_how_many_members_live_there() -> None:
    drawn = china_map(
        {"广东省": 480, "湖北省": 120, "北京市": 45, "四川省": 20, "浙江省": 5, "台湾省": 1}
    )
    assert [c.label for c in drawn.legend] == ["1–3", "4–10", "11–30", "31–100", "101+"]
    assert [c.fill for c in drawn.legend] == list(PALETTE)
    shade = {p.name: (p.step, p.fill) for p in drawn.provinces}
    assert shade["广东省"] == shade["湖北省"] == (5, PALETTE[4])
    assert shade["北京市"] == (4, PALETTE[3])
    assert shade["四川省"] == (3, PALETTE[2])
    assert shade["浙江省"] == (2, PALETTE[1])
    assert shade["台湾省"] == (1, PALETTE[0])
    assert shade["河南省"] == (0, NO_MEMBERS)
    assert drawn.total == 671 and drawn.unplaced == 0


def test_with_few_members_each_count_has_its_own_shade() -> None:
    drawn = china_map({"广东省": 2, "上海市": 1})
    assert [c.label for c in drawn.legend] == ["1", "2", "3", "4", "5+"]
    shade = {p.name: p.step for p in drawn.provinces}
    assert (shade["广东省"], shade["上海市"], shade["湖南省"]) == (2, 1, 0)


def test_no_members_leaves_every_province_grey() -> None:
    drawn = china_map({})
    assert {p.fill for p in drawn.provinces} == {NO_MEMBERS}
    assert drawn.total == 0 and drawn.dots == ()


def test_members_abroad_or_unplaced_are_counted_beside_the_map() -> None:
    drawn = china_map({"广东省": 3, "海外": 2, "": 1})
    assert drawn.unplaced == 3
    assert drawn.total == 6


def test_a_busier_city_has_a_bigger_dot_and_an_empty_one_none() -> None:
    drawn = china_map(
        {"广东省": 110},
        [
            City("广州市", *_lon_lat("广州市"), 10),
            City("深圳市", *_lon_lat("深圳市"), 100),
            City("珠海市", *_lon_lat("珠海市"), 0),
        ],
    )
    radius = {dot.name: dot.radius for dot in drawn.dots}
    assert set(radius) == {"广州市", "深圳市"}
    assert radius["深圳市"] > radius["广州市"]
    # The big dot first, so the smaller one is drawn on top of it.
    assert [dot.name for dot in drawn.dots] == ["深圳市", "广州市"]


# --- drawing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "hover", "inset"),
    [("zh_CN", "广东省：480 人", "南海诸岛"), ("en", "广东省: 480", "South China Sea Islands")],
)
def test_the_map_is_svg_with_a_title_on_every_province(
    draw: Draw, locale: str, hover: str, inset: str
) -> None:
    drawn = china_map(
        {"广东省": 480, "北京市": 45, "海外": 2}, [City("深圳市", *_lon_lat("深圳市"), 300)]
    )
    html = draw(drawn, locale)
    figure = parse(html)
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    assert svg.get("viewBox") == drawn.view_box
    assert svg.get("role") == "img" and svg.get("aria-label")
    paths = svg.iter(f"{SVG}path")
    titles = {
        "".join(path.find(f"{SVG}title").itertext()): path.get("fill")  # type: ignore[union-attr]
        for path in paths
    }
    assert titles[hover] == PALETTE[4]
    assert len(titles) == len(drawn.provinces) + 1  # and the 南海诸岛 inset
    assert inset in titles
    dots = list(svg.iter(f"{SVG}circle"))
    assert len(dots) == 1
    assert "深圳市" in "".join(dots[0].itertext())
    legend = [text.text for text in svg.iter(f"{SVG}text")]
    assert legend[-6:] == ["0", "1–3", "4–10", "11–30", "31–100", "101+"]
    caption = figure.find("figcaption")
    assert caption is not None and "2" in "".join(caption.itertext())
    # Colours are attributes: the console's CSP blocks inline styles.
    assert "style=" not in html


def test_names_on_the_map_are_escaped(draw: Draw) -> None:
    drawn = china_map({"广东省": 1}, [City('<script>&"深圳', *_lon_lat("深圳市"), 1)])
    html = draw(drawn, "zh_CN")
    assert "<script>" not in html
    assert "&lt;script&gt;&amp;" in html
    figure = parse(html)
    circle = next(figure.iter(f"{SVG}circle"))
    assert "".join(circle.itertext()) == '<script>&"深圳：1 人'
