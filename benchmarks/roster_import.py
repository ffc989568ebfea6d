"""Roster import of 10,000 members from CSV and from XLSX into SQLite (parse + write)."""

from __future__ import annotations

import csv
import tempfile
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl

from benchmarks.common import Timer, fresh_database, show
from storage import directory
from storage.members import import_roster
from storage.models import GroupKind
from storage.roster import read_roster

ROWS = 10_000
NOW = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)
HEADER = ["name", "phone", "status", "home_unit", "origin", "destination", "groups"]


def _rows() -> list[list[Any]]:
    return [
        [
            f"党员{i:05d}",
            f"138 {i // 10000:04d} {i % 10000:04d}" if i % 2 else 13800000000.0 + i,
            ("outflow", "流入", "local")[i % 3],
            "民意街道党工委",
            "武汉市江汉区",
            "深圳市南山区",
            "驻深圳流动党员党小组;青年流动党员联络群" if i % 4 == 0 else "",
        ]
        for i in range(ROWS)
    ]


async def _measure(path: Path) -> dict[str, float]:
    async with fresh_database() as database:
        async with database.session() as session:
            await directory.add_unit(session, NOW, "民意街道党工委")
            await directory.add_group(
                session, NOW, "驻深圳流动党员党小组", kind=GroupKind.DESTINATION
            )
            await directory.add_group(session, NOW, "青年流动党员联络群", kind=GroupKind.OTHER)
        with Timer() as parse:
            parsed = read_roster(path)
        with Timer() as write:
            async with database.session() as session:
                report = await import_roster(session, NOW, parsed, actor="bench", source=path.name)
        # Memory is measured on a second, traced parse: tracing would distort the timings.
        tracemalloc.start()
        read_roster(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert report.created == ROWS, report.errors[:3]
        with Timer() as again:
            async with database.session() as session:
                second = await import_roster(session, NOW, read_roster(path), actor="b", source="x")
        assert second.unchanged == ROWS
    return {
        "parse_s": parse.seconds,
        "write_s": write.seconds,
        "reimport_s": again.seconds,
        "rows_per_s": ROWS / (parse.seconds + write.seconds),
        "parse_peak_mb": peak / 1e6,
    }


async def run() -> dict[str, Any]:
    rows = _rows()
    results: dict[str, Any] = {"rows": ROWS}
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "roster.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(rows)
        xlsx_path = Path(folder) / "roster.xlsx"
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(HEADER)
        for row in rows:
            sheet.append(row)
        book.save(xlsx_path)
        for kind, path in (("csv", csv_path), ("xlsx", xlsx_path)):
            figures = await _measure(path)
            results[kind] = figures
            show(f"{kind}: parse {ROWS:,} rows", figures["parse_s"], "s")
            show(f"{kind}: write {ROWS:,} new members", figures["write_s"], "s")
            show(f"{kind}: re-import, nothing changed", figures["reimport_s"], "s")
            show(f"{kind}: throughput", figures["rows_per_s"], "rows/s")
            show(f"{kind}: peak Python memory while parsing", figures["parse_peak_mb"], "MB")
    return results
