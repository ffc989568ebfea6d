"""Activities as records: times as staff type them, scope, capacity under contention, check-in
by code and by location, the reminder the day before, a member's copy of their data and
their erasure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.context import Services
from messages.activities import activity_invite
from messages.mydata import data_page
from messages.render import Reader, Renderer
from scheduler.jobs import job_specs, run_due
from storage.activities import (
    ActivityError,
    Answered,
    Attended,
    answer,
    check_in,
    create_activity,
    get_activity,
    list_activities,
    mark_attendance,
    parse_capacity,
    parse_times,
)
from storage.clock import FakeClock
from storage.db import Database
from storage.erasure import erase_member
from storage.models import (
    ActivityAnswer,
    ActivityInvitation,
    ActivityKind,
    AttendanceSource,
    AuditEvent,
    ChannelName,
    Delivery,
    Member,
    MessageKind,
    Staff,
)
from storage.mydata import as_json, member_data
from storage.payloads import ActivityInvite
from storage.places import haversine_m
from tests.factories import make_group, make_member, make_place, make_staff

WUHAN = ZoneInfo("Asia/Shanghai")
HOME = (30.5840, 114.2745)
STARTS = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)  # 14:00 in Wuhan


@pytest.fixture(autouse=True)
async def district(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    shenzhen = await make_group(db, now, "驻深圳党小组")
    lawyers = await make_group(db, now, "律师行业党小组")
    shanghai = await make_group(db, now, "驻上海党小组")
    # 张伟 is in two of the groups invited: one invitation, one message.
    await make_member(db, now, name="张伟", phone="+8613800000001", groups=[shenzhen, lawyers])
    await make_member(db, now, name="王芳", phone="+8613800000002", groups=[shenzhen])
    await make_member(db, now, name="刘洋", phone="+8613800000003", groups=[lawyers])
    await make_member(db, now, name="孙丽", phone="+8613800000004", groups=[shanghai])
    await make_staff(db, now, telegram_user_id=1, name="李联络", groups=[shenzhen, lawyers])
    await make_staff(db, now, telegram_user_id=2, name="陈联络", groups=[shanghai])
    await make_place(db, now, latitude=HOME[0], longitude=HOME[1])


async def ids(db: Database) -> dict[str, int]:
    async with db.session() as session:
        members = {name: id_ for id_, name in await session.execute(select(Member.id, Member.name))}
        staff = {name: id_ for id_, name in await session.execute(select(Staff.id, Staff.name))}
    return {**members, **staff}


async def forum(
    db: Database,
    clock: FakeClock,
    *,
    staff: str = "李联络",
    groups: tuple[str, ...] = ("驻深圳党小组", "律师行业党小组"),
    capacity: int | None = None,
    starts: datetime = STARTS,
    place: bool = True,
) -> int:
    who = (await ids(db))[staff]
    async with db.session() as session:
        created = await create_activity(
            session,
            clock.now(),
            kind=ActivityKind.FORUM,
            title="流动党员座谈会",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            groups=groups,
            actor=f"staff:{who}",
            organiser=staff,
            zone=WUHAN,
            staff_id=who,
            place_id=1 if place else None,
            address=None if place else "武汉市江汉区某路 1 号",
            capacity=capacity,
        )
    return created.activity.id


def test_times_as_staff_type_them(clock: FakeClock) -> None:
    now = clock.now()  # 2026-11-15 10:00 in Wuhan
    local = datetime(2026, 12, 5, 14, 0, tzinfo=WUHAN)
    assert parse_times("12-05 14:00-16:30", now, WUHAN) == (
        local,
        local.replace(hour=16, minute=30),
    )
    assert parse_times("２０２６－１２－０５ １４：００ 至 １６点", now, WUHAN)[1] == local.replace(
        hour=16
    )
    # Without an end: two hours.
    assert parse_times("2026-12-05 14:00", now, WUHAN) == (local, local + timedelta(hours=2))
    for typed, reason in (
        ("12-05 14:00-13:00", "end_before_start"),
        ("2026-11-01 9:00", "past"),
        ("2028-01-01 9:00", "too_far"),
        ("someday", "unreadable"),
    ):
        with pytest.raises(ActivityError) as refused:
            parse_times(typed, now, WUHAN)
        assert refused.value.reason == reason
    assert parse_capacity("３０人") == 30
    assert parse_capacity("不限") is None and parse_capacity("0") is None
    with pytest.raises(ActivityError):
        parse_capacity("两个")


async def test_each_member_of_the_groups_is_invited_once_and_only_groups_in_scope(
    db: Database, clock: FakeClock
) -> None:
    activity_id = await forum(db, clock)
    async with db.session() as session:
        invited = await session.scalar(select(func.count()).select_from(ActivityInvitation))
        messages = list(
            await session.scalars(
                select(Delivery.dedupe_key).where(Delivery.kind == MessageKind.ACTIVITY_INVITE)
            )
        )
        audit = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "activity.create")
        )
    assert invited == 3  # 张伟, 王芳, 刘洋: not 孙丽 of 驻上海
    assert len(messages) == 3
    assert audit is not None and audit.subject == f"activity:{activity_id}"
    # Another liaison can neither invite a group that is not theirs nor see this activity.
    with pytest.raises(ActivityError) as refused:
        await forum(db, clock, staff="陈联络", groups=("驻深圳党小组",))
    assert refused.value.reason == "unknown_group"
    staff = await ids(db)
    async with db.session() as session:
        assert await get_activity(session, activity_id, staff_id=staff["陈联络"]) is None
        theirs = await list_activities(
            session, clock.now(), staff_id=staff["陈联络"], actor="staff:2"
        )
        assert theirs == []
    # …nor mark a member who is not theirs, even at the venue.
    clock.set(STARTS)
    async with db.session() as session:
        with pytest.raises(ActivityError) as refused:
            await mark_attendance(
                session,
                clock.now(),
                activity_id,
                member_id=staff["张伟"],
                attended=True,
                actor="staff:2",
                staff_id=staff["陈联络"],
            )
    assert refused.value.reason == "not_found"


async def test_the_last_place_goes_to_one_of_two_members_answering_at_once(
    db: Database, clock: FakeClock
) -> None:
    activity_id = await forum(db, clock, capacity=1)
    people = await ids(db)

    async def says_yes(name: str) -> Answered:
        async with db.session() as session:
            outcome = await answer(
                session,
                clock.now(),
                activity_id=activity_id,
                member_id=people[name],
                choice=ActivityAnswer.YES,
                zone=WUHAN,
            )
        return outcome.result

    results = await asyncio.gather(says_yes("张伟"), says_yes("王芳"))
    assert sorted(results) == [Answered.WAITING, Answered.YES]
    async with db.session() as session:
        view = await get_activity(session, activity_id)
    assert view is not None and (view.yes, view.full) == (1, True)


async def test_checking_in_by_code_and_by_location_only_there_and_then(
    db: Database, clock: FakeClock
) -> None:
    at_home = await forum(db, clock)
    await forum(db, clock, place=False, starts=STARTS + timedelta(days=1))
    people = await ids(db)
    async with db.session() as session:
        here = await get_activity(session, at_home)
    assert here is not None

    async def attends(
        code: str | None = None, latitude: float | None = None, longitude: float | None = None
    ) -> Attended:
        async with db.session() as session:
            outcome = await check_in(
                session,
                clock.now(),
                member_id=people["张伟"],
                code=code,
                latitude=latitude,
                longitude=longitude,
            )
        return outcome.result

    # Before check-in opens, the right code records nothing and says when.
    clock.set(STARTS - timedelta(minutes=31))
    assert await attends(code=here.code) is Attended.NOT_OPEN
    assert await attends(latitude=HOME[0], longitude=HOME[1]) is Attended.NOTHING_OPEN
    clock.set(STARTS - timedelta(minutes=30))
    # 250 m east is within the radius (300 m); 400 m is not.
    east = 250 / haversine_m(HOME[0], HOME[1], HOME[0], HOME[1] + 1.0)
    assert await attends(latitude=HOME[0], longitude=HOME[1] + east * 1.6) is Attended.TOO_FAR
    assert await attends(latitude=HOME[0], longitude=HOME[1] + east) is Attended.RECORDED
    assert await attends(code=here.code) is Attended.ALREADY
    # Someone else's code, or a code of no activity of theirs.
    assert await attends(code="00000" if here.code != "00000" else "11111") is Attended.WRONG_CODE
    # The typed address has no position: the code only.
    clock.set(STARTS + timedelta(days=1))
    assert await attends(latitude=HOME[0], longitude=HOME[1]) is Attended.NO_LOCATION
    async with db.session() as session:
        rows = await session.execute(
            select(ActivityInvitation.activity_id, ActivityInvitation.attendance_source).where(
                ActivityInvitation.member_id == people["张伟"],
                ActivityInvitation.attended_at.is_not(None),
            )
        )
        assert rows.all() == [(at_home, AttendanceSource.LOCATION)]
        # The position shared is kept nowhere: not in the audit trail either.
        details = list(
            await session.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == "activity.attend")
            )
        )
    assert details == [{"source": "location"}]


async def test_the_reminder_goes_the_day_before_once_to_those_coming(
    db: Database, clock: FakeClock, services: Services
) -> None:
    activity_id = await forum(db, clock)
    # Made less than a day ahead: its invitation is reminder enough.
    late = await forum(db, clock, starts=clock.now() + timedelta(hours=20))
    people = await ids(db)
    async with db.session() as session:
        for name, choice in (("张伟", ActivityAnswer.YES), ("王芳", ActivityAnswer.NO)):
            await answer(
                session,
                clock.now(),
                activity_id=activity_id,
                member_id=people[name],
                choice=choice,
                zone=WUHAN,
            )
        await answer(
            session,
            clock.now(),
            activity_id=late,
            member_id=people["张伟"],
            choice=ActivityAnswer.YES,
            zone=WUHAN,
        )
    timers = [spec.id for spec in await job_specs(db, services.settings, clock.now())]
    assert f"activity:{activity_id}:remind" in timers
    assert f"activity:{late}:remind" not in timers

    async def reminded() -> list[tuple[str | None, int | None]]:
        async with db.session() as session:
            rows = await session.execute(
                select(Delivery.topic, Delivery.member_id).where(
                    Delivery.kind == MessageKind.ACTIVITY_REMIND
                )
            )
            return sorted((topic, member) for topic, member in rows)

    clock.set(STARTS - timedelta(days=1, minutes=1))
    await run_due(db, clock.now(), services.settings)
    assert await reminded() == []
    # Missed at its time (the service was down): caught up, until the activity starts.
    clock.set(STARTS - timedelta(hours=3))
    await run_due(db, clock.now(), services.settings)
    await run_due(db, clock.now(), services.settings)
    assert await reminded() == [(f"act{activity_id}:remind", people["张伟"])]
    assert f"activity:{activity_id}:remind" not in [
        spec.id for spec in await job_specs(db, services.settings, clock.now())
    ]


async def test_a_members_copy_holds_their_answers_and_their_erasure_keeps_the_counts(
    db: Database, clock: FakeClock, renderer: Renderer
) -> None:
    activity_id = await forum(db, clock)
    people = await ids(db)
    async with db.session() as session:
        await answer(
            session,
            clock.now(),
            activity_id=activity_id,
            member_id=people["张伟"],
            choice=ActivityAnswer.YES,
            zone=WUHAN,
        )
    clock.set(STARTS)
    async with db.session() as session:
        await mark_attendance(
            session,
            clock.now(),
            activity_id,
            member_id=people["张伟"],
            attended=True,
            actor="staff:1",
            staff_id=people["李联络"],
        )
        data = await member_data(session, clock.now(), people["张伟"])
    assert data is not None
    [record] = as_json(data)["activities"]
    assert record["title"] == "流动党员座谈会"
    assert (record["answer"], record["attendance"]) == ("yes", "staff")
    for locale, row in (("zh_CN", "<td>参加</td>"), ("en", "<td>coming</td>")):
        page = data_page(renderer, locale, data, WUHAN).decode()
        assert "<td>流动党员座谈会</td>" in page and row in page

    async with db.session() as session:
        await erase_member(session, clock.now(), people["张伟"], actor="cli:x", request_id=None)
    async with db.session() as session:
        view = await get_activity(session, activity_id)
        left = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action.startswith("activity."))
            )
        )
    # Still counted: invited, coming, attended; but nobody says who.
    assert view is not None and (view.invited, view.yes, view.attended) == (3, 1, 1)
    assert all(f"member:{people['张伟']}" not in (event.actor, event.subject) for event in left)


def test_what_staff_typed_is_escaped_in_the_invitation(renderer: Renderer) -> None:
    invitation = ActivityInvite(
        activity_id=7,
        kind="meeting",
        title="<b>全体</b> & 会议",
        starts="2026-12-05 14:00",
        ends="16:00",
        address="民意四路 <12> 号",
        organiser="李<i>联络</i>",
    )
    for channel in (ChannelName.TELEGRAM, ChannelName.SMS):
        text, buttons = activity_invite(Reader(renderer, "zh_CN", WUHAN, channel), invitation)
        if channel is ChannelName.TELEGRAM:
            assert "&lt;b&gt;全体&lt;/b&gt; &amp; 会议" in text and "<b>全体" not in text
            assert "民意四路 &lt;12&gt; 号" in text and "李&lt;i&gt;联络" in text
            assert [data for _, data in buttons] == ["act:ans:7:yes", "act:ans:7:no"]
        else:
            # Plain text on a phone: as typed, no buttons; the answer is texted back.
            assert "<b>全体</b> & 会议" in text and "参加请回复“参加7”" in text
            assert buttons == ()
