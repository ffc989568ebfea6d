"""A year of the monthly cycle for a district of 60 members with scripted habits.

The clock jumps from one instant to the next at which something happens: a timer of the
scheduler (the same job specs that build the APScheduler jobs), a member checking in, or a
held message's morning. At each timer the scheduler runs twice (the second run must add
nothing), and halfway through the year the service restarts: new dispatcher, catch-up run.
At the end every member's count of prompts, reminders, escalations and lost-contact flags
must be exactly what their habit implies, and nothing may have reached anyone during
their quiet hours.
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.botapi import LocalBotApi
from bot.context import LiaisonApplication, Services
from messages.callbacks import CYCLE_CONFIRM_LOST
from scheduler.jobs import job_specs, upcoming
from storage.calendar import CycleRule, parse_clock
from storage.checkins import same_as_last_month
from storage.clock import FakeClock
from storage.cycles import set_group_cycle
from storage.db import Database
from storage.models import Delivery, Member, MessageKind, StaffRole
from tests.chat import Person
from tests.cycle_harness import SHANGHAI, District, local
from tests.factories import make_checkin, make_group, make_member, make_staff, make_unit

BERLIN = ZoneInfo("Europe/Berlin")
START = local(SHANGHAI, 2026, 11, 30, 12, 0)
END = local(SHANGHAI, 2027, 11, 30, 23, 59)
RESTART = local(SHANGHAI, 2027, 6, 17, 15, 30)
# The admin confirms the silent members' loss of contact on this day.
CONFIRM_ON = local(SHANGHAI, 2027, 5, 15, 12, 0)
MONTHS = [f"{2026 + (11 + i) // 12}-{(11 + i) % 12 + 1:02d}" for i in range(12)]
# One of each habit per group (HABITS is 12 long): every habit in every group, at night too.
PER_GROUP = 12
GROUPS = 5  # the fifth has its prompt at 22:00, inside quiet hours


class Habit(enum.StrEnum):
    ON_TIME = "on_time"  # checks in the day after the prompt
    LATE = "late"  # after the first reminder
    LATER = "later"  # after the second reminder, before day 10
    SILENT = "silent"  # never again; the admin confirms lost contact in May
    BLOCKED = "blocked"  # blocked the bot, never checks in; reached by SMS, never confirmed
    ABROAD = "abroad"  # on time, in Berlin


# By member index within a group, out of every 12.
HABITS = (
    [Habit.ON_TIME] * 4
    + [Habit.LATE] * 2
    + [Habit.LATER] * 2
    + [Habit.SILENT, Habit.BLOCKED]
    + [Habit.ABROAD] * 2
)
CHECKIN_DAY = {Habit.ON_TIME: 2, Habit.ABROAD: 2, Habit.LATE: 5, Habit.LATER: 9}


@dataclass
class Resident:
    member_id: int
    telegram_user_id: int
    habit: Habit
    zone: ZoneInfo
    night_group: bool


def expected_steps(habit: Habit) -> Counter[str]:
    """Distinct prompt/reminder topics a member with this habit gets in the year."""
    counts: Counter[str] = Counter()
    for month in MONTHS:
        if habit is Habit.SILENT and month > "2027-05":
            continue  # confirmed lost contact on 15 May: no more prompts
        counts["prompt"] += 1
        if habit in (Habit.LATE, Habit.LATER, Habit.SILENT, Habit.BLOCKED):
            counts["r1"] += 1
        if habit in (Habit.LATER, Habit.SILENT, Habit.BLOCKED):
            counts["r2"] += 1
    return counts


@pytest.fixture
def district(
    services: Services, application: LiaisonApplication, bot_api: LocalBotApi, clock: FakeClock
) -> District:
    return District(services, application, bot_api, clock)


async def _build(db: Database, bot_api: LocalBotApi) -> tuple[list[Resident], list[int], int]:
    registered = datetime(2026, 1, 1, tzinfo=UTC)
    unit = await make_unit(db, START)
    residents: list[Resident] = []
    liaisons: list[int] = []
    for g in range(GROUPS):
        group = await make_group(db, START, f"第{g + 1}党小组", unit=unit)
        staff = await make_staff(db, START, telegram_user_id=90_000 + g, groups=[group])
        liaisons.append(staff.id)
        if g == GROUPS - 1:
            async with db.session() as session:
                await set_group_cycle(
                    session,
                    START,
                    group_id=group.id,
                    rule=CycleRule(prompt_time=parse_clock("22:00")),
                    actor="cli:admin",
                )
        for i in range(PER_GROUP):
            habit = HABITS[i % len(HABITS)]
            number = g * PER_GROUP + i
            zone = BERLIN if habit is Habit.ABROAD else SHANGHAI
            member = await make_member(
                db,
                START,
                name=f"党员{number:03d}",
                phone=f"+86138{number:08d}",
                telegram_user_id=100_000 + number,
                groups=[group],
                unit=unit,
                timezone="Europe/Berlin" if habit is Habit.ABROAD else None,
                registered_at=registered,
            )
            # Everyone checked in at the start of November.
            await make_checkin(db, member, local(zone, 2026, 11, 2, 10, 0), city="深圳市")
            residents.append(
                Resident(member.id, 100_000 + number, habit, zone, night_group=g == GROUPS - 1)
            )
            if habit is Habit.BLOCKED:
                bot_api.blocked.add(100_000 + number)
    admin = await make_staff(
        db, START, telegram_user_id=99_999, name="王书记", role=StaffRole.ADMIN, units=[unit]
    )
    return residents, liaisons, admin.id


def _checkins(residents: list[Resident]) -> list[tuple[datetime, int]]:
    """When each member who checks in does so: noon local time on their habitual day."""
    planned = []
    for month in MONTHS:
        year, number = (int(part) for part in month.split("-"))
        for resident in residents:
            day = CHECKIN_DAY.get(resident.habit)
            if day is not None:
                planned.append((local(resident.zone, year, number, day, 12, 0), resident.member_id))
    return sorted(planned)


async def _next_timer(district: District, after: datetime) -> datetime:
    services = district.services
    # A timer's next time counts from the instant itself: look from one second later.
    later = after + timedelta(seconds=1)
    specs = await job_specs(services.db, services.settings, later)
    return upcoming(specs, later)[0][1]


async def _next_held(district: District, after: datetime) -> datetime | None:
    waiting = [d.next_attempt_at for d in await district.pending() if d.next_attempt_at > after]
    return min(waiting) if waiting else None


async def test_a_year_of_the_monthly_cycle_sends_exactly_what_each_habit_implies(
    db: Database,
    services: Services,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    clock: FakeClock,
    district: District,
) -> None:
    residents, liaisons, admin_id = await _build(db, bot_api)
    sends: list[tuple[int, datetime]] = []
    bot_api.subscribe(
        lambda o: sends.append((o.chat_id, clock.now())) if o.method == "sendMessage" else None
    )
    sms_sent = district.sms.sent
    admin = Person(application, bot_api, 99_999, "王书记")
    planned: dict[datetime, list[int]] = defaultdict(list)
    for at, member_id in _checkins(residents):
        planned[at].append(member_id)
    checkin_times = sorted(planned)
    now = START
    restarted = False
    confirmed = False
    while now < END:
        timer = await _next_timer(district, now)
        held = await _next_held(district, now)
        checkin_at = next((at for at in checkin_times if at > now), END)
        candidates = [timer, checkin_at, END]
        if held is not None:
            candidates.append(held)
        if not restarted:
            candidates.append(RESTART)
        if not confirmed:
            candidates.append(CONFIRM_ON)
        now = min(candidates)
        if now == RESTART and not restarted:
            # A new service process: fresh dispatcher and caches, catch-up run at start.
            restarted = True
            district = District(services, application, bot_api, clock)
            district.sms.sent = sms_sent
            caught_up = await district.at(now)
            assert caught_up.messages == 0, caught_up.lines
        if now == CONFIRM_ON and not confirmed:
            confirmed = True
            clock.set(now)
            silent = {r.member_id for r in residents if r.habit is Habit.SILENT}
            # The admin presses "confirm lost contact" under the alerts of the silent.
            for alert in [o for o in bot_api.sent if o.chat_id == 99_999]:
                for button in alert.flat_buttons:
                    pressed = CYCLE_CONFIRM_LOST.unpack(button.callback_data or "")
                    if pressed is not None and pressed[0] in silent:
                        await admin.send_update(admin.updates.press(admin.user, alert, button))
        if now in planned:
            # Everyone due now presses "same as last month" (what the button records).
            async with db.session() as session:
                for member_id in planned.pop(now):
                    await same_as_last_month(
                        session, now, member_id=member_id, zone=services.settings.zone
                    )
        if now == timer:
            report = await district.at(now)
            if report.messages:
                # The same instant again (a timer firing twice): nothing new.
                again = await district.at(now)
                assert again.messages == 0, f"{now}: a second run enqueued {again.lines}"
        else:
            await district.send_due(now)

    # --- every member: exactly the prompts and reminders their habit implies -------------
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Delivery.member_id, Delivery.topic, Delivery.channel, Delivery.sent_at)
                .where(Delivery.member_id.is_not(None))
                .order_by(Delivery.id)
            )
        ).all()
        members = {m.id: m for m in await session.scalars(select(Member))}
    steps: dict[int, Counter[str]] = defaultdict(Counter)
    topics_seen: dict[int, set[str]] = defaultdict(set)
    for row_member, topic, _channel, _sent in rows:
        assert row_member is not None and topic is not None
        if topic not in topics_seen[row_member]:
            topics_seen[row_member].add(topic)
            steps[row_member][topic.rsplit(":", 1)[-1]] += 1
    for resident in residents:
        assert steps[resident.member_id] == expected_steps(resident.habit), (
            resident.habit,
            sorted(topics_seen[resident.member_id]),
        )

    # Blocked members: one 403 on Telegram, then everything by SMS.
    blocked = [r for r in residents if r.habit is Habit.BLOCKED]
    for resident in blocked:
        channels = Counter(str(c) for m, _, c, _ in rows if m == resident.member_id)
        assert channels == {"telegram": 1, "sms": 36}

    # --- lost contact: the silent and the blocked, flagged once, on 3 May ----------------
    flagged = {r.member_id for r in residents if r.habit in (Habit.SILENT, Habit.BLOCKED)}
    for member_id, member in members.items():
        if member_id in flagged:
            assert member.lost_contact_at is not None
            assert member.lost_contact_at.astimezone(SHANGHAI).date().isoformat() == "2027-05-03"
            habit = next(r for r in residents if r.member_id == member_id).habit
            # Only the admin's button press confirms: the silent yes, the blocked no.
            assert (member.lost_contact_confirmed_at is not None) is (habit is Habit.SILENT)
        else:
            assert member.lost_contact_at is None
    async with db.session() as session:
        lost_alerts = Counter(
            staff_id
            for (staff_id,) in await session.execute(
                select(Delivery.staff_id).where(Delivery.kind == MessageKind.LOST_CONTACT)
            )
        )
        escalations = Counter(
            staff_id
            for (staff_id,) in await session.execute(
                select(Delivery.staff_id).where(Delivery.kind == MessageKind.ESCALATION)
            )
        )
        payloads = list(
            await session.scalars(
                select(Delivery.payload)
                .where(Delivery.kind == MessageKind.ESCALATION)
                .order_by(Delivery.id)
            )
        )
    per_group = PER_GROUP // len(HABITS)
    assert lost_alerts[admin_id] == len(flagged)
    for staff_id in liaisons:
        assert lost_alerts[staff_id] == 2 * per_group
        # Every month some members of every group are silent on day 10.
        assert escalations[staff_id] == 12
    # Listed on day 10: the silent until confirmed (Dec–May), the blocked all year.
    listed: Counter[int] = Counter()
    for payload in payloads:
        assert payload is not None
        listed.update(int(m["id"]) for m in payload["members"])  # type: ignore[attr-defined]
    for resident in residents:
        want = {Habit.SILENT: 6, Habit.BLOCKED: 12}.get(resident.habit, 0)
        assert listed[resident.member_id] == want, resident.habit

    # --- nothing reached anyone in their quiet hours -----------------------------------
    quiet = services.settings.quiet_hours
    zone_of = {r.telegram_user_id: r.zone for r in residents}
    assert len(sends) > 15 * PER_GROUP * GROUPS
    for chat_id, at in sends:
        zone = zone_of.get(chat_id, SHANGHAI)
        assert not quiet.contains(at, zone), (chat_id, at.astimezone(zone))
    assert sms_sent
    for at, message in sms_sent:
        assert not quiet.contains(at, SHANGHAI), (message.address, at.astimezone(SHANGHAI))
