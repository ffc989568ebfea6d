"""The monthly cycle on the records: per-group cycle settings, and the set-based steps the
scheduler takes — prompts, reminders, the day-10 escalation, lost contact.

Every step is idempotent: member messages are written with the dedupe key
"chk:<period>:<step>:m<member>:<channel>" and staff messages with their own, so a step
taken twice for the same instant, or after a restart, adds nothing. Each function takes
the instant it acts for; none reads the clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import NamedTuple

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, payloads
from storage.calendar import CycleError, CycleRule, QuietHours, Step, parse_clock, parse_days
from storage.checkins import CHECKIN_TOPIC, member_zone, period_of
from storage.models import (
    CheckIn,
    CheckInCycle,
    Delivery,
    Group,
    Member,
    Staff,
    StaffRole,
    UTCDateTime,
    member_groups,
    staff_groups,
)
from storage.outbox import StaffMessage, enqueue_to_members, enqueue_to_staff
from storage.overdue import current_period_expr
from storage.scope import group_scope_condition, member_in_scope, scope_condition

# Names listed in one escalation message; the count covers the rest.
ESCALATION_NAMES = 50


# --- cycle settings ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupCycle:
    """A cycle and whose it is: group None is the configured default."""

    group_id: int | None
    group_name: str | None
    rule: CycleRule
    updated_by: str | None = None


def _rule(row: CheckInCycle) -> CycleRule:
    return CycleRule(
        prompt_day=row.prompt_day,
        prompt_time=parse_clock(row.prompt_time),
        reminder_days=parse_days(row.reminder_days),
        escalation_day=row.escalation_day,
        lost_contact_months=row.lost_contact_months,
        enabled=row.enabled,
    )


# The words an admin uses to change a cycle (`/schedule 建筑 day=2 time=08:30`, and the
# command line's options of the same names).
CHANGE_KEYS = ("day", "time", "reminders", "escalation", "lost", "enabled")


def changed_rule(rule: CycleRule, changes: Mapping[str, str]) -> CycleRule:
    """rule with the changes applied; CycleError names the first change that cannot work."""
    unknown = sorted(set(changes) - set(CHANGE_KEYS))
    if unknown:
        raise CycleError(
            f"unknown setting {unknown[0]!r}; use {', '.join(CHANGE_KEYS)}",
            "unknown_key",
            key=unknown[0],
        )

    def whole(key: str) -> int:
        value = changes[key].strip()
        if not (value.isascii() and value.isdigit()) or len(value) > 3:
            raise CycleError(
                f"{key} must be a whole number, not {value!r}", "not_number", key=key, text=value
            )
        return int(value)

    updated = rule
    if "day" in changes:
        updated = replace(updated, prompt_day=whole("day"))
    if "time" in changes:
        updated = replace(updated, prompt_time=parse_clock(changes["time"]))
    if "reminders" in changes:
        updated = replace(updated, reminder_days=parse_days(changes["reminders"]))
    if "escalation" in changes:
        updated = replace(updated, escalation_day=whole("escalation"))
    if "lost" in changes:
        updated = replace(updated, lost_contact_months=whole("lost"))
    if "enabled" in changes:
        flag = changes["enabled"].strip().lower()
        if flag not in {"on", "off", "yes", "no", "true", "false"}:
            raise CycleError(f"enabled must be on or off, not {flag!r}", "bad_flag", text=flag)
        updated = replace(updated, enabled=flag in {"on", "yes", "true"})
    return updated.check()


async def group_cycles(session: AsyncSession, default: CycleRule) -> list[GroupCycle]:
    """The default cycle first, then every group's own, by group name."""
    rows = await session.execute(
        select(CheckInCycle, Group.name)
        .join(Group, Group.id == CheckInCycle.group_id)
        .order_by(Group.name)
    )
    cycles = [GroupCycle(None, None, default)]
    cycles += [GroupCycle(row.group_id, name, _rule(row), row.updated_by) for row, name in rows]
    return cycles


async def cycle_of_group(session: AsyncSession, group_id: int, default: CycleRule) -> GroupCycle:
    group = await session.get(Group, group_id)
    if group is None:
        raise CycleError(f"no group {group_id}")
    row = await session.get(CheckInCycle, group_id)
    rule = _rule(row) if row is not None else default
    return GroupCycle(group_id, group.name, rule, row.updated_by if row else None)


async def set_group_cycle(
    session: AsyncSession,
    now: datetime,
    *,
    group_id: int,
    rule: CycleRule,
    actor: str,
    changes: Mapping[str, str] | None = None,
) -> GroupCycle:
    """Give a group its own cycle (CycleError if it cannot work); audited with changes, the
    settings as the staff member typed them."""
    rule.check()
    group = await session.get(Group, group_id)
    if group is None:
        raise CycleError(f"no group {group_id}")
    row = await session.get(CheckInCycle, group_id)
    if row is None:
        row = CheckInCycle(group_id=group_id)
        session.add(row)
    row.enabled = rule.enabled
    row.prompt_day = rule.prompt_day
    row.prompt_time = rule.prompt_time.strftime("%H:%M")
    row.reminder_days = rule.describe_reminders()
    row.escalation_day = rule.escalation_day
    row.lost_contact_months = rule.lost_contact_months
    row.updated_at = now
    row.updated_by = actor
    await audit.record(
        session,
        now,
        actor=actor,
        action="schedule.set",
        subject=f"group:{group_id}",
        **(changes or {}),
    )
    return GroupCycle(group_id, group.name, rule, actor)


async def reset_group_cycle(
    session: AsyncSession, now: datetime, *, group_id: int, actor: str
) -> bool:
    """The group follows the defaults again (audited); False if it had no cycle of its own
    (nothing changed, nothing audited)."""
    row = await session.get(CheckInCycle, group_id)
    if row is None:
        return False
    await session.delete(row)
    await audit.record(
        session, now, actor=actor, action="schedule.reset", subject=f"group:{group_id}"
    )
    return True


def rule_settings(rule: CycleRule) -> dict[str, str]:
    """rule as the settings changed_rule reads (CHANGE_KEYS): what a form shows to change."""
    return {
        "day": str(rule.prompt_day),
        "time": rule.prompt_time.strftime("%H:%M"),
        "reminders": rule.describe_reminders(),
        "escalation": str(rule.escalation_day),
        "lost": str(rule.lost_contact_months),
        "enabled": "on" if rule.enabled else "off",
    }


async def cycles_in_scope(
    session: AsyncSession, default: CycleRule, *, staff_id: int
) -> list[GroupCycle]:
    """Every group staff_id looks after, by name, with the cycle it follows: its own
    (updated_by set) or the default."""
    rows = await session.execute(
        select(Group.id, Group.name, CheckInCycle)
        .outerjoin(CheckInCycle, CheckInCycle.group_id == Group.id)
        .where(group_scope_condition(staff_id))
        .order_by(Group.name)
    )
    return [
        GroupCycle(group_id, name, _rule(row), row.updated_by)
        if row is not None
        else GroupCycle(group_id, name, default)
        for group_id, name, row in rows
    ]


async def group_cycle_in_scope(
    session: AsyncSession, group_id: int, default: CycleRule, *, staff_id: int
) -> GroupCycle | None:
    """group_id's cycle when staff_id looks after the group; None otherwise (another
    liaison's group reads the same as one that does not exist)."""
    seen = await session.scalar(
        select(Group.id).where(Group.id == group_id, group_scope_condition(staff_id))
    )
    if seen is None:
        return None
    return await cycle_of_group(session, group_id, default)


# "/schedule 建筑行业党小组 默认": back to the default cycle.
RESET_WORDS = frozenset({"default", "默认", "reset"})


@dataclass(frozen=True, slots=True)
class CycleRequest:
    """What a staff member typed after /schedule: a group, settings to change, or reset."""

    group_name: str
    changes: dict[str, str]
    reset: bool


def parse_cycle_request(arguments: str) -> CycleRequest:
    """ "建筑 党小组 day=2 time=8:30" → group "建筑 党小组", {"day": "2", "time": "8:30"}.

    Full-width "＝" is read as "=", keys are case-blind; "默认" (default, reset) after a
    group's name lets the group follow the default cycle again.
    """
    name_parts: list[str] = []
    changes: dict[str, str] = {}
    reset = False
    for token in arguments.split():
        key, equals, value = token.replace("＝", "=").partition("=")
        if equals:
            changes[key.strip().lower()] = value
        elif token.lower() in RESET_WORDS and name_parts:
            reset = True
        else:
            name_parts.append(token)
    return CycleRequest(" ".join(name_parts), changes, reset)


# --- who follows which cycle -------------------------------------------------------------


def cycle_group_expr() -> ScalarSelect[int | None]:
    """Per member, the group whose cycle they follow: their lowest group id with a cycle."""
    return (
        select(func.min(member_groups.c.group_id))
        .join(CheckInCycle, CheckInCycle.group_id == member_groups.c.group_id)
        .where(member_groups.c.member_id == Member.id)
        .scalar_subquery()
    )


def follows(group_ids: Sequence[int | None]) -> ColumnElement[bool]:
    """A where-clause on Member: follows the cycle of one of group_ids (None: the default).

    Written with uncorrelated subqueries, which the database evaluates once per statement
    (a hashed set), not once per member: over 100,000 members that is the difference
    between milliseconds and a second.
    """
    in_own_cycle = (
        select(member_groups.c.member_id)
        .join(CheckInCycle, CheckInCycle.group_id == member_groups.c.group_id)
        .correlate(None)
    )
    parts: list[ColumnElement[bool]] = []
    own = [group_id for group_id in group_ids if group_id is not None]
    if own:
        chosen = (
            select(
                member_groups.c.member_id,
                func.min(member_groups.c.group_id).label("cycle_group"),
            )
            .join(CheckInCycle, CheckInCycle.group_id == member_groups.c.group_id)
            .group_by(member_groups.c.member_id)
            .subquery()
        )
        parts.append(
            Member.id.in_(
                select(chosen.c.member_id).where(chosen.c.cycle_group.in_(own)).correlate(None)
            )
        )
    if None in group_ids:
        parts.append(Member.id.not_in(in_own_cycle))
    return or_(*parts) if parts else false()


@dataclass(frozen=True, slots=True)
class CycleShare:
    """The groups (None: the default) whose cycles are alike: their members are prompted,
    reminded and checked for lost contact together, one statement per step."""

    rule: CycleRule
    group_ids: tuple[int | None, ...]
    label: str


def shared_cycles(cycles: Sequence[GroupCycle]) -> list[CycleShare]:
    """cycles grouped by rule: ten groups with the same own cycle cost what one does."""
    by_rule: dict[CycleRule, list[GroupCycle]] = defaultdict(list)
    for cycle in cycles:
        by_rule[cycle.rule].append(cycle)
    return [
        CycleShare(
            rule,
            tuple(c.group_id for c in alike),
            ", ".join(c.group_name or "default cycle" for c in alike),
        )
        for rule, alike in by_rule.items()
    ]


async def zones_in_use(session: AsyncSession, default: tzinfo) -> dict[str, list[str | None]]:
    """Members' time zone settings grouped by the zone they resolve to (key: its name).

    None (no zone of their own) and unknown names resolve to the default.
    """
    names = await session.scalars(select(Member.timezone).distinct())
    grouped: dict[str, list[str | None]] = defaultdict(list)
    for name in names:
        grouped[str(member_zone(name, default))].append(name)
    return dict(grouped)


def in_zone(names: Sequence[str | None]) -> ColumnElement[bool]:
    """A where-clause on Member: their timezone setting is one of names (None included)."""
    known = [name for name in names if name is not None]
    parts: list[ColumnElement[bool]] = []
    if known:
        parts.append(Member.timezone.in_(known))
    if None in names:
        parts.append(Member.timezone.is_(None))
    return or_(*parts) if parts else false()


def _not_given_up() -> ColumnElement[bool]:
    # An admin confirmed lost contact: the monthly prompts stop until they check in.
    return Member.lost_contact_confirmed_at.is_(None)


def checkin_topic(period: str, step: str) -> str:
    return f"{CHECKIN_TOPIC}:{period}:{step}"


# --- prompts and reminders ---------------------------------------------------------------


@dataclass(slots=True)
class StepReport:
    """What one run of the cycle enqueued, for `schedule run-due` and the logs."""

    lines: list[str] = field(default_factory=list)
    messages: int = 0

    def add(self, count: int, line: str) -> None:
        if count:
            self.messages += count
            self.lines.append(line)


async def enqueue_member_steps(
    session: AsyncSession,
    now: datetime,
    *,
    cycle: CycleShare,
    zone: tzinfo,
    zone_names: Sequence[str | None],
    quiet: QuietHours,
    report: StepReport,
) -> None:
    """The prompt or reminder due now for the members of alike cycles in one time zone.

    A step goes while it is in its window (StepTime.until); a reminder goes only to
    members whose prompt went before the reminder was due, so a prompt sent late after an
    outage is not followed straight away by a reminder.
    """
    rule = cycle.rule
    if not rule.enabled:
        return
    period = period_of(now, zone)
    checked_in = exists().where(CheckIn.member_id == Member.id, CheckIn.period == period)
    base = and_(follows(cycle.group_ids), in_zone(zone_names), _not_given_up(), ~checked_in)
    not_before = quiet.next_open(now, zone)
    who = f"{cycle.label}, {zone}"
    for step in rule.member_steps(period, zone):
        if not step.due <= now < step.until:
            continue
        condition = base
        if step.step is Step.REMINDER:
            prompted_in_time = exists().where(
                Delivery.member_id == Member.id,
                Delivery.topic == checkin_topic(period, "prompt"),
                Delivery.created_at < step.due,
            )
            condition = and_(base, prompted_in_time)
        topic = checkin_topic(period, step.name)
        # Members who already have it are filtered here rather than left to the unique
        # key: re-running a step (every timer until the month ends) then writes nothing.
        already = exists().where(Delivery.member_id == Member.id, Delivery.topic == topic)
        condition = and_(condition, ~already)
        message = payloads.CheckInPrompt if step.step is Step.PROMPT else payloads.CheckInReminder
        count = await enqueue_to_members(
            session,
            now,
            payload=message(period=period, reminder=step.number),
            topic=topic,
            condition=condition,
            not_before=not_before,
        )
        report.add(count, f"{period} {step.name}: {count} member(s) ({who})")


# --- the day-10 escalation ---------------------------------------------------------------


async def _admins_over(session: AsyncSession, group: Group) -> list[Staff]:
    """A group without a liaison escalates to the admins whose scope covers it."""
    admins = await session.scalars(
        select(Staff).where(Staff.role == StaffRole.ADMIN).order_by(Staff.id)
    )
    chosen = []
    for admin in admins:
        sees = await session.scalar(
            select(Group.id).where(Group.id == group.id, group_scope_condition(admin.id))
        )
        if sees is not None:
            chosen.append(admin)
    return chosen


async def enqueue_escalations(
    session: AsyncSession,
    now: datetime,
    *,
    cycles: Sequence[GroupCycle],
    default_zone: tzinfo,
    quiet: QuietHours,
    report: StepReport,
) -> None:
    """On the escalation day, each group's liaisons get one list of its silent members.

    Silent: no check-in for the member's own current month. Members whose loss of contact
    an admin confirmed are left out (the admin already knows). Nothing is sent for a group
    where everyone has checked in.
    """
    own = {c.group_id: c.rule for c in cycles if c.group_id is not None}
    default = next(c.rule for c in cycles if c.group_id is None)
    period = period_of(now, default_zone)
    groups = list(await session.scalars(select(Group).order_by(Group.id)))
    due_groups = []
    for group in groups:
        rule = own.get(group.id, default)
        step = rule.escalation(period, default_zone)
        if rule.enabled and step.due <= now < step.until:
            due_groups.append(group)
    if not due_groups:
        return
    # Everything for every due group in four statements, whatever the number of groups.
    topics = {group.id: f"esc:{period}:g{group.id}" for group in due_groups}
    done = set(
        await session.scalars(
            select(Delivery.topic).where(Delivery.topic.in_(list(topics.values()))).distinct()
        )
    )
    due_groups = [group for group in due_groups if topics[group.id] not in done]
    if not due_groups:
        return
    due_ids = [group.id for group in due_groups]
    liaisons: dict[int, list[Staff]] = defaultdict(list)
    for group_id, staff in await session.execute(
        select(staff_groups.c.group_id, Staff)
        .join(Staff, Staff.id == staff_groups.c.staff_id)
        .where(staff_groups.c.group_id.in_(due_ids))
        .order_by(Staff.id)
    ):
        liaisons[group_id].append(staff)
    member_period = await current_period_expr(session, now, default_zone)
    last_checkin = (
        select(func.max(CheckIn.checked_in_at))
        .where(CheckIn.member_id == Member.id)
        .scalar_subquery()
    )
    silent_rows = await session.execute(
        select(member_groups.c.group_id, Member.id, Member.name, Member.registered_at, last_checkin)
        .join(member_groups, member_groups.c.member_id == Member.id)
        .where(
            member_groups.c.group_id.in_(due_ids),
            _not_given_up(),
            ~exists().where(CheckIn.member_id == Member.id, CheckIn.period == member_period),
        )
        .order_by(func.coalesce(last_checkin, Member.registered_at, type_=UTCDateTime()), Member.id)
    )
    today = now.astimezone(default_zone).date()
    silent: dict[int, list[payloads.SilentMember]] = defaultdict(list)
    for group_id, member_id, name, registered, last in silent_rows:
        silent[group_id].append(
            payloads.SilentMember(
                id=member_id,
                name=name,
                days=max((today - (last or registered).astimezone(default_zone).date()).days, 0),
                never=last is None,
            )
        )
    not_before = quiet.next_open(now, default_zone)
    messages: list[StaffMessage] = []
    for group in due_groups:
        listed = silent.get(group.id)
        if not listed:
            continue  # everyone has checked in
        recipients = liaisons.get(group.id) or await _admins_over(session, group)
        if not recipients:
            report.lines.append(f"{period} escalation: {group.name} has no liaison or admin")
            continue
        payload = payloads.Escalation(
            period=period,
            group=group.name,
            members=tuple(listed[:ESCALATION_NAMES]),
            total=len(listed),
        )
        messages += [
            StaffMessage(staff.id, staff.telegram_user_id, topics[group.id], payload)
            for staff in recipients
        ]
        report.lines.append(
            f"{period} escalation: {group.name}, {len(listed)} silent member(s) "
            f"to {len(recipients)} staff"
        )
    report.messages += await enqueue_to_staff(session, now, messages, not_before=not_before)


# --- lost contact ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LostMember:
    member_id: int
    name: str
    last_checkin_at: datetime | None
    months: int


async def flag_lost_contact(
    session: AsyncSession,
    now: datetime,
    *,
    cycles: Sequence[CycleShare],
    quiet: QuietHours,
    default_zone: tzinfo,
    report: StepReport,
) -> list[LostMember]:
    """Flag members silent for their cycle's months, and tell their liaisons and admins.

    One pass over the registry for every cycle and time zone: the loosest cutoff finds the
    candidates, each one's own cycle and zone decide. The flag is set once (a flagged
    member is not flagged again until they check in and fall silent anew); the admin's
    message carries the button that confirms it, which is what stops the monthly prompts.
    """
    rules: dict[int | None, CycleRule] = {
        group_id: share.rule for share in cycles for group_id in share.group_ids
    }
    enabled = [share.rule for share in cycles if share.rule.enabled]
    if not enabled:
        return []
    # A day of slack covers the hours between time zones; the exact test is below.
    loosest = max(rule.lost_contact_cutoff(now, default_zone) for rule in enabled)
    loosest += timedelta(days=1)
    last_checkin = (
        select(func.max(CheckIn.checked_in_at))
        .where(CheckIn.member_id == Member.id)
        .scalar_subquery()
    )
    silent_since = func.coalesce(last_checkin, Member.registered_at, type_=UTCDateTime())
    candidates = (
        await session.execute(
            select(
                Member.id,
                Member.name,
                last_checkin,
                Member.registered_at,
                Member.timezone,
                cycle_group_expr(),
            ).where(Member.lost_contact_at.is_(None), silent_since < loosest)
        )
    ).all()
    rows = []
    for member_id, name, last, registered, timezone, group_id in candidates:
        rule = rules.get(group_id, rules.get(None))
        if rule is None or not rule.enabled:
            continue
        cutoff = rule.lost_contact_cutoff(now, member_zone(timezone, default_zone))
        if (last or registered) < cutoff:
            rows.append((member_id, name, last, rule))
    if not rows:
        return []
    lost = [
        LostMember(member_id, name, last, rule.lost_contact_months)
        for member_id, name, last, rule in rows
    ]
    ids = [m.member_id for m in lost]
    for start in range(0, len(ids), 500):
        await session.execute(
            update(Member)
            .where(Member.id.in_(ids[start : start + 500]), Member.lost_contact_at.is_(None))
            .values(lost_contact_at=now)
            .execution_options(synchronize_session=False)
        )
    messages = await _lost_contact_messages(session, now, lost, default_zone)
    sent = await enqueue_to_staff(
        session, now, messages, not_before=quiet.next_open(now, default_zone)
    )
    # Flagging is news even when there is nobody to tell: always a line.
    report.lines.append(f"lost contact: {len(lost)} member(s) flagged; {sent} message(s) to staff")
    report.messages += sent
    return lost


class _Recipient(NamedTuple):
    id: int
    telegram_user_id: int
    role: StaffRole


async def _lost_contact_messages(
    session: AsyncSession,
    now: datetime,
    lost: Sequence[LostMember],
    default_zone: tzinfo,
) -> list[StaffMessage]:
    ids = [m.member_id for m in lost]
    # Plain rows, not Staff objects: thousands of members can fall silent at once (the
    # first run over an old registry).
    liaisons: dict[int, dict[int, _Recipient]] = defaultdict(dict)
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(member_groups.c.member_id, Staff.id, Staff.telegram_user_id, Staff.role)
            .join(staff_groups, staff_groups.c.group_id == member_groups.c.group_id)
            .join(Staff, Staff.id == staff_groups.c.staff_id)
            .where(member_groups.c.member_id.in_(ids[start : start + 500]))
        )
        for member_id, staff_id, telegram_user_id, role in rows:
            liaisons[member_id][staff_id] = _Recipient(staff_id, telegram_user_id, role)
    admins: dict[int, list[_Recipient]] = defaultdict(list)
    admin_rows = await session.execute(
        select(Staff.id, Staff.telegram_user_id, Staff.role).where(Staff.role == StaffRole.ADMIN)
    )
    for staff_id, telegram_user_id, role in admin_rows.all():
        admin = _Recipient(staff_id, telegram_user_id, role)
        for start in range(0, len(ids), 500):
            seen = await session.scalars(
                select(Member.id).where(
                    Member.id.in_(ids[start : start + 500]), scope_condition(admin.id)
                )
            )
            for member_id in seen:
                admins[member_id].append(admin)
    messages = []
    stamp = now.astimezone(default_zone).strftime("%Y-%m-%d")
    for member in lost:
        since = member.last_checkin_at
        told = payloads.LostContact(
            member_id=member.member_id,
            name=member.name,
            since=since.astimezone(default_zone).strftime("%Y-%m-%d") if since else None,
            months=member.months,
            admin=False,
        )
        to_admin = told.model_copy(update={"admin": True})
        topic = f"lost:m{member.member_id}:{stamp}"
        admin_ids = {a.id for a in admins[member.member_id]}
        for staff in admins[member.member_id]:
            messages.append(StaffMessage(staff.id, staff.telegram_user_id, topic, to_admin))
        for staff in liaisons[member.member_id].values():
            if staff.id in admin_ids:
                continue
            payload = to_admin if staff.role is StaffRole.ADMIN else told
            messages.append(StaffMessage(staff.id, staff.telegram_user_id, topic, payload))
    return messages


class LostContactError(ValueError):
    """Lost contact cannot be confirmed; the message says why, reason is for templates."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        # not_admin | not_found | not_flagged | already_flagged
        self.reason = reason


async def confirm_lost_contact(
    session: AsyncSession, now: datetime, *, member_id: int, staff_id: int | None, actor: str
) -> Member:
    """An admin confirms a flagged member is out of touch: the monthly prompts stop.

    staff_id None is the command line (no scope). Only admins may confirm, and only for
    members in their scope; a member not flagged (or back in touch) cannot be confirmed.
    Audited, a refusal too (with its reason; a member not found is not named).
    """
    try:
        member = await _lost_member(session, member_id=member_id, staff_id=staff_id)
    except LostContactError as error:
        subject = f"member:{member_id}" if error.reason != "not_found" else None
        await audit.record(
            session,
            now,
            actor=actor,
            action="member.lost_contact_confirm",
            subject=subject,
            refused=error.reason,
        )
        raise
    if member.lost_contact_confirmed_at is None:
        member.lost_contact_confirmed_at = now
        member.lost_contact_confirmed_by = actor
    await audit.record(
        session,
        now,
        actor=actor,
        action="member.lost_contact_confirm",
        subject=f"member:{member.id}",
    )
    return member


async def _lost_member(session: AsyncSession, *, member_id: int, staff_id: int | None) -> Member:
    if staff_id is not None:
        staff = await session.get(Staff, staff_id)
        if staff is None or staff.role is not StaffRole.ADMIN:
            raise LostContactError("only an administrator can confirm lost contact", "not_admin")
        visible = await session.scalar(
            select(Member.id).where(Member.id == member_id, scope_condition(staff_id))
        )
        if visible is None:
            raise LostContactError("no such member", "not_found")
    member = await session.get(Member, member_id)
    if member is None:
        raise LostContactError("no such member", "not_found")
    if member.lost_contact_at is None:
        raise LostContactError(
            f"{member.name} is not flagged as lost contact (checked in since?)", "not_flagged"
        )
    return member


async def _flagging(
    session: AsyncSession, now: datetime, *, member_id: int, staff_id: int, actor: str, action: str
) -> Member:
    """The member a staff member's mark or undo is about, when in their scope."""
    member = await member_in_scope(
        session, now, staff_id=staff_id, member_id=member_id, actor=actor, action=action
    )
    if member is None:
        raise LostContactError("no such member", "not_found")
    return member


async def _refuse(
    session: AsyncSession, now: datetime, member: Member, *, actor: str, action: str, reason: str
) -> LostContactError:
    await audit.record(
        session,
        now,
        actor=actor,
        action=f"{action}.refused",
        subject=f"member:{member.id}",
        reason=reason,
    )
    messages = {
        "already_flagged": f"{member.name} is already flagged lost contact",
        "not_flagged": f"{member.name} is not flagged as lost contact",
        "not_admin": "only an administrator can take back a confirmed flag",
    }
    return LostContactError(messages[reason], reason)


async def mark_lost_contact(
    session: AsyncSession, now: datetime, *, member_id: int, staff_id: int, actor: str
) -> Member:
    """Staff found a member of their scope unreachable (the number dead, nobody knows where
    they went) before the cycle's months of silence did: flagged as the cycle flags them,
    for an administrator to confirm. Audited, refusals too (already flagged, not in scope).
    """
    action = "member.lost_contact_mark"
    member = await _flagging(
        session, now, member_id=member_id, staff_id=staff_id, actor=actor, action=action
    )
    if member.lost_contact_at is not None:
        raise await _refuse(
            session, now, member, actor=actor, action=action, reason="already_flagged"
        )
    member.lost_contact_at = now
    await audit.record(session, now, actor=actor, action=action, subject=f"member:{member.id}")
    return member


async def clear_lost_contact(
    session: AsyncSession, now: datetime, *, member_id: int, staff_id: int, actor: str
) -> Member:
    """Take back a lost-contact flag (marked by mistake, or the member was reached another
    way): the monthly prompts go on. A flag an administrator confirmed only an administrator
    takes back. Audited, refusals too. (A check-in clears the flag by itself, and the cycle
    flags the member again if they stay silent past its months.)
    """
    action = "member.lost_contact_clear"
    member = await _flagging(
        session, now, member_id=member_id, staff_id=staff_id, actor=actor, action=action
    )
    if member.lost_contact_at is None:
        raise await _refuse(session, now, member, actor=actor, action=action, reason="not_flagged")
    if member.lost_contact_confirmed_at is not None:
        staff = await session.get(Staff, staff_id)
        if staff is None or staff.role is not StaffRole.ADMIN:
            raise await _refuse(
                session, now, member, actor=actor, action=action, reason="not_admin"
            )
    flagged_at = member.lost_contact_at
    member.lost_contact_at = None
    member.lost_contact_confirmed_at = None
    member.lost_contact_confirmed_by = None
    await audit.record(
        session,
        now,
        actor=actor,
        action=action,
        subject=f"member:{member.id}",
        flagged_at=flagged_at.isoformat(),
    )
    return member


async def lost_members(session: AsyncSession, *, staff_id: int | None = None) -> list[Member]:
    """Members flagged lost contact (in staff_id's scope), longest flagged first."""
    statement = select(Member).where(Member.lost_contact_at.is_not(None))
    if staff_id is not None:
        statement = statement.where(scope_condition(staff_id))
    return list(await session.scalars(statement.order_by(Member.lost_contact_at, Member.id)))


__all__ = [
    "CHANGE_KEYS",
    "CycleRequest",
    "CycleShare",
    "GroupCycle",
    "LostContactError",
    "LostMember",
    "StepReport",
    "changed_rule",
    "checkin_topic",
    "clear_lost_contact",
    "confirm_lost_contact",
    "cycle_group_expr",
    "cycle_of_group",
    "cycles_in_scope",
    "enqueue_escalations",
    "enqueue_member_steps",
    "flag_lost_contact",
    "follows",
    "group_cycle_in_scope",
    "group_cycles",
    "in_zone",
    "lost_members",
    "mark_lost_contact",
    "parse_cycle_request",
    "reset_group_cycle",
    "rule_settings",
    "set_group_cycle",
    "shared_cycles",
    "zones_in_use",
]
