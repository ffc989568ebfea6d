"""Members' own time zones: the names staff write (roster, CLI) and the zone of a place.

Everything is offline. A place in China (a region of storage/regions.py) is in China's one
zone (Hong Kong, Macau and Taiwan have their own names, on the same clock). A pin abroad is
looked up with timezonefinder (zone boundaries shipped with the package). A typed place
abroad is matched against the Unicode CLDR names that Babel ships: countries whose zones
all keep the same clock, and the cities that name a zone (迪拜, Dubai, 柏林, Berlin), in
Chinese and English.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale
from babel.core import get_global

from storage.checkins import Whereabouts

if TYPE_CHECKING:
    from timezonefinder import TimezoneFinder

__all__ = [
    "CHINA_ZONE",
    "ZoneError",
    "abroad_place",
    "parse_zone",
    "same_clock",
    "zone_of_place",
]

CHINA_ZONE: Final = "Asia/Shanghai"
# Regions of China with a zone name of their own (adcode prefix), on China's clock.
_REGION_ZONES: Final = {"81": "Asia/Hong_Kong", "82": "Asia/Macau", "71": "Asia/Taipei"}
# Names in the zone database that are not places.
_NOT_PLACES: Final = frozenset({"Factory", "localtime", "posixrules"})
_OFFSET: Final = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$")


class ZoneError(ValueError):
    """A time zone name that cannot be used; the message says why."""


@cache
def _names() -> dict[str, str]:
    """Every IANA name, by its case-folded spelling."""
    return {name.casefold(): name for name in available_timezones() if name not in _NOT_PLACES}


def warm() -> None:
    """Load the offline lookups now (about a second), not in the first check-in from abroad,
    where it would hold up every chat's answer."""
    _names()
    _finder()
    _place_names()


def parse_zone(text: str) -> str:
    """The IANA name staff meant: "Asia/Dubai" (any case), or a fixed offset "UTC+4",
    "+04:00", "GMT-5" (whole hours: Etc/GMT-4 …; no summer time). ZoneError otherwise."""
    raw = " ".join(unicodedata.normalize("NFKC", text).split()).replace("−", "-")
    key = raw.replace(" ", "_").casefold()
    if key in {"utc", "gmt", "z"}:
        return "UTC"
    name = _names().get(key)
    if name is not None:
        return name
    offset = _OFFSET.match(raw.casefold())
    if offset is not None:
        sign, hours, minutes = offset.group(1), int(offset.group(2)), offset.group(3)
        if (minutes is None or int(minutes) == 0) and hours <= (14 if sign == "+" else 12):
            # The Etc names count the other way round: UTC+4 is Etc/GMT-4.
            return "UTC" if hours == 0 else f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
        raise ZoneError(
            f"time zone {text!r} is not a whole-hour offset from UTC+14 to UTC-12; "
            "use its IANA name instead (e.g. Asia/Kolkata for UTC+5:30)"
        )
    raise ZoneError(
        f"unknown time zone {text!r} (use an IANA name like Asia/Dubai or Europe/Berlin, "
        "or an offset like UTC+4)"
    )


def same_clock(a: tzinfo, b: tzinfo, now: datetime) -> bool:
    """Whether two zones show the same time now and half a year on (summer time included)."""
    return all(
        moment.astimezone(a).utcoffset() == moment.astimezone(b).utcoffset()
        for moment in (now, now + timedelta(days=182))
    )


def zone_of_place(place: Whereabouts) -> str | None:
    """The IANA zone of a check-in's place, or None when it is not known offline."""
    if place.region is not None:
        return _REGION_ZONES.get(place.region.adcode[:2], CHINA_ZONE)
    if place.latitude is not None and place.longitude is not None:
        return _zone_at(place.latitude, place.longitude)
    if place.text:
        return _zone_named(place.text)
    return None


def abroad_place(latitude: float, longitude: float, locale: str) -> str | None:
    """A pin outside China's regions as a place to record: its country's name in locale
    ("阿拉伯联合酋长国"), or None when the pin is at sea or unknown."""
    zone = _zone_at(latitude, longitude)
    territory = get_global("zone_territories").get(zone) if zone else None
    if territory is None:
        return None
    names = Locale.parse(_babel_locale(locale)).territories
    name = names.get(territory)
    return str(name) if name else None


def _babel_locale(locale: str) -> str:
    return "zh_Hans_CN" if locale.startswith("zh") else "en"


@cache
def _finder() -> TimezoneFinder:
    # Imported on first use (it brings numpy); the boundary files are read as needed.
    from timezonefinder import TimezoneFinder

    return TimezoneFinder(in_memory=False)


def _zone_at(latitude: float, longitude: float) -> str | None:
    try:
        zone = _finder().timezone_at(lat=latitude, lng=longitude)
    except ValueError:  # out of range
        return None
    # Etc/GMT+2 and the like: the open sea, no place anyone lives.
    if zone is None or zone.startswith("Etc/") or zone.casefold() not in _names():
        return None
    return str(zone)


# --- typed places abroad -------------------------------------------------------------------


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _is_cjk(text: str) -> bool:
    return any(unicodedata.east_asian_width(char) == "W" for char in text)


@cache
def _place_names() -> dict[str, str]:
    """Country and city names (folded) → zone, in Chinese and English."""
    # Whether a country keeps one clock is judged on a fixed year: the same answer every run.
    reference = datetime(2026, 1, 1, tzinfo=UTC)
    names: dict[str, str] = {}
    known = _names()

    def add(name: str | None, zone: str) -> None:
        if name and len(name) >= 2:
            names.setdefault(_fold(name), zone)

    territory_zones: Mapping[str, list[str]] = get_global("territory_zones")
    for code in ("zh_Hans_CN", "en"):
        locale = Locale.parse(code)
        for zone, data in locale.time_zones.items():
            if zone.casefold() in known:
                add(data.get("city"), zone)
        for territory, zones in territory_zones.items():
            usable = [zone for zone in zones if zone.casefold() in known]
            if usable and _one_clock(usable, reference):
                add(locale.territories.get(territory), usable[0])
    for zone in known.values():
        # English city names are the zone's own: Europe/Berlin, America/New_York.
        if "/" in zone and not zone.startswith("Etc/"):
            add(zone.rsplit("/", 1)[1].replace("_", " "), zone)
    return names


def _one_clock(zones: Iterable[str], now: datetime) -> bool:
    first, *others = (ZoneInfo(zone) for zone in zones)
    return all(same_clock(first, other, now) for other in others)


def _zone_named(text: str) -> str | None:
    """The zone of the longest country or city name in text, if it is unambiguous."""
    folded = _fold(text)
    best: tuple[int, str] | None = None
    for name, zone in _place_names().items():
        if len(name) < (best[0] if best else 0):
            continue
        if _is_cjk(name):
            found = name in folded
        else:
            found = re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", folded) is not None
        if found and (best is None or len(name) > best[0]):
            best = (len(name), zone)
    return best[1] if best else None
