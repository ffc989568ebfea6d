"""The reports area in a real browser (chromium): an administrator uploads the police
station's list as a file from their computer, sees the findings, and downloads the
roster and the findings' workbook, the multipart form and the downloads as a browser
really sends and takes them."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from bot.context import Services
from storage.clock import FakeClock
from storage.db import Database
from storage.models import StaffRole
from tests.console_chromium import console_tab, needs_chromium
from tests.factories import make_staff
from tests.test_police import DECEMBER, POLICE_LIST, _write_xlsx, fill_street

pytestmark = needs_chromium


async def test_an_administrator_uploads_the_police_list_and_downloads_the_workbooks(
    services: Services, db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    street = await fill_street(db)
    staff = await make_staff(db, DECEMBER, telegram_user_id=9003, role=StaffRole.ADMIN)
    clock.set(DECEMBER)
    police = _write_xlsx(tmp_path / "派出所名单 11月.xlsx", list(POLICE_LIST))
    async with console_tab(services) as tab:
        page = tab.page
        await tab.sign_in(db, clock, staff.id)
        await page.get_by_role("link", name="报表").click()
        await page.get_by_role("link", name="派出所月度对账").click()
        assert await page.title() == "派出所月度对账 · 联络工作台"

        await page.fill("#roster-month", "2026-11")
        await page.select_option("#roster-unit", label="民意街道")
        async with page.expect_download() as waiting:
            await page.get_by_role("button", name="下载名单（XLSX）").click()
        download = await waiting.value
        assert download.suggested_filename == "police-2026-11-民意街道.xlsx"
        await download.save_as(tmp_path / download.suggested_filename)
        roster = openpyxl.load_workbook(tmp_path / download.suggested_filename)
        assert roster.sheetnames == ["流入党员名单", "说明"]

        await page.fill("#reconcile-month", "2026-11")
        await page.select_option("#reconcile-unit", value=str(street.id))
        await page.set_input_files("input[name=file]", police)
        await page.get_by_role("button", name="上传并对账").click()
        await page.wait_for_selector("#summary")
        assert "派出所名单“派出所名单 11月.xlsx”" in await page.inner_text("#compared")
        assert "对上 3 人" in await page.inner_text("#summary")
        assert "+86 138****0003" in await page.inner_text("#ours-only")
        await tab.screenshot("console-reports.png")
        async with page.expect_download() as waiting:
            await page.click("#download")
        findings = await waiting.value
        assert findings.suggested_filename == "police-findings-2026-11.xlsx"
        await findings.save_as(tmp_path / "findings.xlsx")
        book = openpyxl.load_workbook(tmp_path / "findings.xlsx")
        assert book.sheetnames[0] == "仅派出所名单有"
