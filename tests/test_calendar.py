"""storage.calendar.parse_when: the moments people type, for /notice and the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from storage.calendar import SCHEDULE_LIMIT, WhenError, parse_when

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
# Sunday 2026-11-15 10:00 in Shanghai.
NOW = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-12-01 09:00", datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)),
        ("2026.12.01 9:00", datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)),
        ("2026/12/1 9:05", datetime(2026, 12, 1, 9, 5, tzinfo=SHANGHAI)),
        ("2026年12月1日9点30分", datetime(2026, 12, 1, 9, 30, tzinfo=SHANGHAI)),
        ("2026-12-01T21:00", datetime(2026, 12, 1, 21, 0, tzinfo=SHANGHAI)),
        ("  12-01   09:00 ", datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)),
        ("１２－０１　９：００", datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)),  # full width
        ("11-14 08:00", datetime(2027, 11, 14, 8, 0, tzinfo=SHANGHAI)),  # passed: next year
        ("11-15 11:00", datetime(2026, 11, 15, 11, 0, tzinfo=SHANGHAI)),  # today is this year
        ("明天 9:00", datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI)),
        ("后天9点半", datetime(2026, 11, 17, 9, 30, tzinfo=SHANGHAI)),
        ("TODAY 23:59", datetime(2026, 11, 15, 23, 59, tzinfo=SHANGHAI)),
        ("今天 18点", datetime(2026, 11, 15, 18, 0, tzinfo=SHANGHAI)),
        ("15:00", datetime(2026, 11, 15, 15, 0, tzinfo=SHANGHAI)),
        # ISO 8601 as the command line gives it: seconds, and an offset that is kept.
        ("2026-12-01T09:00:30", datetime(2026, 12, 1, 9, 0, 30, tzinfo=SHANGHAI)),
        ("2026-12-01T09:00+01:00", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        ("2026-12-01 01:00Z", datetime(2026, 12, 1, 1, 0, tzinfo=UTC)),
        ("2026-12-01", datetime(2026, 12, 1, 0, 0, tzinfo=SHANGHAI)),
    ],
)
def test_the_forms_accepted(typed: str, expected: datetime) -> None:
    moment = parse_when(typed, NOW, SHANGHAI)
    assert moment == expected
    assert moment.tzinfo is not None


def test_a_day_is_the_day_in_the_zone_given() -> None:
    # 10:00 in Shanghai is 03:00 in Berlin, the same Sunday; 01:00 UTC on Monday would
    # already be Monday in Shanghai but still Sunday in Berlin.
    assert parse_when("明天 9:00", NOW, BERLIN) == datetime(2026, 11, 16, 9, 0, tzinfo=BERLIN)
    late = datetime(2026, 11, 15, 20, 0, tzinfo=UTC)
    assert parse_when("today 22:00", late, BERLIN) == datetime(2026, 11, 15, 22, 0, tzinfo=BERLIN)
    assert parse_when("today 22:00", late, SHANGHAI) == datetime(
        2026, 11, 16, 22, 0, tzinfo=SHANGHAI
    )


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("下午3点", "unreadable"),  # 24-hour clock only: never guessed
        ("明天", "unreadable"),
        ("next week", "unreadable"),
        ("", "unreadable"),
        ("02-30 09:00", "unreadable"),
        ("明天 24:00", "unreadable"),
        ("12-01 9:60", "unreadable"),
        ("2026-13-01T09:00", "unreadable"),
        ("09:00", "past"),
        ("2026-11-15 10:00", "past"),  # now, exactly
        ("2026-11-15T02:00:00+00:00", "past"),
        ("2027-12-01 09:00", "too_far"),
    ],
)
def test_the_refusals(typed: str, reason: str) -> None:
    with pytest.raises(WhenError) as refused:
        parse_when(typed, NOW, SHANGHAI)
    assert refused.value.reason == reason


def test_how_far_ahead_is_a_parameter() -> None:
    last = NOW + SCHEDULE_LIMIT
    assert parse_when(last.isoformat(), NOW, SHANGHAI) == last
    with pytest.raises(WhenError, match="too_far"):
        parse_when((last + timedelta(minutes=1)).isoformat(), NOW, SHANGHAI)
    with pytest.raises(WhenError, match="too_far"):
        parse_when("明天 9:00", NOW, SHANGHAI, ahead=timedelta(hours=12))


def test_without_a_limit_any_moment_is_taken_but_only_if_readable() -> None:
    # The command line's `schedule run-due --now` names past moments on purpose.
    assert parse_when("2020-01-01T09:00", NOW, SHANGHAI, ahead=None) == datetime(
        2020, 1, 1, 9, 0, tzinfo=SHANGHAI
    )
    assert parse_when("2099-01-01T09:00", NOW, SHANGHAI, ahead=None).year == 2099
    assert parse_when("09:00", NOW, SHANGHAI, ahead=None) == datetime(
        2026, 11, 15, 9, 0, tzinfo=SHANGHAI
    )
    east = timezone(timedelta(hours=4))
    assert parse_when("2026-12-01T09:00+04:00", NOW, SHANGHAI, ahead=None).utcoffset() == (
        east.utcoffset(None)
    )
    with pytest.raises(WhenError, match="unreadable"):
        parse_when("soon", NOW, SHANGHAI, ahead=None)
