"""`liaison report year`, as the district's operator runs it each January."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEvent
from tests.cli_helpers import cli_database, liaison, on_database
from tests.test_year_report import build_district


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = cli_database(tmp_path, monkeypatch)

    async def fill(db: Database) -> None:
        await build_district(db)

    on_database(url, fill)
    return url


def _exports(url: str) -> list[tuple[str | None, object]]:
    async def read(db: Database) -> list[tuple[str | None, object]]:
        async with db.session() as session:
            events = await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "report.year")
            )
            return [(e.subject, (e.detail or {}).get("unit")) for e in events]

    return on_database(url, read)


def test_the_years_report_as_pdf_and_workbook(database_url: str, tmp_path: Path) -> None:
    result = liaison("report", "year", "2026", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    pdf, xlsx = tmp_path / "liaison-year-2026.pdf", tmp_path / "liaison-year-2026.xlsx"
    assert f"5 member(s) in 2026; wrote {pdf} and {xlsx}" in result.output
    assert "年度流动党员工作统计" in PdfReader(pdf).pages[0].extract_text()
    book = openpyxl.load_workbook(xlsx)
    assert book["党员情况"]["B3"].value == 3  # outflow
    assert _exports(database_url) == [(f"{pdf.name},{xlsx.name}", None)]


def test_one_units_report_in_english(database_url: str, tmp_path: Path) -> None:
    result = liaison(
        "report", "year", "2026", "--unit", "花楼街道", "--lang", "en", "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    assert "2 member(s) in 2026" in result.output
    book = openpyxl.load_workbook(tmp_path / "liaison-year-2026-花楼街道.xlsx")
    assert [row[0].value for row in book["Check-in by group"].iter_rows(min_row=2)] == [
        "驻深圳党小组"
    ]
    text = PdfReader(tmp_path / "liaison-year-2026-花楼街道.pdf").pages[0].extract_text()
    assert "Scope: 花楼街道" in text
    assert _exports(database_url)[0][1] == "花楼街道"


def test_a_wrong_year_unit_or_folder_is_refused(database_url: str, tmp_path: Path) -> None:
    for year in ("26", "2026-01", "1999", "next"):
        result = liaison("report", "year", year, "--out", str(tmp_path))
        assert result.exit_code == 1, year
        assert "is not a year" in result.output
    result = liaison("report", "year", "2026", "--unit", "无此街道", "--out", str(tmp_path))
    assert result.exit_code == 1 and "no unit named '无此街道'" in result.output
    result = liaison("report", "year", "2026", "--out", str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and "no such folder" in result.output
    assert list(tmp_path.glob("liaison-year-*")) == []
    assert _exports(database_url) == []
