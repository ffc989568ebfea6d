"""Time rules of the monthly cycle: clock times, quiet hours, the steps of a month.

Pure functions of the instants they are given; nothing here reads the clock or the
database. Every day and time is in the time zone passed in (a member's own).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

_CLOCK = re.compile(r"^\s*(\d{1,2})[:：](\d{2})\s*$")
# A step may not run past this day, so every step of a month falls inside that month.
LAST_DAY = 28
# A scheduled moment further ahead than this is almost certainly a typo in the year.
SCHEDULE_LIMIT = timedelta(days=366)


class CycleError(ValueError):
    """A cycle or schedule setting that cannot work; the message says why in English, and
    code with values let a template say it in the reader's language."""

    def __init__(self, message: str, code: str = "invalid", **values: object) -> None:
        super().__init__(message)
        self.code = code
        self.values = values


def parse_clock(text: str) -> time:
    """ "9:00", "09:00" or "21：30" (full-width colon) as a time of day."""
    match = _CLOCK.match(text)
    if match is None:
        raise CycleError(f"{text!r} is not a time of day like 09:00", "bad_time", text=text)
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise CycleError(f"{text!r} is not a time of day like 09:00", "bad_time", text=text)
    return time(hour, minute)


class WhenError(ValueError):
    """A typed moment that cannot be used; reason is unreadable, past or too_far."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_TIME = r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2})|点(?:(?P<half>半)|(?P<minute2>\d{1,2})分?)?)"
_RELATIVE = re.compile(rf"(?P<day>今天|明天|后天|today|tomorrow)\s*{_TIME}", re.IGNORECASE)
_DATE = re.compile(
    r"(?:(?P<year>\d{4})\s*[-/.年]\s*)?(?P<month>\d{1,2})\s*[-/.月]\s*(?P<mday>\d{1,2})\s*日?"
    rf"(?:\s+|\s*T\s*|(?<=日))\s*{_TIME}",
    re.IGNORECASE,
)
_BARE = re.compile(_TIME)
_DAYS_AHEAD = {"今天": 0, "today": 0, "明天": 1, "tomorrow": 1, "后天": 2}


def _clock_time(match: re.Match[str]) -> time:
    hour = int(match.group("hour"))
    minute = match.group("minute") or match.group("minute2")
    value = 30 if match.group("half") else int(minute or 0)
    if hour > 23 or value > 59:
        raise WhenError("unreadable")
    return time(hour, value)


def _typed_moment(typed: str, now: datetime, zone: tzinfo) -> datetime:
    """The forms a person types (see parse_when), in zone."""
    today = now.astimezone(zone).date()
    day: date
    if match := _RELATIVE.fullmatch(typed):
        day = today + timedelta(days=_DAYS_AHEAD[match.group("day").lower()])
    elif match := _DATE.fullmatch(typed):
        month, mday = int(match.group("month")), int(match.group("mday"))
        try:
            if match.group("year"):
                day = date(int(match.group("year")), month, mday)
            else:
                day = date(today.year, month, mday)
                if day < today:
                    day = date(today.year + 1, month, mday)
        except ValueError:
            raise WhenError("unreadable") from None
    elif match := _BARE.fullmatch(typed):
        day = today
    else:
        try:
            # The command line's form (2026-12-01T09:00:00+08:00, …Z): an offset is kept.
            moment = datetime.fromisoformat(typed)
        except ValueError:
            raise WhenError("unreadable") from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    return datetime.combine(day, _clock_time(match), tzinfo=zone)


def parse_when(
    text: str, now: datetime, zone: tzinfo, *, ahead: timedelta | None = SCHEDULE_LIMIT
) -> datetime:
    """The moment a person typed, in zone unless it says its own offset.

    The forms, with a 24-hour time "9:00", "9：00", "9点", "9点30" or "9点半":

        2026-12-01 09:00      (also 2026/12/01, 2026.12.01, 2026年12月1日, and a "T")
        12-01 09:00           (no year: this year, or next year once the day has passed)
        明天 9:00 / tomorrow 9:00   (also 今天/today, 后天)
        9:00                  (today)

    and ISO 8601 as Python reads it (2026-12-01T09:00:30+08:00, 2026-12-01 01:00Z; a date
    alone is its midnight). With ahead, the moment must come after now and at most ahead
    later (reasons past and too_far); ahead=None takes any moment (the command line's
    `schedule run-due --now` names one in the past).
    """
    # Full-width digits and colons from a Chinese keyboard become plain ones.
    typed = " ".join(unicodedata.normalize("NFKC", text).split())
    moment = _typed_moment(typed, now, zone)
    if ahead is not None:
        if moment <= now:
            raise WhenError("past")
        if moment - now > ahead:
            raise WhenError("too_far")
    return moment


def parse_days(text: str) -> tuple[int, ...]:
    """ "3,7" (or "3，7", "3 7") as strictly increasing day counts; "" or "none" for none."""
    cleaned = text.replace("，", ",").replace(" ", ",").strip(", ")
    if not cleaned or cleaned.lower() == "none":
        return ()
    try:
        days = tuple(int(part) for part in cleaned.split(",") if part)
    except ValueError:
        raise CycleError(
            f"{text!r} is not a list of days like 3,7", "bad_days", text=text
        ) from None
    if any(day < 1 for day in days) or list(days) != sorted(set(days)):
        raise CycleError(
            f"reminder days must be increasing whole days after the prompt: {text!r}",
            "bad_days",
            text=text,
        )
    return days


def at_local(day: date, clock: time, zone: tzinfo) -> datetime:
    """The instant of clock on day in zone (a gap or fold resolves as zoneinfo does)."""
    return datetime.combine(day, clock, tzinfo=zone)


def year_bounds(year: int, zone: tzinfo) -> tuple[datetime, datetime]:
    """The first instant of the year and of the next, in zone (the yearly report's and the
    ratings' year); ValueError out of range."""
    if not 2000 <= year <= 9998:
        raise ValueError(f"{year} is not a year between 2000 and 9998")
    return datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)


def add_months(day: date, months: int) -> date:
    """The same day months later (or earlier), clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def month_start(period: str) -> date:
    year, month = period.split("-")
    return date(int(year), int(month), 1)


def next_period(period: str) -> str:
    return add_months(month_start(period), 1).strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A nightly window in which nothing scheduled reaches anyone; start == end: none."""

    start: time
    end: time

    def contains(self, moment: datetime, zone: tzinfo) -> bool:
        local = moment.astimezone(zone).time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, moment: datetime, zone: tzinfo) -> datetime:
        """moment itself outside quiet hours, else the morning it ends."""
        if not self.contains(moment, zone):
            return moment
        local = moment.astimezone(zone)
        day = local.date()
        if local.time() >= self.start and self.start > self.end:
            day += timedelta(days=1)
        return at_local(day, self.end, zone)


class Step(enum.StrEnum):
    """One step of a member's month."""

    PROMPT = "prompt"
    REMINDER = "reminder"
    ESCALATION = "escalation"


@dataclass(frozen=True, slots=True)
class StepTime:
    """A step of one period: when it is due and until when it may still go."""

    step: Step
    number: int  # reminders 1, 2 …; 0 for the others
    due: datetime
    until: datetime

    @property
    def name(self) -> str:
        """How the step appears in topics and job ids: prompt, r1, r2, escalation."""
        return f"r{self.number}" if self.step is Step.REMINDER else self.step.value


@dataclass(frozen=True, slots=True)
class CycleRule:
    """When a month's prompt, reminders and escalation are due; lost contact after months."""

    prompt_day: int = 1
    prompt_time: time = time(9, 0)
    reminder_days: tuple[int, ...] = (3, 7)
    escalation_day: int = 10
    lost_contact_months: int = 6
    enabled: bool = True

    def check(self) -> CycleRule:
        """self, or CycleError saying which setting cannot work."""
        if not 1 <= self.prompt_day <= LAST_DAY:
            raise CycleError(
                f"the prompt day must be between 1 and {LAST_DAY}", "prompt_day", last=LAST_DAY
            )
        if self.reminder_days and self.prompt_day + self.reminder_days[-1] > LAST_DAY:
            day = self.prompt_day + self.reminder_days[-1]
            raise CycleError(
                f"the last reminder (day {day}) must fall on or before day {LAST_DAY} of the month",
                "late_reminder",
                day=day,
                last=LAST_DAY,
            )
        if not self.prompt_day < self.escalation_day <= LAST_DAY:
            raise CycleError(
                f"the escalation day must come after the prompt day and be at most {LAST_DAY}",
                "escalation_day",
                last=LAST_DAY,
            )
        if not 1 <= self.lost_contact_months <= 60:
            raise CycleError("lost contact needs between 1 and 60 months of silence", "lost_months")
        return self

    def member_steps(self, period: str, zone: tzinfo) -> list[StepTime]:
        """The prompt and reminders of period in zone, each good until the next one is due.

        A late prompt still goes until the month ends (a member should hear of the month's
        check-in however late); a reminder that the next reminder has overtaken does not.
        """
        first = month_start(period)
        end = at_local(add_months(first, 1), time(0, 0), zone)
        prompt_day = first.replace(day=self.prompt_day)
        dues = [at_local(prompt_day, self.prompt_time, zone)]
        dues += [
            at_local(prompt_day + timedelta(days=days), self.prompt_time, zone)
            for days in self.reminder_days
        ]
        steps = [StepTime(Step.PROMPT, 0, dues[0], end)]
        for number, due in enumerate(dues[1:], start=1):
            until = dues[number + 1] if number + 1 < len(dues) else end
            steps.append(StepTime(Step.REMINDER, number, due, until))
        return steps

    def escalation(self, period: str, zone: tzinfo) -> StepTime:
        """The day liaisons hear who is still silent; good until the month ends."""
        first = month_start(period)
        end = at_local(add_months(first, 1), time(0, 0), zone)
        due = at_local(first.replace(day=self.escalation_day), self.prompt_time, zone)
        return StepTime(Step.ESCALATION, 0, due, end)

    def lost_contact_cutoff(self, now: datetime, zone: tzinfo) -> datetime:
        """Silent since before this instant: lost contact (calendar months in zone)."""
        local = now.astimezone(zone)
        day = add_months(local.date(), -self.lost_contact_months)
        return at_local(day, local.time().replace(tzinfo=None), zone)

    @property
    def reminder_dates(self) -> tuple[int, ...]:
        """The days of the month the reminders fall on: the same in every month, as check()
        keeps the last one on or before LAST_DAY."""
        return tuple(self.prompt_day + days for days in self.reminder_days)

    def describe_reminders(self) -> str:
        return ",".join(str(day) for day in self.reminder_days)


__all__ = [
    "LAST_DAY",
    "CycleError",
    "CycleRule",
    "QuietHours",
    "Step",
    "StepTime",
    "add_months",
    "at_local",
    "month_start",
    "next_period",
    "parse_clock",
    "parse_days",
]
