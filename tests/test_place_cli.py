"""`liaison place import|list`: what an operator types and reads."""

from __future__ import annotations

import csv
import getpass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.models import AuditEvent, Place
from tests.cli_helpers import cli_database, liaison, on_database

SAMPLE = Path(__file__).parent.parent / "storage" / "data" / "places.csv"
HEADER = ["名称", "类型", "地址", "所在区", "纬度", "经度", "开放时间", "联系电话"]


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return cli_database(tmp_path, monkeypatch)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def place_count(url: str) -> int:
    async def count(database: Database) -> int:
        async with database.session() as session:
            return await session.scalar(select(func.count()).select_from(Place)) or 0

    return on_database(url, count)


def audit_trail(url: str) -> list[tuple[str, str, str | None, dict[str, object] | None]]:
    async def read(
        database: Database,
    ) -> list[tuple[str, str, str | None, dict[str, object] | None]]:
        async with database.session() as session:
            events = await session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            return [(e.actor, e.action, e.subject, e.detail) for e in events]

    return on_database(url, read)


def test_import_the_sample_then_again(database_url: str) -> None:
    dry = liaison("place", "import", str(SAMPLE), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.strip() == (
        "dry run of places.csv, nothing changed: would be 20 added, 0 updated, 0 unchanged"
    )
    assert place_count(database_url) == 0

    first = liaison("place", "import", str(SAMPLE))
    assert first.output.strip() == "imported places.csv: 20 added, 0 updated, 0 unchanged"
    again = liaison("place", "import", str(SAMPLE))
    assert again.output.strip() == "imported places.csv: 0 added, 0 updated, 20 unchanged"
    assert place_count(database_url) == 20
    actor = f"cli:{getpass.getuser()}"
    assert [event[:3] for event in audit_trail(database_url)] == [
        (actor, "place.import", "places.csv"),
        (actor, "place.import", "places.csv"),
    ]


def test_list_everything_or_one_district(database_url: str) -> None:
    liaison("place", "import", str(SAMPLE))
    listing = liaison("place", "list")
    assert listing.exit_code == 0
    lines = [line.split("\t") for line in listing.output.splitlines()]
    assert len(lines) == 20
    assert [line[3] for line in lines] == ["上海市闵行区"] + ["武汉市江汉区"] * 18 + [
        "深圳市南山区"
    ]
    shenzhen = liaison("place", "list", "--district", "深圳市南山区")
    [line] = [line.split("\t") for line in shenzhen.output.splitlines()]
    assert line[1:] == [
        "驻深圳流动党员之家",
        "members_home",
        "深圳市南山区",
        "深圳市南山区科技园南区（示例地址）",
        "22.533300",
        "113.930500",
        "周六 14:00-18:00",
        "0755-26000001",
    ]
    nowhere = liaison("place", "list", "--district", "北京市")
    assert nowhere.exit_code == 1
    assert "no places in district '北京市'" in nowhere.output
    assert [event[1:3] for event in audit_trail(database_url)][1:] == [
        ("place.list", None),
        ("place.list", "深圳市南山区"),
        ("place.list", "北京市"),
    ]


def test_replace_removes_what_the_file_leaves_out(database_url: str, tmp_path: Path) -> None:
    liaison("place", "import", str(SAMPLE))
    short = write_csv(
        tmp_path / "short.csv",
        [
            [
                "江汉区流动党员活动中心",
                "活动中心",
                "新地址",
                "武汉市江汉区",
                "30.6",
                "114.27",
                "",
                "",
            ],
            ["新开的党员之家", "党员之家", "某路 1 号", "武汉市江汉区", "30.59", "114.26", "", ""],
        ],
    )
    plain = liaison("place", "import", str(short), "--dry-run", "--replace")
    assert plain.output.strip() == (
        "dry run of short.csv, nothing changed: would be 1 added, 1 updated, 0 unchanged, "
        "19 removed"
    )
    assert place_count(database_url) == 20
    replaced = liaison("place", "import", str(short), "--replace")
    assert replaced.output.strip() == (
        "imported short.csv: 1 added, 1 updated, 0 unchanged, 19 removed"
    )
    names = [line.split("\t")[1] for line in liaison("place", "list").output.splitlines()]
    assert names == ["新开的党员之家", "江汉区流动党员活动中心"]
    imports = [event for event in audit_trail(database_url) if event[1] == "place.import"]
    assert imports[-1][3] == {
        "added": 1,
        "updated": 1,
        "unchanged": 0,
        "removed": 19,
        "replace": True,
    }


def test_a_bad_file_lists_every_problem_and_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    liaison("place", "import", str(SAMPLE))
    bad = write_csv(
        tmp_path / "bad.csv",
        [
            ["好的", "党员之家", "某路", "武汉市江汉区", "30.6", "114.27", "", ""],
            ["坏的", "棋牌室", "某路", "武汉市江汉区", "114.27", "30.6", "", ""],
            ["好的", "党员之家", "", "武汉市江汉区", "30.6", "114.27", "", ""],
        ],
    )
    result = liaison("place", "import", str(bad), "--replace")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "row 3 (kind): unknown kind '棋牌室' (expected members_home, activity_centre, "
        "service_point, other, or 党员之家, 活动中心, 服务站)",
        "row 3 (latitude): latitude 114.27 is outside -90…90 (latitude and longitude swapped?)",
        "row 4 (address): missing address",
        "row 4 (name): duplicate place '好的' in 武汉市江汉区: as row 2",
        "error: 4 problem(s) found; nothing was imported",
    ]
    assert place_count(database_url) == 20
    assert len(audit_trail(database_url)) == 1


def test_whole_file_problems(database_url: str, tmp_path: Path) -> None:
    missing = liaison("place", "import", str(tmp_path / "nothing.csv"))
    assert (missing.exit_code, missing.output.strip()) == (
        1,
        f"error: no such file: {tmp_path}/nothing.csv",
    )
    text = tmp_path / "places.txt"
    text.write_text("名称\n", encoding="utf-8")
    wrong = liaison("place", "import", str(text))
    assert wrong.exit_code == 1
    assert "places.txt: unsupported file type .txt: use .csv or .xlsx" in wrong.output
    header_only = tmp_path / "empty.csv"
    header_only.write_text("名称,类型\n", encoding="utf-8")
    columns = liaison("place", "import", str(header_only))
    assert columns.exit_code == 1
    assert "missing required column(s): address, district, latitude, longitude" in columns.output
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(65 * 2**20)  # sparse: no time or disk spent
    too_big = liaison("place", "import", str(huge))
    assert (too_big.exit_code, too_big.output.strip()) == (
        1,
        "error: huge.csv: the file is 65 MB, more than the limit of 64 MB: "
        "split it into smaller files",
    )
    assert place_count(database_url) == 0


def test_the_database_must_be_up_to_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIAISON_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
    result = liaison("place", "list")
    assert result.exit_code == 1
    assert "run `liaison db upgrade` first" in result.output
