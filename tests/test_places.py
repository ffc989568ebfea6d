"""Places: reading places files, the all-or-nothing import, and the nearest-place search.

Distances are checked against geopy's geodesic distance on the WGS-84 ellipsoid, computed
independently of the code under test.
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

import openpyxl
import pytest
from geopy.distance import geodesic
from sqlalchemy import func, select

from storage.db import Database
from storage.models import AuditEvent, Place, PlaceKind
from storage.places import (
    ParsedPlaces,
    PlaceFileError,
    district_key,
    districts,
    find_district,
    haversine_m,
    import_places,
    list_places,
    nearest,
    places_in,
    read_places,
)
from tests.conftest import START

SAMPLE = Path(__file__).parent.parent / "storage" / "data" / "places.csv"
HEADER = ["name", "kind", "address", "district", "latitude", "longitude", "hours", "phone"]
CN_HEADER = ["名称", "类型", "地址", "所在区", "纬度", "经度", "开放时间", "联系电话"]

MINYI = [
    "民意街道党员之家",
    "党员之家",
    "民意四路 12 号",
    "江汉区",
    "30.584",
    "114.2745",
    "9:00-17:00",
    "027-1",
]
CENTRE = ["江汉区活动中心", "活动中心", "新华路 218 号", "江汉区", "30.6008", "114.2706", "", ""]
SHENZHEN = [
    "驻深圳流动党员之家",
    "members_home",
    "科技园",
    "深圳市南山区",
    "22.5333",
    "113.9305",
    "",
    "",
]


def write_csv(
    path: Path, rows: list[list[str]], *, header: list[str] = HEADER, encoding: str = "utf-8"
) -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[object]], *, header: list[str] = HEADER) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def problems(parsed: ParsedPlaces) -> list[tuple[int, str | None, str]]:
    return [(e.row_number, e.column, e.message) for e in parsed.errors]


async def count_places(db: Database) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(Place)) or 0


async def run_import(db: Database, parsed: ParsedPlaces, **options: bool) -> object:
    async with db.session() as session:
        return await import_places(session, START, parsed, actor="cli:test", source="f", **options)


# --- reading ----------------------------------------------------------------------------


def test_the_sample_file_reads_cleanly() -> None:
    parsed = read_places(SAMPLE)
    assert parsed.errors == ()
    assert len(parsed.rows) == 20
    kinds = {row.kind for row in parsed.rows}
    assert kinds == {PlaceKind.MEMBERS_HOME, PlaceKind.ACTIVITY_CENTRE, PlaceKind.SERVICE_POINT}
    jianghan = [row for row in parsed.rows if row.district == "武汉市江汉区"]
    assert len(jianghan) == 18
    # Around 30.58 N, 114.27 E: every Jianghan place within 8 km of the district's centre.
    assert all(haversine_m(30.58, 114.27, r.latitude, r.longitude) < 8_000 for r in jianghan)


@pytest.mark.parametrize(
    ("encoding", "header"),
    [("utf-8", HEADER), ("utf-8-sig", CN_HEADER), ("gb18030", CN_HEADER)],
)
def test_good_csv_in_each_encoding(tmp_path: Path, encoding: str, header: list[str]) -> None:
    path = write_csv(
        tmp_path / "p.csv", [MINYI, CENTRE, SHENZHEN], header=header, encoding=encoding
    )
    parsed = read_places(path)
    assert parsed.errors == ()
    first = parsed.rows[0]
    assert (first.row_number, first.name, first.kind, first.district) == (
        2,
        "民意街道党员之家",
        PlaceKind.MEMBERS_HOME,
        "江汉区",
    )
    assert (first.latitude, first.longitude, first.hours, first.phone) == (
        30.584,
        114.2745,
        "9:00-17:00",
        "027-1",
    )
    assert parsed.rows[1].kind is PlaceKind.ACTIVITY_CENTRE
    assert (parsed.rows[1].hours, parsed.rows[1].phone) == (None, None)


def test_good_xlsx_with_numeric_coordinates(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["汉正街服务点", "服务点", "汉正街 1 号", "江汉区", 30.5735, 114.276, None, 8576000],
        ["Riverside centre", "Activity Center", "1 River Rd", "江岸区", "30.6", "114.3", "", ""],
    ]
    parsed = read_places(write_xlsx(tmp_path / "p.xlsx", rows, header=CN_HEADER))
    assert parsed.errors == ()
    assert [(r.kind, r.latitude, r.longitude) for r in parsed.rows] == [
        (PlaceKind.SERVICE_POINT, 30.5735, 114.276),
        (PlaceKind.ACTIVITY_CENTRE, 30.6, 114.3),
    ]
    assert parsed.rows[0].phone == "8576000"


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("党员之家", PlaceKind.MEMBERS_HOME),
        ("流动党员之家", PlaceKind.MEMBERS_HOME),
        ("members' home", PlaceKind.MEMBERS_HOME),
        ("MEMBERS_HOME", PlaceKind.MEMBERS_HOME),
        ("活动中心", PlaceKind.ACTIVITY_CENTRE),
        ("党群服务中心", PlaceKind.ACTIVITY_CENTRE),
        ("activity_centre", PlaceKind.ACTIVITY_CENTRE),
        ("服务站", PlaceKind.SERVICE_POINT),
        ("服务点", PlaceKind.SERVICE_POINT),
        ("service point", PlaceKind.SERVICE_POINT),
        ("其他", PlaceKind.OTHER),
        ("other", PlaceKind.OTHER),
    ],
)
def test_kind_words(tmp_path: Path, word: str, kind: PlaceKind) -> None:
    row = [*MINYI[:1], word, *MINYI[2:]]
    parsed = read_places(write_csv(tmp_path / "p.csv", [row]))
    assert parsed.errors == ()
    assert parsed.rows[0].kind is kind


def test_full_width_numbers_and_extra_columns(tmp_path: Path) -> None:
    row = [
        "民意街道党员之家",
        "党员之家",
        "民意四路",
        "江汉区",
        "３０.５８４",
        " 114.2745 ",
        "",
        "",
        "x",
    ]
    parsed = read_places(write_csv(tmp_path / "p.csv", [row], header=[*HEADER, "备注"]))
    assert parsed.errors == ()
    assert (parsed.rows[0].latitude, parsed.rows[0].longitude) == (30.584, 114.2745)
    assert parsed.ignored_columns == ("备注",)


BAD_ROWS = [
    # row 2: nothing wrong
    MINYI,
    # row 3: every required cell missing but the name
    ["只有名字", "", "", "", "", "", "", ""],
    # row 4: unknown kind
    ["甲", "棋牌室", "地址", "江汉区", "30.5", "114.2", "", ""],
    # row 5: latitude and longitude swapped
    ["乙", "党员之家", "地址", "江汉区", "114.2", "30.5", "", ""],
    # row 6: longitude out of range, latitude not a number
    ["丙", "党员之家", "地址", "江汉区", "北纬30度", "181", "", ""],
    # row 7: the same name and district as row 2
    ["民意街道党员之家", "活动中心", "别处", "江汉区", "30.6", "114.3", "", ""],
    # row 8: an over-long name and an over-long district
    ["长" * 201, "党员之家", "地址", "区" * 51, "30.5", "114.2", "", ""],
    # row 9: a 5,000-character address
    ["丁", "党员之家", "址" * 5000, "江汉区", "30.5", "114.2", "", "1" * 51],
    # row 10: not a number at all
    ["戊", "党员之家", "地址", "江汉区", "nan", "inf", "", ""],
]

BAD_PROBLEMS = [
    (3, "kind", "missing kind"),
    (3, "address", "missing address"),
    (3, "district", "missing district"),
    (3, "latitude", "missing latitude"),
    (3, "longitude", "missing longitude"),
    (4, "kind", "unknown kind '棋牌室' (expected members_home, activity_centre, service_point, "
                "other, or 党员之家, 活动中心, 服务站)"),
    (5, "latitude", "latitude 114.2 is outside -90…90 (latitude and longitude swapped?)"),
    (6, "latitude", "latitude '北纬30度' is not a number"),
    (6, "longitude", "longitude 181 is outside -180…180"),
    (7, "name", "duplicate place '民意街道党员之家' in 江汉区: as row 2"),
    (8, "name", "name too long (201 characters, max 200)"),
    (8, "district", "district too long (51 characters, max 50)"),
    (9, "address", "address too long (5000 characters, max 300)"),
    (9, "phone", "phone too long (51 characters, max 50)"),
    (10, "latitude", "latitude 'nan' is not a number"),
    (10, "longitude", "longitude 'inf' is not a number"),
]  # fmt: skip


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
async def test_every_row_error_is_listed_and_nothing_is_imported(
    db: Database, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"bad.{suffix}"
    if suffix == "csv":
        write_csv(path, BAD_ROWS)
    else:
        write_xlsx(path, [[cell or None for cell in row] for row in BAD_ROWS])
    parsed = read_places(path)
    assert problems(parsed) == BAD_PROBLEMS
    assert [row.name for row in parsed.rows] == ["民意街道党员之家"]

    report = await run_import(db, parsed)
    assert not report.ok  # type: ignore[attr-defined]
    assert len(report.errors) == len(BAD_PROBLEMS)  # type: ignore[attr-defined]
    assert await count_places(db) == 0
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 0


COLUMNS = "name,kind,address,district,latitude,longitude"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        (
            "名称,类型,地址\n甲,党员之家,地址\n",
            "missing required column(s): district, latitude, longitude",
        ),
        (f"{COLUMNS}\n", "no place rows below the header (row 1)"),
        (f"{COLUMNS},名称\n", "columns 'name' and '名称' are both read as name"),
    ],
)
def test_whole_file_problems(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PlaceFileError, match=re.escape(message)):
        read_places(path)


def test_unsupported_and_disguised_files(tmp_path: Path) -> None:
    with pytest.raises(PlaceFileError, match=r"unsupported file type \.txt"):
        read_places(tmp_path / "places.txt")
    fake = tmp_path / "p.csv"
    fake.write_bytes(b"PK\x03\x04 a zip")
    with pytest.raises(PlaceFileError, match="Excel workbook, not CSV"):
        read_places(fake)
    broken = tmp_path / "p.xlsx"
    broken.write_bytes(b"not a workbook")
    with pytest.raises(PlaceFileError, match=r"cannot open p\.xlsx as an Excel workbook"):
        read_places(broken)


# --- importing --------------------------------------------------------------------------


async def test_import_adds_updates_and_leaves_unchanged(db: Database, tmp_path: Path) -> None:
    first = await run_import(db, read_places(write_csv(tmp_path / "a.csv", [MINYI, CENTRE])))
    assert (first.added, first.updated, first.unchanged, first.removed) == (2, 0, 0, 0)  # type: ignore[attr-defined]

    moved = [*CENTRE[:4], "30.601", "114.271", "9:00-21:00", "027-2"]
    second = await run_import(
        db, read_places(write_csv(tmp_path / "b.csv", [MINYI, moved, SHENZHEN]))
    )
    assert (second.added, second.updated, second.unchanged) == (1, 1, 1)  # type: ignore[attr-defined]
    async with db.session() as session:
        centre = await session.scalar(select(Place).where(Place.name == "江汉区活动中心"))
        assert centre is not None
        assert (centre.latitude, centre.longitude, centre.hours, centre.phone) == (
            30.601,
            114.271,
            "9:00-21:00",
            "027-2",
        )
        events = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [e.action for e in events] == ["place.import", "place.import"]
    assert events[1].detail == {
        "added": 1,
        "updated": 1,
        "unchanged": 1,
        "removed": 0,
        "replace": False,
    }
    assert await count_places(db) == 3


async def test_replace_removes_places_not_in_the_file(db: Database, tmp_path: Path) -> None:
    await run_import(db, read_places(write_csv(tmp_path / "a.csv", [MINYI, CENTRE, SHENZHEN])))
    # Without --replace, a shorter file removes nothing.
    kept = await run_import(db, read_places(write_csv(tmp_path / "b.csv", [CENTRE])))
    assert (kept.unchanged, kept.removed) == (1, 0)  # type: ignore[attr-defined]
    assert await count_places(db) == 3

    replaced = await run_import(
        db, read_places(write_csv(tmp_path / "c.csv", [CENTRE])), replace=True
    )
    assert (replaced.unchanged, replaced.removed) == (1, 2)  # type: ignore[attr-defined]
    async with db.session() as session:
        assert [p.name for p in await list_places(session)] == ["江汉区活动中心"]


async def test_dry_run_changes_nothing(db: Database, tmp_path: Path) -> None:
    await run_import(db, read_places(write_csv(tmp_path / "a.csv", [MINYI])))
    moved = [*MINYI[:4], "30.6", "114.3", "", ""]
    report = await run_import(
        db, read_places(write_csv(tmp_path / "b.csv", [moved, CENTRE])), replace=True, dry_run=True
    )
    assert (report.added, report.updated, report.removed) == (1, 1, 0)  # type: ignore[attr-defined]
    async with db.session() as session:
        [place] = await list_places(session)
        audited = await session.scalar(select(func.count()).select_from(AuditEvent))
    assert (place.latitude, place.hours) == (30.584, "9:00-17:00")
    assert audited == 1  # the first, real import only


# --- searching --------------------------------------------------------------------------


def geodesic_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(geodesic(a, b).meters)


async def test_nearest_agrees_with_geodesic_distances(db: Database, tmp_path: Path) -> None:
    rng = random.Random(5)
    rows = []
    # 300 places around Wuhan (within about 30 km), 60 across China, and a few far away.
    for i in range(300):
        lat, lon = 30.58 + rng.uniform(-0.3, 0.3), 114.27 + rng.uniform(-0.3, 0.3)
        rows.append([f"武汉{i}", "党员之家", "地址", "武汉", f"{lat:.6f}", f"{lon:.6f}", "", ""])
    for i in range(60):
        lat, lon = rng.uniform(20, 45), rng.uniform(100, 122)
        rows.append([f"全国{i}", "活动中心", "地址", "全国", f"{lat:.6f}", f"{lon:.6f}", "", ""])
    for i, (lat, lon) in enumerate([(52.52, 13.40), (-33.87, 151.21), (40.71, -74.0)]):
        rows.append([f"海外{i}", "其他", "地址", "海外", str(lat), str(lon), "", ""])
    parsed = read_places(write_csv(tmp_path / "many.csv", rows))
    assert parsed.errors == ()
    await run_import(db, parsed)
    points = {r.name: (r.latitude, r.longitude) for r in parsed.rows}

    queries = [
        (30.59, 114.27),  # in Jianghan
        (30.40, 114.00),  # the edge of the cluster
        (39.90, 116.40),  # Beijing: the nearest are hundreds of km away
        (22.54, 113.93),  # Shenzhen
        (48.85, 2.35),  # Paris: Berlin first, then China
        (-33.9, 151.2),  # Sydney
    ] + [(rng.uniform(18, 50), rng.uniform(95, 130)) for _ in range(20)]
    async with db.session() as session:
        for query in queries:
            found = await nearest(session, *query, limit=3)
            assert len(found) == 3
            by_geodesic = sorted(points, key=lambda name: geodesic_m(query, points[name]))
            exact = [geodesic_m(query, points[near.place.name]) for near in found]
            for near, metres in zip(found, exact, strict=True):
                assert near.distance_m == pytest.approx(metres, rel=0.005), near.place.name
            # Nearest first.
            assert [near.distance_m for near in found] == sorted(n.distance_m for n in found)
            # The same three as the independent computation (where the 3rd and 4th are
            # more than 1 % apart, so that the sphere and the ellipsoid cannot disagree).
            third, fourth = (geodesic_m(query, points[n]) for n in by_geodesic[2:4])
            if fourth > third * 1.01:
                assert {n.place.name for n in found} == set(by_geodesic[:3]), query


async def test_nearest_across_the_antimeridian_and_near_a_pole(
    db: Database, tmp_path: Path
) -> None:
    rows = [
        ["东", "其他", "斐济", "东", "-17.0", "179.95", "", ""],
        ["西", "其他", "萨摩亚", "西", "-17.0", "-179.9", "", ""],
        ["远", "其他", "别处", "远", "-17.0", "170.0", "", ""],
        ["北极", "其他", "北极", "北", "89.9", "0.0", "", ""],
        ["北极另一边", "其他", "北极", "北", "89.9", "180.0", "", ""],
    ]
    await run_import(db, read_places(write_csv(tmp_path / "edge.csv", rows)))
    async with db.session() as session:
        # 0.06° east of 西 and 0.09° west of 东, across the date line.
        west_side = await nearest(session, -17.0, -179.96, limit=2)
        assert [n.place.name for n in west_side] == ["西", "东"]
        assert west_side[1].distance_m == pytest.approx(
            geodesic_m((-17.0, -179.96), (-17.0, 179.95)), rel=0.005
        )
        east_side = await nearest(session, -17.0, 179.99, limit=2)
        assert [n.place.name for n in east_side] == ["东", "西"]
        pole = await nearest(session, 89.95, 90.0, limit=2)
        assert {n.place.name for n in pole} == {"北极", "北极另一边"}
        for near in pole:
            metres = geodesic_m((89.95, 90.0), (near.place.latitude, near.place.longitude))
            assert near.distance_m == pytest.approx(metres, rel=0.005)


async def test_nearest_with_few_places_or_none(db: Database, tmp_path: Path) -> None:
    async with db.session() as session:
        assert await nearest(session, 30.59, 114.27) == []
    await run_import(db, read_places(write_csv(tmp_path / "two.csv", [MINYI, SHENZHEN])))
    async with db.session() as session:
        found = await nearest(session, 52.52, 13.40, limit=3)
    assert [n.place.name for n in found] == ["民意街道党员之家", "驻深圳流动党员之家"]


async def test_districts_and_their_places(db: Database, tmp_path: Path) -> None:
    await run_import(db, read_places(SAMPLE))
    async with db.session() as session:
        assert await districts(session) == [
            ("武汉市江汉区", 18),
            ("上海市闵行区", 1),
            ("深圳市南山区", 1),
        ]
        jianghan = await places_in(session, "武汉市江汉区")
        assert len(jianghan) == 18
        # Members' homes first, then activity centres, then service points; each by name.
        assert [p.kind for p in jianghan] == [PlaceKind.MEMBERS_HOME] * 14 + [
            PlaceKind.ACTIVITY_CENTRE
        ] * 2 + [PlaceKind.SERVICE_POINT] * 2
        homes = [p.name for p in jianghan[:14]]
        assert homes == sorted(homes)
        assert await find_district(session, "武汉市江汉区") == "武汉市江汉区"
        assert await find_district(session, " 江汉 ") == "武汉市江汉区"
        assert await find_district(session, district_key("深圳市南山区")) == "深圳市南山区"
        assert await find_district(session, "市") is None  # in every name: ambiguous
        assert await find_district(session, "北京") is None
        assert await find_district(session, "") is None
        assert await places_in(session, "北京") == []
