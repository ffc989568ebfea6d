"""The mobile party school on the real database: the library, schedules, pushes, receipts.

The clock is moved by hand: a "restart" is simply a run of push_due_study at a later time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    AuditEvent,
    Delivery,
    DeliveryStatus,
    Group,
    MessageKind,
    StaffRole,
    StudyMaterial,
    StudyPush,
    StudySchedule,
)
from storage.study import (
    MAX_BODY_LENGTH,
    MAX_TITLE_LENGTH,
    PlanAdd,
    PlanList,
    PlanStop,
    PushOutcome,
    PushReport,
    StudyError,
    add_material,
    add_schedule,
    archive_material,
    group_completion,
    list_materials,
    list_schedules,
    mark_studied,
    member_completion,
    next_occurrence,
    open_material,
    parse_at,
    parse_day,
    parse_plan_command,
    parse_tags,
    parse_weekday,
    push_due_study,
    recent_for_member,
    stop_schedule,
)
from tests.factories import make_group, make_member, make_staff

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
SHENZHEN = "驻深圳党小组"
LAWYERS = "律师党小组"
MONDAY = 0


def local(*args: int) -> datetime:
    """A wall-clock time in Wuhan."""
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


@pytest.fixture
async def groups(db: Database, clock: FakeClock) -> dict[str, Group]:
    """Shenzhen: 张伟 (Telegram), 王芳 (Telegram), 李强 (SMS), 赵敏 (no way to reach).
    Lawyers: 胡斌 (Telegram)."""
    now = clock.now()
    shenzhen = await make_group(db, now, SHENZHEN)
    lawyers = await make_group(db, now, LAWYERS)
    await make_member(
        db, now, name="张伟", phone="+8613800000001", telegram_user_id=1, groups=[shenzhen]
    )
    await make_member(
        db, now, name="王芳", phone="+8613800000002", telegram_user_id=2, groups=[shenzhen]
    )
    await make_member(db, now, name="李强", phone="+8613800000003", groups=[shenzhen])
    await make_member(db, now, name="赵敏", phone=None, groups=[shenzhen])
    await make_member(
        db, now, name="胡斌", phone="+8613800000005", telegram_user_id=5, groups=[lawyers]
    )
    return {SHENZHEN: shenzhen, LAWYERS: lawyers}


async def material(db: Database, now: datetime, title: str, tags: tuple[str, ...] = ()) -> int:
    async with db.session() as session:
        row = await add_material(
            session, now, actor="cli:test", title=title, body=f"{title}的全文。", tags=tags
        )
        return row.id


async def weekly(
    db: Database, now: datetime, group: str = SHENZHEN, tag: str | None = None, **more: object
) -> int:
    async with db.session() as session:
        schedule = await add_schedule(
            session,
            now,
            actor="cli:test",
            group=group,
            weekday=MONDAY,
            at="19:00",
            tag=tag,
            zone=SHANGHAI,
            **more,  # type: ignore[arg-type]
        )
        return schedule.id


async def run(db: Database, now: datetime, zone: ZoneInfo = SHANGHAI) -> list[PushReport]:
    async with db.session() as session:
        return await push_due_study(session, now, zone=zone)


async def deliveries(db: Database) -> list[Delivery]:
    async with db.session() as session:
        return list(await session.scalars(select(Delivery).order_by(Delivery.id)))


async def member_ids(db: Database) -> dict[str, int]:
    from storage.models import Member

    async with db.session() as session:
        return {name: id_ for id_, name in await session.execute(select(Member.id, Member.name))}


# --- the library -------------------------------------------------------------------------


async def test_a_material_is_kept_with_its_tags_and_the_addition_is_audited(
    db: Database, clock: FakeClock
) -> None:
    async with db.session() as session:
        row = await add_material(
            session,
            clock.now(),
            actor="staff:1",
            title="  学习 新党章 \n",
            body="第一章 党员\r\n\r\n第一条……",
            link=" https://www.12371.cn/dangzhang ",
            tags=["党章", "Basics", "党章", " "],
        )
    async with db.session() as session:
        stored = await session.get(StudyMaterial, row.id)
        assert stored is not None
        assert (stored.title, stored.body, stored.link, stored.tags) == (
            "学习 新党章",
            "第一章 党员\n\n第一条……",
            "https://www.12371.cn/dangzhang",
            "党章,basics",
        )
        event = await session.scalar(select(AuditEvent))
    assert event is not None
    assert (event.actor, event.action, event.subject) == (
        "staff:1",
        "study.material.add",
        f"material:{row.id}",
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": " "}, "title_empty"),
        ({"title": "题" * (MAX_TITLE_LENGTH + 1)}, "title_too_long"),
        ({"body": "\n \n"}, "body_empty"),
        ({"body": "字" * (MAX_BODY_LENGTH + 1)}, "body_too_long"),
        ({"link": "www.12371.cn"}, "bad_link"),
        ({"link": "ftp://12371.cn/a"}, "bad_link"),
        ({"link": "https://12371.cn/a b"}, "bad_link"),
        ({"link": "https://12371.cn/" + "a" * 500}, "link_too_long"),
        ({"tags": ["党史", "two words"]}, "bad_tag"),
        ({"tags": ["a" * 17]}, "bad_tag"),
        ({"tags": [f"t{n}" for n in range(11)]}, "too_many_tags"),
    ],
)
async def test_bad_material_is_refused_with_a_reason_and_nothing_is_kept(
    db: Database, clock: FakeClock, fields: dict[str, object], reason: str
) -> None:
    values: dict[str, object] = {"title": "党史学习", "body": "正文", **fields}
    with pytest.raises(StudyError) as refused:
        async with db.session() as session:
            await add_material(session, clock.now(), actor="cli:test", **values)  # type: ignore[arg-type]
    assert refused.value.reason == reason
    assert str(refused.value)  # a message the command line can print as it is
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(StudyMaterial)) == 0


def test_what_staff_type_is_read_generously() -> None:
    assert parse_tags("党史，理论、 Basics  党史") == ("党史", "理论", "basics")
    assert parse_weekday("Mon") == parse_weekday("周一") == parse_weekday("星期一") == 0
    assert parse_weekday("星期天") == parse_weekday("sunday") == 6
    assert parse_day("2026年12月5日") == parse_day("2026/12/05") == date(2026, 12, 5)
    assert parse_at("9：30") == "09:30"
    for parse, typed, reason in (
        (parse_weekday, "someday", "bad_weekday"),
        (parse_day, "2026-02-30", "bad_date"),
        (parse_day, "12-05", "bad_date"),
        (parse_at, "25:00", "bad_time"),
        (parse_at, "7pm", "bad_time"),
    ):
        with pytest.raises(StudyError) as refused:
            parse(typed)  # type: ignore[operator]
        assert refused.value.reason == reason


def test_studyplan_arguments_are_read_in_storage() -> None:
    assert parse_plan_command("") == parse_plan_command(" LIST ") == PlanList()
    # The group's name may contain spaces; the weekday and time come last, then a tag.
    assert parse_plan_command("add 驻深圳 党小组 周一 19：00 党章") == PlanAdd(
        "驻深圳 党小组", "19:00", weekday=0, tag="党章"
    )
    assert parse_plan_command("add 驻深圳党小组 2026年12月5日 9:30 #12") == PlanAdd(
        "驻深圳党小组", "09:30", on_date=date(2026, 12, 5), material_id=12
    )
    assert parse_plan_command("stop #3") == PlanStop(3)
    for typed, reason in (
        ("add 驻深圳党小组 mon 19:00 two tags", "bad_tag"),
        ("add 驻深圳党小组 someday 19:00", "bad_day"),
        ("add 驻深圳党小组 2026-12-05 19:00", "no_material"),
        ("add 驻深圳党小组 2026-12-05 19:00 ²", "no_material"),
        ("add 驻深圳党小组 mon", "usage"),
        ("add mon 19:00", "usage"),  # no group
        ("stop three", "usage"),
        ("stop 99999999999", "usage"),
        ("pause 3", "usage"),
    ):
        with pytest.raises(StudyError) as refused:
            parse_plan_command(typed)
        assert refused.value.reason == reason, typed


async def test_archived_materials_leave_the_library_list(db: Database, clock: FakeClock) -> None:
    old = await material(db, clock.now(), "旧资料")
    new = await material(db, clock.now() + timedelta(minutes=1), "新资料")
    async with db.session() as session:
        await archive_material(session, clock.now(), old, actor="cli:test")
        assert [m.id for m in await list_materials(session)] == [new]
        assert [m.id for m in await list_materials(session, include_archived=True)] == [new, old]
        with pytest.raises(StudyError, match="already archived"):
            await archive_material(session, clock.now(), old, actor="cli:test")
        with pytest.raises(StudyError, match="no material 999"):
            await archive_material(session, clock.now(), 999, actor="cli:test")


# --- weekly pushes ---------------------------------------------------------------------------


async def test_weekly_pushes_the_oldest_unsent_material_once_per_week(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    first = await material(db, clock.now(), "第一课：党章")
    second = await material(db, clock.now() + timedelta(minutes=1), "第二课：党史")
    await weekly(db, clock.now())
    # Sunday: last Monday was before the schedule existed, so nothing is owed.
    assert await run(db, clock.now()) == []

    monday = local(2026, 11, 16, 19, 0)
    [report] = await run(db, monday)
    assert (report.outcome, report.material_id, report.occurrence, report.group) == (
        PushOutcome.PUSHED,
        first,
        "2026-11-16T19:00",
        SHENZHEN,
    )
    sent = await deliveries(db)
    names = await member_ids(db)
    # Every member of the group once, nobody else; the unreachable one is counted, not sent.
    assert sorted(d.member_id or 0 for d in sent) == sorted(
        names[n] for n in ("张伟", "王芳", "李强", "赵敏")
    )
    assert report.recipients == 4
    assert {d.kind for d in sent} == {MessageKind.STUDY}
    assert {d.topic for d in sent} == {f"study:{report.push_id}"}
    assert {str(d.payload) for d in sent} == {str({"material_id": first})}
    assert {d.next_attempt_at for d in sent} == {monday}
    assert [d.status for d in sent].count(DeliveryStatus.SUPPRESSED) == 1

    # The job fires again (a second scheduler tick, a restart the same evening): nothing new.
    assert await run(db, monday) == []
    assert await run(db, monday + timedelta(hours=3)) == []
    assert len(await deliveries(db)) == 4

    [report] = await run(db, local(2026, 11, 23, 19, 0))
    assert (report.outcome, report.material_id) == (PushOutcome.PUSHED, second)
    assert len(await deliveries(db)) == 8

    # The library is exhausted: said so, nothing pushed, and said again next time it is due.
    [report] = await run(db, local(2026, 11, 30, 19, 0))
    assert (report.outcome, report.push_id, report.material_id) == (
        PushOutcome.EXHAUSTED,
        None,
        None,
    )
    assert len(await deliveries(db)) == 8
    # New material the same week is still pushed for that week's occurrence.
    third = await material(db, local(2026, 12, 1, 9, 0), "第三课")
    [report] = await run(db, local(2026, 12, 1, 9, 0))
    assert (report.outcome, report.material_id, report.occurrence) == (
        PushOutcome.PUSHED,
        third,
        "2026-11-30T19:00",
    )


async def test_a_push_missed_while_down_runs_once_on_start_unless_overtaken(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    for n in range(3):
        await material(db, clock.now() + timedelta(minutes=n), f"第{n + 1}课")
    await weekly(db, clock.now())
    # Down from Sunday until Tuesday morning: Monday's push goes on start, once.
    [report] = await run(db, local(2026, 11, 17, 8, 0))
    assert (report.outcome, report.occurrence) == (PushOutcome.PUSHED, "2026-11-16T19:00")
    assert await run(db, local(2026, 11, 17, 8, 5)) == []
    # Down again over two Mondays: only the latest is pushed, the overtaken one never.
    [report] = await run(db, local(2026, 12, 1, 8, 0))
    assert (report.outcome, report.occurrence) == (PushOutcome.PUSHED, "2026-11-30T19:00")
    async with db.session() as session:
        occurrences = list(
            await session.scalars(select(StudyPush.occurrence).order_by(StudyPush.id))
        )
    assert occurrences == ["2026-11-16T19:00", "2026-11-30T19:00"]


async def test_a_weekly_tag_pushes_only_materials_with_that_tag(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    await material(db, clock.now(), "党章", ("党章",))
    history = await material(db, clock.now() + timedelta(minutes=1), "党史一", ("党史", "必修"))
    # A tag that merely contains the wanted one is another tag.
    await material(db, clock.now() + timedelta(minutes=2), "党史学习法", ("党史学习",))
    await weekly(db, clock.now(), tag="党史")
    [report] = await run(db, local(2026, 11, 16, 19, 0))
    assert report.material_id == history
    [report] = await run(db, local(2026, 11, 23, 19, 0))
    assert report.outcome is PushOutcome.EXHAUSTED


async def test_groups_have_their_own_progress_through_the_library(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    first = await material(db, clock.now(), "第一课")
    second = await material(db, clock.now() + timedelta(minutes=1), "第二课")
    archived = await material(db, clock.now() - timedelta(days=1), "作废的资料")
    async with db.session() as session:
        await archive_material(session, clock.now(), archived, actor="cli:test")
    await weekly(db, clock.now(), SHENZHEN)
    [report] = await run(db, local(2026, 11, 16, 19, 0))
    assert report.material_id == first
    lawyers_start = local(2026, 11, 17, 9, 0)
    await weekly(db, lawyers_start, LAWYERS)
    reports = await run(db, local(2026, 11, 23, 19, 0))
    # The lawyers start at the beginning; the archived material goes to nobody.
    assert {(r.group, r.material_id) for r in reports} == {(SHENZHEN, second), (LAWYERS, first)}


async def test_a_stopped_schedule_pushes_nothing(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    await material(db, clock.now(), "第一课")
    schedule_id = await weekly(db, clock.now())
    async with db.session() as session:
        line = await stop_schedule(
            session, clock.now(), schedule_id, actor="cli:test", staff_id=None
        )
        assert (line.id, line.group) == (schedule_id, SHENZHEN)
        with pytest.raises(StudyError) as again:
            await stop_schedule(session, clock.now(), schedule_id, actor="cli:test", staff_id=None)
        assert again.value.reason == "stopped"
        schedule = await session.get(StudySchedule, schedule_id)
        assert schedule is not None
        assert next_occurrence(schedule, clock.now(), SHANGHAI) is None
    assert await run(db, local(2026, 11, 16, 19, 0)) == []
    assert await deliveries(db) == []


# --- one-off pushes -----------------------------------------------------------------------


async def test_a_one_off_push_goes_on_its_date_or_within_a_week_after(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    lesson = await material(db, clock.now(), "十二月专题党课")
    late = await material(db, clock.now(), "迟到的专题")
    async with db.session() as session:
        for day, material_id in ((date(2026, 12, 5), lesson), (date(2026, 12, 6), late)):
            await add_schedule(
                session,
                clock.now(),
                actor="cli:test",
                group=SHENZHEN,
                on_date=day,
                at="9:00",
                material_id=material_id,
                zone=SHANGHAI,
            )
    assert await run(db, local(2026, 12, 5, 8, 59)) == []
    [report] = await run(db, local(2026, 12, 5, 9, 0))
    assert (report.material_id, report.occurrence) == (lesson, "2026-12-05T09:00")
    assert await run(db, local(2026, 12, 5, 9, 1)) == []
    # Down from before 6 December until more than a week after: that push is dropped.
    assert await run(db, local(2026, 12, 13, 9, 1)) == []
    assert {d.payload["material_id"] for d in await deliveries(db) if d.payload} == {lesson}


async def test_a_one_off_whose_material_was_archived_says_so(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    lesson = await material(db, clock.now(), "专题党课")
    async with db.session() as session:
        await add_schedule(
            session,
            clock.now(),
            actor="cli:test",
            group=SHENZHEN,
            on_date=date(2026, 12, 5),
            at="19:00",
            material_id=lesson,
            zone=SHANGHAI,
        )
        await archive_material(session, clock.now(), lesson, actor="cli:test")
    [report] = await run(db, local(2026, 12, 6, 8, 0))
    assert (report.outcome, report.material_id) == (PushOutcome.ARCHIVED, lesson)
    assert await deliveries(db) == []


async def test_bad_schedules_are_refused_with_a_reason(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    lesson = await material(db, clock.now(), "专题党课")
    gone = await material(db, clock.now(), "旧课")
    async with db.session() as session:
        await archive_material(session, clock.now(), gone, actor="cli:test")
    await weekly(db, clock.now())
    other = await make_group(db, clock.now(), "驻上海党小组")
    liaison = await make_staff(db, clock.now(), telegram_user_id=77, groups=[groups[SHENZHEN]])
    one_off = {"on_date": date(2026, 12, 5), "material_id": lesson}
    cases: list[tuple[dict[str, object], str]] = [
        ({"weekday": 0, "at": "25:00"}, "bad_time"),
        ({"weekday": 0, **one_off}, "no_when"),
        ({}, "no_when"),
        ({"weekday": 7}, "bad_weekday"),
        ({"weekday": 0, "material_id": lesson}, "no_material"),
        ({"weekday": 0, "tag": "two words"}, "bad_tag"),
        ({"weekday": 0}, "duplicate"),
        ({"on_date": date(2026, 12, 5)}, "no_material"),
        ({"on_date": date(2026, 12, 5), "material_id": 999}, "unknown_material"),
        ({"on_date": date(2026, 12, 5), "material_id": gone}, "archived"),
        ({**one_off, "tag": "党史"}, "tag_on_one_off"),
        ({"on_date": date(2026, 11, 15), "material_id": lesson, "at": "9:00"}, "past"),
        ({"on_date": date(2027, 12, 5), "material_id": lesson}, "too_far"),
        ({"weekday": 0, "group": "没有这个小组"}, "unknown_group"),
        # A liaison plans only for their own groups: another group reads as unknown.
        ({"weekday": 0, "group": other.name, "staff_id": liaison.id}, "unknown_group"),
    ]
    for fields, reason in cases:
        values: dict[str, object] = {"group": SHENZHEN, "at": "19:00", **fields}
        with pytest.raises(StudyError) as refused:
            async with db.session() as session:
                await add_schedule(
                    session,
                    clock.now(),
                    actor="cli:test",
                    zone=SHANGHAI,
                    **values,  # type: ignore[arg-type]
                )
        assert refused.value.reason == reason, (fields, str(refused.value))
    async with db.session() as session:
        assert len(await list_schedules(session, staff_id=None)) == 1
        # The same time with a tag is a different push.
        await add_schedule(
            session,
            clock.now(),
            actor="cli:test",
            group=SHENZHEN,
            weekday=0,
            at="19:00",
            tag="党史",
            zone=SHANGHAI,
            staff_id=liaison.id,
        )
        lines = await list_schedules(session, staff_id=liaison.id)
    assert [(line.group, line.tag, line.weekday, line.at_time) for line in lines] == [
        (SHENZHEN, None, 0, "19:00"),
        (SHENZHEN, "党史", 0, "19:00"),
    ]


async def test_staff_list_and_stop_only_the_schedules_of_their_groups(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    liaison = await make_staff(db, clock.now(), telegram_user_id=77, groups=[groups[SHENZHEN]])
    admin = await make_staff(db, clock.now(), telegram_user_id=78, role=StaffRole.ADMIN)
    mine = await weekly(db, clock.now(), SHENZHEN)
    theirs = await weekly(db, clock.now(), LAWYERS)
    async with db.session() as session:
        assert [s.id for s in await list_schedules(session, staff_id=liaison.id)] == [mine]
        assert [s.id for s in await list_schedules(session, staff_id=admin.id)] == [theirs, mine]
        with pytest.raises(StudyError) as refused:
            await stop_schedule(session, clock.now(), theirs, actor="staff:x", staff_id=liaison.id)
        assert refused.value.reason == "not_found"
        await stop_schedule(
            session, clock.now(), mine, actor=f"staff:{liaison.id}", staff_id=liaison.id
        )
        assert await list_schedules(session, staff_id=liaison.id) == []
        [stopped] = await list_schedules(session, staff_id=liaison.id, include_stopped=True)
        assert not stopped.active
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-1] == "study.schedule.stop"


# --- occurrences ------------------------------------------------------------------------------


async def test_next_occurrence_is_the_next_local_time_strictly_after(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    lesson = await material(db, clock.now(), "专题党课")
    weekly_id = await weekly(db, clock.now())
    async with db.session() as session:
        one_off = await add_schedule(
            session,
            clock.now(),
            actor="cli:test",
            group=SHENZHEN,
            on_date=date(2026, 12, 5),
            at="9:00",
            material_id=lesson,
            zone=SHANGHAI,
        )
        schedule = await session.get(StudySchedule, weekly_id)
    assert schedule is not None
    monday = local(2026, 11, 16, 19, 0)
    assert next_occurrence(schedule, clock.now(), SHANGHAI) == monday
    assert next_occurrence(schedule, monday, SHANGHAI) == monday + timedelta(days=7)
    assert next_occurrence(schedule, monday - timedelta(seconds=1), SHANGHAI) == monday
    assert next_occurrence(one_off, clock.now(), SHANGHAI) == local(2026, 12, 5, 9, 0)
    assert next_occurrence(one_off, local(2026, 12, 5, 9, 0), SHANGHAI) is None
    # In a zone with summer time the push stays at 19:00 local across the change.
    before = next_occurrence(schedule, datetime(2026, 10, 20, tzinfo=UTC), BERLIN)
    after = next_occurrence(schedule, datetime(2026, 10, 27, tzinfo=UTC), BERLIN)
    assert before == datetime(2026, 10, 26, 18, 0, tzinfo=UTC)  # 19:00 CET (+01:00)
    assert after == datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
    earlier = next_occurrence(schedule, datetime(2026, 10, 13, tzinfo=UTC), BERLIN)
    assert earlier == datetime(2026, 10, 19, 17, 0, tzinfo=UTC)  # 19:00 CEST (+02:00)


# --- members and receipts -------------------------------------------------------------------


async def test_studied_is_recorded_once_and_only_for_members_it_was_sent_to(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    first = await material(db, clock.now(), "第一课")
    second = await material(db, clock.now() + timedelta(minutes=1), "第二课")
    await weekly(db, clock.now())
    await run(db, local(2026, 11, 16, 19, 0))
    await run(db, local(2026, 11, 23, 19, 0))
    names = await member_ids(db)
    zhang, hu = names["张伟"], names["胡斌"]
    later = local(2026, 11, 24, 20, 0)
    async with db.session() as session:
        assert await mark_studied(session, later, material_id=first, member_id=zhang) is True
        assert await mark_studied(session, later, material_id=first, member_id=zhang) is False
        with pytest.raises(StudyError) as refused:
            await mark_studied(session, later, material_id=first, member_id=hu)
        assert refused.value.reason == "not_recipient"
        recent = await recent_for_member(session, zhang)
        assert [(r.id, r.title, r.studied) for r in recent] == [
            (second, "第二课", False),
            (first, "第一课", True),
        ]
        assert await recent_for_member(session, hu) == []
        opened = await open_material(session, member_id=zhang, material_id=first)
        assert opened is not None
        assert (opened.material.body, opened.studied) == ("第一课的全文。", True)
        assert await open_material(session, member_id=hu, material_id=first) is None


async def test_completion_per_group_and_per_member_is_scoped_to_the_staff_member(
    db: Database, clock: FakeClock, groups: dict[str, Group]
) -> None:
    first = await material(db, clock.now(), "第一课")
    second = await material(db, clock.now() + timedelta(minutes=1), "第二课")
    await weekly(db, clock.now(), SHENZHEN)
    await weekly(db, clock.now(), LAWYERS)
    await run(db, local(2026, 11, 16, 19, 0))
    await run(db, local(2026, 11, 23, 19, 0))
    names = await member_ids(db)
    async with db.session() as session:
        for who, what in (("张伟", first), ("张伟", second), ("王芳", first), ("胡斌", second)):
            await mark_studied(session, clock.now(), material_id=what, member_id=names[who])
    liaison = await make_staff(db, clock.now(), telegram_user_id=77, groups=[groups[SHENZHEN]])
    admin = await make_staff(db, clock.now(), telegram_user_id=78, role=StaffRole.ADMIN)
    async with db.session() as session:
        [mine] = await group_completion(session, staff_id=liaison.id)
        everything = await group_completion(session, staff_id=admin.id)
        report = await member_completion(session, staff_id=liaison.id, group=SHENZHEN)
        with pytest.raises(StudyError) as refused:
            await member_completion(session, staff_id=liaison.id, group=LAWYERS)
    assert refused.value.reason == "unknown_group"
    assert (mine.name, mine.members, mine.pushed) == (SHENZHEN, 4, 2)
    assert [(m.title, m.studied) for m in mine.materials] == [("第二课", 1), ("第一课", 2)]
    assert [(g.name, g.members, [m.studied for m in g.materials]) for g in everything] == [
        (LAWYERS, 1, [1, 0]),
        (SHENZHEN, 4, [1, 2]),
    ]
    assert report.pushed == 2
    assert [(m.name, m.studied) for m in report.members] == sorted(
        [("张伟", 2), ("王芳", 1), ("李强", 0), ("赵敏", 0)]
    )
