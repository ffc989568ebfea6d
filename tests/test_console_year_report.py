"""The yearly report in the console: the form, the downloads in the visitor's scope (a
liaison's groups only, a unit for an administrator), and a year or unit not theirs refused."""

from __future__ import annotations

import io
from urllib.parse import unquote

import httpx
import openpyxl
from pypdf import PdfReader
from sqlalchemy import select

from storage.clock import FakeClock
from storage.db import Database
from storage.models import AuditEvent, StaffRole
from tests.console_harness import LIAISON, OTHER_LIAISON, log_in
from tests.factories import make_staff
from tests.test_year_report import JANUARY, NOW, TRICKY, build_district


def _column(data: bytes, sheet: str) -> list[object]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [row[0].value for row in book[sheet].iter_rows(min_row=2)]


async def _exports(db: Database) -> list[tuple[str, str | None]]:
    async with db.session() as session:
        events = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == "report.year").order_by(AuditEvent.id)
        )
        return [(event.actor, event.subject) for event in events]


async def test_a_liaison_downloads_the_report_of_their_groups_only(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    clock.set(NOW)
    district = await build_district(db)
    liaison = await make_staff(db, JANUARY, telegram_user_id=LIAISON, groups=[district.shenzhen])
    await log_in(browser, db, clock, liaison.id)
    page = await browser.get("/reports/year")
    assert page.status_code == 200
    assert "年度统计报告" in page.text and 'value="2026"' in page.text
    assert 'id="own-scope"' in page.text and 'name="unit"' not in page.text

    xlsx = await browser.get("/reports/year.xlsx", params={"year": "2026"})
    assert xlsx.status_code == 200
    assert xlsx.headers["content-disposition"].startswith(
        'attachment; filename="liaison-year-2026.xlsx"'
    )
    assert _column(xlsx.content, "各党小组报到") == ["驻深圳党小组"]
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book["概况"]["B5"].value == 2  # 赵敏 and 陈刚: members at the year's end
    pdf = await browser.get("/reports/year.pdf", params={"year": "2026"})
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "驻深圳党小组" in text and "民意" not in text
    # A unit is not a liaison's to choose: the same refusal as a unit that is not there.
    refused = await browser.get(
        "/reports/year.pdf", params={"year": "2026", "unit": str(district.street.id)}
    )
    assert refused.status_code == 404 and "不在您的负责范围内" in refused.text
    assert await _exports(db) == [
        (f"staff:{liaison.id}", "liaison-year-2026.xlsx"),
        (f"staff:{liaison.id}", "liaison-year-2026.pdf"),
    ]


async def test_an_administrator_chooses_a_unit_in_english(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    clock.set(NOW)
    district = await build_district(db)
    admin = await make_staff(
        db, JANUARY, telegram_user_id=OTHER_LIAISON, role=StaffRole.ADMIN, locale="en"
    )
    await log_in(browser, db, clock, admin.id)
    page = (await browser.get("/reports/year")).text
    assert "民意街道" in page and "花楼街道" in page
    xlsx = await browser.get(
        "/reports/year.xlsx", params={"year": "2026", "unit": str(district.street.id)}
    )
    assert xlsx.status_code == 200
    disposition = xlsx.headers["content-disposition"]
    assert unquote(disposition.split("UTF-8''")[1]) == "liaison-year-2026-民意街道.xlsx"
    # The group's formula-looking name stays text.
    assert _column(xlsx.content, "Check-in by group") == ["'" + TRICKY]
    bad = await browser.get("/reports/year.pdf", params={"year": "1999"})
    assert bad.status_code == 400 and "like 2026" in bad.text
    assert await _exports(db) == [(f"staff:{admin.id}", "liaison-year-2026-民意街道.xlsx")]
