"""Roster import, parsing half: storage.phones and storage.roster (no database)."""

from __future__ import annotations

import csv
import re
import tracemalloc
import zipfile
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import phonenumbers
import pytest

from storage import sheets
from storage.phones import InvalidPhone, mask_phone, normalize_phone
from storage.roster import (
    STATUSES,
    ParsedRoster,
    RosterFileError,
    RosterRow,
    RowError,
    read_roster,
)

Cell = str | int | float | None

EN_HEADER = [
    "name",
    "phone",
    "status",
    "home_unit",
    "origin",
    "destination",
    "groups",
    "workplace",
    "trade",
]
ZH_HEADER = [
    "姓名",
    "手机号",
    "状态",
    "所在党组织",
    "流出地",
    "流入地",
    "党小组",
    "工作单位",
    "行业",
]


def write_csv(
    path: Path,
    rows: Sequence[Sequence[object]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[Cell]], *, start_row: int = 1) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "名册"
    for r, row in enumerate(rows, start=start_row):
        for c, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(row=r, column=c, value=value)
    wb.create_sheet("other").append(["unrelated", "sheet"])
    wb.save(path)
    return path


def errors_by_row(parsed: ParsedRoster) -> dict[int, list[tuple[str | None, str]]]:
    out: dict[int, list[tuple[str | None, str]]] = {}
    for e in parsed.errors:
        out.setdefault(e.row_number, []).append((e.column, e.message))
    return out


# ---------------------------------------------------------------------------
# normalize_phone


MOBILE = "+8613800138000"


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86-138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "(0086)13800138000",
        "0086 13800138000",
        "8613800138000",
        "１３８００１３８０００",  # full-width digits
        "＋８６ １３８－００１３－８０００",
        13800138000,
        13800138000.0,
        "13800138000.0",
        "1.38001380E+10",
        "1.3800138e10",
        " \t13800138000\u3000\xa0",
        "'13800138000",  # Excel text prefix
        '="13800138000"',  # Excel CSV trick
    ],
)
def test_normalize_phone_accepts_spreadsheet_mess(raw: object) -> None:
    assert normalize_phone(raw) == MOBILE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("027-85712345", "+862785712345"),
        ("(027) 8571 2345", "+862785712345"),
        ("+86 (0)27 85712345", "+862785712345"),
        ("010-12345678", "+861012345678"),
        ("+1 650 253 0000", "+16502530000"),
        (8613800138000, MOBILE),
    ],
)
def test_normalize_phone_landlines_and_foreign(raw: object, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty"),
        ("", "empty"),
        ("   \u3000", "empty"),
        ("abc", "letters"),
        ("138OO138000", "letters"),
        ("手机13800138000", "letters"),
        ("027-85712345 ext 12", "letters"),
        ("12345", "too short"),
        ("1380013800", "too short"),
        ("138001380001", "too long"),
        ("1" * 30, "too long"),
        ("x" * 5000, "too long"),
        ("13800138000/13900139000", "more than one number"),
        ("1.38E+10", "lost digits"),  # Excel's scientific display threw digits away
        ("1.38001E+10", "lost digits"),
        ("1380013800.5", "decimal"),
        (13800138000.5, "not a phone number"),
        (float("nan"), "not a phone number"),
        (-13800138000, "not a phone number"),
        (True, "not a phone number"),
        ([13800138000], "not a phone number"),
        ("---", "no digits"),
        ("12000000000", "not a valid number"),  # 11 digits, no such mobile prefix
        ("400-810-8888", "not a personal number"),
        ("10086", "too short"),
        ("+999 1234 5678", "country code"),
    ],
)
def test_normalize_phone_rejects(raw: object, reason: str) -> None:
    with pytest.raises(InvalidPhone) as excinfo:
        normalize_phone(raw)
    assert reason in str(excinfo.value)
    assert len(str(excinfo.value)) < 100


def test_invalid_phone_is_a_value_error() -> None:
    assert issubclass(InvalidPhone, ValueError)


def test_normalize_phone_result_is_valid_e164() -> None:
    for raw in ["138 0013 8000", "027-85712345", "+1 650 253 0000"]:
        e164 = normalize_phone(raw)
        number = phonenumbers.parse(e164, None)
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == e164


def test_normalize_phone_other_region() -> None:
    assert normalize_phone("(650) 253-0000", region="US") == "+16502530000"


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+8613800138000", "+86 138****8000"),
        ("+862785712345", "+86 278***2345"),
        ("+16502530000", "+1 650***0000"),
        ("+8612345", "+86 1***5"),
        ("+86123", "+86 **3"),
        ("", "***"),
    ],
)
def test_mask_phone(e164: str, masked: str) -> None:
    assert mask_phone(e164) == masked


def test_mask_phone_never_shows_the_whole_number() -> None:
    for e164 in ["+8613800138000", "+862785712345", "garbage 13800138000"]:
        masked = mask_phone(e164)
        assert "13800138000" not in masked.replace(" ", "")
        assert "*" in masked


# ---------------------------------------------------------------------------
# read_roster: good files


GOOD_ROWS: list[list[Cell]] = [
    [
        "张三",
        "13800138000",
        "inflow",
        "第一党支部",
        "湖北省武汉市",
        "广东省深圳市",
        "一组;二组；三组、一组",
        "深圳某科技公司",
        "软件",
    ],
    ["李四", "+86 139 0013 9000", "流出党员", None, None, "上海市", None, None, None],
    ["王五", "027-85712345", "本地", "第二党支部", None, None, " ; ", "", "  "],
]


def expected_good(first_row: int = 2) -> tuple[RosterRow, ...]:
    return (
        RosterRow(
            row_number=first_row,
            name="张三",
            phone="+8613800138000",
            status="inflow",
            home_unit="第一党支部",
            origin="湖北省武汉市",
            destination="广东省深圳市",
            groups=("一组", "二组", "三组"),
            workplace="深圳某科技公司",
            trade="软件",
        ),
        RosterRow(
            row_number=first_row + 1,
            name="李四",
            phone="+8613900139000",
            status="outflow",
            home_unit=None,
            origin=None,
            destination="上海市",
            groups=(),
            workplace=None,
            trade=None,
        ),
        RosterRow(
            row_number=first_row + 2,
            name="王五",
            phone="+862785712345",
            status="local",
            home_unit="第二党支部",
            origin=None,
            destination=None,
            groups=(),
            workplace=None,
            trade=None,
        ),
    )


@pytest.mark.parametrize(
    ("encoding", "delimiter", "header"),
    [
        ("utf-8", ",", EN_HEADER),
        ("utf-8-sig", ",", ZH_HEADER),  # Excel "CSV UTF-8" has a BOM
        ("gbk", ",", ZH_HEADER),  # Chinese Excel's plain "CSV"
        ("gb18030", ";", ZH_HEADER),
        ("utf-8", "\t", EN_HEADER),
        ("utf-16", "\t", ZH_HEADER),  # Excel "Unicode text"
    ],
)
def test_good_csv(tmp_path: Path, encoding: str, delimiter: str, header: list[str]) -> None:
    path = write_csv(
        tmp_path / "roster.csv", [header, *GOOD_ROWS], encoding=encoding, delimiter=delimiter
    )
    parsed = read_roster(path)
    assert parsed.errors == ()
    assert parsed.rows == expected_good()
    assert parsed.ignored_columns == ()


def test_good_xlsx_with_chinese_headers_and_numeric_phones(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [
        ["序号", *ZH_HEADER, "备注"],
        [1, "张三", 13800138000, "流入", None, None, None, "一组", None, None, "x"],
        [2.0, "李四", 13900139000.0, "OUTFLOW", None, "武汉", None, None, 42, None, None],
        [3, "王五", "+86 137 0013 7000", "在册", "第二党支部", None, None, None, None, None, None],
    ]
    parsed = read_roster(write_xlsx(tmp_path / "roster.xlsx", rows))
    assert parsed.errors == ()
    assert [r.phone for r in parsed.rows] == ["+8613800138000", "+8613900139000", "+8613700137000"]
    assert [r.status for r in parsed.rows] == ["inflow", "outflow", "local"]
    assert [r.row_number for r in parsed.rows] == [2, 3, 4]
    assert parsed.rows[0].groups == ("一组",)
    assert parsed.rows[1].origin == "武汉"
    assert parsed.rows[1].workplace == "42"  # numbers in text columns become text
    assert parsed.ignored_columns == ("序号", "备注")


def test_xlsx_reads_only_the_first_worksheet(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    first = wb.active
    assert first is not None
    first.append(EN_HEADER[:3])
    first.append(["张三", "13800138000", "inflow"])
    second = wb.create_sheet("second")
    second.append(EN_HEADER[:3])
    second.append(["李四", "13900139000", "inflow"])
    wb.active = 1  # the active sheet is not what we read
    wb.save(tmp_path / "two.xlsx")
    parsed = read_roster(tmp_path / "two.xlsx")
    assert [r.name for r in parsed.rows] == ["张三"]


@pytest.mark.parametrize(
    "header",
    [
        ["NAME", " Phone ", "Status", "Home Unit", "HOME-UNIT-X"],
        ["姓名*", "联系电话", "类型", "组织关系所在党组织", "其他"],
        ["Name", "手机", "状态", "单位", "Groups "],
    ],
)
def test_header_aliases_case_and_whitespace(tmp_path: Path, header: list[str]) -> None:
    rows = [header, ["张三", "13800138000", "Inflow", "第一党支部", "一组"]]
    parsed = read_roster(write_csv(tmp_path / "r.csv", rows))
    assert parsed.errors == ()
    (row,) = parsed.rows
    assert (row.name, row.phone, row.status, row.home_unit) == (
        "张三",
        MOBILE,
        "inflow",
        "第一党支部",
    )


def test_all_status_aliases(tmp_path: Path) -> None:
    values = {
        "inflow": "inflow",
        "INFLOW": "inflow",
        "流入": "inflow",
        "流入党员": "inflow",
        "outflow": "outflow",
        "流出": "outflow",
        "流出党员": "outflow",
        "local": "local",
        "Local": "local",
        "本地": "local",
        "在册": "local",
        " 流出 ": "outflow",
    }
    rows: list[list[Cell]] = [["name", "phone", "status"]]
    rows += [[f"m{i}", f"1380013{i:04d}", v] for i, v in enumerate(values)]
    parsed = read_roster(write_csv(tmp_path / "r.csv", rows))
    assert parsed.errors == ()
    assert [r.status for r in parsed.rows] == list(values.values())
    assert set(values.values()) == set(STATUSES)


def test_messy_phone_formats(tmp_path: Path) -> None:
    phones: list[Cell] = [
        "138 0013 8001",
        "+86-138-0013-8002",
        "+86 138 0013 8003",
        "(0086)13800138004",
        "0086 13800138005",
        "１３８００１３８００６",
        13800138007,
        13800138008.0,
        "13800138009.0",
        "1.38001381E+10",
        " \t13800138011\u3000",
        "027-85712345",
    ]
    expected = [
        *(f"+86138001380{i:02d}" for i in range(1, 10)),
        "+8613800138100",
        "+8613800138011",
        "+862785712345",
    ]
    rows: list[list[Cell]] = [["姓名", "手机", "状态"]]
    rows += [[f"成员{i}", p, "流入"] for i, p in enumerate(phones)]
    parsed = read_roster(write_xlsx(tmp_path / "messy.xlsx", rows))
    assert parsed.errors == ()
    assert [r.phone for r in parsed.rows] == expected

    csv_rows = [[str(c) for c in row] for row in rows]
    parsed_csv = read_roster(write_csv(tmp_path / "messy.csv", csv_rows, encoding="gbk"))
    assert parsed_csv.errors == ()
    assert [r.phone for r in parsed_csv.rows] == expected


def test_cells_are_cleaned(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [
        ["name", "phone", "status", "workplace", "groups"],
        [
            "\u3000 张  \u3000三\xa0 ",
            "13800138000",
            "inflow",
            "  某公司\u200b ",
            " 一组 ；\u3000二组 ",
        ],
    ]
    (row,) = read_roster(write_csv(tmp_path / "r.csv", rows)).rows
    assert row.name == "张 三"
    assert row.workplace == "某公司"
    assert row.groups == ("一组", "二组")


def test_markup_is_kept_verbatim(tmp_path: Path) -> None:
    rows = [["name", "phone", "status", "trade"], ["<b>x</b>", "13800138000", "inflow", "<i>&amp;"]]
    (row,) = read_roster(write_csv(tmp_path / "r.csv", rows)).rows
    assert row.name == "<b>x</b>"
    assert row.trade == "<i>&amp;"


# ---------------------------------------------------------------------------
# read_roster: bad rows


def test_bad_rows_every_error_kind(tmp_path: Path) -> None:
    long_name = "长" * 65
    rows: list[list[Cell]] = [
        ["name", "phone", "status", "workplace"],  # row 1
        ["ok", "13800138000", "inflow", None],  # 2
        [None, "13800138001", "inflow", None],  # 3 missing name
        ["bad phone", "12345", "inflow", None],  # 4
        ["bad status", "13800138002", "visitor", None],  # 5
        ["dup", "+86 138 0013 8000", "local", None],  # 6 duplicate of row 2
        [long_name, "13800138003", "local", None],  # 7
        ["long field", "13800138004", "local", "x" * 201],  # 8
        [None, "abc", "?", "y" * 300],  # 9 everything at once
        ["no phone", None, None, None],  # 10
        ["ok too", "13800138005", "outflow", "x" * 200],  # 11 exactly at the limit
        ["dup again", "13800138000.0", "inflow", None],  # 12 second duplicate of row 2
    ]
    parsed = read_roster(write_csv(tmp_path / "bad.csv", rows))
    assert [r.row_number for r in parsed.rows] == [2, 11]
    assert errors_by_row(parsed) == {
        3: [("name", "missing name")],
        4: [("phone", "invalid phone '12345': too short")],
        5: [("status", "unknown status 'visitor' (expected inflow, outflow or local)")],
        6: [("phone", "duplicate phone '+86 138 0013 8000': same as row 2")],
        7: [("name", "name too long (65 characters, max 64)")],
        8: [("workplace", "workplace too long (201 characters, max 200)")],
        9: [
            ("name", "missing name"),
            ("phone", "invalid phone 'abc': contains letters"),
            ("status", "unknown status '?' (expected inflow, outflow or local)"),
            ("workplace", "workplace too long (300 characters, max 200)"),
        ],
        10: [("phone", "missing phone"), ("status", "missing status")],
        12: [("phone", "duplicate phone '13800138000.0': same as row 2")],
    }
    assert all(isinstance(e, RowError) for e in parsed.errors)


def test_duplicate_phone_counts_rows_with_other_errors(tmp_path: Path) -> None:
    rows = [
        ["name", "phone", "status"],
        ["first", "13800138000", "unknown"],
        ["second", "13800138000", "inflow"],
    ]
    parsed = read_roster(write_csv(tmp_path / "r.csv", rows))
    assert parsed.rows == ()
    assert [(e.row_number, e.column) for e in parsed.errors] == [(2, "status"), (3, "phone")]
    assert "same as row 2" in parsed.errors[1].message


def test_five_thousand_character_cells(tmp_path: Path) -> None:
    huge = "字" * 5000
    rows: list[list[Cell]] = [
        ["name", "phone", "status", "origin", "groups"],
        [huge, "13800138000", "inflow", None, None],
        ["a", huge, "inflow", None, None],
        ["b", "13800138001", huge, None, None],
        ["c", "13800138002", "inflow", huge, huge],
    ]
    for path in (write_csv(tmp_path / "big.csv", rows), write_xlsx(tmp_path / "big.xlsx", rows)):
        parsed = read_roster(path)
        assert parsed.rows == ()
        assert errors_by_row(parsed) == {
            2: [("name", "name too long (5000 characters, max 64)")],
            3: [("phone", "phone too long (5000 characters, max 200)")],
            4: [("status", f"unknown status '{'字' * 39}…' (expected inflow, outflow or local)")],
            5: [
                ("origin", "origin too long (5000 characters, max 200)"),
                ("groups", "groups too long (5000 characters, max 200)"),
            ],
        }


# ---------------------------------------------------------------------------
# read_roster: blank rows and row numbers


def test_blank_rows_are_skipped_and_row_numbers_kept_csv(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text(
        "\n"  # 1
        ",,,\n"  # 2 (Excel writes blank rows like this)
        "name,phone,status,note\n"  # 3 header
        "张三,13800138000,inflow,\n"  # 4
        ",,,\n"  # 5
        " , \u3000,\t,\n"  # 6 whitespace only
        ",,,only a note\n"  # 7 nothing in a known column
        "李四,13900139000,outflow,\n",  # 8
        encoding="utf-8",
    )
    parsed = read_roster(path)
    assert parsed.errors == ()
    assert [(r.row_number, r.name) for r in parsed.rows] == [(4, "张三"), (8, "李四")]
    assert parsed.ignored_columns == ("note",)


def test_blank_rows_are_skipped_and_row_numbers_kept_xlsx(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [
        ["姓名", "手机号", "状态"],  # row 3 (start_row)
        ["张三", 13800138000, "流入"],  # 4
        [None, None, None],  # 5
        ["  ", "\u3000", None],  # 6
        ["李四", None, "流出"],  # 7: error, row number must be right
        [None, None, None],  # 8
        ["王五", 13700137000.0, "本地"],  # 9
    ]
    parsed = read_roster(write_xlsx(tmp_path / "blank.xlsx", rows, start_row=3))
    assert [(r.row_number, r.name) for r in parsed.rows] == [(4, "张三"), (9, "王五")]
    assert errors_by_row(parsed) == {7: [("phone", "missing phone")]}


def test_csv_row_numbers_count_records_not_lines(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [
        ["name", "phone", "status", "workplace"],
        ["张三", "13800138000", "inflow", "line one\nline two"],
        ["李四", "bad", "inflow", None],
    ]
    parsed = read_roster(write_csv(tmp_path / "r.csv", rows))
    assert parsed.rows[0].workplace == "line one\nline two"
    assert [e.row_number for e in parsed.errors] == [3]


# ---------------------------------------------------------------------------
# read_roster: whole-file problems


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        (["name", "status"], "phone"),
        (["姓名", "备注"], "phone, status"),
        (["手机", "状态"], "name"),
    ],
)
def test_missing_required_columns(tmp_path: Path, header: list[str], missing: str) -> None:
    path = write_csv(tmp_path / "r.csv", [header, ["x"] * len(header)])
    with pytest.raises(RosterFileError, match=f"missing required column\\(s\\): {missing} "):
        read_roster(path)
    with pytest.raises(RosterFileError, match=missing):
        read_roster(write_xlsx(tmp_path / "r.xlsx", [header, ["x"] * len(header)]))


def test_two_columns_for_the_same_field(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [["姓名", "手机", "电话", "状态"]])
    with pytest.raises(RosterFileError, match="'手机' and '电话' are both read as phone"):
        read_roster(path)


@pytest.mark.parametrize("content", ["", "\n\n", ",,,\n,,,\n", "\ufeff", " \u3000 \n"])
def test_empty_csv(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RosterFileError, match="empty"):
        read_roster(path)


def test_empty_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(RosterFileError, match="empty"):
        read_roster(path)


def test_header_without_data(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [EN_HEADER, [], [""] * 9])
    with pytest.raises(RosterFileError, match="no member rows"):
        read_roster(path)
    with pytest.raises(RosterFileError, match="no member rows"):
        read_roster(write_xlsx(tmp_path / "r.xlsx", [ZH_HEADER]))


@pytest.mark.parametrize("name", ["roster.xls", "roster.txt", "roster", "roster.json", "r.ods"])
def test_unsupported_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("name,phone,status\n", encoding="utf-8")
    with pytest.raises(RosterFileError, match="unsupported file type"):
        read_roster(path)


def test_extension_is_case_insensitive(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "R.CSV", [["name", "phone", "status"], ["a", "13800138000", "本地"]]
    )
    assert len(read_roster(path).rows) == 1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RosterFileError, match="cannot"):
        read_roster(tmp_path / "nope.csv")
    with pytest.raises(RosterFileError, match="cannot"):
        read_roster(tmp_path / "nope.xlsx")


def test_corrupt_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(RosterFileError, match=r"cannot open bad\.xlsx"):
        read_roster(path)


def test_workbook_saved_as_csv(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "real.xlsx", [EN_HEADER])
    path = tmp_path / "fake.csv"
    path.write_bytes((tmp_path / "real.xlsx").read_bytes())
    with pytest.raises(RosterFileError, match="Excel workbook"):
        read_roster(path)


def test_undecodable_csv(tmp_path: Path) -> None:
    path = tmp_path / "bin.csv"
    path.write_bytes(b"name,phone,status\n\x00\x01\x02\xff\xfe\n")
    with pytest.raises(RosterFileError):
        read_roster(path)


# ---------------------------------------------------------------------------
# progress bar and volume


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows: list[list[Cell]] = [["name", "phone", "status"]]
    rows += [[f"m{i}", f"1380013{i:04d}", "inflow"] for i in range(50)]
    for path in (write_csv(tmp_path / "r.csv", rows), write_xlsx(tmp_path / "r.xlsx", rows)):
        assert len(read_roster(path, progress=True).rows) == 50
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "51" in captured.err  # 51 spreadsheet rows read
    read_roster(tmp_path / "r.csv")
    assert capsys.readouterr().err == ""


def test_many_rows(tmp_path: Path) -> None:
    n = 5_000
    rows: list[list[Cell]] = [list(ZH_HEADER)]
    rows += [
        [f"成员{i}", 13000000000 + i, "流入", "第一党支部", None, None, "一组", None, None]
        for i in range(n)
    ]
    parsed = read_roster(write_csv(tmp_path / "many.csv", rows, encoding="gbk"))
    assert len(parsed.rows) == n
    assert parsed.errors == ()
    assert parsed.rows[-1].row_number == n + 1


def test_xlsx_with_wrong_dimension_record(tmp_path: Path) -> None:
    """Some programs write <dimension ref="A1"/>; read-only openpyxl would stop at row 1."""
    good = write_xlsx(
        tmp_path / "good.xlsx",
        [
            ["name", "phone", "status"],
            ["张三", 13800138000, "inflow"],
            ["李四", 13900139000, "local"],
        ],
    )
    bad = tmp_path / "bad_dimension.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(
                    rb'<dimension ref="A1:C3" ?/>', b'<dimension ref="A1"/>', data
                )
                assert count == 1
            dst.writestr(item, data)
    assert [r.name for r in read_roster(bad).rows] == ["张三", "李四"]


def test_a_timezone_column_in_english_or_chinese(tmp_path: Path) -> None:
    for header in ("timezone", "时区"):
        path = write_csv(
            tmp_path / "roster.csv",
            [
                ["name", "phone", "status", header],
                ["张三", "13800138000", "outflow", "Asia/Dubai"],
                ["李四", "13900139000", "outflow", "utc+4"],
                ["王五", "13700137000", "outflow", ""],  # empty: their zone is left as it is
            ],
        )
        parsed = read_roster(path)
        assert parsed.errors == ()
        assert parsed.ignored_columns == ()
        assert [r.timezone for r in parsed.rows] == ["Asia/Dubai", "Etc/GMT-4", None]


def test_a_bad_timezone_is_reported_with_its_row_and_value(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "roster.csv",
        [
            ["name", "phone", "status", "timezone"],
            ["张三", "13800138000", "outflow", "Asia/Dubai"],
            ["李四", "13900139000", "outflow", "迪拜"],
            ["王五", "13700137000", "outflow", "UTC+5:30"],
        ],
    )
    parsed = read_roster(path)
    assert [r.name for r in parsed.rows] == ["张三"]
    by_row = errors_by_row(parsed)
    assert list(by_row) == [3, 4]
    [(column, message)] = by_row[3]
    assert column == "timezone"
    assert message.startswith("unknown time zone '迪拜' (use an IANA name like Asia/Dubai")
    assert "Asia/Kolkata for UTC+5:30" in by_row[4][0][1]


# ---------------------------------------------------------------------------
# files too big to read: refused before they take the machine's memory


def write_bomb(path: Path, rows: int) -> Path:
    """A real workbook whose sheet is rows copies of one member: megabytes that unpack huge."""
    small = write_xlsx(path.with_name("small.xlsx"), [EN_HEADER[:3], ["张三", 13800138000, "x"]])
    header = b"".join(
        b'<c t="inlineStr"><is><t>%s</t></is></c>' % t for t in (b"name", b"phone", b"status")
    )
    row = (
        b'<row><c t="inlineStr"><is><t>\xe5\xbc\xa0\xe4\xb8\x89</t></is></c>'
        b'<c t="n"><v>13800138000</v></c><c t="inlineStr"><is><t>x</t></is></c></row>'
    )
    with zipfile.ZipFile(small) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(item, src.read(item.filename))
                continue
            head, _, _ = src.read(item.filename).partition(b"<sheetData>")
            with dst.open(item.filename, "w", force_zip64=True) as sheet:
                sheet.write(head + b"<sheetData><row>" + header + b"</row>")
                chunk = row * 10_000
                for _ in range(rows // 10_000):
                    sheet.write(chunk)
                sheet.write(b"</sheetData></worksheet>")
    return path


def test_an_xlsx_that_unpacks_huge_is_refused_before_it_is_read(tmp_path: Path) -> None:
    bomb = write_bomb(tmp_path / "bomb.xlsx", rows=1_000_000)  # 1.2 MB that unpacks to 117 MB
    assert bomb.stat().st_size < 2 * 2**20
    tracemalloc.start()
    try:
        with pytest.raises(RosterFileError) as refused:
            read_roster(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(refused.value) == (
        "the workbook unpacks to 117 MB, more than the limit of 64 MB: split it into smaller files"
    )
    assert peak < 2 * 2**20  # the sheet was never unpacked


def test_a_sheet_of_too_many_cells_is_refused_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A million real cells take openpyxl seconds to read: the same rule at a smaller mark.
    monkeypatch.setattr(sheets, "MAX_CELLS", 3_000)
    bomb = write_bomb(tmp_path / "many.xlsx", rows=10_000)
    with pytest.raises(RosterFileError, match=r"^row 1001: the sheet has more than 3,000 cells"):
        read_roster(bomb)
    path = write_csv(tmp_path / "many.csv", [EN_HEADER[:3]] + [["张三", "138", "x"]] * 2000)
    with pytest.raises(RosterFileError, match="split it into smaller files"):
        read_roster(path)


def test_a_huge_csv_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(100 * 2**20)  # sparse: no time or disk spent
    with pytest.raises(RosterFileError, match=r"^the file is 100 MB, more than the limit of 64 MB"):
        read_roster(path)


# ---------------------------------------------------------------------------
# an encoding that decodes but reads wrong


def test_a_shift_jis_csv_is_refused_rather_than_read_as_garbled_chinese(tmp_path: Path) -> None:
    # Japanese Excel's plain "CSV": every byte pair is also valid GBK, so it decodes.
    rows = [["name", "phone", "status"], ["山田太郎", "13800138000", "inflow"]]
    rows += [["佐藤はなこ", "13900139000", "local"], ["タナカ ケンジ", "13700137000", "local"]]
    path = write_csv(tmp_path / "roster.csv", rows, encoding="shift_jis")
    with pytest.raises(RosterFileError) as refused:
        read_roster(path)
    assert str(refused.value) == (
        "cannot tell the file's encoding: it is not UTF-8, and read as Chinese GBK it is "
        "mostly unusual characters (嶳揷懢榊嵅摗偼側…): save the file as UTF-8 "
        "(in Excel: Save As, CSV UTF-8) and import that"
    )
    path.write_text(path.read_bytes().decode("shift_jis"), encoding="utf-8")  # as told
    assert [r.name for r in read_roster(path).rows] == ["山田太郎", "佐藤はなこ", "タナカ ケンジ"]


def test_a_gbk_csv_of_names_with_rare_characters_is_read(tmp_path: Path) -> None:
    # 喆 堃 珺 昇 are outside the common GB2312 set, as some given names are.
    names = ["王喆", "张堃", "李珺", "陈昇", "欧阳娜娜"]
    rows = [["name", "phone", "status"]]
    rows += [[name, f"1380013800{i}", "inflow"] for i, name in enumerate(names)]
    path = write_csv(tmp_path / "roster.csv", rows, encoding="gbk")
    parsed = read_roster(path)
    assert [r.name for r in parsed.rows] == names
    assert parsed.errors == ()
