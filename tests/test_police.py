"""The monthly reconciliation with the police station: the roster as it stood at a month's
end and what changed since the previous one; the police list read back and compared."""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from storage.db import Database
from storage.members import import_roster
from storage.models import AuditEvent, LocationReport, LocationSource, Member, MemberStatus, Unit
from storage.police import (
    Change,
    PoliceListError,
    PoliceRow,
    TheirRow,
    police_roster,
    read_police_list,
    reconcile,
    same_place,
)
from storage.roster import read_roster
from tests.factories import make_member

SHANGHAI = ZoneInfo("Asia/Shanghai")
OCTOBER = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
JIANGHAN = "湖北省 武汉市 江汉区"
WUCHANG = "湖北省 武汉市 武昌区"


async def _unit(db: Database, name: str, parent: Unit | None = None) -> Unit:
    async with db.session() as session:
        unit = Unit(name=name, parent_id=parent.id if parent else None, created_at=OCTOBER)
        session.add(unit)
    return unit


async def _report(db: Database, member: Member, at: datetime, place: str) -> None:
    province, city, district = place.split()
    async with db.session() as session:
        session.add(
            LocationReport(
                member_id=member.id,
                reported_at=at,
                source=LocationSource.TYPED,
                province=province,
                city=city,
                district=district,
            )
        )


async def _change(db: Database, member: Member, **values: object) -> None:
    async with db.session() as session:
        row = await session.get(Member, member.id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


async def leave_by_roster(db: Database, member: Member, unit: str, at: datetime) -> None:
    """The roster imported at `at` says the member (of unit) is local now, not inflow."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roster.csv"
        path.write_text(
            f"name,phone,status,home_unit\n{member.name},{member.phone},local,{unit}\n",
            encoding="utf-8",
        )
        async with db.session() as session:
            report = await import_roster(
                session, at, read_roster(path), actor="cli:test", source=path.name
            )
    assert report.ok and report.updated == 1


async def fill_street(db: Database) -> Unit:
    """民意街道 with a community below it, and a neighbouring street; members of November."""
    street = await _unit(db, "民意街道")
    community = await _unit(db, "花园社区", street)
    other = await _unit(db, "花楼街道")

    async def inflow(name: str, phone: str, unit: Unit, at: datetime = OCTOBER) -> Member:
        return await make_member(
            db, at, name=name, phone=phone, status=MemberStatus.INFLOW, unit=unit
        )

    stayed = await inflow("王芳", "+8613800000001", street)
    await _report(db, stayed, OCTOBER, JIANGHAN)
    await _report(db, stayed, NOVEMBER, JIANGHAN)
    moved = await inflow("李强", "+8613800000002", community)
    await _report(db, moved, OCTOBER, JIANGHAN)
    await _report(db, moved, NOVEMBER, WUCHANG)
    await _change(db, moved, origin="河南省信阳市", workplace='=HYPERLINK("x")')
    newcomer = await inflow("赵敏", "+8613800000003", street, NOVEMBER)
    await _report(db, newcomer, NOVEMBER, JIANGHAN)
    gone = await inflow("陈刚", "+8613800000004", street)
    await leave_by_roster(db, gone, "民意街道", NOVEMBER)
    silent = await inflow("孙丽", "+8613800000005", community)
    await _report(db, silent, OCTOBER, JIANGHAN)
    await _change(db, silent, lost_contact_at=NOVEMBER)
    await inflow("周杰", "+8613800000006", other)  # another street
    await inflow("吴刚", "+8613800000007", street, DECEMBER)  # after the month
    await make_member(db, OCTOBER, name="郑和", phone="+8613800000008", unit=street)  # outflow
    return street


async def test_the_roster_shows_who_is_new_moved_left_or_silent(db: Database) -> None:
    street = await fill_street(db)
    async with db.session() as session:
        roster = await police_roster(
            session, DECEMBER, "2026-11", zone=SHANGHAI, unit=street, actor="cli:test"
        )
    rows = {row.name: row for row in roster.rows}
    assert [row.name for row in roster.rows][-1] == "陈刚"  # who left comes after the roster
    assert set(rows) == {"王芳", "李强", "赵敏", "陈刚", "孙丽"}
    assert rows["王芳"].changes == ()
    assert rows["王芳"].place == JIANGHAN
    assert rows["李强"].changes == (Change.MOVED,)
    assert (rows["李强"].previous_place, rows["李强"].place) == (JIANGHAN, WUCHANG)
    assert rows["李强"].origin == "河南省信阳市"
    assert rows["赵敏"].changes == (Change.NEW,)
    assert rows["陈刚"].changes == (Change.LEFT,)
    assert rows["孙丽"].changes == (Change.LOST_CONTACT,)
    assert rows["王芳"].phone == "+8613800000001"  # whole: the police need it

    async with db.session() as session:
        october = await police_roster(
            session, DECEMBER, "2026-10", zone=SHANGHAI, unit=street, actor="cli:test"
        )
        everyone = await police_roster(session, DECEMBER, "2026-11", zone=SHANGHAI, actor="cli:t")
        events = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action.like("police.%")).order_by(AuditEvent.id)
            )
        )
    # In October the moved member was still where they were, everyone was new, and 陈刚,
    # who left in November, was still inflow.
    moved_then = next(row for row in october.rows if row.name == "李强")
    assert moved_then.place == JIANGHAN
    assert {row.name for row in october.rows} == {"王芳", "李强", "孙丽", "陈刚"}
    assert all(row.changes == (Change.NEW,) for row in october.rows)
    assert "周杰" in {row.name for row in everyone.rows}
    assert [(e.action, (e.detail or {}).get("count")) for e in events] == [
        ("police.report", 4),
        ("police.report", 4),
        ("police.report", 5),
    ]


def _write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text as typed, as Excel keeps "=1+2" typed after a '
    book.save(path)
    return path


POLICE_LIST = [
    ["姓名", "手机", "现住址"],
    ["王芳", "13800000001", "湖北省武汉市江汉区花楼街5号"],  # same place
    ["李强", "138 0000 0002", "湖北省武汉市江汉区民意路1号"],  # moved: we have 武昌
    ["孙丽", "", "湖北省武汉市武昌区中山路2号"],  # no phone: matched by name, place differs
    ["钱多", "13900000009", "湖北省武汉市江汉区"],  # not ours
    ["", "", "湖北省武汉市"],  # no name, no phone
    ["马六", "12345", "湖北省"],  # unreadable phone
    ["", "", ""],  # blank line: not a problem
]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
async def test_the_police_list_against_ours(db: Database, tmp_path: Path, kind: str) -> None:
    street = await fill_street(db)
    if kind == "csv":
        path = _write_csv(tmp_path / "police.csv", [list(map(str, r)) for r in POLICE_LIST])
    else:
        path = _write_xlsx(tmp_path / "police.xlsx", list(POLICE_LIST))
    theirs, bad = read_police_list(path)
    async with db.session() as session:
        roster = await police_roster(
            session, DECEMBER, "2026-11", zone=SHANGHAI, unit=street, actor="cli:test"
        )
    result = reconcile(roster.rows, theirs, bad)

    assert result.matched == 3
    assert [(r.row_number, r.name) for r in result.theirs_only] == [(5, "钱多")]
    # 陈刚 left during the month: not on our list, so not missing from theirs.
    assert sorted(m.name for m in result.ours_only) == ["赵敏"]
    assert [(p.ours.name, p.by_name) for p in result.place_differs] == [
        ("李强", False),
        ("孙丽", True),
    ]
    assert [p.theirs.row_number for p in result.by_name] == [4]
    assert [(e.row_number, e.column) for e in result.bad_rows] == [(6, None), (7, "phone")]


async def test_english_and_other_chinese_headers(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "police.csv",
        [
            ["Full Name", "Mobile", "Current Address", "ID number"],
            ["王芳", "", "江汉区"],
        ],
    )
    theirs, bad = read_police_list(path)
    assert [(r.name, r.phone, r.address) for r in theirs] == [("王芳", None, "江汉区")]
    assert bad == []
    for aliases in (["名字", "电话", "居住地"], ["name", "tel", "address"]):
        other = _write_csv(tmp_path / "aliases.csv", [aliases, ["王芳", "13800000001", "x"]])
        assert read_police_list(other)[0][0].phone == "+8613800000001"


async def test_a_file_without_names_or_phones_is_refused(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "police.csv", [["地址", "备注"], ["江汉区", "x"]])
    with pytest.raises(PoliceListError, match="no name"):
        read_police_list(path)


def test_places_compare_as_the_police_write_addresses() -> None:
    assert same_place(JIANGHAN, "湖北省武汉市江汉区花楼街5号")
    assert not same_place(WUCHANG, "湖北省武汉市江汉区花楼街5号")
    assert same_place("深圳南山科技园", "深圳南山科技园")


def test_a_row_without_phone_is_not_matched_between_namesakes() -> None:
    ours = [PoliceRow(i, "王芳", f"+861380000000{i}", None, JIANGHAN, None, ()) for i in (1, 2)]
    result = reconcile(ours, [TheirRow(2, "王芳", None, "江汉区")], [])
    assert result.matched == 0
    assert [r.row_number for r in result.theirs_only] == [2]
    assert len(result.ours_only) == 2
