"""Members' own time zones: the names staff write, and the zone of a place, offline."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from storage.checkins import Whereabouts
from storage.regions import default_index
from storage.zones import ZoneError, abroad_place, parse_zone, same_clock, zone_of_place

NOW = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "zone"),
    [
        ("Asia/Dubai", "Asia/Dubai"),
        ("asia/dubai", "Asia/Dubai"),
        (" Europe/Berlin ", "Europe/Berlin"),
        ("America/New York", "America/New_York"),
        ("UTC+4", "Etc/GMT-4"),  # the Etc names count the other way round
        ("+04:00", "Etc/GMT-4"),
        ("GMT-5", "Etc/GMT+5"),
        ("UTC", "UTC"),
        ("UTC+0", "UTC"),
    ],
)
def test_zone_names_staff_write(written: str, zone: str) -> None:
    assert parse_zone(written) == zone


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("Dubai", "unknown time zone 'Dubai' (use an IANA name like Asia/Dubai"),
        ("Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("UTC+5:30", "use its IANA name instead (e.g. Asia/Kolkata for UTC+5:30)"),
        ("UTC+15", "not a whole-hour offset from UTC+14 to UTC-12"),
        ("", "unknown time zone ''"),
    ],
)
def test_a_bad_zone_name_says_what_to_write(written: str, says: str) -> None:
    with pytest.raises(ZoneError) as raised:
        parse_zone(written)
    assert says in str(raised.value)


def test_same_clock_counts_summer_time() -> None:
    # Hong Kong and Shanghai keep one clock; Berlin and Lagos agree in winter only.
    assert same_clock(ZoneInfo("Asia/Hong_Kong"), ZoneInfo("Asia/Shanghai"), NOW)
    assert not same_clock(ZoneInfo("Europe/Berlin"), ZoneInfo("Africa/Lagos"), NOW)
    assert not same_clock(ZoneInfo("Asia/Dubai"), ZoneInfo("Asia/Shanghai"), NOW)


def test_a_place_in_china_is_on_chinas_clock_even_in_xinjiang() -> None:
    regions = default_index()
    urumqi = regions.resolve_point(43.8, 87.6)
    assert urumqi is not None
    assert zone_of_place(Whereabouts.shared(43.8, 87.6, urumqi)) == "Asia/Shanghai"
    hong_kong = regions.resolve_text("香港")
    assert zone_of_place(Whereabouts.typed("香港", hong_kong)) == "Asia/Hong_Kong"


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("阿联酋迪拜", "Asia/Dubai"),
        ("Dubai Marina", "Asia/Dubai"),
        ("柏林", "Europe/Berlin"),
        ("Berlin Mitte", "Europe/Berlin"),
        ("德国", "Europe/Berlin"),  # a country on one clock
        ("美国纽约", "America/New_York"),  # a city names the zone of a country with several
        ("Tokyo, Japan", "Asia/Tokyo"),
        ("美国", None),  # several clocks: no guess
        ("在外地打工", None),
    ],
)
def test_a_typed_place_abroad(typed: str, zone: str | None) -> None:
    assert zone_of_place(Whereabouts.typed(typed, None)) == zone


def test_a_pin_abroad_and_at_sea() -> None:
    assert zone_of_place(Whereabouts.shared(25.2, 55.27, None)) == "Asia/Dubai"
    assert abroad_place(25.2, 55.27, "zh_CN") == "阿拉伯联合酋长国"
    assert abroad_place(52.52, 13.40, "en") == "Germany"
    # The middle of the Atlantic: no zone anyone lives in, no place.
    assert zone_of_place(Whereabouts.shared(0.0, -30.0, None)) is None
    assert abroad_place(0.0, -30.0, "en") is None
