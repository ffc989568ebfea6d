"""`liaison request`: list, show and export service requests, audited, phones masked."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import Result
from sqlalchemy import select

from bot.cli import main
from bot.cli.request import request
from storage.db import Database
from storage.models import AuditEvent, RequestStatus, StaffRole
from storage.requests import Attachment, add_note, create_request, set_status, take
from tests.cli_helpers import cli_database, liaison, on_database
from tests.factories import make_group, make_member, make_request_catalogue, make_staff

# bot/cli/__init__.py registers the group itself; registering it again here is harmless.
main.add_command(request)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Long ago: the open request is overdue whenever the test runs.
FILED = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = cli_database(tmp_path, monkeypatch)

    async def fill(db: Database) -> None:
        lease, measures = await make_request_catalogue(db, FILED)
        group = await make_group(db, FILED, "驻深圳党小组")
        zhang = await make_member(db, FILED, name="张伟", phone="+8613800000001", groups=[group])
        trouble = await make_member(
            db, FILED, name="=HYPERLINK(1)", phone="+8613800000002", groups=[group]
        )
        staff = await make_staff(db, FILED, telegram_user_id=1, groups=[group])
        await make_staff(db, FILED, telegram_user_id=2, name="钱主任", role=StaffRole.ADMIN)
        async with db.session() as session:
            first = await create_request(
                session,
                FILED,
                member_id=zhang.id,
                category_id=lease,
                measure_id=measures[0],
                description="门面合同到期，房东要涨租。\n第二行",
                attachment=Attachment("photo-1", "photo"),
                zone=SHANGHAI,
            )
            second = await create_request(
                session,
                FILED + timedelta(days=1),
                member_id=trouble.id,
                category_id=lease,
                description="+1 这是开头带加号的描述",
                zone=SHANGHAI,
            )
            await take(session, FILED + timedelta(days=1), first.id, staff_id=staff.id)
            await add_note(
                session, FILED + timedelta(days=1), first.id, staff_id=staff.id, text="内部"
            )
            await set_status(
                session,
                FILED + timedelta(days=2),
                second.id,
                staff_id=staff.id,
                status=RequestStatus.REFERRED,
                referred_to="区法律援助中心",
                answer="请找陈律师。",
            )

    on_database(url, fill)
    return url


def lines(result: Result) -> list[list[str]]:
    assert result.exit_code == 0, result.output
    return [line.split("\t") for line in result.output.splitlines()]


async def audit_actions(db: Database) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_list_shows_the_open_ones_oldest_first_or_any_status(database_url: str) -> None:
    [open_one] = lines(liaison("request", "list"))
    assert open_one[:2] == ["#1", "in_progress"]
    assert open_one[3:7] == ["overdue", "张伟", "门面续租", "李联络"]
    assert open_one[7] == "2026-01-19 10:00+08:00"
    everything = lines(liaison("request", "list", "--all"))
    assert [row[0] for row in everything] == ["#1", "#2"]
    assert [row[0] for row in lines(liaison("request", "list", "--status", "referred"))] == ["#2"]
    wrong = liaison("request", "list", "--status", "done")
    assert wrong.exit_code == 1
    assert "unknown status 'done'; use one of received, in_progress" in wrong.output


def test_show_has_the_whole_history_with_notes_and_a_masked_phone(database_url: str) -> None:
    shown = liaison("request", "show", "#1")
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "member\t张伟\t+86 138****0001" in out
    assert "category\t门面续租 / 门面续租协调" in out
    assert "attachment\tphoto" in out
    assert "门面合同到期，房东要涨租。\n第二行" in out
    assert "\tnote\t李联络\tin_progress\t-\t内部\tinternal" in out
    assert "\ttaken\t李联络\tin_progress\tto 李联络" in out
    assert "+8613800000001" in liaison("request", "show", "1", "--full").output
    missing = liaison("request", "show", "99")
    assert (missing.exit_code, "no request #99" in missing.output) == (1, True)
    assert liaison("request", "show", "abc").exit_code == 1
    huge = liaison("request", "show", "99999999999")
    assert (huge.exit_code, "is not a request number" in huge.output) == (1, True)
    actions = on_database(database_url, audit_actions)
    assert actions[-2:] == ["request.view", "request.view.full"]


def test_export_csv_and_xlsx_are_audited_and_inert(database_url: str, tmp_path: Path) -> None:
    target = tmp_path / "requests.csv"
    result = liaison("request", "export", str(target))
    assert result.output.strip() == f"exported 2 request(s) to {target}"
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["number"], r["status"], r["overdue"]) for r in rows] == [
        ("1", "in_progress", "yes"),
        ("2", "referred", ""),
    ]
    assert rows[0]["phone"] == "+86 138****0001"
    assert rows[0]["description"] == "门面合同到期，房东要涨租。\n第二行"
    # Text a member typed never becomes a spreadsheet formula.
    assert (rows[1]["member"], rows[1]["description"]) == (
        "'=HYPERLINK(1)",
        "'+1 这是开头带加号的描述",
    )
    assert rows[1]["referred_to"] == "区法律援助中心"

    book_path = tmp_path / "requests.xlsx"
    assert liaison("request", "export", str(book_path), "--open", "--full").exit_code == 0
    sheet = openpyxl.load_workbook(book_path).active
    assert sheet is not None
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][:4] == ["number", "status", "member", "phone"]
    assert values[1][:4] == [1, "in_progress", "张伟", "+8613800000001"]
    assert len(values) == 2
    bad = liaison("request", "export", str(tmp_path / "requests.txt"))
    assert bad.exit_code == 1
    actions = on_database(database_url, audit_actions)
    assert actions[-2:] == ["request.export", "request.export.full"]
