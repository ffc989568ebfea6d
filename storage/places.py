"""Places (members' homes, activity centres, service points): the import and the search.

A places file is read like a roster (``.csv`` or ``.xlsx``, Chinese or English headers,
UTF-8 or GBK, row errors with row numbers) by :func:`read_places`, and written by
:func:`import_places`: all rows or none, matched by name and district. :func:`nearest`
finds the places closest to a point: a bounding box in SQL, widened until it holds enough
candidates, then the exact great-circle (haversine) distance in Python.

The coordinates a member shares to search are arguments here and nothing more: no function
of this module writes them anywhere.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.coordinates import LIMITS, Axis, CoordinateError, check_coordinate, check_point
from storage.models import Place, PlaceKind
from storage.sheets import (
    STRIP_CHARS,
    RowError,
    Rows,
    SheetFileError,
    cell_text,
    header_lookup,
    open_sheet,
    pick,
    preview,
    read_rows,
)

__all__ = [
    "EARTH_RADIUS_M",
    "MAX_LENGTHS",
    "NearPlace",
    "ParsedPlaces",
    "PlaceFileError",
    "PlaceImport",
    "PlaceRow",
    "PlaceView",
    "RowError",
    "district_key",
    "districts",
    "find_district",
    "haversine_m",
    "import_places",
    "list_places",
    "match_places",
    "nearest",
    "place_by_id",
    "places_in",
    "read_places",
]

# The mean Earth radius (IUGG): the haversine distance on this sphere is within about 0.5 %
# of the distance on the WGS-84 ellipsoid everywhere.
# Illustrative members' homes and activity centres of Jianghan District (`liaison demo`).
SAMPLE_PLACES = Path(__file__).parent / "data" / "places.csv"
EARTH_RADIUS_M = 6_371_008.8

# The longest value of each column: the columns of the places table.
MAX_LENGTHS = {"name": 200, "address": 300, "district": 50, "hours": 200, "phone": 50}


@dataclass(frozen=True, slots=True)
class PlaceRow:
    """One valid row of a places file."""

    row_number: int  # as a spreadsheet shows it (the first row is 1)
    name: str
    kind: PlaceKind
    address: str
    district: str
    latitude: float
    longitude: float
    hours: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class ParsedPlaces:
    rows: tuple[PlaceRow, ...]
    errors: tuple[RowError, ...]
    # Non-empty header cells that matched no known column, as written in the file.
    ignored_columns: tuple[str, ...] = ()


class PlaceFileError(SheetFileError):
    """The file as a whole cannot be imported; ``str(exc)`` says why."""


@dataclass(frozen=True, slots=True)
class PlaceView:
    """A place as the bot and the command line show it."""

    id: int
    name: str
    kind: PlaceKind
    address: str
    district: str
    latitude: float
    longitude: float
    hours: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class NearPlace:
    place: PlaceView
    distance_m: float


@dataclass(slots=True)
class PlaceImport:
    """What an import did (or, on a dry run, would do), or why it did nothing."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------
# Columns and values

_FIELDS = ("name", "kind", "address", "district", "latitude", "longitude", "hours", "phone")
_REQUIRED = _FIELDS[:6]

_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "名称", "场所名称", "地点名称", "阵地名称", "站点名称"),
    "kind": ("kind", "type", "类型", "类别", "种类", "场所类型"),
    "address": ("address", "地址", "详细地址", "场所地址"),
    "district": ("district", "区", "城区", "所在区", "区县", "行政区", "辖区", "所属区"),
    "latitude": ("latitude", "lat", "纬度"),
    "longitude": ("longitude", "lon", "lng", "long", "经度"),
    "hours": ("hours", "opening_hours", "open_hours", "开放时间", "办公时间", "服务时间"),
    "phone": ("phone", "tel", "telephone", "电话", "联系电话", "电话号码", "服务电话"),
}

_KIND_VALUES: dict[PlaceKind, tuple[str, ...]] = {
    PlaceKind.MEMBERS_HOME: (
        "members_home",
        "members' home",
        "members home",
        "member home",
        "党员之家",
        "流动党员之家",
        "党员活动之家",
    ),
    PlaceKind.ACTIVITY_CENTRE: (
        "activity_centre",
        "activity centre",
        "activity center",
        "活动中心",
        "党员活动中心",
        "党群服务中心",
        "活动室",
        "党员活动室",
    ),
    PlaceKind.SERVICE_POINT: (
        "service_point",
        "service point",
        "服务站",
        "服务点",
        "服务中心",
        "流动党员服务站",
    ),
    PlaceKind.OTHER: ("other", "其他", "其它"),
}


def _value_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).replace("_", " ").casefold().split())


_HEADER_LOOKUP = header_lookup(_ALIASES)
_KIND_LOOKUP = {_value_key(v): kind for kind, names in _KIND_VALUES.items() for v in names}
assert tuple(_ALIASES) == _FIELDS


def _kind_words() -> str:
    return ", ".join(kind.value for kind in PlaceKind)


# --------------------------------------------------------------------------
# Reading a file


def read_places(path: Path) -> ParsedPlaces:
    """Read and validate a places file (``.csv`` or ``.xlsx``); every row problem is listed.

    Raises:
        PlaceFileError: unreadable file, unsupported type, missing columns, or no rows.
    """
    with open_sheet(Path(path), error=PlaceFileError) as (_total, rows):
        return _parse(rows)


def _parse(rows: Rows) -> ParsedPlaces:
    parser, ignored = read_rows(
        rows,
        _RowParser,
        lookup=_HEADER_LOOKUP,
        required=_REQUIRED,
        error=PlaceFileError,
        what="place",
    )
    return ParsedPlaces(tuple(parser.rows), tuple(parser.errors), ignored)


def _coordinate(value: object, text: str) -> float | None:
    """A number from a cell (Excel gives floats; CSV text, maybe full-width)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        try:
            number = float(unicodedata.normalize("NFKC", text).strip(STRIP_CHARS))
        except ValueError:
            return None
    return number if math.isfinite(number) else None


class _RowParser:
    def __init__(self, columns: dict[str, int]) -> None:
        self._indexes = [columns.get(name, -1) for name in _FIELDS]
        self._seen: dict[tuple[str, str], int] = {}
        self.rows: list[PlaceRow] = []
        self.errors: list[RowError] = []

    def feed(self, row_number: int, values: Sequence[object]) -> bool:
        """Parse one data row; False when it was blank and skipped."""
        raw = pick(values, self._indexes)
        text = [cell_text(v) for v in raw]
        if not any(text):
            return False
        cells = dict(zip(_FIELDS, text, strict=True))
        errors: list[RowError] = []

        def problem(column: str, message: str) -> None:
            errors.append(RowError(row_number, column, message))

        for name in _REQUIRED:
            if cells[name] is None:
                problem(name, f"missing {name}")
        for name, limit in MAX_LENGTHS.items():
            value = cells[name]
            if value is not None:
                value = " ".join(value.split()) if name in ("name", "district") else value
                cells[name] = value
                if len(value) > limit:
                    problem(name, f"{name} too long ({len(value)} characters, max {limit})")

        kind: PlaceKind | None = None
        if cells["kind"] is not None:
            kind = _KIND_LOOKUP.get(_value_key(cells["kind"]))
            if kind is None:
                message = f"unknown kind '{preview(cells['kind'])}' (expected {_kind_words()}"
                problem("kind", message + ", or 党员之家, 活动中心, 服务站)")

        latitude: float | None = None
        longitude: float | None = None
        axis: Axis
        for axis in ("latitude", "longitude"):
            cell = cells[axis]
            if cell is None:
                continue
            number = _coordinate(raw[_FIELDS.index(axis)], cell)
            if number is None:
                problem(axis, f"{axis} '{preview(cell)}' is not a number")
                continue
            try:
                check_coordinate(axis, number)
            except CoordinateError:
                bound = LIMITS[axis]
                hint = " (latitude and longitude swapped?)" if axis == "latitude" else ""
                problem(axis, f"{axis} {number:g} is outside -{bound:g}…{bound:g}{hint}")
                continue
            if axis == "latitude":
                latitude = number
            else:
                longitude = number

        place_name, district = cells["name"], cells["district"]
        if place_name is not None and district is not None:
            first = self._seen.setdefault((place_name, district), row_number)
            if first != row_number:
                shown = preview(place_name)
                problem("name", f"duplicate place '{shown}' in {district}: as row {first}")

        if errors:
            self.errors.extend(errors)
            return True
        assert place_name is not None and district is not None and kind is not None
        assert latitude is not None and longitude is not None
        address = cells["address"]
        assert address is not None
        self.rows.append(
            PlaceRow(
                row_number=row_number,
                name=place_name,
                kind=kind,
                address=address,
                district=district,
                latitude=latitude,
                longitude=longitude,
                hours=cells["hours"],
                phone=cells["phone"],
            )
        )
        return True


# --------------------------------------------------------------------------
# Writing


def _values(row: PlaceRow) -> dict[str, object]:
    return {
        "kind": row.kind,
        "address": row.address,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "hours": row.hours,
        "phone": row.phone,
    }


async def import_places(
    session: AsyncSession,
    now: datetime,
    parsed: ParsedPlaces,
    *,
    actor: str,
    source: str,
    replace: bool = False,
    dry_run: bool = False,
) -> PlaceImport:
    """Add or update places by (name, district), all or nothing; audited unless a dry run.

    Any row error means nothing is written. With replace, places absent from the file are
    removed. A dry run counts what would change and writes nothing.
    """
    report = PlaceImport(errors=sorted(parsed.errors, key=lambda e: e.row_number))
    if report.errors:
        return report
    existing = {(p.name, p.district): p for p in await session.scalars(select(Place))}
    for row in parsed.rows:
        place = existing.pop((row.name, row.district), None)
        wanted = _values(row)
        if place is None:
            report.added += 1
            if not dry_run:
                session.add(Place(name=row.name, district=row.district, imported_at=now, **wanted))
        elif any(getattr(place, key) != value for key, value in wanted.items()):
            report.updated += 1
            if not dry_run:
                for key, value in wanted.items():
                    setattr(place, key, value)
                place.imported_at = now
        else:
            report.unchanged += 1
    if replace:
        report.removed = len(existing)
        if existing and not dry_run:
            gone = [place.id for place in existing.values()]
            for start in range(0, len(gone), 500):
                await session.execute(delete(Place).where(Place.id.in_(gone[start : start + 500])))
    if dry_run:
        return report
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="place.import",
        subject=source,
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        removed=report.removed,
        replace=replace,
    )
    return report


# --------------------------------------------------------------------------
# Reading places


# PlaceView's fields, in its order: a search reads rows, not ORM objects.
_VIEW_COLUMNS = (
    Place.id,
    Place.name,
    Place.kind,
    Place.address,
    Place.district,
    Place.latitude,
    Place.longitude,
    Place.hours,
    Place.phone,
)


def _view(place: Place) -> PlaceView:
    return PlaceView(
        id=place.id,
        name=place.name,
        kind=place.kind,
        address=place.address,
        district=place.district,
        latitude=place.latitude,
        longitude=place.longitude,
        hours=place.hours,
        phone=place.phone,
    )


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in metres between two points (degrees)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


# The first box reaches this far; an empty box is widened this many times.
_FIRST_RADIUS_M = 5_000.0
_WIDEN = 8.0
# The search box is drawn around the point snapped to this grid (degrees).
_GRID = 0.01


def _box(latitude: float, longitude: float, radius_m: float) -> ColumnElement[bool] | None:
    """Rows within a box holding every point within radius_m; None: the box is the world.

    The longitude half-width of a spherical cap is asin(sin(r/R) / cos φ); a cap that holds
    a pole takes every longitude, and a box across ±180° is two ranges.
    """
    angle = radius_m / EARTH_RADIUS_M
    if angle >= math.pi:
        return None
    d_lat = math.degrees(angle)
    south, north = latitude - d_lat, latitude + d_lat
    band = Place.latitude.between(max(south, -90.0), min(north, 90.0))
    if south <= -90.0 or north >= 90.0:
        return band
    ratio = math.sin(angle) / math.cos(math.radians(latitude))
    if ratio >= 1.0:
        return band
    d_lon = math.degrees(math.asin(ratio))
    west, east = longitude - d_lon, longitude + d_lon
    if west < -180.0:
        lon = or_(Place.longitude >= west + 360.0, Place.longitude <= east)
    elif east > 180.0:
        lon = or_(Place.longitude >= west, Place.longitude <= east - 360.0)
    else:
        lon = Place.longitude.between(west, east)
    return and_(band, lon)


async def nearest(
    session: AsyncSession, latitude: float, longitude: float, limit: int = 3
) -> list[NearPlace]:
    """The limit places nearest to the point, nearest first, with their distances;
    CoordinateError if the point is not on Earth.

    The SQL sees only a box around the point snapped to a 0.01° grid (about 1 km), widened
    by the snap: the exact point stays in this function even where queries are logged.
    """
    check_point(latitude, longitude)
    wanted = limit
    if wanted <= 0:
        return []
    grid_latitude = round(latitude / _GRID, 0) * _GRID
    grid_longitude = round(longitude / _GRID, 0) * _GRID
    # Every point within radius of the exact point is within radius + slack of the snapped one.
    slack = haversine_m(latitude, longitude, grid_latitude, grid_longitude) + 1.0
    radius = _FIRST_RADIUS_M
    while True:
        box = _box(grid_latitude, grid_longitude, radius + slack)
        query = select(*_VIEW_COLUMNS) if box is None else select(*_VIEW_COLUMNS).where(box)
        found = sorted(
            (
                NearPlace(
                    PlaceView(**row._mapping),
                    haversine_m(latitude, longitude, row.latitude, row.longitude),
                )
                for row in await session.execute(query)
            ),
            key=lambda near: (near.distance_m, near.place.id),
        )
        # A place outside the box is farther than radius: only those within it are sure. (With
        # fewer places than wanted in all, the box grows to the whole world, which has them.)
        if box is None or (len(found) >= wanted and found[wanted - 1].distance_m <= radius):
            return found[:wanted]
        if len(found) >= wanted:
            # Enough, but some beyond the circle: the nearest are no farther than the
            # wanted-th of them, so a box that far settles it.
            radius = found[wanted - 1].distance_m
        elif found:
            # Too few: as far as the density seen so far says holds enough, and some more.
            radius *= max(1.5, 1.5 * math.sqrt(wanted / len(found)))
        else:
            radius *= _WIDEN


async def districts(session: AsyncSession) -> list[tuple[str, int]]:
    """Every district with places and how many, the largest first, then by name."""
    rows = await session.execute(select(Place.district, func.count()).group_by(Place.district))
    # Sorted here, not in SQL: names are Chinese, and each database collates them its own way.
    return sorted(((district, n) for district, n in rows), key=lambda row: (-row[1], row[0]))


_KIND_ORDER = {kind: index for index, kind in enumerate(PlaceKind)}


def _order(place: PlaceView) -> tuple[int, str, int]:
    return _KIND_ORDER[place.kind], place.name, place.id


def district_key(district: str) -> str:
    """A short stable key for a district (callback data holds 64 bytes, a name up to 150)."""
    return hashlib.blake2s(district.encode(), digest_size=6).hexdigest()


async def find_district(session: AsyncSession, text: str) -> str | None:
    """The district named by text: its exact name, its key, or a unique part of its name."""
    wanted = " ".join(text.split())
    if not wanted:
        return None
    names = [name for name, _ in await districts(session)]
    if wanted in names:
        return wanted
    by_key = [name for name in names if district_key(name) == wanted]
    if by_key:
        return by_key[0]
    folded = wanted.casefold()
    partial = [name for name in names if folded in name.casefold()]
    return partial[0] if len(partial) == 1 else None


async def places_in(session: AsyncSession, district: str) -> list[PlaceView]:
    """The places of one district: members' homes, activity centres, …; each by name."""
    rows = await session.scalars(select(Place).where(Place.district == district))
    return sorted((_view(place) for place in rows), key=_order)


async def list_places(session: AsyncSession, district: str | None = None) -> list[PlaceView]:
    """Every place (or one district's), by district, kind and name."""
    query = select(Place)
    if district is not None:
        query = query.where(Place.district == district)
    found = (_view(place) for place in await session.scalars(query))
    return sorted(found, key=lambda place: (place.district, *_order(place)))


async def place_by_id(session: AsyncSession, place_id: int) -> PlaceView | None:
    """One place, or None when it is gone (removed by an import with replace)."""
    place = await session.get(Place, place_id)
    return _view(place) if place is not None else None


async def match_places(session: AsyncSession, text: str, *, limit: int = 8) -> list[PlaceView]:
    """The places text names, for staff choosing where an activity is: a place's id ("12",
    "#12"), its exact name (a name may repeat in another district), or a part of its name;
    [] when none does (the text is then an address of its own)."""
    wanted = " ".join(unicodedata.normalize("NFKC", text).split())
    if not wanted:
        return []
    number = wanted.removeprefix("#")
    if number.isascii() and number.isdigit() and len(number) <= 9:
        found = await place_by_id(session, int(number))
        return [found] if found is not None else []
    exact = await session.scalars(select(Place).where(Place.name == wanted))
    named = [_view(place) for place in exact]
    if named:
        return sorted(named, key=lambda place: (place.district, *_order(place)))[:limit]
    # Few enough to read whole (a district's places, a few hundred); compared here, so that
    # full-width and case do not matter.
    folded = wanted.casefold()
    partial = [
        _view(place)
        for place in await session.scalars(select(Place))
        if folded in unicodedata.normalize("NFKC", place.name).casefold()
    ]
    return sorted(partial, key=lambda place: (place.district, *_order(place)))[:limit]
