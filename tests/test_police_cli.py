"""`liaison report police` and `liaison reconcile police`, as the street's operator runs them
each month: the workbook for the station, and the station's list compared with ours."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEvent
from tests.cli_helpers import cli_database, liaison, on_database
from tests.test_police import POLICE_LIST, _write_csv, _write_xlsx, fill_street


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = cli_database(tmp_path, monkeypatch)

    async def fill(db: Database) -> None:
        await fill_street(db)

    on_database(url, fill)
    return url


def _audit(url: str) -> list[tuple[str, str | None]]:
    async def read(db: Database) -> list[tuple[str, str | None]]:
        async with db.session() as session:
            events = await session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            return [(e.action, e.subject) for e in events if e.action.startswith("police.")]

    return on_database(url, read)


def _values(sheet: object) -> list[list[object]]:
    assert isinstance(sheet, openpyxl.worksheet.worksheet.Worksheet)
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_month_report_for_the_police_station(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "民意街道-2026-11.xlsx"
    result = liaison(
        "report", "police", "--month", "2026-11", "--unit", "民意街道", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "4 member(s), 1 who left" in result.output

    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["流入党员名单", "说明"]
    sheet = book["流入党员名单"]
    rows = _values(sheet)
    assert rows[0] == ["姓名", "手机号码", "流出地", "现居住地", "工作单位", "较上月变化"]
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["D"].width >= 20  # wide enough for "湖北省 武汉市 江汉区"
    by_name = {row[0]: row for row in rows[1:]}
    assert list(by_name) == ["孙丽", "李强", "王芳", "赵敏", "陈刚"]  # who left comes last
    assert by_name["王芳"][1:] == ["+8613800000001", None, "湖北省 武汉市 江汉区", None, None]
    assert by_name["李强"][5] == "住址变动（原：湖北省 武汉市 江汉区）"
    assert by_name["赵敏"][5] == "本月新增"
    assert by_name["陈刚"][5] == "已离开/不再为流入党员"
    assert by_name["孙丽"][5] == "失联"
    # What a member typed never runs as a formula in the station's Excel.
    assert by_name["李强"][4] == '\'=HYPERLINK("x")'
    assert sheet.cell(row=3, column=5).data_type == "s"
    notes = [row[0] for row in _values(book["说明"])]
    assert notes[1] == "2026-11 流入党员名单（民意街道）"
    assert any(str(line).startswith("生成时间：") for line in notes)
    assert any(str(line).startswith("现居住地：") for line in notes)
    assert _audit(database_url) == [("police.report", out.name)]


def test_the_report_in_english(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "all.xlsx"
    assert (
        liaison(
            "report", "police", "--month", "2026-11", "--lang", "en", "--out", str(out)
        ).exit_code
        == 0
    )
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Inflow members", "notes"]
    rows = _values(book["Inflow members"])
    assert rows[0][:2] == ["Name", "Phone"]
    assert "周杰" in [row[0] for row in rows]  # without --unit: every inflow member
    monkeypatch.setenv("LIAISON_LOCALE", "en")
    assert liaison("report", "police", "--month", "2026-11", "--out", str(out)).exit_code == 0
    assert openpyxl.load_workbook(out).sheetnames == ["Inflow members", "notes"]


def test_a_wrong_month_or_unit_is_refused(database_url: str, tmp_path: Path) -> None:
    out = str(tmp_path / "x.xlsx")
    for month in ("2026-13", "2026-1x", "November"):
        result = liaison("report", "police", "--month", month, "--out", out)
        assert result.exit_code == 1
        assert "not a month like 2026-11" in result.output
    result = liaison("report", "police", "--month", "2026-11", "--unit", "无此街道", "--out", out)
    assert "no unit named '无此街道'" in result.output
    assert not Path(out).exists()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_police_list_compared_with_ours(database_url: str, tmp_path: Path, kind: str) -> None:
    rows = [*POLICE_LIST, ["=1+2", "13900000010", "@SUM(A1)"]]
    if kind == "csv":
        police = _write_csv(tmp_path / "派出所.csv", [list(map(str, r)) for r in rows])
    else:
        police = _write_xlsx(tmp_path / "派出所.xlsx", [list(r) for r in rows])
    out = tmp_path / "对账.xlsx"
    result = liaison(
        "reconcile",
        "police",
        str(police),
        "--month",
        "2026-11",
        "--unit",
        "民意街道",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert "matched 3 (1 by name only); police list only 2; our list only 1" in text
    assert "place differs 2; bad rows 2" in text
    assert "row 5\t钱多\t+86 139****0009\t湖北省武汉市江汉区" in text
    assert "赵敏\t+86 138****0003\t湖北省 武汉市 江汉区" in text
    assert (
        "row 3\t李强\t+86 138****0002\t湖北省武汉市江汉区民意路1号\t湖北省 武汉市 武昌区\tphone"
        in text
    )
    assert "row 4\t孙丽" in text
    assert "row 6\tno name and no phone" in text
    assert "row 7\tunreadable phone" in text
    assert "13800000002" not in text  # whole numbers only in the workbook

    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["仅派出所名单有", "仅我方名单有", "住址不一致", "无法识别的行"]
    theirs = _values(book["仅派出所名单有"])
    assert theirs[0] == ["行号", "姓名", "手机号码", "派出所登记住址"]
    assert theirs[2] == [9, "'=1+2", "+8613900000010", "'@SUM(A1)"]
    differs = _values(book["住址不一致"])
    assert [row[1] for row in differs[1:]] == ["李强", "孙丽"]
    assert differs[2][5] == "仅姓名"
    bad = _values(book["无法识别的行"])[1:]
    assert [row[0] for row in bad] == [6, 7]
    assert bad[0][1] == "no name and no phone"
    assert str(bad[1][1]).startswith("unreadable phone")
    assert _audit(database_url) == [("police.reconcile", police.name)]


def test_a_file_that_cannot_be_read_stops_before_anything(
    database_url: str, tmp_path: Path
) -> None:
    police = _write_csv(tmp_path / "police.csv", [["备注"], ["x"]])
    result = liaison("reconcile", "police", str(police))
    assert result.exit_code == 1
    assert "police.csv: no name (姓名) or phone (手机) column" in result.output
    assert _audit(database_url) == []
