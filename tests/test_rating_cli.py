"""`liaison rating`: the rules, adjustments, the ranked list and its workbook, the
commendation list and its notice, from a terminal; bad input changes nothing."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEvent, Commendation, Delivery, RatingAdjustment
from tests.cli_helpers import cli_database, liaison, on_database
from tests.factories import make_checkin, make_member, make_unit

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = cli_database(tmp_path, monkeypatch)

    async def district(database: Database) -> None:
        street = await make_unit(database, NOW, "民族街")
        zhang = await make_member(
            database, NOW, name="张伟", phone="+8613800000001", unit=street, telegram_user_id=91
        )
        await make_member(database, NOW, name="王芳", phone="+8613800000002", unit=street)
        await make_checkin(database, zhang, datetime(2026, 3, 2, 2, 0, tzinfo=UTC))

    on_database(url, district)
    return url


def audit_actions(url: str) -> list[str]:
    async def read(database: Database) -> list[str]:
        async with database.session() as session:
            return list(
                await session.scalars(
                    select(AuditEvent.action)
                    .where(AuditEvent.action.startswith("rating."))
                    .order_by(AuditEvent.id)
                )
            )

    return on_database(url, read)


def count(url: str, model: type[RatingAdjustment] | type[Commendation] | type[Delivery]) -> int:
    async def read(database: Database) -> int:
        async with database.session() as session:
            return len(list(await session.scalars(select(model))))

    return on_database(url, read)


def test_the_rules_are_read_and_changed(database_url: str) -> None:
    shown = liaison("rating", "rules")
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        ["on_time_checkin", "2 each", "no cap"],
        ["study_completed", "1 each", "cap 20"],
        ["attendance", "3 each", "no cap"],
        ["service_given", "4 each", "no cap"],
        ["idea_adopted", "5 each", "no cap"],
    ]
    changed = liaison("rating", "rule", "study_completed", "--points", "2")
    assert changed.output == "study_completed\t2 each\tcap 20\n"
    assert liaison("rating", "rule", "attendance", "--points", "5", "--no-cap").exit_code == 0
    both = liaison("rating", "rule", "attendance", "--points", "1", "--cap", "3", "--no-cap")
    assert both.exit_code == 1 and "nothing was changed" in both.output
    unknown = liaison("rating", "rule", "dues", "--points", "1")
    assert unknown.exit_code == 2
    assert "attendance\t5 each\tno cap" in liaison("rating", "rules").output
    assert audit_actions(database_url) == ["rating.rule.change", "rating.rule.change"]


def test_an_adjustment_needs_a_reason_and_a_member(database_url: str) -> None:
    blank = liaison("rating", "adjust", "+8613800000001", "--year", "2026", "--points", "-2",
                    "--reason", "  ")  # fmt: skip
    assert blank.exit_code == 1 and "needs a reason" in blank.output
    nobody = liaison("rating", "adjust", "+8613900000009", "--year", "2026", "--points", "3",
                     "--reason", "好")  # fmt: skip
    assert nobody.exit_code == 1 and "no member" in nobody.output
    assert count(database_url, RatingAdjustment) == 0
    done = liaison("rating", "adjust", "+86 138 0000 0001", "--year", "2026", "--points", "-2",
                   "--reason", "缺席 <b>两次</b>")  # fmt: skip
    assert done.exit_code == 0
    assert "2026: -2 (缺席 <b>两次</b>)" in done.output
    ranked = liaison("rating", "rank", "--year", "2026")
    # 张伟: March on time (2) and -2; 王芳 0: both rank 1, phones masked.
    assert ranked.output.splitlines() == [
        "1\t张伟\t+86 138****0001\t民族街\t0",
        "1\t王芳\t+86 138****0002\t民族街\t0",
    ]


def test_the_ranked_list_goes_to_a_workbook_audited(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "2026.xlsx"
    written = liaison("rating", "rank", "--year", "2026", "--top", "1", "--out", str(out))
    assert written.exit_code == 0, written.output
    assert "1 member(s) of 2 written" in written.output
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][:6] == [
        "rank",
        "name",
        "phone",
        "home unit",
        "on_time_checkin (times)",
        "on_time_checkin (points)",
    ]
    assert rows[1][:6] == [1, "张伟", "+8613800000001", "民族街", 1, 2]
    assert rows[1][-1] == 2
    listed = tmp_path / "2026.csv"
    assert liaison("rating", "rank", "--year", "2026", "--out", str(listed)).exit_code == 0
    with listed.open(encoding="utf-8-sig") as handle:
        lines = list(csv.reader(handle))
    assert [line[:2] for line in lines] == [["rank", "name"], ["1", "张伟"], ["2", "王芳"]]
    bad = liaison("rating", "rank", "--year", "2026", "--out", str(tmp_path / "list.pdf"))
    assert bad.exit_code == 1
    unit = liaison("rating", "rank", "--year", "2026", "--unit", "花楼街")
    assert unit.exit_code == 1 and "no unit named" in unit.output
    assert audit_actions(database_url) == ["rating.rank.export", "rating.rank.export"]


def test_commendations_are_chosen_listed_and_notified_once(database_url: str) -> None:
    # One member that is not there: nobody is added.
    partly = liaison("rating", "commend", "--year", "2026", "+8613800000001", "+8613900000009")
    assert partly.exit_code == 1 and "nothing was changed" in partly.output
    assert count(database_url, Commendation) == 0
    chosen = liaison("rating", "commend", "--year", "2026", "--citation", "热心服务",
                     "+8613800000001", "+8613800000002")  # fmt: skip
    assert chosen.output == "2 member(s) added to the 2026 commendation list\n"
    again = liaison("rating", "commend", "--year", "2026", "+8613800000001")
    assert again.exit_code == 1 and "already on the 2026 list" in again.output
    listed = liaison("rating", "commendations", "--year", "2026").output.splitlines()
    assert [line.split("\t")[1:4] for line in listed] == [
        ["张伟", "+86 138****0001", "not notified"],
        ["王芳", "+86 138****0002", "not notified"],
    ]
    assert liaison("rating", "notify", "--year", "2026").output == "2 member(s) notified\n"
    assert "already notified" in liaison("rating", "notify", "--year", "2026").output
    # 张伟 by Telegram; 王芳 has no channel but SMS: one row each, whatever the channel.
    assert count(database_url, Delivery) == 2
    assert liaison("rating", "uncommend", "--year", "2026", "+8613800000002").exit_code == 0
    gone = liaison("rating", "uncommend", "--year", "2026", "+8613800000002")
    assert gone.exit_code == 1 and "not on the 2026 list" in gone.output
    assert (
        liaison("rating", "commendations", "--year", "2025").output == "nobody on the 2025 list\n"
    )
    assert audit_actions(database_url) == [
        "rating.commend",
        "rating.commend",
        "rating.notify",
        "rating.notify",
        "rating.uncommend",
    ]
