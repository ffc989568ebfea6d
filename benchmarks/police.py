"""Police reconciliation: a 10,000-row police list against 10,000 inflow members (SQLite)."""

from __future__ import annotations

import csv
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from sqlalchemy import insert

from benchmarks.common import Timer, fresh_database, show
from storage.models import LocationReport, LocationSource, Member, MemberStatus, Unit
from storage.police import PoliceListError, police_roster, read_police_list, reconcile
from storage.sheets import open_sheet

MEMBERS = int(os.environ.get("BENCH_POLICE_MEMBERS", "10000"))
ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
DISTRICTS = ("江汉区", "武昌区", "汉阳区", "洪山区")


def _phone(i: int) -> str:
    return f"+86138{i:08d}"


async def _fill(database: Any) -> None:
    """MEMBERS inflow members of one street, each with a place in October and in November."""
    async with database.session() as session:
        await session.execute(insert(Unit), [{"id": 1, "name": "民意街道", "created_at": START}])
        await session.execute(
            insert(Member),
            [
                {
                    "id": i,
                    "name": f"党员{i:05d}",
                    "phone": _phone(i),
                    "status": MemberStatus.INFLOW,
                    "home_unit_id": 1,
                    "origin": "河南省信阳市",
                    "workplace": "武汉某公司",
                    "registered_at": START,
                    "updated_at": START,
                }
                for i in range(1, MEMBERS + 1)
            ],
        )
        reports = []
        for i in range(1, MEMBERS + 1):
            for month, shift in ((10, 0), (11, i % 10 == 0)):  # one in ten moved in November
                reports.append(
                    {
                        "member_id": i,
                        "reported_at": datetime(2026, month, 5, tzinfo=UTC) + timedelta(minutes=i),
                        "source": LocationSource.TYPED,
                        "province": "湖北省",
                        "city": "武汉市",
                        "district": DISTRICTS[(i + int(shift)) % len(DISTRICTS)],
                    }
                )
        await session.execute(insert(LocationReport), reports)


def _police_rows() -> list[list[object]]:
    """The station's list: most of ours, one in twenty missing, some extra, some without phone."""
    rows: list[list[object]] = []
    for i in range(1, MEMBERS + 1):
        if i % 20 == 0:
            continue  # not registered with the police
        phone: object = f"138{i:08d}" if i % 50 else ""  # one in fifty: name only
        rows.append([f"党员{i:05d}", phone, f"湖北省武汉市{DISTRICTS[i % 4]}某路{i}号"])
    extra = MEMBERS - len(rows)
    rows += [[f"外来{i:05d}", f"139{i:08d}", "湖北省武汉市江汉区"] for i in range(extra)]
    return rows


def _write(folder: Path, rows: list[list[object]]) -> tuple[Path, Path]:
    header = ["姓名", "手机号码", "现住址"]
    csv_path = folder / "police.csv"
    with csv_path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    xlsx_path = folder / "police.xlsx"
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(xlsx_path)
    return csv_path, xlsx_path


def _just_read(path: Path) -> int:
    """The baseline: reading the file's cells, nothing more."""
    with open_sheet(path, error=PoliceListError) as (_, rows):
        return sum(1 for _ in rows)


async def run() -> dict[str, Any]:
    results: dict[str, Any] = {"members": MEMBERS}
    with tempfile.TemporaryDirectory() as folder:
        paths = _write(Path(folder), _police_rows())
        async with fresh_database() as database:
            await _fill(database)
            with Timer() as roster_time:
                async with database.session() as session:
                    roster = await police_roster(
                        session, NOW, "2026-11", zone=ZONE, actor="bench", audited=False
                    )
            assert len(roster.rows) == MEMBERS
            results["roster_s"] = roster_time.seconds
            show(f"our roster of {MEMBERS:,} with last month's places", roster_time.seconds, "s")
            for path in paths:
                kind = path.suffix[1:]
                with Timer() as baseline:
                    _just_read(path)
                with Timer() as parse:
                    theirs, bad = read_police_list(path)
                with Timer() as compare:
                    result = reconcile(roster.rows, theirs, bad)
                assert result.matched > MEMBERS * 0.9, result.matched
                results[kind] = {
                    "read_only_s": baseline.seconds,
                    "parse_s": parse.seconds,
                    "compare_s": compare.seconds,
                    "matched": result.matched,
                    "place_differs": len(result.place_differs),
                }
                show(f"{kind}: just reading the cells (baseline)", baseline.seconds, "s")
                show(f"{kind}: reading the police list (phones checked)", parse.seconds, "s")
                show(f"{kind}: comparing with ours", compare.seconds, "s")
                show(
                    f"{kind}: total over baseline",
                    (parse.seconds + compare.seconds) / max(baseline.seconds, 1e-9),
                    "x",
                )
    return results
