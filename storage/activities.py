"""Activities: the yearly forum, classes taken to companies (送课到企), volunteer service,
meetings — invited, answered, reminded and attended.

Staff create an activity for groups in their scope (`create_activity`): each member of
those groups gets an invitation row and, through the outbox, a message with "I'll come /
I can't". A member answers (`answer`), and may change their answer until the activity
starts; the same answer twice is recorded once. A "yes" beyond the capacity puts the member
on the waiting list and tells them their place in line; when someone with a place says no,
or the capacity grows, the first in line gets the place and is told (`_promote`). The day
before, the scheduler reminds those who said yes (`enqueue_due_reminders`, once per
activity, and once more for a new day if the time changes).

Staff who may see an activity may change its time, place or capacity (`change_activity`:
those coming, waiting or not yet answered are told old → new) or cancel it
(`cancel_activity`: everyone invited who had not said no is told, with the reason; no
reminder follows, and answers and check-ins are refused). Both are audited.

At the venue a member checks in with the code shown there, or by sharing a location within
the radius of the place, while check-in is open (from `OPENS_BEFORE` before the start to
the end) (`check_in`); or staff mark attendance (`mark_attendance`). Members see their own
answers and attendance (`member_activities`); staff see the activities they may see, with
the roster and the waiting list (`list_activities`, `view_activity`).

A shared location is an argument here and nothing more: only that attendance was recorded
by location is kept, never the coordinates.
"""

from __future__ import annotations

import enum
import re
import secrets
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import audit, payloads
from storage.calendar import WhenError, parse_when
from storage.coordinates import check_point
from storage.models import (
    Activity,
    ActivityAnswer,
    ActivityInvitation,
    ActivityKind,
    AttendanceSource,
    ChannelName,
    Delivery,
    DeliveryStatus,
    Member,
    MessageKind,
    UTCDateTime,
    member_groups,
)
from storage.notices import addressable_groups, groups_by_name
from storage.outbox import enqueue_to_members
from storage.phones import InvalidPhone, mask_phone, normalize_phone
from storage.places import haversine_m, place_by_id
from storage.scope import group_scope_condition, may_see, scope_condition

MAX_TITLE_LENGTH = 200
MAX_ADDRESS_LENGTH = 300
MAX_REASON_LENGTH = 300
MAX_CAPACITY = 100_000
# Without an end typed, an activity lasts this long.
DEFAULT_DURATION = timedelta(hours=2)
# Check-in opens this long before the start (people come early) and closes at the end.
OPENS_BEFORE = timedelta(minutes=30)
# How near a shared location must be to the place: a phone's position in a city is good to
# a few dozen metres, a building's grounds are some more.
DEFAULT_RADIUS_M = 300
MIN_RADIUS_M = 50
MAX_RADIUS_M = 5_000
# The reminder goes this long before the start, to those who said yes.
REMIND_BEFORE = timedelta(days=1)
CODE_DIGITS = 6

_END = re.compile(
    r"^(?P<start>.*\d)\s*(?:-|~|–|—|至|到)\s*(?P<end>\d{1,2}(?::\d{2}|点(?:半|\d{1,2}分?)?))$"
)


class ActivityError(ValueError):
    """An activity that cannot be made, seen or changed; the message says why (English).

    reason is a short stable word for the front ends' own words: empty_title, title_too_long,
    unreadable, past, too_far, end_before_start, no_groups, unknown_group, no_place,
    address_too_long, bad_radius, bad_capacity, not_found, no_member, not_open, cancelled,
    started, over, no_reason, reason_too_long, below_coming.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- what is typed ------------------------------------------------------------------------


def check_title(text: str) -> str:
    """The title as kept: one line, trimmed; ActivityError when empty or too long."""
    title = " ".join(text.split())
    if not title:
        raise ActivityError("the title is empty", "empty_title")
    if len(title) > MAX_TITLE_LENGTH:
        raise ActivityError(
            f"the title has {len(title)} characters; at most {MAX_TITLE_LENGTH}", "title_too_long"
        )
    return title


def check_address(text: str) -> str:
    address = " ".join(text.split())
    if not address:
        raise ActivityError("give a place or an address", "no_place")
    if len(address) > MAX_ADDRESS_LENGTH:
        raise ActivityError(
            f"the address has {len(address)} characters; at most {MAX_ADDRESS_LENGTH}",
            "address_too_long",
        )
    return address


def check_capacity(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= MAX_CAPACITY:
        raise ActivityError(f"the capacity must be 1 to {MAX_CAPACITY}", "bad_capacity")
    return value


def parse_capacity(text: str) -> int | None:
    """ "30" (or "３０", "30人") as a capacity; "", "0", "不限" or "none" for no limit."""
    typed = unicodedata.normalize("NFKC", text).strip().removesuffix("人").strip()
    if typed.casefold() in ("", "0", "不限", "none", "no limit", "-"):
        return None
    if not (typed.isascii() and typed.isdigit()) or len(typed) > 6:
        raise ActivityError(f"{text!r} is not a number of people", "bad_capacity")
    return check_capacity(int(typed))


def parse_times(text: str, now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """When an activity starts and ends, as staff type it in the district's zone.

    The start is any form storage.calendar.parse_when reads ("2026-12-05 14:00", "12-05
    14:00", "明天 9:00"), in the future and within a year; an end time of the same day may
    follow ("12-05 14:00-16:30", "…至16点"), else it lasts DEFAULT_DURATION.
    """
    typed = " ".join(unicodedata.normalize("NFKC", text).split())
    match = _END.fullmatch(typed)
    try:
        start = parse_when(match.group("start") if match else typed, now, zone)
        if match is None:
            return start, start + DEFAULT_DURATION
        clock = parse_when(match.group("end"), now, zone, ahead=None).timetz()
    except WhenError as error:
        raise ActivityError(f"{text!r}: {error.reason}", error.reason) from None
    local = start.astimezone(zone)
    end = datetime.combine(local.date(), clock.replace(tzinfo=None), tzinfo=zone)
    if end <= start:
        raise ActivityError("the end comes before the start", "end_before_start")
    return start, end


def has_end(text: str) -> bool:
    """Whether the time typed gives an end ("12-05 14:00-16:30") or only a start."""
    return _END.fullmatch(" ".join(unicodedata.normalize("NFKC", text).split())) is not None


def new_code() -> str:
    """The check-in code shown at the venue: six digits, drawn by the system's randomness."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def normalize_code(text: str) -> str:
    """A code as typed ("１２３ ４５６") as stored ("123456")."""
    return "".join(unicodedata.normalize("NFKC", text).split())


# --- views ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityView:
    """An activity as staff see it in lists and cards, with its answers counted."""

    id: int
    kind: ActivityKind
    title: str
    starts_at: datetime
    ends_at: datetime
    place_id: int | None
    place_name: str | None
    address: str
    located: bool  # a shared location can check members in (a place with a position)
    radius_m: int
    capacity: int | None
    code: str
    organiser: str
    author_staff_id: int | None
    groups: tuple[str, ...]
    reminded_at: datetime | None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    invited: int = 0
    yes: int = 0
    no: int = 0
    attended: int = 0
    waiting: int = 0  # on the waiting list (their answer is None meanwhile)

    @property
    def unanswered(self) -> int:
        return self.invited - self.yes - self.no - self.waiting

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def opens_at(self) -> datetime:
        return self.starts_at - OPENS_BEFORE

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.yes >= self.capacity

    def open_at(self, now: datetime) -> bool:
        """Whether members can check in now."""
        return self.cancelled_at is None and self.opens_at <= now < self.ends_at


def _view(activity: Activity, counts: Counter[str] | None = None) -> ActivityView:
    counts = counts or Counter()
    return ActivityView(
        id=activity.id,
        kind=activity.kind,
        title=activity.title,
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        place_id=activity.place_id,
        place_name=activity.place_name,
        address=activity.address,
        located=activity.latitude is not None and activity.longitude is not None,
        radius_m=activity.radius_m,
        capacity=activity.capacity,
        code=activity.code,
        organiser=activity.organiser,
        author_staff_id=activity.scope_staff_id,
        groups=tuple(sorted(group.name for group in activity.groups)),
        reminded_at=activity.reminded_at,
        cancelled_at=activity.cancelled_at,
        cancel_reason=activity.cancel_reason,
        invited=counts["invited"],
        yes=counts["yes"],
        no=counts["no"],
        attended=counts["attended"],
        waiting=counts["waiting"],
    )


async def _counts(session: AsyncSession, ids: Sequence[int]) -> dict[int, Counter[str]]:
    """Per activity: invited, answered yes and no, attended, waiting (one GROUP BY)."""
    counts: dict[int, Counter[str]] = {activity_id: Counter() for activity_id in ids}
    if not ids:
        return counts
    invitation = ActivityInvitation
    rows = await session.execute(
        select(
            invitation.activity_id,
            func.count(invitation.invited_at),
            func.count(invitation.id).filter(invitation.answer == ActivityAnswer.YES),
            func.count(invitation.id).filter(invitation.answer == ActivityAnswer.NO),
            func.count(invitation.attended_at),
            func.count(invitation.waiting_since),
        )
        .where(invitation.activity_id.in_(list(ids)))
        .group_by(invitation.activity_id)
    )
    for activity_id, invited, yes, no, attended, waiting in rows:
        counts[activity_id].update(
            invited=invited, yes=yes, no=no, attended=attended, waiting=waiting
        )
    return counts


def visible_to(staff_id: int) -> ColumnElement[bool]:
    """A where-clause on Activity: the staff member's own activities and those whose groups
    are all theirs (as for notices: an activity reaching beyond their groups stays hidden)."""
    return or_(
        Activity.scope_staff_id == staff_id,
        and_(Activity.groups.any(), ~Activity.groups.any(~group_scope_condition(staff_id))),
    )


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def invitation_payload(
    view: ActivityView,
    zone: tzinfo,
    *,
    reminder: bool = False,
    kind: type[payloads.ActivityInvite] | None = None,
    **more: Any,
) -> payloads.ActivityInvite:
    """What an invitation (or the reminder, or another message of the activity: kind, with
    its own fields in more) to view says, with its times in zone."""
    if kind is None:
        kind = payloads.ActivityReminder if reminder else payloads.ActivityInvite
    return kind(
        activity_id=view.id,
        kind=view.kind.value,
        title=view.title,
        starts=_local(view.starts_at, zone),
        ends=view.ends_at.astimezone(zone).strftime("%H:%M"),
        place=view.place_name,
        address=view.address,
        capacity=view.capacity,
        organiser=view.organiser,
        **more,
    )


# --- staff: creating and listing ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Created:
    """A new activity, and how many invitations went out per channel ("none": unreachable)."""

    activity: ActivityView
    per_channel: dict[str, int] = field(default_factory=dict)

    @property
    def invited(self) -> int:
        return sum(self.per_channel.values())


async def create_activity(
    session: AsyncSession,
    now: datetime,
    *,
    kind: ActivityKind,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    groups: Sequence[str],
    actor: str,
    organiser: str,
    zone: tzinfo,
    staff_id: int | None = None,
    place_id: int | None = None,
    address: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    radius_m: int = DEFAULT_RADIUS_M,
    capacity: int | None = None,
) -> Created:
    """Record an activity for the named groups and invite their members (the outbox sends
    the invitations, in each member's language, on their channel); audited.

    The place is a place of /places (place_id: its name, address and position are copied)
    or a typed address, optionally with a position (the command line's --lat/--lon); with
    no position members check in with the code only. staff_id limits the groups to theirs;
    None is the command line.
    """
    text = check_title(title)
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ActivityError("times need a time zone", "unreadable")
    if starts_at <= now:
        raise ActivityError("the activity would start in the past", "past")
    if ends_at <= starts_at:
        raise ActivityError("the end comes before the start", "end_before_start")
    if not MIN_RADIUS_M <= radius_m <= MAX_RADIUS_M:
        raise ActivityError(
            f"the radius must be {MIN_RADIUS_M} to {MAX_RADIUS_M} metres", "bad_radius"
        )
    check_capacity(capacity)
    if not groups:
        raise ActivityError("choose at least one group to invite", "no_groups")
    chosen, unknown = await groups_by_name(session, staff_id, groups)
    if unknown is not None:
        raise ActivityError(
            f"no group named {unknown!r} among the groups you look after", "unknown_group"
        )
    place_name: str | None = None
    if place_id is not None:
        place = await place_by_id(session, place_id)
        if place is None:
            raise ActivityError(f"no place {place_id}", "no_place")
        place_name, where = place.name, place.address
        latitude, longitude = place.latitude, place.longitude
    else:
        where = check_address(address or "")
        if (latitude is None) != (longitude is None):
            raise ActivityError("give both a latitude and a longitude, or neither", "no_place")
        if latitude is not None and longitude is not None:
            check_point(latitude, longitude)
    activity = Activity(
        kind=kind,
        title=text,
        starts_at=starts_at,
        ends_at=ends_at,
        place_id=place_id,
        place_name=place_name,
        address=where,
        latitude=latitude,
        longitude=longitude,
        radius_m=radius_m,
        capacity=capacity,
        code=new_code(),
        created_by=actor,
        organiser=organiser,
        scope_staff_id=staff_id,
        created_at=now,
        remind_at=starts_at - REMIND_BEFORE,
        groups=chosen,
    )
    session.add(activity)
    await session.flush()
    # Every member of the groups, once however many of them they are in: one INSERT … SELECT.
    invited = select(literal(activity.id), Member.id, literal(now, UTCDateTime())).where(
        Member.id.in_(
            select(member_groups.c.member_id)
            .where(member_groups.c.group_id.in_([g.id for g in chosen]))
            .correlate(None)
        )
    )
    await session.execute(
        insert(ActivityInvitation).from_select(
            [
                ActivityInvitation.activity_id,
                ActivityInvitation.member_id,
                ActivityInvitation.invited_at,
            ],
            invited,
        )
    )
    view = _view(activity)
    topic = _topic(activity.id, "invite")
    await enqueue_to_members(
        session,
        now,
        payload=invitation_payload(view, zone),
        topic=topic,
        condition=_invited(activity.id),
    )
    rows = await session.execute(
        select(func.coalesce(cast(Delivery.channel, String), "none"), func.count())
        .where(Delivery.topic == topic)
        .group_by(Delivery.channel)
    )
    per_channel = {str(channel): int(count) for channel, count in rows}
    await audit.record(
        session,
        now,
        actor=actor,
        action="activity.create",
        subject=f"activity:{activity.id}",
        kind=kind.value,
        groups=[g.name for g in chosen],
        starts_at=starts_at.isoformat(),
        capacity=capacity,
        place=place_id,
    )
    counts = await _counts(session, [activity.id])
    return Created(_view(activity, counts[activity.id]), per_channel)


def _topic(activity_id: int, what: str) -> str:
    return f"act{activity_id}:{what}"


def _invited(activity_id: int, answer: ActivityAnswer | None = None) -> ColumnElement[bool]:
    """A where-clause on Member: invited to the activity (and answered so, if given)."""
    invitations = select(ActivityInvitation.member_id).where(
        ActivityInvitation.activity_id == activity_id,
        ActivityInvitation.invited_at.is_not(None),
    )
    if answer is not None:
        invitations = invitations.where(ActivityInvitation.answer == answer)
    return Member.id.in_(invitations.correlate(None))


async def _load(
    session: AsyncSession, activity_id: int, *, staff_id: int | None, lock: bool = False
) -> Activity | None:
    query = (
        select(Activity).where(Activity.id == activity_id).options(selectinload(Activity.groups))
    )
    if staff_id is not None:
        query = query.where(visible_to(staff_id))
    if lock:
        query = query.with_for_update(of=Activity)
    return await session.scalar(query)


async def get_activity(
    session: AsyncSession, activity_id: int, *, staff_id: int | None = None
) -> ActivityView | None:
    """One activity with its answers counted; a staff member sees only those they may."""
    activity = await _load(session, activity_id, staff_id=staff_id)
    if activity is None:
        return None
    return _view(activity, (await _counts(session, [activity.id]))[activity.id])


async def list_activities(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int | None,
    actor: str,
    past: int = 10,
    limit: int = 30,
) -> list[ActivityView]:
    """Those coming (or under way), soonest first, then the last `past` that ended, newest
    first; a staff member's own and those to their groups. The look is audited."""
    query = select(Activity).options(selectinload(Activity.groups))
    if staff_id is not None:
        query = query.where(visible_to(staff_id))
    coming = list(
        await session.scalars(
            query.where(Activity.ends_at > now)
            .order_by(Activity.starts_at, Activity.id)
            .limit(limit)
        )
    )
    ended = list(
        await session.scalars(
            query.where(Activity.ends_at <= now)
            .order_by(Activity.starts_at.desc(), Activity.id.desc())
            .limit(past)
        )
    )
    activities = coming + ended
    counts = await _counts(session, [a.id for a in activities])
    await audit.record(
        session, now, actor=actor, action="activity.list", shown=[a.id for a in activities]
    )
    return [_view(activity, counts[activity.id]) for activity in activities]


@dataclass(frozen=True, slots=True)
class RosterLine:
    """One member on an activity's roster: the answer and the attendance."""

    member_id: int
    name: str
    phone_masked: str | None
    invited: bool
    answer: ActivityAnswer | None
    attended_at: datetime | None
    source: AttendanceSource | None
    # Their place on the waiting list (1: next in line); None: not on it.
    waiting: int | None = None


@dataclass(frozen=True, slots=True)
class ActivityCard:
    activity: ActivityView
    roster: tuple[RosterLine, ...]


def _roster_order(line: RosterLine) -> tuple[int, int, str, int]:
    if line.waiting is not None:
        return 1, line.waiting, "", line.member_id
    rank = {ActivityAnswer.YES: 0, None: 2, ActivityAnswer.NO: 3}[line.answer]
    return rank, 0, line.name, line.member_id


async def roster(
    session: AsyncSession, activity_id: int, *, staff_id: int | None = None
) -> list[RosterLine]:
    """Everyone invited (and anyone marked who was not): those coming first, then the
    waiting list in its order, then those who did not answer, then those who cannot come;
    by name. A staff member sees the members
    they may see (all the invitees of an activity they see; not someone another unit's
    staff marked as come without an invitation)."""
    query = (
        select(ActivityInvitation, Member.name, Member.phone)
        .join(Member, Member.id == ActivityInvitation.member_id)
        .where(ActivityInvitation.activity_id == activity_id)
    )
    if staff_id is not None:
        query = query.where(scope_condition(staff_id))
    rows = list(await session.execute(query))
    # The place in line among all who wait (those another's scope hides count too).
    line_up = await session.execute(
        select(ActivityInvitation.id)
        .where(
            ActivityInvitation.activity_id == activity_id,
            ActivityInvitation.waiting_since.is_not(None),
        )
        .order_by(ActivityInvitation.waiting_since, ActivityInvitation.id)
    )
    places = {invitation_id: place for place, (invitation_id,) in enumerate(line_up, 1)}
    lines = [
        RosterLine(
            member_id=invitation.member_id,
            name=name,
            phone_masked=mask_phone(phone) if phone else None,
            invited=invitation.invited_at is not None,
            answer=invitation.answer,
            attended_at=invitation.attended_at,
            source=invitation.attendance_source,
            waiting=places.get(invitation.id),
        )
        for invitation, name, phone in rows
        if invitation.member_id is not None
    ]
    return sorted(lines, key=_roster_order)


async def view_activity(
    session: AsyncSession, now: datetime, activity_id: int, *, staff_id: int | None, actor: str
) -> ActivityCard | None:
    """An activity with its roster (phones masked), the look audited; None for one the staff
    member may not see (the same as one that does not exist: the refusal is audited)."""
    view = await get_activity(session, activity_id, staff_id=staff_id)
    if view is None:
        await audit.record_refused(
            session,
            now,
            actor=actor,
            action="activity.view.refused",
            kind="activity",
            model=Activity,
            record_id=activity_id,
        )
        return None
    lines = await roster(session, activity_id, staff_id=staff_id)
    await audit.record(
        session,
        now,
        actor=actor,
        action="activity.view",
        subject=f"activity:{activity_id}",
        members=[line.member_id for line in lines],
    )
    return ActivityCard(view, tuple(lines))


# --- staff: cancelling and changing ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A cancelled activity, how many were told, and whether it was cancelled before (a
    second press: nothing done, nobody told again)."""

    activity: ActivityView
    told: int
    already: bool = False


def check_reason(text: str) -> str:
    """The reason for a cancellation as kept: one line, trimmed; ActivityError when empty
    or too long."""
    reason = " ".join(text.split())
    if not reason:
        raise ActivityError("give the reason members will read", "no_reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise ActivityError(
            f"the reason has {len(reason)} characters; at most {MAX_REASON_LENGTH}",
            "reason_too_long",
        )
    return reason


def _not_declined(activity_id: int) -> ColumnElement[bool]:
    """A where-clause on Member: invited to the activity and not said no (coming, waiting
    or not answered)."""
    return Member.id.in_(
        select(ActivityInvitation.member_id)
        .where(
            ActivityInvitation.activity_id == activity_id,
            ActivityInvitation.invited_at.is_not(None),
            or_(
                ActivityInvitation.answer.is_(None),
                ActivityInvitation.answer == ActivityAnswer.YES,
            ),
        )
        .correlate(None)
    )


async def _managed(
    session: AsyncSession, activity_id: int, staff_id: int | None, now: datetime, what: str
) -> Activity:
    """The activity staff_id may manage, locked, not cancelled and not started; else
    ActivityError (another's reads as not found)."""
    activity = await _load(session, activity_id, staff_id=staff_id, lock=True)
    if activity is None:
        raise ActivityError(f"no activity {activity_id}", "not_found")
    if activity.cancelled_at is not None:
        raise ActivityError(f"activity {activity_id} is cancelled", "cancelled")
    if what == "change" and now >= activity.starts_at:
        raise ActivityError(f"activity {activity_id} has started: it cannot change", "started")
    if now >= activity.ends_at:
        raise ActivityError(f"activity {activity_id} is over", "over")
    return activity


async def cancel_activity(
    session: AsyncSession,
    now: datetime,
    activity_id: int,
    *,
    reason: str,
    actor: str,
    zone: tzinfo,
    staff_id: int | None,
) -> Cancelled:
    """Cancel an activity staff_id may see (None: the command line) that is not over: the
    outbox tells everyone invited who had not said no, with the reason, in their language
    on their channel; messages of it not yet sent (an invitation, a reminder) are not sent;
    no reminder follows. Cancelling it again does nothing. Audited."""
    text = check_reason(reason)
    activity = await _load(session, activity_id, staff_id=staff_id, lock=True)
    if activity is None:
        raise ActivityError(f"no activity {activity_id}", "not_found")
    if activity.cancelled_at is not None:
        counts = await _counts(session, [activity.id])
        return Cancelled(_view(activity, counts[activity.id]), 0, already=True)
    if now >= activity.ends_at:
        raise ActivityError(f"activity {activity_id} is over", "over")
    activity.cancelled_at = now
    activity.cancelled_by = actor
    activity.cancel_reason = text
    await session.flush()
    # What is still waiting in the outbox about it would contradict the cancellation.
    await session.execute(
        update(Delivery)
        .where(
            Delivery.topic.like(f"act{activity.id}:%"),
            Delivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.SUPPRESSED, last_error="activity cancelled")
        .execution_options(synchronize_session=False)
    )
    counts = await _counts(session, [activity.id])
    view = _view(activity, counts[activity.id])
    told = await enqueue_to_members(
        session,
        now,
        payload=invitation_payload(view, zone, kind=payloads.ActivityCancel, reason=text),
        topic=_topic(activity.id, "cancel"),
        condition=_not_declined(activity.id),
    )
    await audit.record(
        session,
        now,
        actor=actor,
        action="activity.cancel",
        subject=f"activity:{activity.id}",
        reason=text,
        told=told,
    )
    return Cancelled(view, told)


class _Keep(enum.Enum):
    KEEP = "keep"


# change_activity(capacity=KEEP): the capacity stays as it is (None means no limit).
KEEP = _Keep.KEEP


@dataclass(frozen=True, slots=True)
class Changed:
    """A changed activity: what changed ("time", "place", "capacity"; empty: nothing did),
    how many were told, and who got a place from the waiting list."""

    activity: ActivityView
    changed: tuple[str, ...]
    told: int = 0
    promoted: tuple[int, ...] = ()


async def record_refused_change(
    session: AsyncSession, now: datetime, activity_id: int, *, actor: str, what: str
) -> None:
    """A change or cancellation asked of an activity the staff member may not see (or that
    is not there): they were told "not found"; the trail tells the two apart. Called in a
    session of its own, after the refused one was rolled back."""
    await audit.record_refused(
        session,
        now,
        actor=actor,
        action=f"activity.{'cancel' if what == 'cancel' else 'change'}.refused",
        kind="activity",
        model=Activity,
        record_id=activity_id,
    )


def _same_day(one: datetime, other: datetime, zone: tzinfo) -> bool:
    return one.astimezone(zone).date() == other.astimezone(zone).date()


async def change_activity(
    session: AsyncSession,
    now: datetime,
    activity_id: int,
    *,
    actor: str,
    zone: tzinfo,
    staff_id: int | None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    place_id: int | None = None,
    address: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    capacity: int | _Keep | None = KEEP,
) -> Changed:
    """Change the time (starts_at, with ends_at or the same length), the place (place_id,
    or a typed address with an optional position) or the capacity of an activity staff_id
    may see that has not started.

    Those coming, waiting or not yet answered are told old → new through the outbox. The
    reminder follows the new time; one already sent goes again only if the new time is on
    another day (and is not due at once: the change message says the time). A capacity
    that grows gives places to the waiting list; one below those already coming is
    refused. Values that are as they were change nothing; audited.
    """
    activity = await _managed(session, activity_id, staff_id, now, "change")
    before = _view(activity)
    changed: list[str] = []
    if starts_at is not None:
        if starts_at.tzinfo is None or (ends_at is not None and ends_at.tzinfo is None):
            raise ActivityError("times need a time zone", "unreadable")
        length = before.ends_at - before.starts_at
        new_end = ends_at if ends_at is not None else starts_at + length
        if starts_at <= now:
            raise ActivityError("the activity would start in the past", "past")
        if new_end <= starts_at:
            raise ActivityError("the end comes before the start", "end_before_start")
        if (starts_at, new_end) != (activity.starts_at, activity.ends_at):
            changed.append("time")
            activity.starts_at, activity.ends_at = starts_at, new_end
    if place_id is not None or address is not None:
        where: tuple[int | None, str | None, str, float | None, float | None]
        if place_id is not None:
            place = await place_by_id(session, place_id)
            if place is None:
                raise ActivityError(f"no place {place_id}", "no_place")
            where = (place_id, place.name, place.address, place.latitude, place.longitude)
        else:
            typed = check_address(address or "")
            if (latitude is None) != (longitude is None):
                raise ActivityError("give both a latitude and a longitude, or neither", "no_place")
            if latitude is not None and longitude is not None:
                check_point(latitude, longitude)
            where = (None, None, typed, latitude, longitude)
        place_was = (
            activity.place_id,
            activity.place_name,
            activity.address,
            activity.latitude,
            activity.longitude,
        )
        if where != place_was:
            changed.append("place")
            (
                activity.place_id,
                activity.place_name,
                activity.address,
                activity.latitude,
                activity.longitude,
            ) = where
    if capacity is not KEEP:
        check_capacity(capacity)
        if capacity != activity.capacity:
            going = await _going(session, activity.id)
            if capacity is not None and capacity < going:
                raise ActivityError(
                    f"{going} are already coming: the capacity cannot be less", "below_coming"
                )
            changed.append("capacity")
            activity.capacity = capacity
    if not changed:
        counts = await _counts(session, [activity.id])
        return Changed(_view(activity, counts[activity.id]), ())
    activity.revision += 1
    if "time" in changed:
        activity.remind_at = activity.starts_at - REMIND_BEFORE
        if activity.remind_at <= now:
            # Within a day: the change message, with the new time, is the reminder.
            activity.reminded_at = now
        elif activity.reminded_at is not None and not _same_day(
            before.starts_at, activity.starts_at, zone
        ):
            activity.reminded_at = None
    await session.flush()
    promoted = await _promote(session, now, activity, zone) if "capacity" in changed else []
    counts = await _counts(session, [activity.id])
    view = _view(activity, counts[activity.id])
    old = invitation_payload(before, zone)
    told = await enqueue_to_members(
        session,
        now,
        payload=invitation_payload(
            view,
            zone,
            kind=payloads.ActivityChange,
            changed=changed,
            was_starts=old.starts,
            was_ends=old.ends,
            was_place=old.place,
            was_address=old.address,
            was_capacity=old.capacity,
        ),
        topic=_topic(activity.id, f"change{activity.revision}"),
        # Those who got a place just now have their own message, with the new values.
        condition=and_(_not_declined(activity.id), Member.id.not_in(promoted)),
    )
    await audit.record(
        session,
        now,
        actor=actor,
        action="activity.change",
        subject=f"activity:{activity.id}",
        changed=changed,
        starts_at=activity.starts_at.isoformat(),
        was_starts_at=before.starts_at.isoformat(),
        place=activity.place_id,
        address=activity.address,
        capacity=activity.capacity,
        was_capacity=before.capacity,
        told=told,
        promoted=promoted,
    )
    return Changed(view, tuple(changed), told, tuple(promoted))


# --- members: answering --------------------------------------------------------------------


class Answered(enum.StrEnum):
    """What a member's answer to an invitation did."""

    YES = "yes"  # recorded: they will come
    NO = "no"  # recorded: they cannot come
    SAME = "same"  # they had answered so already (or are waiting already): nothing changed
    WAITING = "waiting"  # "yes" when the places are taken: on the waiting list
    CLOSED = "closed"  # the activity has started (or is over): answers are closed
    CANCELLED = "cancelled"  # the activity is cancelled: nothing to answer
    NOT_INVITED = "not_invited"  # not their invitation (a forwarded message, a forged press)


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    result: Answered
    activity: ActivityView | None = None
    # The answer now on record (None: not answered, or waiting).
    answer: ActivityAnswer | None = None
    # Their place on the waiting list (1: next in line); None: not on it.
    waiting: int | None = None


async def answer(
    session: AsyncSession,
    now: datetime,
    *,
    activity_id: int,
    member_id: int,
    choice: ActivityAnswer,
    zone: tzinfo,
) -> AnswerOutcome:
    """The member's answer to their invitation: recorded once, changeable until the start.
    A "yes" over the capacity puts them on the waiting list (WAITING, with their place);
    a "no" from someone with a place gives it to the first in line, who is told (in zone's
    times). Audited."""
    # On PostgreSQL the activity's row is locked: two "yes" for the last place are taken one
    # after the other, and the second counts the first.
    activity = await _load(session, activity_id, staff_id=None, lock=True)
    invitation = None
    if activity is not None:
        invitation = await session.scalar(
            select(ActivityInvitation).where(
                ActivityInvitation.activity_id == activity_id,
                ActivityInvitation.member_id == member_id,
                ActivityInvitation.invited_at.is_not(None),
            )
        )
    if activity is None or invitation is None:
        return AnswerOutcome(Answered.NOT_INVITED)
    before = invitation.answer
    waiting = invitation.waiting_since is not None
    if activity.cancelled_at is not None:
        return await _answered(session, activity, Answered.CANCELLED, invitation)
    if now >= activity.starts_at:
        return await _answered(session, activity, Answered.CLOSED, invitation)
    if (before is choice and not waiting) or (waiting and choice is ActivityAnswer.YES):
        return await _answered(session, activity, Answered.SAME, invitation)
    # Written first, counted after: on SQLite the write takes the database's one writer
    # lock, so the count below sees every other answer already committed, and none can
    # come in between until this transaction ends.
    await _set_answer(session, invitation.id, choice, now)
    result = Answered.YES if choice is ActivityAnswer.YES else Answered.NO
    if choice is ActivityAnswer.YES and activity.capacity is not None:
        going = await _going(session, activity_id)
        if going > activity.capacity:
            # Full: in line instead, from now (the earlier answer gives way to the wish).
            await session.execute(
                update(ActivityInvitation)
                .where(ActivityInvitation.id == invitation.id)
                .values(answer=None, answered_at=now, waiting_since=now)
                .execution_options(synchronize_session=False)
            )
            result = Answered.WAITING
    await session.refresh(invitation)
    await audit.record(
        session,
        now,
        actor=f"member:{member_id}",
        action="activity.wait" if result is Answered.WAITING else "activity.answer",
        subject=f"activity:{activity_id}",
        answer=choice.value,
        before="waiting" if waiting else (before.value if before is not None else None),
    )
    if before is ActivityAnswer.YES and choice is ActivityAnswer.NO:
        await _promote(session, now, activity, zone)
    return await _answered(session, activity, result, invitation)


async def _set_answer(
    session: AsyncSession, invitation_id: int, choice: ActivityAnswer, now: datetime
) -> None:
    await session.execute(
        update(ActivityInvitation)
        .where(ActivityInvitation.id == invitation_id)
        .values(answer=choice, answered_at=now, waiting_since=None)
        .execution_options(synchronize_session=False)
    )


async def _going(session: AsyncSession, activity_id: int) -> int:
    going = await session.scalar(
        select(func.count()).where(
            ActivityInvitation.activity_id == activity_id,
            ActivityInvitation.answer == ActivityAnswer.YES,
        )
    )
    return int(going or 0)


async def _place_in_line(session: AsyncSession, invitation: ActivityInvitation) -> int | None:
    """Where the invitation stands on its activity's waiting list (1: next); None: not on it."""
    since = invitation.waiting_since
    if since is None:
        return None
    ahead = await session.scalar(
        select(func.count()).where(
            ActivityInvitation.activity_id == invitation.activity_id,
            ActivityInvitation.waiting_since.is_not(None),
            or_(
                ActivityInvitation.waiting_since < since,
                and_(
                    ActivityInvitation.waiting_since == since,
                    ActivityInvitation.id < invitation.id,
                ),
            ),
        )
    )
    return int(ahead or 0) + 1


async def _promote(
    session: AsyncSession, now: datetime, activity: Activity, zone: tzinfo
) -> list[int]:
    """Places that are free go to the first in line, in order, each told by the outbox;
    the members who got one. Nothing once the activity has started or is cancelled."""
    if activity.cancelled_at is not None or now >= activity.starts_at:
        return []
    line = (
        select(ActivityInvitation.id, ActivityInvitation.member_id)
        .where(
            ActivityInvitation.activity_id == activity.id,
            ActivityInvitation.waiting_since.is_not(None),
            ActivityInvitation.member_id.is_not(None),
        )
        .order_by(ActivityInvitation.waiting_since, ActivityInvitation.id)
    )
    if activity.capacity is not None:
        free = activity.capacity - await _going(session, activity.id)
        if free <= 0:
            return []
        line = line.limit(free)
    chosen = [(invitation, member) for invitation, member in await session.execute(line)]
    if not chosen:
        return []
    await session.execute(
        update(ActivityInvitation)
        .where(ActivityInvitation.id.in_([invitation_id for invitation_id, _ in chosen]))
        .values(answer=ActivityAnswer.YES, answered_at=now, waiting_since=None)
        .execution_options(synchronize_session=False)
    )
    members = [member_id for _, member_id in chosen if member_id is not None]
    view = _view(activity, (await _counts(session, [activity.id]))[activity.id])
    await enqueue_to_members(
        session,
        now,
        payload=invitation_payload(view, zone, kind=payloads.ActivityPlace),
        # A member may get a place, give it up, wait and get one again: each its message.
        topic=_topic(activity.id, f"place{now:%Y%m%d%H%M%S%f}"),
        condition=Member.id.in_(members),
    )
    for member_id in members:
        await audit.record(
            session,
            now,
            actor="system",
            action="activity.place",
            subject=f"member:{member_id}",
            activity=activity.id,
        )
    return members


async def _answered(
    session: AsyncSession,
    activity: Activity,
    result: Answered,
    invitation: ActivityInvitation,
) -> AnswerOutcome:
    counts = await _counts(session, [activity.id])
    return AnswerOutcome(
        result,
        _view(activity, counts[activity.id]),
        invitation.answer,
        await _place_in_line(session, invitation),
    )


async def latest_sms_invitation(session: AsyncSession, now: datetime, member_id: int) -> int | None:
    """The activity of the member's newest invitation sent to them by SMS that has not
    started yet: what a bare "参加" texted back answers (None: there is none)."""
    return await session.scalar(
        select(Activity.id)
        .join(ActivityInvitation, ActivityInvitation.activity_id == Activity.id)
        .join(
            Delivery,
            and_(
                Delivery.member_id == member_id,
                Delivery.topic == literal("act") + cast(Activity.id, String) + literal(":invite"),
            ),
        )
        .where(
            ActivityInvitation.member_id == member_id,
            ActivityInvitation.invited_at.is_not(None),
            Activity.starts_at > now,
            Delivery.channel == ChannelName.SMS,
        )
        .order_by(Activity.created_at.desc(), Activity.id.desc())
        .limit(1)
    )


# --- members: their own --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberInvitation:
    """One of a member's invitations as they see it: the activity, their answer, and
    whether they attended."""

    activity: ActivityView
    answer: ActivityAnswer | None
    attended_at: datetime | None
    # Their place on the waiting list (1: next in line); None: not on it.
    waiting: int | None = None


@dataclass(frozen=True, slots=True)
class MemberActivities:
    upcoming: tuple[MemberInvitation, ...]
    past: tuple[MemberInvitation, ...]


async def member_activities(
    session: AsyncSession, now: datetime, member_id: int, *, past: int = 10
) -> MemberActivities:
    """/activities for a member: invitations still to come (or under way), soonest first,
    then the last `past` that ended, newest first."""
    query = (
        select(Activity, ActivityInvitation)
        .join(ActivityInvitation, ActivityInvitation.activity_id == Activity.id)
        .where(ActivityInvitation.member_id == member_id)
        .options(selectinload(Activity.groups))
    )
    coming = await session.execute(
        query.where(Activity.ends_at > now).order_by(Activity.starts_at, Activity.id)
    )
    ended = await session.execute(
        query.where(Activity.ends_at <= now)
        .order_by(Activity.starts_at.desc(), Activity.id.desc())
        .limit(past)
    )

    async def mine(rows: Result[Activity, ActivityInvitation]) -> tuple[MemberInvitation, ...]:
        return tuple(
            [
                MemberInvitation(
                    _view(activity),
                    invitation.answer,
                    invitation.attended_at,
                    await _place_in_line(session, invitation),
                )
                for activity, invitation in rows
            ]
        )

    return MemberActivities(await mine(coming), await mine(ended))


# --- attendance -----------------------------------------------------------------------------


class Attended(enum.StrEnum):
    """What a check-in at the venue did."""

    RECORDED = "recorded"
    ALREADY = "already"  # recorded before: nothing changed
    WRONG_CODE = "wrong_code"  # no activity of the member's has this code
    NOT_OPEN = "not_open"  # the member's activity, but not now (see the window)
    TOO_FAR = "too_far"  # the shared location is outside the place's radius
    NO_LOCATION = "no_location"  # the activity has no position: the code only
    NOTHING_OPEN = "nothing_open"  # no activity of the member's is open for check-in now
    CANCELLED = "cancelled"  # the member's activity, but it is cancelled


@dataclass(frozen=True, slots=True)
class AttendOutcome:
    result: Attended
    activity: ActivityView | None = None
    distance_m: float | None = None


async def _my_invitations(
    session: AsyncSession, member_id: int, activity_id: int | None
) -> list[tuple[Activity, ActivityInvitation]]:
    query = (
        select(Activity, ActivityInvitation)
        .join(ActivityInvitation, ActivityInvitation.activity_id == Activity.id)
        .where(
            ActivityInvitation.member_id == member_id,
            ActivityInvitation.invited_at.is_not(None),
        )
        .options(selectinload(Activity.groups))
        .order_by(Activity.starts_at, Activity.id)
    )
    if activity_id is not None:
        query = query.where(Activity.id == activity_id)
    return [(activity, invitation) for activity, invitation in await session.execute(query)]


def _is_open(activity: Activity, now: datetime) -> bool:
    return (
        activity.cancelled_at is None
        and activity.starts_at - OPENS_BEFORE <= now < activity.ends_at
    )


async def open_for(session: AsyncSession, now: datetime, member_id: int) -> list[ActivityView]:
    """The member's activities open for check-in now (what /attend asks about)."""
    return [
        _view(activity)
        for activity, _ in await _my_invitations(session, member_id, None)
        if _is_open(activity, now)
    ]


async def check_in(
    session: AsyncSession,
    now: datetime,
    *,
    member_id: int,
    code: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    activity_id: int | None = None,
) -> AttendOutcome:
    """The member says they are at their activity: with the code shown at the venue, or a
    location within the place's radius, while check-in is open (activity_id: this one only,
    as when they answer its invitation). Nothing is recorded otherwise; the outcome says why.

    A location: CoordinateError if it is no point on Earth; it is kept nowhere.
    """
    mine = await _my_invitations(session, member_id, activity_id)
    if code is not None:
        typed = normalize_code(code)
        matching = [(a, i) for a, i in mine if a.code == typed]
        if not matching:
            return AttendOutcome(Attended.WRONG_CODE)
        if all(a.cancelled_at is not None for a, _ in matching):
            return AttendOutcome(Attended.CANCELLED, _view(matching[0][0]))
        matching = [(a, i) for a, i in matching if a.cancelled_at is None]
        open_now = [(a, i) for a, i in matching if _is_open(a, now)]
        if not open_now:
            # The nearest in time says when check-in opens (or that it closed).
            activity = min(matching, key=lambda pair: abs(pair[0].starts_at - now))[0]
            return AttendOutcome(Attended.NOT_OPEN, _view(activity))
        activity, invitation = open_now[0]
        return await _record(session, now, activity, invitation, AttendanceSource.CODE)
    if latitude is None or longitude is None:
        raise ValueError("give a code or a location")
    check_point(latitude, longitude)
    open_now = [(a, i) for a, i in mine if _is_open(a, now)]
    if not open_now:
        if activity_id is not None and mine and mine[0][0].cancelled_at is not None:
            return AttendOutcome(Attended.CANCELLED, _view(mine[0][0]))
        if activity_id is not None and mine:
            return AttendOutcome(Attended.NOT_OPEN, _view(mine[0][0]))
        return AttendOutcome(Attended.NOTHING_OPEN)
    located = [
        (haversine_m(latitude, longitude, a.latitude, a.longitude), a, i)
        for a, i in open_now
        if a.latitude is not None and a.longitude is not None
    ]
    if not located:
        return AttendOutcome(Attended.NO_LOCATION, _view(open_now[0][0]))
    distance, activity, invitation = min(located, key=lambda found: (found[0], found[1].id))
    if distance > activity.radius_m:
        return AttendOutcome(Attended.TOO_FAR, _view(activity), distance)
    outcome = await _record(session, now, activity, invitation, AttendanceSource.LOCATION)
    return AttendOutcome(outcome.result, outcome.activity, distance)


async def _record(
    session: AsyncSession,
    now: datetime,
    activity: Activity,
    invitation: ActivityInvitation,
    source: AttendanceSource,
) -> AttendOutcome:
    if invitation.attended_at is not None:
        return AttendOutcome(Attended.ALREADY, _view(activity))
    invitation.attended_at = now
    invitation.attendance_source = source
    invitation.attendance_by = f"member:{invitation.member_id}"
    await audit.record(
        session,
        now,
        actor=f"member:{invitation.member_id}",
        action="activity.attend",
        subject=f"activity:{activity.id}",
        source=source.value,
    )
    return AttendOutcome(Attended.RECORDED, _view(activity))


async def activity_of_message(
    session: AsyncSession, *, channel: ChannelName, address: str, message_id: str
) -> int | None:
    """The activity an invitation or reminder the member replies to is about (the message
    as the channel numbered it when it was sent), or None for any other message."""
    payload = await session.scalar(
        select(Delivery.payload)
        .where(
            Delivery.channel == channel,
            Delivery.address == address,
            Delivery.external_id == message_id,
            Delivery.kind.in_(
                [
                    MessageKind.ACTIVITY_INVITE,
                    MessageKind.ACTIVITY_REMIND,
                    MessageKind.ACTIVITY_CHANGE,
                    MessageKind.ACTIVITY_PLACE,
                ]
            ),
        )
        .limit(1)
    )
    found = (payload or {}).get("activity_id")
    return found if isinstance(found, int) else None


# --- staff: attendance ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Marked:
    """What marking did: the member, whether they now count as attended, and whether it
    changed anything."""

    member_id: int
    name: str
    attended: bool
    changed: bool


async def find_member(
    session: AsyncSession, activity_id: int, text: str, *, staff_id: int | None
) -> int:
    """The member text names for marking attendance: an invitee's exact name, or a phone
    number (anyone's the staff member may see: someone who came without an invitation)."""
    wanted = " ".join(text.split())
    named = list(
        await session.scalars(
            select(Member.id)
            .join(ActivityInvitation, ActivityInvitation.member_id == Member.id)
            .where(ActivityInvitation.activity_id == activity_id, Member.name == wanted)
        )
    )
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise ActivityError(
            f"{len(named)} invitees are named {wanted}: give the phone", "no_member"
        )
    try:
        phone = normalize_phone(wanted)
    except InvalidPhone:
        raise ActivityError(f"no invitee named {wanted!r}", "no_member") from None
    found = await session.scalar(select(Member.id).where(Member.phone == phone))
    if found is None or (staff_id is not None and not await may_see(session, staff_id, found)):
        raise ActivityError(f"no member with the phone {mask_phone(phone)}", "no_member")
    return found


async def mark_attendance(
    session: AsyncSession,
    now: datetime,
    activity_id: int,
    *,
    member_id: int,
    attended: bool,
    actor: str,
    staff_id: int | None,
) -> Marked:
    """Staff say a member attended (or did not, after all); from the time check-in opens.

    A member the staff member may see who came without an invitation is added to the
    roster as not invited. Marking what is already so changes nothing (a second press of
    the same button). Audited, with the member as subject (erasure removes who it was).
    """
    activity = await _load(session, activity_id, staff_id=staff_id)
    if activity is None:
        raise ActivityError(f"no activity {activity_id}", "not_found")
    if activity.cancelled_at is not None:
        raise ActivityError(f"activity {activity_id} is cancelled", "cancelled")
    if now < activity.starts_at - OPENS_BEFORE:
        raise ActivityError("attendance is taken once check-in opens", "not_open")
    member = await session.get(Member, member_id)
    if member is None or (staff_id is not None and not await may_see(session, staff_id, member_id)):
        raise ActivityError(f"no member {member_id}", "no_member")
    invitation = await session.scalar(
        select(ActivityInvitation).where(
            ActivityInvitation.activity_id == activity_id,
            ActivityInvitation.member_id == member_id,
        )
    )
    if invitation is None:
        if not attended:
            return Marked(member_id, member.name, False, False)
        invitation = ActivityInvitation(activity_id=activity_id, member_id=member_id)
        session.add(invitation)
    if (invitation.attended_at is not None) == attended:
        return Marked(member_id, member.name, attended, False)
    invitation.attended_at = now if attended else None
    invitation.attendance_source = AttendanceSource.STAFF if attended else None
    invitation.attendance_by = actor if attended else None
    await session.flush()
    await audit.record(
        session,
        now,
        actor=actor,
        action="activity.attendance.mark" if attended else "activity.attendance.unmark",
        subject=f"member:{member_id}",
        activity=activity_id,
    )
    return Marked(member_id, member.name, attended, True)


# --- the scheduler: the day before ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reminded:
    activity_id: int
    title: str
    messages: int


def _remind_due(now: datetime) -> ColumnElement[bool]:
    # Made a day or less ahead: the invitation itself was the reminder.
    return and_(
        Activity.reminded_at.is_(None),
        Activity.cancelled_at.is_(None),
        Activity.created_at < Activity.remind_at,
        Activity.remind_at <= now,
        Activity.starts_at > now,
    )


async def enqueue_due_reminders(
    session: AsyncSession, now: datetime, *, zone: tzinfo
) -> list[Reminded]:
    """The day before each activity, its reminder to those who said yes: once per activity
    (reminded_at, and the deliveries' keys), caught up until the activity starts. A yes
    after it went needs none: the member has just answered."""
    due = list(
        await session.scalars(
            select(Activity)
            .where(_remind_due(now))
            .options(selectinload(Activity.groups))
            .order_by(Activity.remind_at, Activity.id)
            .with_for_update(of=Activity, skip_locked=True)
        )
    )
    done = []
    for activity in due:
        view = _view(activity)
        messages = await enqueue_to_members(
            session,
            now,
            payload=invitation_payload(view, zone, reminder=True),
            # Sent again for a new day after a change: a topic of its own.
            topic=_topic(
                activity.id, f"remind{activity.revision}" if activity.revision else "remind"
            ),
            condition=_invited(activity.id, ActivityAnswer.YES),
        )
        activity.reminded_at = now
        done.append(Reminded(activity.id, activity.title, messages))
    await session.flush()
    return done


async def reminders_ahead(session: AsyncSession, now: datetime) -> list[tuple[int, str, datetime]]:
    """Activities whose reminder is still to come: (id, title, when) for the timers."""
    rows = await session.execute(
        select(Activity.id, Activity.title, Activity.remind_at)
        .where(
            Activity.reminded_at.is_(None),
            Activity.cancelled_at.is_(None),
            Activity.created_at < Activity.remind_at,
            Activity.starts_at > now,
        )
        .order_by(Activity.remind_at, Activity.id)
    )
    return [(activity_id, title, when) for activity_id, title, when in rows]


__all__ = [
    "DEFAULT_DURATION",
    "DEFAULT_RADIUS_M",
    "KEEP",
    "MAX_TITLE_LENGTH",
    "OPENS_BEFORE",
    "REMIND_BEFORE",
    "ActivityCard",
    "ActivityError",
    "ActivityView",
    "AnswerOutcome",
    "Answered",
    "AttendOutcome",
    "Attended",
    "Cancelled",
    "Changed",
    "Created",
    "Marked",
    "MemberActivities",
    "MemberInvitation",
    "Reminded",
    "RosterLine",
    "activity_of_message",
    "addressable_groups",
    "answer",
    "cancel_activity",
    "change_activity",
    "check_address",
    "check_in",
    "check_reason",
    "check_title",
    "create_activity",
    "enqueue_due_reminders",
    "find_member",
    "get_activity",
    "has_end",
    "invitation_payload",
    "latest_sms_invitation",
    "list_activities",
    "mark_attendance",
    "member_activities",
    "open_for",
    "parse_capacity",
    "parse_times",
    "record_refused_change",
    "reminders_ahead",
    "roster",
    "view_activity",
]
