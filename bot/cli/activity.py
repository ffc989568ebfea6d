"""`liaison activity …`: make an activity and invite its groups, list and show activities,
change or cancel one (those invited are told), and take attendance.

Registered in bot/cli/__init__.py; the shared helpers come from bot/cli/common.py. The
command line may invite any group and see every activity; every use is audited.
"""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.common import (
    RECORD_ID,
    cli_actor,
    echo,
    fail,
    local_time,
    run_with_db,
    settings_of,
)
from storage.activities import (
    DEFAULT_RADIUS_M,
    KEEP,
    MAX_RADIUS_M,
    MIN_RADIUS_M,
    ActivityCard,
    ActivityError,
    ActivityView,
    Cancelled,
    Changed,
    Created,
    Marked,
    cancel_activity,
    change_activity,
    create_activity,
    find_member,
    has_end,
    list_activities,
    mark_attendance,
    parse_capacity,
    parse_times,
    view_activity,
)
from storage.clock import SystemClock
from storage.db import Database
from storage.models import ActivityKind
from storage.places import match_places
from storage.settings import Settings

# Activity.organiser's column size.
MAX_FROM_LENGTH = 64
SHOWN_CHANNELS = {"telegram": "telegram", "qq": "qq", "sms": "sms", "none": "unreachable"}


def _line(*fields: object) -> str:
    """One tab-separated row; a field that could hold a tab or newline is flattened."""
    return "\t".join(" ".join(str(f).split()) if f not in (None, "") else "-" for f in fields)


def _where(view: ActivityView) -> str:
    return f"{view.place_name}, {view.address}" if view.place_name else view.address


def _when(view: ActivityView, settings: Settings) -> str:
    ends = view.ends_at.astimezone(settings.zone).strftime("%H:%M")
    return f"{local_time(view.starts_at, settings)} – {ends}"


def _answers(view: ActivityView) -> str:
    capacity = f"/{view.capacity}" if view.capacity is not None else ""
    return (
        f"invited {view.invited}, coming {view.yes}{capacity}, waiting {view.waiting}, "
        f"not coming {view.no}, attended {view.attended}"
    )


def _at(at: str, settings: Settings) -> tuple[datetime, datetime]:
    """--at as typed, or the reason it cannot be used (and exit)."""
    try:
        return parse_times(at, SystemClock().now(), settings.zone)
    except ActivityError as error:
        reasons = {
            "past": "is in the past",
            "too_far": "is more than a year ahead",
            "end_before_start": "ends before it starts",
        }
        unreadable = "cannot be read (e.g. 2026-12-05 14:00-16:30)"
        fail(f"--at {at!r} {reasons.get(error.reason, unreadable)}")


async def _place_id(session: AsyncSession, place: str) -> int:
    found = await match_places(session, place)
    if len(found) != 1:
        names = "; ".join(f"{p.id} {p.name} ({p.district})" for p in found)
        fail(
            f"--place {place!r} names {len(found)} places: {names}"
            if found
            else f"no place {place!r}: see `liaison place list`, or give --address"
        )
    return found[0].id


@click.group()
def activity() -> None:
    """Activities: forums, classes taken to companies, volunteer service, meetings."""


@activity.command("add")
@click.option(
    "--kind",
    type=click.Choice([kind.value for kind in ActivityKind]),
    required=True,
    help="forum, class (taken to a company), service (volunteer), meeting or other.",
)
@click.option("--title", required=True, help="What members read first (at most 200).")
@click.option(
    "--at",
    "at",
    required=True,
    help='When, in LIAISON_TIMEZONE: "2026-12-05 14:00" (two hours) or "2026-12-05 14:00-16:30".',
)
@click.option("--place", "place", default=None, help="A place of `liaison place list`: name or id.")
@click.option("--address", default=None, help="Or an address typed as is.")
@click.option("--lat", "latitude", type=float, default=None, help="The address's latitude.")
@click.option("--lon", "longitude", type=float, default=None, help="The address's longitude.")
@click.option("--group", "groups", multiple=True, required=True, help="A group to invite.")
@click.option("--capacity", type=click.IntRange(1, 100_000), default=None, help="Places.")
@click.option(
    "--radius",
    type=click.IntRange(MIN_RADIUS_M, MAX_RADIUS_M),
    default=DEFAULT_RADIUS_M,
    show_default=True,
    help="Metres within which a shared location checks a member in.",
)
@click.option(
    "--from", "organiser", default=None, help="Signed as (default: LIAISON_ORGANISATION_NAME)."
)
@click.pass_context
def activity_add(
    ctx: click.Context,
    kind: str,
    title: str,
    at: str,
    place: str | None,
    address: str | None,
    latitude: float | None,
    longitude: float | None,
    groups: tuple[str, ...],
    capacity: int | None,
    radius: int,
    organiser: str | None,
) -> None:
    """Make an activity and invite every member of the groups; its id is printed last."""
    settings = settings_of(ctx)
    if (place is None) == (address is None):
        fail("give the place with exactly one of --place or --address")
    if place is not None and (latitude is not None or longitude is not None):
        fail("--lat and --lon go with --address; a place has its own position")
    signed = (organiser or settings.organisation_name).strip()
    if not signed or len(signed) > MAX_FROM_LENGTH:
        fail(f"--from must be 1 to {MAX_FROM_LENGTH} characters")
    starts_at, ends_at = _at(at, settings)

    async def add(database: Database) -> Created:
        try:
            async with database.session() as session:
                place_id = await _place_id(session, place) if place is not None else None
                return await create_activity(
                    session,
                    SystemClock().now(),
                    kind=ActivityKind(kind),
                    title=title,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    groups=groups,
                    actor=cli_actor(),
                    organiser=signed,
                    zone=settings.zone,
                    place_id=place_id,
                    address=address,
                    latitude=latitude,
                    longitude=longitude,
                    radius_m=radius,
                    capacity=capacity,
                )
        except ActivityError as error:
            fail(str(error))

    created = run_with_db(settings, add)
    view = created.activity
    echo(f"activity {view.id}: {view.kind.value} {view.title!r}, {_when(view, settings)}")
    echo(f"at {_where(view)}" + ("" if view.located else " (no position: code only)"))
    echo(f"check-in code {view.code}")
    invited = ", ".join(
        f"{word} {created.per_channel.get(name, 0)}" for name, word in SHOWN_CHANNELS.items()
    )
    echo(f"invited: {invited}")
    echo(str(view.id))


@activity.command("list")
@click.option("--past", default=10, show_default=True, type=click.IntRange(0, 1000))
@click.pass_context
def activity_list(ctx: click.Context, past: int) -> None:
    """Activities coming (soonest first), then the last that ended: id, kind, start, end,
    title, place, invited, coming, not coming, attended, capacity, code, state (scheduled,
    or cancelled), waiting."""
    settings = settings_of(ctx)

    async def listing(database: Database) -> list[ActivityView]:
        async with database.session() as session:
            return await list_activities(
                session, SystemClock().now(), staff_id=None, actor=cli_actor(), past=past
            )

    for view in run_with_db(settings, listing):
        echo(
            _line(
                view.id,
                view.kind.value,
                local_time(view.starts_at, settings),
                view.ends_at.astimezone(settings.zone).strftime("%H:%M"),
                view.title,
                _where(view),
                view.invited,
                view.yes,
                view.no,
                view.attended,
                view.capacity,
                view.code,
                "cancelled" if view.cancelled else "scheduled",
                view.waiting,
            )
        )


def _print_card(card: ActivityCard, settings: Settings) -> None:
    view = card.activity
    echo(f"activity {view.id}: {view.kind.value} {view.title!r}")
    if view.cancelled_at is not None:
        echo(f"cancelled\t{local_time(view.cancelled_at, settings)}: {view.cancel_reason}")
    echo(f"when\t{_when(view, settings)}")
    echo(f"where\t{_where(view)}" + (f" (within {view.radius_m} m)" if view.located else ""))
    echo(f"groups\t{', '.join(view.groups)}")
    echo(f"organiser\t{view.organiser}")
    echo(f"code\t{view.code}")
    echo(f"answers\t{_answers(view)}")
    echo(f"reminder\t{local_time(view.reminded_at, settings, missing='not sent')}")
    for line in card.roster:
        echo(
            _line(
                line.member_id,
                line.name,
                line.phone_masked,
                (
                    f"waiting {line.waiting}"
                    if line.waiting
                    else (line.answer.value if line.answer else "no answer")
                )
                if line.invited
                else "not invited",
                local_time(line.attended_at, settings, missing="")
                + (f" ({line.source.value})" if line.source else ""),
            )
        )


@activity.command("show")
@click.argument("activity_id", type=RECORD_ID)
@click.pass_context
def activity_show(ctx: click.Context, activity_id: int) -> None:
    """One activity and its roster: member, name, phone (masked), answer, attended."""
    settings = settings_of(ctx)

    async def show(database: Database) -> ActivityCard | None:
        async with database.session() as session:
            return await view_activity(
                session, SystemClock().now(), activity_id, staff_id=None, actor=cli_actor()
            )

    card = run_with_db(settings, show)
    if card is None:
        fail(f"no activity {activity_id}")
    _print_card(card, settings)


@activity.command("attendance")
@click.argument("activity_id", type=RECORD_ID)
@click.option("--mark", "marks", multiple=True, help="An invitee's name, or a member's phone.")
@click.option("--unmark", "unmarks", multiple=True, help="Take a mark back (name or phone).")
@click.pass_context
def activity_attendance(
    ctx: click.Context, activity_id: int, marks: tuple[str, ...], unmarks: tuple[str, ...]
) -> None:
    """Mark members as attended (or take it back), then print the roster; all or nothing."""
    settings = settings_of(ctx)

    async def apply(database: Database) -> tuple[list[Marked], ActivityCard | None]:
        done: list[Marked] = []
        try:
            async with database.session() as session:
                now = SystemClock().now()
                for wanted, attended in [(m, True) for m in marks] + [(u, False) for u in unmarks]:
                    member_id = await find_member(session, activity_id, wanted, staff_id=None)
                    done.append(
                        await mark_attendance(
                            session,
                            now,
                            activity_id,
                            member_id=member_id,
                            attended=attended,
                            actor=cli_actor(),
                            staff_id=None,
                        )
                    )
                card = await view_activity(
                    session, now, activity_id, staff_id=None, actor=cli_actor()
                )
        except ActivityError as error:
            fail(f"{error}; nothing was changed")
        return done, card

    done, card = run_with_db(settings, apply)
    if card is None:
        fail(f"no activity {activity_id}")
    for marked in done:
        what = "attended" if marked.attended else "not attended"
        echo(f"{marked.name}: {what}" + ("" if marked.changed else " (already)"))
    _print_card(card, settings)


@activity.command("cancel")
@click.argument("activity_id", type=RECORD_ID)
@click.option("--reason", required=True, help="Why: members read it in the cancellation.")
@click.pass_context
def activity_cancel(ctx: click.Context, activity_id: int, reason: str) -> None:
    """Cancel an activity: everyone invited who has not said no is told, with the reason, on
    their channel; no reminder follows. Cancelling it again does nothing."""
    settings = settings_of(ctx)

    async def cancel(database: Database) -> Cancelled:
        try:
            async with database.session() as session:
                return await cancel_activity(
                    session,
                    SystemClock().now(),
                    activity_id,
                    reason=reason,
                    actor=cli_actor(),
                    zone=settings.zone,
                    staff_id=None,
                )
        except ActivityError as error:
            fail(str(error))

    done = run_with_db(settings, cancel)
    view = done.activity
    if done.already:
        echo(f"activity {view.id} {view.title!r} was already cancelled; nobody was told again")
        return
    echo(f"activity {view.id} {view.title!r} cancelled; {done.told} invited members are told")


@activity.command("edit")
@click.argument("activity_id", type=RECORD_ID)
@click.option(
    "--at",
    "at",
    default=None,
    help='The new time, as for add: "2026-12-05 14:00" (same length) or "…14:00-16:30".',
)
@click.option("--place", "place", default=None, help="A new place: a place's name or id.")
@click.option("--address", default=None, help="Or a new address typed as is.")
@click.option("--lat", "latitude", type=float, default=None, help="The address's latitude.")
@click.option("--lon", "longitude", type=float, default=None, help="The address's longitude.")
@click.option("--capacity", default=None, help='New number of places ("0" or "none": no limit).')
@click.pass_context
def activity_edit(
    ctx: click.Context,
    activity_id: int,
    at: str | None,
    place: str | None,
    address: str | None,
    latitude: float | None,
    longitude: float | None,
    capacity: str | None,
) -> None:
    """Change an activity's time, place or capacity before it starts: those coming, waiting
    or not yet answered are told old → new; a larger capacity gives places to the waiting
    list."""
    settings = settings_of(ctx)
    if at is None and place is None and address is None and capacity is None:
        fail("give what changes: --at, --place or --address, --capacity")
    if place is not None and address is not None:
        fail("give the place with one of --place or --address")
    if place is not None and (latitude is not None or longitude is not None):
        fail("--lat and --lon go with --address; a place has its own position")
    starts_at, ends_at = _at(at, settings) if at is not None else (None, None)
    # A new start alone keeps the activity's length; an end typed is as typed.
    keep_length = at is not None and not has_end(at)
    try:
        new_capacity = parse_capacity(capacity) if capacity is not None else KEEP
    except ActivityError:
        fail(f"--capacity {capacity!r} is not a number of places")

    async def edit(database: Database) -> Changed:
        try:
            async with database.session() as session:
                place_id = await _place_id(session, place) if place is not None else None
                return await change_activity(
                    session,
                    SystemClock().now(),
                    activity_id,
                    actor=cli_actor(),
                    zone=settings.zone,
                    staff_id=None,
                    starts_at=starts_at,
                    ends_at=None if keep_length else ends_at,
                    place_id=place_id,
                    address=address,
                    latitude=latitude,
                    longitude=longitude,
                    capacity=new_capacity,
                )
        except ActivityError as error:
            fail(f"{error}; nothing was changed")

    done = run_with_db(settings, edit)
    view = done.activity
    if not done.changed:
        echo(f"activity {view.id}: nothing changed (the values are as they were)")
        return
    echo(f"activity {view.id} {view.title!r}: changed {', '.join(done.changed)}")
    echo(f"when\t{_when(view, settings)}")
    echo(f"where\t{_where(view)}")
    echo(f"places\t{view.capacity if view.capacity is not None else 'no limit'}")
    echo(f"told\t{done.told}")
    if done.promoted:
        echo(f"from the waiting list\t{len(done.promoted)} now have a place and are told")
