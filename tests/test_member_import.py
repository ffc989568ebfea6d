"""Roster import into the registry: all or nothing, found by phone, idempotent."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from storage import demo
from storage.clock import FakeClock
from storage.db import Database
from storage.members import import_roster, list_members
from storage.models import AuditEvent, GroupKind, Member, MemberStatus
from storage.roster import read_roster
from tests.factories import make_group, make_unit

HEADER = "name,phone,status,home_unit,origin,destination,groups,workplace,trade\n"


async def _prepare(db: Database, clock: FakeClock) -> None:
    unit = await make_unit(db, clock.now(), "民意街道党工委")
    await make_group(db, clock.now(), "驻深圳流动党员党小组", GroupKind.DESTINATION, unit)
    await make_group(db, clock.now(), "律师行业党小组", GroupKind.TRADE, unit)


async def _import(db: Database, clock: FakeClock, path: Path):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await import_roster(
            session, clock.now(), read_roster(path), actor="cli:test", source=path.name
        )


async def _members(db: Database) -> dict[str, Member]:
    async with db.session() as session:
        rows = await session.scalars(select(Member).options(selectinload(Member.groups)))
        return {m.phone or "": m for m in rows}


async def test_import_creates_members_with_groups(db: Database, clock: FakeClock, tmp_path: Path):
    await _prepare(db, clock)
    path = tmp_path / "roster.csv"
    path.write_text(
        HEADER + "张伟,138 0013 8000,outflow,民意街道党工委,武汉市江汉区,深圳市南山区,"
        "驻深圳流动党员党小组;律师行业党小组,某科技公司,软件\n"
        + "王芳,+86-139-0013-9000,流入,,湖北省孝感市,武汉市江汉区,,,\n",
        encoding="utf-8",
    )
    report = await _import(db, clock, path)
    assert (report.created, report.updated, report.unchanged, report.errors) == (2, 0, 0, [])
    members = await _members(db)
    zhang = members["+8613800138000"]
    assert zhang.status is MemberStatus.OUTFLOW
    assert sorted(g.name for g in zhang.groups) == ["律师行业党小组", "驻深圳流动党员党小组"]
    assert members["+8613900139000"].status is MemberStatus.INFLOW


async def test_reimport_changes_nothing_and_a_changed_row_updates(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    await _prepare(db, clock)
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + "张伟,13800138000,outflow,,,深圳市南山区,驻深圳流动党员党小组,,\n")
    assert (await _import(db, clock, path)).created == 1
    again = await _import(db, clock, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)

    path.write_text(HEADER + "张伟,+86 138 0013 8000,outflow,,,广州市天河区,律师行业党小组,,\n")
    changed = await _import(db, clock, path)
    assert (changed.created, changed.updated) == (0, 1)
    zhang = (await _members(db))["+8613800138000"]
    assert zhang.destination == "广州市天河区"
    assert [g.name for g in zhang.groups] == ["律师行业党小组"]


async def test_any_bad_row_imports_nothing(db: Database, clock: FakeClock, tmp_path: Path) -> None:
    await _prepare(db, clock)
    path = tmp_path / "roster.csv"
    path.write_text(
        HEADER
        + "张伟,13800138000,outflow,,,,驻深圳流动党员党小组,,\n"
        + ",13900139000,outflow,,,,,,\n"  # row 3: no name
        + "李强,12345,outflow,,,,,,\n"  # row 4: invalid phone
        + "赵敏,13700137000,abroad,,,,,,\n"  # row 5: unknown status
        + "刘洋,13600136000,outflow,,,,不存在的小组,,\n"  # row 6: unknown group
        + "陈静,13500135000,outflow,不存在的单位,,,,,\n"  # row 7: unknown home unit
        + "杨磊,138-0013-8000,outflow,,,,,,\n"  # row 8: duplicate phone of row 2
    )
    report = await _import(db, clock, path)
    assert not report.ok
    assert {e.row_number for e in report.errors} == {3, 4, 5, 6, 7, 8}
    assert any("不存在的小组" in e.message for e in report.errors)
    assert any("不存在的单位" in e.message for e in report.errors)
    assert await _members(db) == {}
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 0


async def test_xlsx_with_float_phones_and_chinese_headers(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    await _prepare(db, clock)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "手机号", "类型", "党小组"])
    sheet.append(["张伟", 13800138000.0, "流出党员", "驻深圳流动党员党小组"])
    sheet.append(["王芳", 13900139000, "本地", None])
    path = tmp_path / "花名册.xlsx"
    book.save(path)
    report = await _import(db, clock, path)
    assert report.created == 2
    assert set(await _members(db)) == {"+8613800138000", "+8613900139000"}


async def test_import_is_audited(db: Database, clock: FakeClock, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + "张伟,13800138000,local,,,,,,\n")
    await _import(db, clock, path)
    async with db.session() as session:
        event = await session.scalar(select(AuditEvent))
    assert event is not None
    assert (event.actor, event.action, event.subject) == ("cli:test", "member.import", "roster.csv")
    assert event.detail == {"created": 1, "updated": 0, "unchanged": 0}


async def test_demo_loads_a_district_and_twice_changes_nothing(
    db: Database, clock: FakeClock
) -> None:
    async with db.session() as session:
        assert await demo.load_demo(session, clock.now()) is True
    async with db.session() as session:
        assert await demo.load_demo(session, clock.now()) is False
        rows = await list_members(session)
        audits = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert len(rows) == len(demo.MEMBERS)
    # The roster and the sample places, each once: the second load wrote nothing.
    assert audits == ["member.import", "place.import"]
    sample = next(r for r in rows if r.phone == demo.SAMPLE_MEMBER_PHONE)
    assert sample.bound
    kinds = {g for r in rows for g in r.groups}
    assert {name for name, _, _ in demo.GROUPS} <= kinds


async def test_the_timezone_column_sets_a_members_zone_and_an_empty_cell_keeps_it(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    await _prepare(db, clock)
    path = tmp_path / "roster.csv"
    header = HEADER.strip() + ",timezone\n"
    path.write_text(header + "张伟,13800138000,outflow,,,迪拜,,,,Asia/Dubai\n")
    assert (await _import(db, clock, path)).created == 1
    assert (await _members(db))["+8613800138000"].timezone == "Asia/Dubai"

    # A roster without the zone (the cell or the column) leaves the member's own zone alone.
    path.write_text(header + "张伟,13800138000,outflow,,,迪拜,,,,\n")
    assert (await _import(db, clock, path)).unchanged == 1
    path.write_text(HEADER + "张伟,13800138000,outflow,,,迪拜,,,\n")
    assert (await _import(db, clock, path)).unchanged == 1
    assert (await _members(db))["+8613800138000"].timezone == "Asia/Dubai"

    # A bad zone is a bad row: nothing is imported, the zone stays.
    path.write_text(header + "张伟,13800138000,outflow,,,柏林,,,,Berlin time\n")
    report = await _import(db, clock, path)
    assert [(e.row_number, e.column) for e in report.errors] == [(2, "timezone")]
    member = (await _members(db))["+8613800138000"]
    assert (member.destination, member.timezone) == ("迪拜", "Asia/Dubai")
