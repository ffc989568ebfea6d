"""The console's reports: an administrator downloads the month's roster for the police
station and compares the station's list with ours, as the command line does; a unit's
administrator only for their units; a liaison is refused; every export is audited."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import httpx
import openpyxl
import pytest
from sqlalchemy import select

from bot.console.reports import KEEP
from bot.console.uploads import Upload, parse_multipart
from storage.clock import FakeClock
from storage.db import Database
from storage.models import AuditEvent, StaffRole, Unit
from tests.console_harness import actions, csrf_of, log_in
from tests.factories import make_staff
from tests.test_police import DECEMBER, POLICE_LIST, fill_street

ADMIN = 9003
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def units(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {unit.name: unit.id for unit in await session.scalars(select(Unit))}


async def police_events(db: Database) -> list[tuple[str, str, str | None, dict[str, object]]]:
    async with db.session() as session:
        events = await session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("police.%")).order_by(AuditEvent.id)
        )
        return [(e.actor, e.action, e.subject, dict(e.detail or {})) for e in events]


async def staff_in(
    db: Database,
    clock: FakeClock,
    browser: httpx.AsyncClient,
    *,
    role: StaffRole = StaffRole.ADMIN,
    unit_names: tuple[str, ...] = (),
    locale: str | None = None,
) -> str:
    """A staff member signed in; their actor name."""
    async with db.session() as session:
        chosen = list(await session.scalars(select(Unit).where(Unit.name.in_(unit_names))))
    staff = await make_staff(
        db, DECEMBER, telegram_user_id=ADMIN, role=role, units=chosen, locale=locale
    )
    clock.set(DECEMBER)
    await log_in(browser, db, clock, staff.id)
    return f"staff:{staff.id}"


def sheet_rows(data: bytes, title: str) -> list[list[object]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [list(row) for row in book[title].iter_rows(values_only=True)]


def options(page: str) -> list[str]:
    """The unit picker's choices, as shown (the roster form's)."""
    picker = re.search(r'<select name="unit" id="roster-unit"[^>]*>(.*?)</select>', page, re.S)
    assert picker is not None
    return re.findall(r"<option[^>]*>([^<]*)</option>", picker.group(1))


def section(page: str, name: str) -> str:
    found = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert found is not None, name
    return found.group(1)


def csv_bytes(rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(row) for row in rows).encode("utf-8-sig")


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(
    browser: httpx.AsyncClient,
    name: str,
    data: bytes,
    *,
    unit: int | str,
    month: str = "2026-11",
    csrf: str | None = None,
) -> httpx.Response:
    if csrf is None:
        csrf = csrf_of((await browser.get("/reports/police")).text)
    return await browser.post(
        "/reports/police/reconcile",
        data={"csrf": csrf, "month": month, "unit": str(unit)},
        files={"file": (name, data, "application/octet-stream")},
    )


async def test_an_administrator_downloads_the_months_roster_for_the_police(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    await fill_street(db)
    ids = await units(db)
    me = await staff_in(db, clock, browser)

    index = await browser.get("/reports")
    assert index.status_code == 200
    assert '<a href="/reports" aria-current="page">报表</a>' in index.text
    assert '<a href="/reports/police">派出所月度对账</a>' in index.text
    page = await browser.get("/reports/police")
    assert page.status_code == 200
    assert options(page.text) == ["全部单位", "民意街道", "花园社区", "花楼街道"]
    assert 'name="month" value="2026-12"' in page.text  # this month by default

    response = await browser.get(
        "/reports/police/roster.xlsx", params={"month": "2026-11", "unit": ids["民意街道"]}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert "police-2026-11.xlsx" in response.headers["content-disposition"]
    rows = sheet_rows(response.content, "流入党员名单")
    assert rows[0] == ["姓名", "手机号码", "流出地", "现居住地", "工作单位", "较上月变化"]
    by_name = {row[0]: row for row in rows[1:]}
    assert list(by_name) == ["孙丽", "李强", "王芳", "赵敏", "陈刚"]  # who left comes last
    # Whole phones, as the station needs them; what a member typed never runs as a formula.
    assert by_name["王芳"][1:] == ["+8613800000001", None, "湖北省 武汉市 江汉区", None, None]
    assert by_name["李强"][4:] == ['\'=HYPERLINK("x")', "住址变动（原：湖北省 武汉市 江汉区）"]
    notes = [row[0] for row in sheet_rows(response.content, "说明")]
    assert notes[1] == "2026-11 流入党员名单（民意街道）"
    assert "生成时间：2026-12-02 10:00+08:00" in notes

    everyone = await browser.get("/reports/police/roster.xlsx", params={"month": "2026-11"})
    assert "周杰" in [row[0] for row in sheet_rows(everyone.content, "流入党员名单")]
    # Audited as the command line's export: the file, the month, the unit, how many.
    assert await police_events(db) == [
        (
            me,
            "police.report",
            "police-2026-11-民意街道.xlsx",
            {"month": "2026-11", "unit": "民意街道", "count": 4, "left": 1},
        ),
        (me, "police.report", "police-2026-11.xlsx", {"month": "2026-11", "unit": None,
                                                      "count": 5, "left": 1}),
    ]  # fmt: skip


async def test_a_unit_administrator_reports_only_on_their_units(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    await fill_street(db)
    ids = await units(db)
    me = await staff_in(db, clock, browser, unit_names=("民意街道",))

    page = await browser.get("/reports/police")
    assert options(page.text) == ["民意街道", "花园社区"]  # their street and the one below
    community = await browser.get(
        "/reports/police/roster.xlsx", params={"month": "2026-11", "unit": ids["花园社区"]}
    )
    assert [row[0] for row in sheet_rows(community.content, "流入党员名单")[1:]] == [
        "孙丽",
        "李强",
    ]
    # Another street: not found, as if it did not exist, and the attempt is in the log.
    other = await browser.get(
        "/reports/police/roster.xlsx", params={"month": "2026-11", "unit": ids["花楼街道"]}
    )
    assert other.status_code == 404
    assert "找不到这个单位" in other.text
    # All units at once is a district administrator's choice: the form asks for a unit.
    every = await browser.get("/reports/police/roster.xlsx", params={"month": "2026-11"})
    assert every.status_code == 400
    assert "请选择一个单位。" in every.text
    # Nor may their upload be compared with another street's roster.
    compared = await upload(browser, "p.csv", csv_bytes(POLICE_LIST), unit=ids["花楼街道"])
    assert compared.status_code == 404
    assert [(actor, action, detail) for actor, action, _, detail in await police_events(db)] == [
        (me, "police.report", {"month": "2026-11", "unit": "花园社区", "count": 2, "left": 0}),
        (me, "police.report.refused", {"reason": "unit", "unit": str(ids["花楼街道"])}),
        (me, "police.reconcile.refused", {"reason": "unit", "unit": str(ids["花楼街道"])}),
    ]


async def test_a_liaison_is_refused_and_the_attempt_audited(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await fill_street(db)
    me = await staff_in(db, clock, browser, role=StaffRole.LIAISON, unit_names=("民意街道",))
    home = await browser.get("/")
    # Their index lists only what a liaison may open: the yearly report of their groups.
    index = await browser.get("/reports")
    assert index.status_code == 200
    assert 'href="/reports/year"' in index.text
    assert 'href="/reports/police"' not in index.text
    assert 'href="/reports/letters"' not in index.text
    for path in ("/reports/police", "/reports/police/roster.xlsx?month=2026-11"):
        refused = await browser.get(path)
        assert refused.status_code == 403, path
        assert "这份报表只供管理员使用" in refused.text
        assert refused.headers["content-type"].startswith("text/html")
    posted = await upload(
        browser, "p.csv", csv_bytes(POLICE_LIST), unit=street.id, csrf=csrf_of(home.text)
    )
    assert posted.status_code == 403
    assert "这份报表只供管理员使用" in posted.text
    refusals = [a for a in await actions(db) if a[1].endswith(".refused")]
    assert refusals == [
        (me, "console.reports.view.refused"),
        (me, "police.report.refused"),
        (me, "police.reconcile.refused"),
    ]
    assert not [e for e in await police_events(db) if not e[1].endswith(".refused")]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
async def test_the_police_list_compared_on_a_page_with_phones_masked(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, kind: str
) -> None:
    street = await fill_street(db)
    me = await staff_in(db, clock, browser)
    rows = [list(map(str, row)) for row in POLICE_LIST]
    data = csv_bytes(rows) if kind == "csv" else xlsx_bytes(rows)
    name = f"派出所名单.{kind}"

    posted = await upload(browser, name, data, unit=street.id)
    assert posted.status_code == 303
    where = posted.headers["location"]
    assert where.startswith("/reports/police/findings/")
    page = await browser.get(where)
    assert page.status_code == 200
    text = page.text
    assert f"派出所名单“{name}”与 2026-11 流入党员名单（民意街道）的对照。" in text
    assert "对上 3 人（其中仅凭姓名 1 人）；仅派出所名单有 1 人；仅我方名单有 1 人" in text
    # Missing from the station's list: the newcomer; extra on theirs: 钱多; moved: 李强, and
    # 孙丽 whose row has no phone and was matched by name.
    missing = section(text, "ours-only")
    assert re.findall(r"<tr><td>([^<]*)</td>", missing) == ["赵敏"]
    assert "<td>+86 138****0003</td>" in missing
    extra = section(text, "theirs-only")
    assert "钱多" in extra and "<td>+86 139****0009</td>" in extra
    moved = section(text, "place-differs")
    assert re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td>", moved) == [
        ("3", "李强"),
        ("4", "孙丽"),
    ]
    assert "湖北省武汉市江汉区民意路1号" in moved and "湖北省 武汉市 武昌区" in moved
    assert "仅姓名" in moved
    bad = section(text, "bad-rows")
    assert re.findall(r"<tr><td>(\d+)</td>", bad) == ["6", "7"]
    assert "没有姓名，也没有手机号码" in bad and "手机号码无法识别（too short）" in bad
    # Never a whole phone number on the page.
    assert not re.search(r"1[3-9]\d{9}", text)

    book = await browser.get(f"{where}/findings.xlsx")
    assert book.status_code == 200
    assert book.headers["content-type"] == XLSX
    theirs = sheet_rows(book.content, "仅派出所名单有")
    assert theirs[1] == [5, "钱多", "+8613900000009", "湖北省武汉市江汉区"]
    assert [row[1] for row in sheet_rows(book.content, "仅我方名单有")[1:]] == ["+8613800000003"]
    assert [row[1] for row in sheet_rows(book.content, "住址不一致")[1:]] == ["李强", "孙丽"]

    counts = {"matched": 3, "theirs_only": 1, "ours_only": 1, "place_differs": 2, "bad_rows": 2}
    assert await police_events(db) == [
        (me, "police.reconcile", name, counts),
        (me, "police.reconcile.view", name, counts),
        (me, "police.reconcile.export", name, counts),
    ]
    # The findings are kept an hour (the login kept alive meanwhile), then asked for again.
    for _ in range(3):
        clock.advance(KEEP / 3 + timedelta(minutes=1))
        assert (await browser.get("/reports")).status_code == 200
    gone = await browser.get(where)
    assert gone.status_code == 404
    assert "请重新上传派出所名单" in gone.text


async def test_the_findings_are_for_the_login_that_uploaded_the_list(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await fill_street(db)
    me = await staff_in(db, clock, browser)
    posted = await upload(browser, "p.csv", csv_bytes(POLICE_LIST), unit=street.id)
    where = posted.headers["location"]
    # A new login (another session) cannot open them, nor guess another's.
    await log_in(browser, db, clock, int(me.removeprefix("staff:")))
    assert (await browser.get(where)).status_code == 404
    assert (await browser.get(f"{where}/findings.xlsx")).status_code == 404
    assert (await browser.get("/reports/police/findings/1")).status_code == 404


async def test_a_file_that_cannot_be_read_is_shown_and_nothing_is_compared(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await fill_street(db)
    await staff_in(db, clock, browser)

    no_header = await upload(
        browser, "名单.csv", csv_bytes([["备注"], ["x"]]), unit=street.id, month="2026-10"
    )
    assert no_header.status_code == 400
    errors = section(no_header.text, "reconcile")
    assert (
        "这个文件无法读取，没有对账：no name (姓名) or phone (手机) column in the header" in errors
    )
    # What was chosen is still chosen, to try again with the file corrected.
    assert 'value="2026-10" id="reconcile-month"' in errors
    assert f'<option value="{street.id}" selected>民意街道</option>' in errors
    old_excel = await upload(browser, "名单.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100, unit=street.id)
    assert "unsupported file type .xls: use .csv or .xlsx" in old_excel.text
    broken = await upload(browser, "名单.xlsx", b"PK\x03\x04 not really", unit=street.id)
    assert broken.status_code == 400
    assert "cannot open 名单.xlsx as an Excel workbook" in broken.text
    csrf = csrf_of(no_header.text)
    nothing = await browser.post(
        "/reports/police/reconcile",
        data={"csrf": csrf, "month": "2026-11", "unit": str(street.id)},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert nothing.status_code == 400
    assert "请选择要上传的派出所名单文件。" in nothing.text
    bad_month = await upload(browser, "p.csv", csv_bytes(POLICE_LIST), unit=street.id, month="11")
    assert bad_month.status_code == 400
    assert "月份应写成 2026-11 这样的格式。" in bad_month.text
    too_big = await upload(browser, "p.csv", b"x" * (8 * 1024 * 1024 + 1), unit=street.id)
    assert too_big.status_code == 413
    assert "文件太大" in too_big.text
    assert await police_events(db) == []


async def test_a_forged_upload_is_refused(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await fill_street(db)
    await staff_in(db, clock, browser)
    await browser.get("/reports/police")
    before = await actions(db)
    for csrf in ("forged", ""):
        forged = await upload(browser, "p.csv", csv_bytes(POLICE_LIST), unit=street.id, csrf=csrf)
        assert forged.status_code == 403
        assert "请求被拒绝" in forged.text
    assert await actions(db) == before


async def test_the_reports_in_english(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await fill_street(db)
    await staff_in(db, clock, browser, locale="en")
    index = await browser.get("/reports")
    assert '<a href="/reports/police">Police station, monthly</a>' in index.text
    page = await browser.get("/reports/police")
    assert options(page.text)[0] == "all units"
    assert "Compare the police station&#39;s list" in page.text
    roster = await browser.get(
        "/reports/police/roster.xlsx", params={"month": "2026-11", "unit": street.id}
    )
    assert openpyxl.load_workbook(io.BytesIO(roster.content)).sheetnames == [
        "Inflow members",
        "notes",
    ]
    posted = await upload(browser, "police.csv", csv_bytes(POLICE_LIST), unit=street.id)
    findings = await browser.get(posted.headers["location"])
    assert "On our list, not the police station&#39;s" in findings.text
    assert "Matched 3 (1 by name only); on the police list only 1" in findings.text
    book = await browser.get(f"{posted.headers['location']}/findings.xlsx")
    assert openpyxl.load_workbook(io.BytesIO(book.content)).sheetnames[0] == "Police list only"
    unreadable = await upload(browser, "police.csv", csv_bytes([["x"], ["y"]]), unit=street.id)
    assert "This file cannot be read, so nothing was compared" in unreadable.text


async def test_the_findings_keep_what_people_typed_as_text(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await fill_street(db)
    await staff_in(db, clock, browser)
    rows = [["姓名", "手机", "现住址"], ["<b>钱多</b>", "13900000009", "=1+2"]]
    posted = await upload(browser, "<名单>&.csv", csv_bytes(rows), unit=street.id)
    page = await browser.get(posted.headers["location"])
    assert "&lt;b&gt;钱多&lt;/b&gt;" in page.text and "<b>钱多" not in page.text
    assert "“&lt;名单&gt;&amp;.csv”" in page.text
    book = await browser.get(f"{posted.headers['location']}/findings.xlsx")
    assert sheet_rows(book.content, "仅派出所名单有")[1][3] == "'=1+2"
    # A name too long for a file name or the log is shortened, its extension kept.
    long = await upload(browser, "长" * 300 + ".csv", csv_bytes(rows), unit=street.id)
    assert long.status_code == 303
    assert (await police_events(db))[-1][2] == "长" * 55 + "….csv"
    # ".." names no file.
    dots = await upload(browser, "..", csv_bytes(rows), unit=street.id)
    assert "unsupported file type (none)" in dots.text


async def test_the_upload_reader_reads_what_browsers_send() -> None:
    """Fields and files of multipart bodies as browsers write them (Chromium's is driven in
    test_console_reports_browser.py): a quoted boundary, a Windows path, a quote in a name."""
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="csrf"\r\n\r\n'
        b"token\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; '
        b'filename="C:\\fakepath\\%22\xe5\x90\x8d\xe5\x8d\x95%22.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n"
        b"a,b\r\n\r\nc\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="empty"; filename=""\r\n\r\n'
        b"\r\n"
        b"--XyZ--\r\n"
    )
    fields, files = await parse_multipart('multipart/form-data; boundary="XyZ"', body)
    assert fields == {"csrf": "token"}
    # The file's own bytes, line breaks and all; its name without the folder.
    assert files == {"file": Upload('"名单".csv', b"a,b\r\n\r\nc")}
    # Not multipart at all, or no boundary: nothing (the CSRF check then refuses it).
    assert await parse_multipart("multipart/form-data", body) == ({}, {})
    assert await parse_multipart("multipart/form-data; boundary=other", body) == ({}, {})
