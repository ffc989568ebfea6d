"""The mobile party school: study materials, push schedules, "studied" receipts.

The library is shared by the whole district: any staff member may add to it. A schedule
belongs to one group and sends at a local time (the zone passed in, normally the service's):

- weekly, on a weekday at a time: the oldest material of the library not yet pushed to that
  group (only materials with the schedule's tag, if it has one);
- one-off, on a date at a time: the one material named.

Each occurrence of a schedule pushes at most once (study_pushes is unique per schedule and
occurrence), and the deliveries of a push are keyed by the push, so a job that runs twice
sends once. A push missed while the service was down still goes when it is next asked,
unless the next occurrence has come meanwhile (weekly) or a week has passed (one-off).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    String,
    and_,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, payloads
from storage.calendar import CycleError, at_local, parse_clock
from storage.models import (
    MAX_ID,
    Delivery,
    Group,
    Member,
    MessageKind,
    StudyMaterial,
    StudyPush,
    StudyReceipt,
    StudySchedule,
    member_groups,
)
from storage.notices import clean_body
from storage.outbox import enqueue_to_members
from storage.scope import (
    group_condition,
    group_scope_condition,
    scope_condition,
    scope_groups,
    sees_everyone,
)

MAX_TITLE_LENGTH = 200
# As long as a notice: longer is a document to attach, not a text to read on a phone.
MAX_BODY_LENGTH = 8000
MAX_LINK_LENGTH = 500
MAX_TAGS = 10
# Ten tags of this length still fit StudyMaterial.tags (200) with their commas.
MAX_TAG_LENGTH = 16
# StudyMaterial.document_file_id / document_name.
MAX_FILE_ID_LENGTH = 200
MAX_DOCUMENT_NAME_LENGTH = 200
# A one-off push missed while the service was down still goes within this.
ONE_OFF_GRACE = timedelta(days=7)
# A one-off date further ahead than this is almost certainly a typo in the year.
SCHEDULE_LIMIT = timedelta(days=366)

_TAG = re.compile(r"^[\w-]+$")
_TAG_SEPARATORS = re.compile(r"[\s,，、;；]+")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekday_words() -> dict[str, int]:
    """Weekday names as staff type them: English, and 周一 / 星期一 / 礼拜一 (日 or 天)."""
    english = (
        ("mon", "monday"),
        ("tue", "tues", "tuesday"),
        ("wed", "wednesday"),
        ("thu", "thur", "thurs", "thursday"),
        ("fri", "friday"),
        ("sat", "saturday"),
        ("sun", "sunday"),
    )
    chinese = ("一", "二", "三", "四", "五", "六", "日天")
    words: dict[str, int] = {}
    for number, (names, days) in enumerate(zip(english, chinese, strict=True)):
        words.update(dict.fromkeys(names, number))
        for day in days:
            words.update({prefix + day: number for prefix in ("周", "星期", "礼拜")})
    return words


WEEKDAYS = _weekday_words()


class StudyError(ValueError):
    """A material or schedule that cannot be made or changed; the message says why (English).

    reason is a short stable word for the front ends to pick their own words by:
    title_empty, title_too_long, body_empty, body_too_long, bad_link, link_too_long,
    bad_tag, too_many_tags, bad_document, unknown_group, no_when, bad_weekday, bad_date, bad_time,
    past, too_far, no_material, unknown_material, archived, tag_on_one_off, duplicate,
    not_found, stopped, not_recipient.
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


# --- checking what staff type ---------------------------------------------------------------


def check_title(text: str) -> str:
    """The title on one line, 1 to MAX_TITLE_LENGTH characters, or StudyError."""
    title = " ".join(text.split())
    if not title:
        raise StudyError("the title is empty", "title_empty")
    if len(title) > MAX_TITLE_LENGTH:
        raise StudyError(
            f"the title has {len(title)} characters; at most {MAX_TITLE_LENGTH} are allowed",
            "title_too_long",
        )
    return title


def check_body(text: str) -> str:
    """The cleaned text, 1 to MAX_BODY_LENGTH characters, or StudyError."""
    body = clean_body(text)
    if not body:
        raise StudyError("the text is empty", "body_empty")
    if len(body) > MAX_BODY_LENGTH:
        raise StudyError(
            f"the text has {len(body)} characters; at most {MAX_BODY_LENGTH} are allowed",
            "body_too_long",
        )
    return body


def check_link(text: str) -> str:
    """An http(s) address of at most MAX_LINK_LENGTH characters, or StudyError."""
    link = text.strip()
    if len(link) > MAX_LINK_LENGTH:
        raise StudyError(
            f"the link has {len(link)} characters; at most {MAX_LINK_LENGTH} are allowed",
            "link_too_long",
        )
    try:
        parts = urlsplit(link)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in link)
    ):
        raise StudyError(
            f"{link[:60]!r} is not a web address starting with http:// or https://", "bad_link"
        )
    return link


def check_tags(tags: Sequence[str]) -> tuple[str, ...]:
    """Tags lower-cased, without repeats: at most MAX_TAGS short words, or StudyError."""
    cleaned: dict[str, None] = {}
    for raw in tags:
        tag = unicodedata.normalize("NFKC", raw).strip().lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH or not _TAG.match(tag):
            raise StudyError(
                f"{tag[:40]!r} is not a tag: one word of at most {MAX_TAG_LENGTH} letters, "
                "digits or dashes",
                "bad_tag",
            )
        cleaned[tag] = None
    if len(cleaned) > MAX_TAGS:
        raise StudyError(f"{len(cleaned)} tags; at most {MAX_TAGS} are allowed", "too_many_tags")
    return tuple(cleaned)


def parse_tags(text: str) -> tuple[str, ...]:
    """Tags typed on one line, separated by spaces, commas or 、, or StudyError."""
    return check_tags(_TAG_SEPARATORS.split(text))


def parse_weekday(text: str) -> int:
    """ "mon", "Monday", "周一" or "星期一" as 0 (Monday) … 6 (Sunday), or StudyError."""
    key = unicodedata.normalize("NFKC", text).strip().lower()
    if key not in WEEKDAYS:
        raise StudyError(
            f"{text.strip()[:20]!r} is not a weekday like mon, tue … sun", "bad_weekday"
        )
    return WEEKDAYS[key]


def parse_day(text: str) -> date:
    """ "2026-12-05" (also 2026/12/05, 2026.12.05, 2026年12月5日) as a date, or StudyError."""
    match = _DATE.match(unicodedata.normalize("NFKC", text).strip())
    try:
        if match is None:
            raise ValueError(text)
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise StudyError(
            f"{text.strip()[:20]!r} is not a date like 2026-12-05", "bad_date"
        ) from None


def parse_at(text: str) -> str:
    """ "19:00" (or "9:30", "19：00") as "HH:MM", or StudyError."""
    try:
        clock = parse_clock(unicodedata.normalize("NFKC", text))
    except CycleError:
        raise StudyError(
            f"{text.strip()[:20]!r} is not a time of day like 19:00", "bad_time"
        ) from None
    return clock.strftime("%H:%M")


def _number(text: str) -> int | None:
    """A record's number as typed ("12", "#12"); None if not one."""
    raw = text.strip().removeprefix("#")
    # isascii: "²" and other Unicode digits pass str.isdigit() but make int() raise.
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ID)):
        number = int(raw)
        return number if number <= MAX_ID else None
    return None


@dataclass(frozen=True, slots=True)
class PlanList:
    """/studyplan or /studyplan list: the schedules and the newest materials."""


@dataclass(frozen=True, slots=True)
class PlanAdd:
    """/studyplan add …: the group and either a weekday (and a tag) or a date and a material."""

    group: str
    at: str
    weekday: int | None = None
    on_date: date | None = None
    material_id: int | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class PlanStop:
    """/studyplan stop N."""

    schedule_id: int


PLAN_USAGE = (
    "/studyplan [list] | add GROUP mon 19:00 [TAG] | add GROUP 2026-12-05 19:00 ID | stop ID"
)


def parse_plan_command(arguments: str) -> PlanList | PlanAdd | PlanStop:
    """The words after /studyplan; StudyError ("usage", or what is wrong) otherwise."""
    command, _, rest = arguments.strip().partition(" ")
    command = command.lower()
    if command in ("", "list"):
        return PlanList()
    if command == "add":
        return parse_plan(rest)
    if command == "stop":
        schedule_id = _number(rest)
        if schedule_id is not None:
            return PlanStop(schedule_id)
    raise StudyError(PLAN_USAGE, "usage")


def parse_plan(text: str) -> PlanAdd:
    """The words after "/studyplan add"; StudyError (usage, or what is wrong) otherwise.

    The group name may contain spaces: it is everything before the last "weekday time" or
    "date time" pair: "驻深圳 党小组 mon 19:00 党章", "驻深圳 党小组 2026-12-05 19:00 12".
    """
    words = text.split()
    for index in range(len(words) - 2, 0, -1):
        when, clock, rest = words[index], words[index + 1], words[index + 2 :]
        try:
            at = parse_at(clock)
        except StudyError:
            continue
        group = " ".join(words[:index])
        try:
            weekday = parse_weekday(when)
        except StudyError:
            weekday = None
        if weekday is not None:
            if len(rest) > 1:
                raise StudyError("a tag is one word", "bad_tag")
            return PlanAdd(group, at, weekday=weekday, tag=rest[0] if rest else None)
        try:
            on_date = parse_day(when)
        except StudyError:
            raise StudyError(
                f"{when[:20]!r} is neither a weekday like mon nor a date like 2026-12-05",
                "bad_day",
            ) from None
        material_id = _number(rest[0]) if len(rest) == 1 else None
        if material_id is None:
            raise StudyError("a one-off push needs the material's number", "no_material")
        return PlanAdd(group, at, on_date=on_date, material_id=material_id)
    raise StudyError(PLAN_USAGE, "usage")


def _insert(session: AsyncSession) -> Callable[..., Any]:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING."""
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


def _tag_condition(tag: str) -> ColumnElement[bool]:
    """A where-clause on StudyMaterial: materials carrying tag."""
    tags = literal(",", String) + func.coalesce(StudyMaterial.tags, "") + literal(",", String)
    return tags.contains(f",{tag},", autoescape=True)


# --- the library ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MaterialView:
    """What a pushed material shows."""

    id: int
    title: str
    body: str
    link: str | None
    document_name: str | None
    document_file_id: str | None = None
    tags: tuple[str, ...] = ()


def _view(row: StudyMaterial) -> MaterialView:
    return MaterialView(
        id=row.id,
        title=row.title,
        body=row.body,
        link=row.link,
        document_name=row.document_name,
        document_file_id=row.document_file_id,
        tags=tuple(t for t in (row.tags or "").split(",") if t),
    )


async def material_views(session: AsyncSession, ids: Collection[int]) -> dict[int, MaterialView]:
    """The materials with these ids (archived ones too: a push already queued still goes)."""
    rows = await session.scalars(select(StudyMaterial).where(StudyMaterial.id.in_(list(ids))))
    return {row.id: _view(row) for row in rows}


async def add_material(
    session: AsyncSession,
    now: datetime,
    *,
    actor: str,
    title: str,
    body: str,
    link: str | None = None,
    tags: Sequence[str] = (),
    document_file_id: str | None = None,
    document_name: str | None = None,
) -> StudyMaterial:
    """Add a material to the library (checked as check_title, check_body, … say); audited."""
    clean_title = check_title(title)
    clean_text = check_body(body)
    clean_link = check_link(link) if link is not None and link.strip() else None
    clean_tags = check_tags(tags)
    if document_file_id is not None and not 0 < len(document_file_id) <= MAX_FILE_ID_LENGTH:
        raise StudyError("the document's file id is not one Telegram gives", "bad_document")
    name = " ".join((document_name or "").split())
    if document_file_id is not None and not name:
        name = "document"
    material = StudyMaterial(
        title=clean_title,
        body=clean_text,
        link=clean_link,
        document_file_id=document_file_id,
        document_name=name[:MAX_DOCUMENT_NAME_LENGTH] if document_file_id is not None else None,
        tags=",".join(clean_tags) or None,
        created_by=actor,
        created_at=now,
    )
    session.add(material)
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="study.material.add",
        subject=f"material:{material.id}",
        title=clean_title,
        tags=list(clean_tags),
        document=material.document_name,
    )
    return material


async def get_material(session: AsyncSession, material_id: int) -> StudyMaterial | None:
    """One material of the library, archived or not."""
    return await session.get(StudyMaterial, material_id)


@dataclass(frozen=True, slots=True)
class MaterialLine:
    """One row of the library list."""

    id: int
    title: str
    tags: tuple[str, ...]
    link: str | None
    document_name: str | None
    created_at: datetime
    archived_at: datetime | None
    # How many groups it has been pushed to.
    groups: int


async def list_materials(
    session: AsyncSession, *, include_archived: bool = False, limit: int = 100
) -> list[MaterialLine]:
    """The library, newest first, with how many groups each material went to."""
    pushed = (
        select(func.count(func.distinct(StudyPush.group_id)))
        .where(StudyPush.material_id == StudyMaterial.id)
        .scalar_subquery()
    )
    query = (
        select(StudyMaterial, pushed)
        .order_by(StudyMaterial.created_at.desc(), StudyMaterial.id.desc())
        .limit(limit)
    )
    if not include_archived:
        query = query.where(StudyMaterial.archived_at.is_(None))
    return [
        MaterialLine(
            id=row.id,
            title=row.title,
            tags=tuple(t for t in (row.tags or "").split(",") if t),
            link=row.link,
            document_name=row.document_name,
            created_at=row.created_at,
            archived_at=row.archived_at,
            groups=int(groups or 0),
        )
        for row, groups in await session.execute(query)
    ]


async def archive_material(
    session: AsyncSession, now: datetime, material_id: int, *, actor: str
) -> StudyMaterial:
    """Take a material out of the library: no schedule pushes it again; audited.

    Members who already got it can still open it; a push already queued still goes.
    """
    material = await get_material(session, material_id)
    if material is None:
        raise StudyError(f"no material {material_id}", "not_found")
    if material.archived_at is not None:
        raise StudyError(f"material {material_id} is already archived", "archived")
    material.archived_at = now
    await audit.record(
        session,
        now,
        actor=actor,
        action="study.material.archive",
        subject=f"material:{material_id}",
    )
    return material


# --- schedules ------------------------------------------------------------------------------


class ScheduleTimes(Protocol):
    """What next_occurrence needs of a schedule (a StudySchedule or a ScheduleLine)."""

    @property
    def weekday(self) -> int | None: ...

    @property
    def on_date(self) -> date | None: ...

    @property
    def at_time(self) -> str: ...

    @property
    def active(self) -> bool: ...


def _clock(schedule: ScheduleTimes) -> time:
    return parse_clock(schedule.at_time)


def occurrence_key(day: date, at_time: str) -> str:
    """How an occurrence is stored: the scheduled local date and time, "2026-11-30T19:00"."""
    return f"{day.isoformat()}T{at_time}"


def latest_occurrence(
    schedule: ScheduleTimes, now: datetime, zone: tzinfo
) -> tuple[date, datetime] | None:
    """The schedule's last local day and instant at or before now (None: not yet)."""
    clock = _clock(schedule)
    if schedule.weekday is not None:
        today = now.astimezone(zone).date()
        day = today - timedelta(days=(today.weekday() - schedule.weekday) % 7)
        moment = at_local(day, clock, zone)
        if moment > now:
            day -= timedelta(days=7)
            moment = at_local(day, clock, zone)
        return day, moment
    if schedule.on_date is None:
        return None
    moment = at_local(schedule.on_date, clock, zone)
    return (schedule.on_date, moment) if moment <= now else None


def next_occurrence(schedule: ScheduleTimes, after: datetime, zone: tzinfo) -> datetime | None:
    """The schedule's first instant strictly after `after`; None when stopped or done."""
    if not schedule.active:
        return None
    clock = _clock(schedule)
    if schedule.weekday is not None:
        today = after.astimezone(zone).date()
        day = today + timedelta(days=(schedule.weekday - today.weekday()) % 7)
        moment = at_local(day, clock, zone)
        if moment <= after:
            moment = at_local(day + timedelta(days=7), clock, zone)
        return moment
    if schedule.on_date is None:
        return None
    moment = at_local(schedule.on_date, clock, zone)
    return moment if moment > after else None


async def _group_in_scope(session: AsyncSession, name: str, staff_id: int | None) -> Group:
    wanted = " ".join(name.split())
    query = select(Group).where(Group.name == wanted)
    if staff_id is not None:
        query = query.where(group_scope_condition(staff_id))
    group = await session.scalar(query)
    if group is None:
        # Outside one's scope reads the same as nonexistent.
        raise StudyError(
            f"no group named {wanted[:100]!r} among the groups you look after", "unknown_group"
        )
    return group


async def add_schedule(
    session: AsyncSession,
    now: datetime,
    *,
    actor: str,
    group: str,
    at: str,
    zone: tzinfo,
    weekday: int | None = None,
    on_date: date | None = None,
    material_id: int | None = None,
    tag: str | None = None,
    staff_id: int | None = None,
) -> StudySchedule:
    """A weekly push (weekday, optional tag) or a one-off (on_date and material_id); audited.

    at is "HH:MM" in zone. staff_id limits the group to those the staff member looks
    after; None is the command line, which may plan for any group.
    """
    clock = parse_at(at)
    target = await _group_in_scope(session, group, staff_id)
    if (weekday is None) == (on_date is None):
        raise StudyError("give either a weekday (weekly) or a date (one-off)", "no_when")
    clean_tag: str | None = None
    if weekday is not None:
        if not 0 <= weekday <= 6:
            raise StudyError(f"weekday {weekday} is not 0 (Monday) … 6 (Sunday)", "bad_weekday")
        if material_id is not None:
            raise StudyError(
                "a weekly push takes the next material of the library; "
                "name a material only for a one-off",
                "no_material",
            )
        if tag is not None and tag.strip():
            clean_tag = check_tags([tag])[0]
        duplicate = await session.scalar(
            select(StudySchedule.id).where(
                StudySchedule.group_id == target.id,
                StudySchedule.active.is_(True),
                StudySchedule.weekday == weekday,
                StudySchedule.at_time == clock,
                StudySchedule.tag.is_(None)
                if clean_tag is None
                else StudySchedule.tag == clean_tag,
            )
        )
    else:
        assert on_date is not None
        if tag is not None and tag.strip():
            raise StudyError(
                "a one-off push names its material; a tag is for weekly ones", "tag_on_one_off"
            )
        if material_id is None:
            raise StudyError("a one-off push needs the material to send", "no_material")
        material = await get_material(session, material_id)
        if material is None:
            raise StudyError(f"no material {material_id}", "unknown_material")
        if material.archived_at is not None:
            raise StudyError(f"material {material_id} is archived", "archived")
        moment = at_local(on_date, parse_clock(clock), zone)
        if moment <= now:
            raise StudyError(f"{on_date.isoformat()} {clock} is in the past", "past")
        if moment - now > SCHEDULE_LIMIT:
            raise StudyError(f"{on_date.isoformat()} is more than a year ahead", "too_far")
        duplicate = await session.scalar(
            select(StudySchedule.id).where(
                StudySchedule.group_id == target.id,
                StudySchedule.active.is_(True),
                StudySchedule.on_date == on_date,
                StudySchedule.at_time == clock,
                StudySchedule.material_id == material_id,
            )
        )
    if duplicate is not None:
        raise StudyError(f"{target.name} already has this push: schedule {duplicate}", "duplicate")
    schedule = StudySchedule(
        group_id=target.id,
        weekday=weekday,
        on_date=on_date,
        at_time=clock,
        material_id=material_id,
        tag=clean_tag,
        active=True,
        created_by=actor,
        created_at=now,
    )
    session.add(schedule)
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="study.schedule.add",
        subject=f"study_schedule:{schedule.id}",
        group=target.name,
        weekday=weekday,
        on_date=on_date.isoformat() if on_date else None,
        at=clock,
        material=material_id,
        tag=clean_tag,
    )
    return schedule


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    """One push schedule as staff see it."""

    id: int
    group_id: int
    group: str
    weekday: int | None
    on_date: date | None
    at_time: str
    material_id: int | None
    material_title: str | None
    tag: str | None
    active: bool
    created_by: str
    # How many times it has pushed, and the last occurrence it pushed ("2026-11-30T19:00").
    pushes: int
    last_pushed: str | None

    @property
    def weekly(self) -> bool:
        return self.weekday is not None


async def list_schedules(
    session: AsyncSession,
    *,
    staff_id: int | None,
    include_stopped: bool = False,
    schedule_id: int | None = None,
) -> list[ScheduleLine]:
    """The push schedules of the groups staff_id looks after (all for None), by group."""
    pushes = (
        select(
            StudyPush.schedule_id,
            func.count().label("pushes"),
            func.max(StudyPush.occurrence).label("last"),
        )
        .group_by(StudyPush.schedule_id)
        .subquery()
    )
    query = (
        select(StudySchedule, Group.name, StudyMaterial.title, pushes.c.pushes, pushes.c.last)
        .join(Group, Group.id == StudySchedule.group_id)
        .outerjoin(StudyMaterial, StudyMaterial.id == StudySchedule.material_id)
        .outerjoin(pushes, pushes.c.schedule_id == StudySchedule.id)
        .order_by(Group.name, StudySchedule.id)
    )
    if staff_id is not None:
        query = query.where(group_scope_condition(staff_id))
    if not include_stopped:
        query = query.where(StudySchedule.active.is_(True))
    if schedule_id is not None:
        query = query.where(StudySchedule.id == schedule_id)
    return [
        ScheduleLine(
            id=schedule.id,
            group_id=schedule.group_id,
            group=group_name,
            weekday=schedule.weekday,
            on_date=schedule.on_date,
            at_time=schedule.at_time,
            material_id=schedule.material_id,
            material_title=title,
            tag=schedule.tag,
            active=schedule.active,
            created_by=schedule.created_by,
            pushes=int(count or 0),
            last_pushed=last,
        )
        for schedule, group_name, title, count, last in await session.execute(query)
    ]


async def get_schedule(
    session: AsyncSession, schedule_id: int, *, staff_id: int | None
) -> ScheduleLine | None:
    """One schedule (stopped or not) of a group staff_id looks after (any for None)."""
    found = await list_schedules(
        session, staff_id=staff_id, include_stopped=True, schedule_id=schedule_id
    )
    return found[0] if found else None


async def active_schedules(session: AsyncSession) -> list[StudySchedule]:
    """Every schedule that may still push, for the scheduler to build its jobs from."""
    rows = await session.scalars(
        select(StudySchedule).where(StudySchedule.active.is_(True)).order_by(StudySchedule.id)
    )
    return list(rows)


async def stop_schedule(
    session: AsyncSession, now: datetime, schedule_id: int, *, actor: str, staff_id: int | None
) -> ScheduleLine:
    """Stop a schedule of a group staff_id looks after (any for None): no more pushes; audited."""
    line = await get_schedule(session, schedule_id, staff_id=staff_id)
    if line is None:
        # Someone else's schedule reads the same as one that does not exist.
        raise StudyError(f"no push schedule {schedule_id}", "not_found")
    if not line.active:
        raise StudyError(f"push schedule {schedule_id} is already stopped", "stopped")
    schedule = await session.get(StudySchedule, schedule_id)
    assert schedule is not None
    schedule.active = False
    await audit.record(
        session,
        now,
        actor=actor,
        action="study.schedule.stop",
        subject=f"study_schedule:{schedule_id}",
        group=line.group,
    )
    return replace(line, active=False)


# --- pushing --------------------------------------------------------------------------------


class PushOutcome(StrEnum):
    """What one due occurrence of a schedule did."""

    PUSHED = "pushed"
    # Weekly: every material (with the tag) has already gone to the group.
    EXHAUSTED = "library exhausted"
    # One-off: its material was archived after the push was planned.
    ARCHIVED = "material archived"


@dataclass(frozen=True, slots=True)
class PushReport:
    """One schedule's due occurrence: pushed (to how many members) or why not."""

    schedule_id: int
    group: str
    occurrence: str
    outcome: PushOutcome
    material_id: int | None = None
    title: str | None = None
    push_id: int | None = None
    # New deliveries written (members without any channel count, as suppressed rows).
    recipients: int = 0


async def _next_material(session: AsyncSession, schedule: StudySchedule) -> StudyMaterial | None:
    """Weekly: the oldest material of the library (with the tag) the group has not had."""
    query = (
        select(StudyMaterial)
        .where(
            StudyMaterial.archived_at.is_(None),
            ~exists().where(
                StudyPush.group_id == schedule.group_id,
                StudyPush.material_id == StudyMaterial.id,
            ),
        )
        .order_by(StudyMaterial.created_at, StudyMaterial.id)
        .limit(1)
    )
    if schedule.tag:
        query = query.where(_tag_condition(schedule.tag))
    return await session.scalar(query)


async def push_due_study(session: AsyncSession, now: datetime, *, zone: tzinfo) -> list[PushReport]:
    """Push every schedule whose latest occurrence is due and not pushed yet; idempotent.

    An occurrence is due from its time until the next occurrence (weekly) or for
    ONE_OFF_GRACE (one-off), so a run after a restart catches up a missed push once, and a
    push overtaken by the next occurrence is skipped. Occurrences before the schedule was
    made never count. Nothing is sent here: one delivery per member of the group is
    written to the outbox (topic "study:<push id>"), and the dispatcher sends it.
    Schedules already pushed for their latest occurrence are not reported.
    """
    reports: list[PushReport] = []
    rows = list(
        await session.execute(
            select(StudySchedule, Group.name)
            .join(Group, Group.id == StudySchedule.group_id)
            .where(StudySchedule.active.is_(True))
            .order_by(StudySchedule.id)
        )
    )
    insert = _insert(session)
    for schedule, group_name in rows:
        latest = latest_occurrence(schedule, now, zone)
        if latest is None:
            continue
        day, moment = latest
        if moment < schedule.created_at:
            continue
        if schedule.weekday is None and now - moment > ONE_OFF_GRACE:
            continue
        occurrence = occurrence_key(day, schedule.at_time)
        done = await session.scalar(
            select(StudyPush.id).where(
                StudyPush.schedule_id == schedule.id, StudyPush.occurrence == occurrence
            )
        )
        if done is not None:
            continue
        report = PushReport(schedule.id, group_name, occurrence, PushOutcome.EXHAUSTED)
        if schedule.material_id is not None:
            material = await get_material(session, schedule.material_id)
            if material is None or material.archived_at is not None:
                reports.append(
                    PushReport(
                        schedule.id,
                        group_name,
                        occurrence,
                        PushOutcome.ARCHIVED,
                        material_id=schedule.material_id,
                    )
                )
                continue
        else:
            material = await _next_material(session, schedule)
            if material is None:
                reports.append(report)
                continue
        push_id = await session.scalar(
            insert(StudyPush)
            .values(
                schedule_id=schedule.id,
                occurrence=occurrence,
                group_id=schedule.group_id,
                material_id=material.id,
                pushed_at=now,
            )
            .on_conflict_do_nothing()
            .returning(StudyPush.id)
        )
        if push_id is None:
            # Another run pushed this occurrence a moment ago.
            continue
        recipients = await enqueue_to_members(
            session,
            now,
            payload=payloads.Study(material_id=material.id),
            topic=f"study:{push_id}",
            condition=group_condition(schedule.group_id),
            not_before=now,
        )
        reports.append(
            PushReport(
                schedule.id,
                group_name,
                occurrence,
                PushOutcome.PUSHED,
                material_id=material.id,
                title=material.title,
                push_id=push_id,
                recipients=recipients,
            )
        )
    return reports


# --- members: what they got, opening it, "studied" --------------------------------------------


def _member_group_ids(member_id: int) -> Select[tuple[int]]:
    return (
        select(member_groups.c.group_id)
        .where(member_groups.c.member_id == member_id)
        .correlate(None)
    )


async def is_recipient(session: AsyncSession, *, member_id: int, material_id: int) -> bool:
    """Whether the material was pushed to one of the member's groups, or sent to them."""
    to_my_group = exists().where(
        StudyPush.material_id == material_id,
        StudyPush.group_id.in_(_member_group_ids(member_id)),
    )
    topics = select(literal("study:", String) + cast(StudyPush.id, String)).where(
        StudyPush.material_id == material_id
    )
    sent_to_me = exists().where(
        Delivery.member_id == member_id,
        Delivery.kind == MessageKind.STUDY,
        Delivery.topic.in_(topics),
    )
    return bool(await session.scalar(select(or_(to_my_group, sent_to_me))))


async def mark_studied(
    session: AsyncSession, now: datetime, *, material_id: int, member_id: int
) -> bool:
    """The member pressed "studied": True the first time, False after that.

    StudyError (not_recipient) for a material never pushed to the member: a forwarded
    copy records nothing.
    """
    if not await is_recipient(session, member_id=member_id, material_id=material_id):
        raise StudyError(f"material {material_id} was not sent to this member", "not_recipient")
    insert = _insert(session)
    result = await session.execute(
        insert(StudyReceipt)
        .values(material_id=material_id, member_id=member_id, studied_at=now)
        .on_conflict_do_nothing()
    )
    return (result.rowcount or 0) > 0  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class RecentMaterial:
    """One line of a member's /study list."""

    id: int
    title: str
    pushed_at: datetime
    studied: bool


async def recent_for_member(
    session: AsyncSession, member_id: int, *, limit: int = 10
) -> list[RecentMaterial]:
    """Materials pushed to the member's groups, newest push first, with "studied"."""
    pushed = (
        select(StudyPush.material_id, func.max(StudyPush.pushed_at).label("last"))
        .where(StudyPush.group_id.in_(_member_group_ids(member_id)))
        .group_by(StudyPush.material_id)
        .subquery()
    )
    rows = await session.execute(
        select(StudyMaterial.id, StudyMaterial.title, pushed.c.last, StudyReceipt.studied_at)
        .join(pushed, pushed.c.material_id == StudyMaterial.id)
        .outerjoin(
            StudyReceipt,
            and_(
                StudyReceipt.material_id == StudyMaterial.id,
                StudyReceipt.member_id == member_id,
            ),
        )
        .order_by(pushed.c.last.desc(), StudyMaterial.id.desc())
        .limit(limit)
    )
    return [
        RecentMaterial(id=id_, title=title, pushed_at=last, studied=studied_at is not None)
        for id_, title, last, studied_at in rows
    ]


@dataclass(frozen=True, slots=True)
class OpenedMaterial:
    """A material a member opened, and whether they have marked it studied."""

    material: MaterialView
    studied: bool


async def open_material(
    session: AsyncSession, *, member_id: int, material_id: int
) -> OpenedMaterial | None:
    """The whole material, for a member it was pushed to (None for anyone else)."""
    if not await is_recipient(session, member_id=member_id, material_id=material_id):
        return None
    material = await get_material(session, material_id)
    if material is None:
        return None
    studied = await session.scalar(
        select(StudyReceipt.studied_at).where(
            StudyReceipt.material_id == material_id, StudyReceipt.member_id == member_id
        )
    )
    return OpenedMaterial(_view(material), studied is not None)


# --- staff: who studied what -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MaterialProgress:
    """One material pushed to a group: when first, and how many of its members studied it."""

    material_id: int
    title: str
    pushed_at: datetime
    studied: int


@dataclass(frozen=True, slots=True)
class GroupProgress:
    """A group's members and, per material pushed to it (newest first), who studied it."""

    group_id: int
    name: str
    members: int
    materials: tuple[MaterialProgress, ...]
    # Pushed to the group in all (materials may be cut to the newest few).
    pushed: int


def _visible_members(staff_id: int | None) -> ColumnElement[bool]:
    """A where-clause on Member: those the staff member may see (everyone for the CLI)."""
    return scope_condition(staff_id) if staff_id is not None else true()


async def _groups(
    session: AsyncSession, staff_id: int | None, group: str | None
) -> list[tuple[int, str]]:
    if group is not None:
        found = await _group_in_scope(session, group, staff_id)
        return [(found.id, found.name)]
    query = select(Group.id, Group.name).order_by(Group.name)
    if staff_id is not None:
        query = query.where(group_scope_condition(staff_id))
    return [(group_id, name) for group_id, name in await session.execute(query)]


async def _progress(
    session: AsyncSession, group_ids: list[int], staff_id: int | None
) -> tuple[dict[int, int], dict[int, list[MaterialProgress]]]:
    """Members per group, and the materials pushed to each group with their studied counts."""
    visible = _visible_members(staff_id)
    members = {
        group_id: int(count)
        for group_id, count in await session.execute(
            select(member_groups.c.group_id, func.count())
            .join(Member, Member.id == member_groups.c.member_id)
            .where(member_groups.c.group_id.in_(group_ids), visible)
            .group_by(member_groups.c.group_id)
        )
    }
    studied = {
        (group_id, material_id): int(count)
        for group_id, material_id, count in await session.execute(
            select(member_groups.c.group_id, StudyReceipt.material_id, func.count())
            .join(StudyReceipt, StudyReceipt.member_id == member_groups.c.member_id)
            .join(Member, Member.id == member_groups.c.member_id)
            .where(member_groups.c.group_id.in_(group_ids), visible)
            .group_by(member_groups.c.group_id, StudyReceipt.material_id)
        )
    }
    first = func.min(StudyPush.pushed_at).label("first")
    materials: dict[int, list[MaterialProgress]] = {}
    for group_id, material_id, title, pushed_at in await session.execute(
        select(StudyPush.group_id, StudyPush.material_id, StudyMaterial.title, first)
        .join(StudyMaterial, StudyMaterial.id == StudyPush.material_id)
        .where(StudyPush.group_id.in_(group_ids))
        .group_by(StudyPush.group_id, StudyPush.material_id, StudyMaterial.title)
        .order_by(first.desc(), StudyPush.material_id.desc())
    ):
        materials.setdefault(group_id, []).append(
            MaterialProgress(material_id, title, pushed_at, studied.get((group_id, material_id), 0))
        )
    return members, materials


async def group_completion(
    session: AsyncSession,
    *,
    staff_id: int | None,
    group: str | None = None,
    materials_limit: int | None = None,
) -> list[GroupProgress]:
    """Per group staff_id looks after (all for None; or just the named one): completion.

    Counts cover the members staff_id may see. StudyError (unknown_group) for a named group
    outside the scope.
    """
    groups = await _groups(session, staff_id, group)
    members, materials = await _progress(session, [g for g, _ in groups], staff_id)
    return [
        GroupProgress(
            group_id=group_id,
            name=name,
            members=members.get(group_id, 0),
            materials=tuple(materials.get(group_id, [])[:materials_limit]),
            pushed=len(materials.get(group_id, [])),
        )
        for group_id, name in groups
    ]


@dataclass(frozen=True, slots=True)
class MemberProgress:
    """One member of a group: how many of the group's materials they studied, and when last."""

    member_id: int
    name: str
    studied: int
    last_studied_at: datetime | None


@dataclass(frozen=True, slots=True)
class MemberReport:
    """A group's completion per member (by name), and per material."""

    group_id: int
    group: str
    materials: tuple[MaterialProgress, ...]
    members: tuple[MemberProgress, ...]

    @property
    def pushed(self) -> int:
        return len(self.materials)


async def member_completion(
    session: AsyncSession, *, staff_id: int | None, group: str
) -> MemberReport:
    """Per member of the named group (one staff_id looks after): studied of those pushed.

    Only members staff_id may see are listed. StudyError (unknown_group) otherwise.
    """
    [(group_id, name)] = await _groups(session, staff_id, group)
    _, materials = await _progress(session, [group_id], staff_id)
    pushed_ids = select(StudyPush.material_id).where(StudyPush.group_id == group_id)
    receipts = (
        select(
            StudyReceipt.member_id,
            func.count().label("studied"),
            func.max(StudyReceipt.studied_at).label("last"),
        )
        .where(StudyReceipt.material_id.in_(pushed_ids))
        .group_by(StudyReceipt.member_id)
        .subquery()
    )
    rows = await session.execute(
        select(Member.id, Member.name, receipts.c.studied, receipts.c.last)
        .outerjoin(receipts, receipts.c.member_id == Member.id)
        .where(group_condition(group_id), _visible_members(staff_id))
        .order_by(Member.name, Member.id)
    )
    return MemberReport(
        group_id=group_id,
        group=name,
        materials=tuple(materials.get(group_id, [])),
        members=tuple(
            MemberProgress(member_id, member_name, int(studied or 0), last)
            for member_id, member_name, studied, last in rows
        ),
    )


@dataclass(frozen=True, slots=True)
class Completion:
    """/studied: per group (no group named) or per member of the one group named."""

    groups: list[GroupProgress]
    members: MemberReport | None


async def view_completion(
    session: AsyncSession,
    now: datetime,
    *,
    actor: str,
    staff_id: int,
    group: str | None,
    materials_limit: int,
) -> Completion:
    """/studied [GROUP] by a staff member, the look audited; StudyError (unknown_group) for
    a group outside their scope."""
    if group:
        members = await member_completion(session, staff_id=staff_id, group=group)
        groups = []
    else:
        members = None
        groups = await group_completion(session, staff_id=staff_id, materials_limit=materials_limit)
    await audit.record(
        session, now, actor=actor, action="study.completion.view", group=(group or "")[:100] or None
    )
    return Completion(groups, members)


async def view_plan(
    session: AsyncSession, now: datetime, *, actor: str, staff_id: int, library_limit: int
) -> tuple[list[ScheduleLine], list[MaterialLine]]:
    """/studyplan: the schedules of the groups staff_id looks after and the newest materials
    (for their numbers), the look audited."""
    schedules = await list_schedules(session, staff_id=staff_id)
    library = await list_materials(session, limit=library_limit)
    await audit.record(session, now, actor=actor, action="study.plan.view")
    return schedules, library


# --- the console: completion at a glance, and the pages of one group, material, plan ---------

# The dashboard's and /study's completion: what was pushed in this many days before now.
STUDY_WINDOW = timedelta(days=30)
# A material's page lists this many of the members who studied it (newest first).
READERS_SHOWN = 200


@dataclass(frozen=True, slots=True)
class GroupStudyRate:
    """One group over the window: members, materials pushed to it, their receipts."""

    group_id: int
    name: str
    members: int
    materials: int
    studied: int

    @property
    def expected(self) -> int:
        """Receipts if every member studied every material."""
        return self.members * self.materials

    @property
    def percent(self) -> int | None:
        """None when nothing was pushed: no rate to speak of."""
        return round(100 * self.studied / self.expected) if self.expected else None


@dataclass(frozen=True, slots=True)
class StudyCompletion:
    """Completion per group staff look after, for the materials pushed since `since`."""

    since: datetime
    groups: list[GroupStudyRate]

    @property
    def studied(self) -> int:
        return sum(g.studied for g in self.groups)

    @property
    def expected(self) -> int:
        return sum(g.expected for g in self.groups)

    @property
    def percent(self) -> int | None:
        return round(100 * self.studied / self.expected) if self.expected else None


def _studied_per_group(session: AsyncSession, pushed: CTE) -> Select[int, int]:
    """Receipts per group for the (group, material) pairs pushed, each database its way.

    PostgreSQL hashes the receipts against the pairs. SQLite only loops, and the plain join
    makes it probe the receipts group by group, all over the index; "group_id + 0" hides
    the group index from its planner, so it reads each member's few receipts in turn: over
    100,000 members a third of the time (benchmarks/study.py). On PostgreSQL that form
    would cost three times the plain one.
    """
    if session.get_bind().dialect.name != "sqlite":
        return (
            select(pushed.c.group_id, func.count())
            .select_from(pushed)
            .join(member_groups, member_groups.c.group_id == pushed.c.group_id)
            .join(
                StudyReceipt,
                and_(
                    StudyReceipt.material_id == pushed.c.material_id,
                    StudyReceipt.member_id == member_groups.c.member_id,
                ),
            )
            .group_by(pushed.c.group_id)
        )
    group_of = member_groups.c.group_id + 0
    return (
        select(group_of, func.count())
        .join(StudyReceipt, StudyReceipt.member_id == member_groups.c.member_id)
        .where(
            StudyReceipt.material_id.in_(select(pushed.c.material_id)),
            tuple_(group_of, StudyReceipt.material_id).in_(
                select(pushed.c.group_id, pushed.c.material_id)
            ),
        )
        .group_by(group_of)
    )


async def study_completion(
    session: AsyncSession, now: datetime, *, staff_id: int, window: timedelta = STUDY_WINDOW
) -> StudyCompletion:
    """Per group staff_id looks after: of the materials pushed to it in the window before
    now, how many receipts its members gave (a member counts in each of their groups).

    A handful of set-based statements whatever the registry's size, none a loop over
    members. The members of the groups one looks after are all in one's scope
    (storage/scope.py), so the counts need no scope test per member; an unscoped
    administrator's need none per group either.
    """
    since = now - window
    everyone = await sees_everyone(session, staff_id)
    groups_query = select(Group.id, Group.name).order_by(Group.name)
    pushed_query = select(StudyPush.group_id, StudyPush.material_id).where(
        StudyPush.pushed_at >= since, StudyPush.pushed_at <= now
    )
    members_query = select(member_groups.c.group_id, func.count()).group_by(
        member_groups.c.group_id
    )
    if not everyone:
        groups_query = groups_query.where(group_scope_condition(staff_id))
        pushed_query = pushed_query.where(StudyPush.group_id.in_(scope_groups(staff_id)))
        members_query = members_query.where(member_groups.c.group_id.in_(scope_groups(staff_id)))
    # A material pushed to a group twice (two plans) is still one to study.
    pushed = pushed_query.distinct().cte("pushed")
    materials = {
        group_id: int(count)
        for group_id, count in await session.execute(
            select(pushed.c.group_id, func.count()).group_by(pushed.c.group_id)
        )
    }
    members = {group_id: int(count) for group_id, count in await session.execute(members_query)}
    studied_query = _studied_per_group(session, pushed)
    if not everyone:
        # A liaison's few groups: the group index is the short way, on either database.
        studied_query = studied_query.where(member_groups.c.group_id.in_(scope_groups(staff_id)))
    studied = {
        int(group_id): int(count) for group_id, count in await session.execute(studied_query)
    }
    return StudyCompletion(
        since=since,
        groups=[
            GroupStudyRate(
                group_id=group_id,
                name=name,
                members=members.get(group_id, 0),
                materials=materials.get(group_id, 0),
                studied=studied.get(group_id, 0),
            )
            for group_id, name in await session.execute(groups_query)
        ],
    )


async def view_study_completion(
    session: AsyncSession, now: datetime, *, actor: str, staff_id: int
) -> StudyCompletion:
    """The console's /study: completion per group, the look audited (counts, but of whose
    groups)."""
    completion = await study_completion(session, now, staff_id=staff_id)
    await audit.record(
        session,
        now,
        actor=actor,
        action="console.study.view",
        groups=[g.group_id for g in completion.groups],
    )
    return completion


async def view_group_study(
    session: AsyncSession, now: datetime, *, actor: str, staff_id: int, group_id: int
) -> MemberReport | None:
    """One group's completion per material and per member, for staff who look after it;
    None for another's group or none (the same to them; the trail tells them apart)."""
    name = await session.scalar(
        select(Group.name).where(Group.id == group_id, group_scope_condition(staff_id))
    )
    if name is None:
        await audit.record_refused(
            session,
            now,
            actor=actor,
            action="console.study.group.view.refused",
            kind="group",
            model=Group,
            record_id=group_id,
        )
        return None
    report = await member_completion(session, staff_id=staff_id, group=name)
    await audit.record(
        session, now, actor=actor, action="console.study.group.view", subject=f"group:{group_id}"
    )
    return report


async def view_library(
    session: AsyncSession, now: datetime, *, actor: str, include_archived: bool, limit: int
) -> list[MaterialLine]:
    """The console's library (shared by the district), the look audited."""
    library = await list_materials(session, include_archived=include_archived, limit=limit)
    await audit.record(
        session, now, actor=actor, action="console.study.library.view", archived=include_archived
    )
    return library


@dataclass(frozen=True, slots=True)
class MaterialGroup:
    """A group a material went to: when first, its members, how many studied it."""

    group_id: int
    name: str
    pushed_at: datetime
    members: int
    studied: int

    @property
    def percent(self) -> int:
        return round(100 * self.studied / self.members) if self.members else 0


@dataclass(frozen=True, slots=True)
class Reader:
    """A member who pressed "studied" under a material, and when."""

    member_id: int
    name: str
    studied_at: datetime


@dataclass(frozen=True, slots=True)
class MaterialReport:
    """A material in full, and who studied it in the groups and scope of the staff member."""

    line: MaterialLine
    body: str
    # Who added it, as the audit log names them, and as people read that (a staff name).
    created_by: str
    created_by_name: str
    groups: tuple[MaterialGroup, ...]
    # The newest READERS_SHOWN, of readers_total.
    readers: tuple[Reader, ...]
    readers_total: int


async def material_report(
    session: AsyncSession, material_id: int, *, staff_id: int
) -> MaterialReport | None:
    """material_id (archived or not) with its completion per group staff_id looks after and
    the members of their scope who studied it; None when there is no such material."""
    material = await get_material(session, material_id)
    if material is None:
        return None
    pushed_to = list(
        await session.execute(
            select(StudyPush.group_id, Group.name, func.min(StudyPush.pushed_at))
            .join(Group, Group.id == StudyPush.group_id)
            .where(StudyPush.material_id == material_id, group_scope_condition(staff_id))
            .group_by(StudyPush.group_id, Group.name)
            .order_by(Group.name)
        )
    )
    group_ids = [group_id for group_id, _, _ in pushed_to]
    members = {
        group_id: int(count)
        for group_id, count in await session.execute(
            select(member_groups.c.group_id, func.count())
            .where(member_groups.c.group_id.in_(group_ids))
            .group_by(member_groups.c.group_id)
        )
    }
    studied = {
        group_id: int(count)
        for group_id, count in await session.execute(
            select(member_groups.c.group_id, func.count())
            .join(StudyReceipt, StudyReceipt.member_id == member_groups.c.member_id)
            .where(StudyReceipt.material_id == material_id, member_groups.c.group_id.in_(group_ids))
            .group_by(member_groups.c.group_id)
        )
    }
    readers = (
        select(Member.id, Member.name, StudyReceipt.studied_at)
        .join(StudyReceipt, StudyReceipt.member_id == Member.id)
        .where(StudyReceipt.material_id == material_id, scope_condition(staff_id))
    )
    total = await session.scalar(select(func.count()).select_from(readers.subquery()))
    shown = await session.execute(
        readers.order_by(StudyReceipt.studied_at.desc(), Member.id.desc()).limit(READERS_SHOWN)
    )
    names = await audit.actor_names(session, [material.created_by])
    return MaterialReport(
        line=MaterialLine(
            id=material.id,
            title=material.title,
            tags=_view(material).tags,
            link=material.link,
            document_name=material.document_name,
            created_at=material.created_at,
            archived_at=material.archived_at,
            groups=len(group_ids),
        ),
        body=material.body,
        created_by=material.created_by,
        created_by_name=names.get(material.created_by, material.created_by),
        groups=tuple(
            MaterialGroup(group_id, name, first, members.get(group_id, 0), studied.get(group_id, 0))
            for group_id, name, first in pushed_to
        ),
        readers=tuple(Reader(member_id, name, at) for member_id, name, at in shown),
        readers_total=int(total or 0),
    )


async def view_material(
    session: AsyncSession, now: datetime, *, actor: str, staff_id: int, material_id: int
) -> MaterialReport | None:
    """A material's page: material_report, the look audited (a refusal too)."""
    report = await material_report(session, material_id, staff_id=staff_id)
    if report is None:
        await audit.record(
            session,
            now,
            actor=actor,
            action="console.study.material.view.refused",
            subject=f"material:{material_id}",
            reason="not_found",
        )
        return None
    await audit.record(
        session,
        now,
        actor=actor,
        action="console.study.material.view",
        subject=f"material:{material_id}",
        readers=len(report.readers),
    )
    return report


@dataclass(frozen=True, slots=True)
class PlansPage:
    """The console's plans: the schedules of one's groups, the groups one may plan for, and
    the library's materials a one-off push may name."""

    schedules: list[ScheduleLine]
    groups: list[tuple[int, str]]
    library: list[MaterialLine]


async def view_plans(
    session: AsyncSession,
    now: datetime,
    *,
    actor: str,
    staff_id: int,
    include_stopped: bool,
    library_limit: int,
) -> PlansPage:
    """The console's push schedules (stopped ones too if asked), the look audited."""
    page = PlansPage(
        schedules=await list_schedules(session, staff_id=staff_id, include_stopped=include_stopped),
        groups=await _groups(session, staff_id, None),
        library=await list_materials(session, limit=library_limit),
    )
    await audit.record(
        session, now, actor=actor, action="console.study.plans.view", stopped=include_stopped
    )
    return page


@dataclass(frozen=True, slots=True)
class PushProgress:
    """One push of a schedule: the occurrence, the material, how many studied it."""

    push_id: int
    occurrence: str
    pushed_at: datetime
    material_id: int
    title: str
    studied: int


@dataclass(frozen=True, slots=True)
class ScheduleReport:
    """A schedule, its group's members now, and each of its pushes, newest first."""

    line: ScheduleLine
    members: int
    pushes: tuple[PushProgress, ...]


async def view_schedule(
    session: AsyncSession, now: datetime, *, actor: str, staff_id: int, schedule_id: int
) -> ScheduleReport | None:
    """A schedule of a group staff_id looks after, with completion per push, the look
    audited; None for another's or none (the same to them; the trail tells them apart)."""
    line = await get_schedule(session, schedule_id, staff_id=staff_id)
    if line is None:
        await audit.record_refused(
            session,
            now,
            actor=actor,
            action="console.study.plan.view.refused",
            kind="study_schedule",
            model=StudySchedule,
            record_id=schedule_id,
        )
        return None
    pushes = list(
        await session.execute(
            select(
                StudyPush.id,
                StudyPush.occurrence,
                StudyPush.pushed_at,
                StudyPush.material_id,
                StudyMaterial.title,
            )
            .join(StudyMaterial, StudyMaterial.id == StudyPush.material_id)
            .where(StudyPush.schedule_id == schedule_id)
            .order_by(StudyPush.pushed_at.desc(), StudyPush.id.desc())
        )
    )
    members = await session.scalar(
        select(func.count()).where(member_groups.c.group_id == line.group_id)
    )
    studied = {
        material_id: int(count)
        for material_id, count in await session.execute(
            select(StudyReceipt.material_id, func.count())
            .join(member_groups, member_groups.c.member_id == StudyReceipt.member_id)
            .where(
                member_groups.c.group_id == line.group_id,
                StudyReceipt.material_id.in_([push[3] for push in pushes]),
            )
            .group_by(StudyReceipt.material_id)
        )
    }
    await audit.record(
        session,
        now,
        actor=actor,
        action="console.study.plan.view",
        subject=f"study_schedule:{schedule_id}",
    )
    return ScheduleReport(
        line=line,
        members=int(members or 0),
        pushes=tuple(
            PushProgress(push_id, occurrence, at, material_id, title, studied.get(material_id, 0))
            for push_id, occurrence, at, material_id, title in pushes
        ),
    )
