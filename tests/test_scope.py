"""Which members staff see, who is overdue, and the staff lookup: the storage side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.directory import DirectoryError, add_staff
from storage.models import (
    Member,
    StaffRole,
    Unit,
    member_groups,
)
from storage.overdue import overdue_members, overdue_report, whole_months_between
from storage.scope import find_members, may_see, member_card, members_in_scope, scope_condition
from tests.conftest import START
from tests.factories import make_checkin, make_group, make_member, make_staff

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def add_unit(db: Database, name: str, parent: Unit | None) -> Unit:
    async with db.session() as session:
        unit = Unit(name=name, parent_id=parent.id if parent else None, created_at=START)
        session.add(unit)
    return unit


async def names_in_scope(db: Database, staff_id: int) -> set[str]:
    async with db.session() as session:
        return set(await session.scalars(members_in_scope(staff_id).with_only_columns(Member.name)))


async def test_group_liaison_sees_only_the_members_of_their_groups(db: Database) -> None:
    shenzhen = await make_group(db, START, "驻深圳党小组")
    shanghai = await make_group(db, START, "驻上海党小组")
    await make_member(db, START, name="张伟", phone="+8613800138000", groups=[shenzhen])
    await make_member(db, START, name="李娜", phone="+8613800138001", groups=[shanghai])
    await make_member(db, START, name="王芳", phone="+8613800138002", groups=[shenzhen, shanghai])
    await make_member(db, START, name="赵磊", phone="+8613800138003")
    liaison = await make_staff(db, START, telegram_user_id=1, groups=[shenzhen])

    assert await names_in_scope(db, liaison.id) == {"张伟", "王芳"}


async def test_unit_liaison_sees_the_units_below_theirs_but_not_beside_or_above(
    db: Database,
) -> None:
    district = await add_unit(db, "江汉区", None)
    street = await add_unit(db, "民族街道", district)
    community = await add_unit(db, "长春街社区", street)
    other_street = await add_unit(db, "花楼街道", district)
    await make_member(db, START, name="区里", phone="+8613800138000", unit=district)
    await make_member(db, START, name="街道", phone="+8613800138001", unit=street)
    await make_member(db, START, name="社区", phone="+8613800138002", unit=community)
    await make_member(db, START, name="隔壁", phone="+8613800138003", unit=other_street)
    liaison = await make_staff(db, START, telegram_user_id=1, units=[street])

    assert await names_in_scope(db, liaison.id) == {"街道", "社区"}


async def test_units_and_groups_add_up(db: Database) -> None:
    street = await add_unit(db, "民族街道", None)
    group = await make_group(db, START, "律师党小组")
    await make_member(db, START, name="街道", phone="+8613800138000", unit=street)
    await make_member(db, START, name="律师", phone="+8613800138001", groups=[group])
    await make_member(db, START, name="别人", phone="+8613800138002")
    # tests.factories.make_staff cannot give both (autoflush warning): the real operation can.
    async with db.session() as session:
        liaison, _ = await add_staff(
            session,
            START,
            telegram_user_id=1,
            name="李联络",
            role=StaffRole.LIAISON,
            groups=[group.name],
            units=[street.name],
        )

    assert await names_in_scope(db, liaison.id) == {"街道", "律师"}


async def test_admin_without_scope_sees_everyone_with_scope_only_that(db: Database) -> None:
    street = await add_unit(db, "民族街道", None)
    community = await add_unit(db, "长春街社区", street)
    await make_member(db, START, name="社区", phone="+8613800138000", unit=community)
    await make_member(db, START, name="无单位", phone="+8613800138001")
    admin = await make_staff(db, START, telegram_user_id=1, role=StaffRole.ADMIN)
    scoped_admin = await make_staff(
        db, START, telegram_user_id=2, role=StaffRole.ADMIN, units=[street]
    )
    bare_liaison = await make_staff(db, START, telegram_user_id=3)

    assert await names_in_scope(db, admin.id) == {"社区", "无单位"}
    assert await names_in_scope(db, scoped_admin.id) == {"社区"}
    assert await names_in_scope(db, bare_liaison.id) == set()
    assert await names_in_scope(db, 999) == set()


async def test_scope_condition_stays_right_when_the_query_joins_member_groups(
    db: Database,
) -> None:
    # The subqueries must not be correlated with the outer member_groups (a group listing).
    mine = await make_group(db, START, "驻深圳党小组")
    theirs = await make_group(db, START, "驻上海党小组")
    await make_member(db, START, name="两边", phone="+8613800138000", groups=[mine, theirs])
    await make_member(db, START, name="那边", phone="+8613800138001", groups=[theirs])
    liaison = await make_staff(db, START, telegram_user_id=1, groups=[mine])
    async with db.session() as session:
        names = await session.scalars(
            select(Member.name)
            .join(member_groups, member_groups.c.member_id == Member.id)
            .where(member_groups.c.group_id == theirs.id, scope_condition(liaison.id))
        )
        assert set(names) == {"两边"}


async def test_overdue_lists_the_silent_longest_first_with_their_durations(db: Database) -> None:
    group = await make_group(db, START)
    done = await make_member(db, START, name="已报到", phone="+8613800138000", groups=[group])
    await make_checkin(db, done, START - timedelta(days=3))
    recent = await make_member(db, START, name="上月", phone="+8613800138001", groups=[group])
    await make_checkin(db, recent, datetime(2026, 10, 28, 4, tzinfo=UTC))
    old = await make_member(
        db, START, name="九月", phone="+8613800138002", groups=[group], telegram_user_id=77
    )
    await make_checkin(db, old, datetime(2026, 8, 1, 4, tzinfo=UTC))
    await make_checkin(db, old, datetime(2026, 9, 3, 4, tzinfo=UTC))
    await make_member(
        db,
        START,
        name="从未",
        phone=None,
        groups=[group],
        registered_at=START - timedelta(days=45),
    )
    await make_member(db, START, name="别组", phone="+8613800138004")
    liaison = await make_staff(db, START, telegram_user_id=1, groups=[group])

    async with db.session() as session:
        report = await overdue_report(session, START, default_zone=SHANGHAI, staff_id=liaison.id)
        everyone = await overdue_members(session, START, default_zone=SHANGHAI)

    assert [m.name for m in report.members] == ["九月", "从未", "上月"]
    assert report.total == 3
    september, never, october = report.members
    assert (september.silent_months, september.last_checkin_on.isoformat()) == (2, "2026-09-03")  # type: ignore[union-attr]
    assert september.bound and not never.bound
    assert never.never_checked_in and never.silent_days == 45 and never.phone_masked is None
    assert (october.silent_months, october.silent_days) == (0, 18)
    assert october.phone_masked == "+86 138****8001"
    assert {m.period for m in report.members} == {"2026-11"}
    assert {m.name for m in everyone} == {"九月", "从未", "上月", "别组"}


async def test_overdue_uses_each_members_own_month_at_the_boundary(db: Database) -> None:
    # 00:30 on 1 December in Wuhan is still 17:30 on 30 November in Berlin.
    now = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    november = datetime(2026, 11, 10, 4, tzinfo=UTC)
    berlin = await make_member(
        db, START, name="Berlin", phone="+4915112345678", timezone="Europe/Berlin"
    )
    wuhan = await make_member(db, START, name="武汉", phone="+8613800138000")
    await make_checkin(db, berlin, november)
    await make_checkin(db, wuhan, november)

    async with db.session() as session:
        december_in_wuhan = await overdue_members(session, now, default_zone=SHANGHAI)
        a_day_later = await overdue_members(session, now + timedelta(days=1), default_zone=SHANGHAI)

    assert [(m.name, m.period) for m in december_in_wuhan] == [("武汉", "2026-12")]
    assert {(m.name, m.period) for m in a_day_later} == {
        ("Berlin", "2026-12"),
        ("武汉", "2026-12"),
    }


async def test_overdue_by_group_name_and_capped_with_the_full_count(db: Database) -> None:
    group = await make_group(db, START, "律师党小组")
    for number in range(5):
        await make_member(db, START, name=f"律师{number}", phone=None, groups=[group])
    await make_member(db, START, name="别人", phone=None)
    async with db.session() as session:
        in_group = await overdue_members(session, START, default_zone=SHANGHAI, group="律师党小组")
        capped = await overdue_report(session, START, default_zone=SHANGHAI, limit=2)
        with pytest.raises(DirectoryError, match="no group"):
            await overdue_members(session, START, default_zone=SHANGHAI, group="没有这个组")
    assert len(in_group) == 5
    assert (len(capped.members), capped.total, capped.more) == (2, 6, 4)


def test_whole_months_count_only_completed_months() -> None:
    d = datetime.fromisoformat
    assert whole_months_between(d("2026-09-03").date(), d("2026-11-15").date()) == 2
    assert whole_months_between(d("2026-09-16").date(), d("2026-11-15").date()) == 1
    assert whole_months_between(d("2026-01-31").date(), d("2026-02-28").date()) == 0


async def test_find_members_by_phone_in_any_format_or_part_of_the_name(db: Database) -> None:
    group = await make_group(db, START)
    await make_member(db, START, name="张伟", phone="+8613800138000", groups=[group])
    await make_member(db, START, name="张伟强", phone="+8613800138001", groups=[group])
    await make_member(db, START, name="100%_张", phone="+8613800138002", groups=[group])
    await make_member(db, START, name="张三", phone="+8613800138003")  # not in the group
    liaison = await make_staff(db, START, telegram_user_id=1, groups=[group])

    async with db.session() as session:
        by_phone = await find_members(session, liaison.id, "0086 138-0013 8001")
        by_name = await find_members(session, liaison.id, "  张 ")
        wildcard = await find_members(session, liaison.id, "%_")
        outside = await find_members(session, liaison.id, "+86 138 0013 8003")
        capped = await find_members(session, liaison.id, "张", limit=2)

    assert [m.name for m in by_phone.matches] == ["张伟强"]
    assert by_phone.by_phone and by_phone.audit_query == "+86 138****8001"
    assert {m.name for m in by_name.matches} == {"张伟", "张伟强", "100%_张"}
    assert [m.name for m in wildcard.matches] == ["100%_张"]
    assert outside.matches == []
    assert len(capped.matches) == 2 and capped.truncated


async def test_member_card_only_in_scope_with_the_last_three_check_ins(db: Database) -> None:
    group = await make_group(db, START)
    member = await make_member(
        db, START, name="Anna", phone="+4915112345678", groups=[group], timezone="Europe/Berlin"
    )
    stranger = await make_member(db, START, name="Other", phone="+8613800138000")
    for day, city in ((1, "Hamburg"), (2, "München"), (3, "Köln")):
        await make_checkin(db, member, datetime(2026, 8 + day, 5, 12, tzinfo=UTC), city=city)
    # 23:30 UTC on 31 October is already 1 November in Berlin.
    await make_checkin(db, member, datetime(2026, 10, 31, 23, 30, tzinfo=UTC), city="Berlin")
    liaison = await make_staff(db, START, telegram_user_id=1, groups=[group])

    async with db.session() as session:
        card = await member_card(session, liaison.id, member.id, default_zone=SHANGHAI)
        hidden = await member_card(session, liaison.id, stranger.id, default_zone=SHANGHAI)
        missing = await member_card(session, liaison.id, 10_000, default_zone=SHANGHAI)
        assert await may_see(session, liaison.id, member.id)
        assert not await may_see(session, liaison.id, stranger.id)

    assert hidden is None and missing is None
    assert card is not None
    assert card.groups == [group.name] and card.phone_masked == "+49 151****5678"
    assert [(c.on.isoformat(), c.location) for c in card.checkins] == [
        ("2026-11-05", "Köln"),
        ("2026-11-01", "Berlin"),
        ("2026-10-05", "München"),
    ]
