"""`liaison notice`: send, schedule, list, status, cancel from the command line."""

from __future__ import annotations

import getpass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select, update

from bot.cli import main
from bot.cli.notice import notice
from storage.db import Database
from storage.models import AuditEvent, Delivery, DeliveryStatus, Member, Notice, NoticeReceipt
from storage.outbox import enqueue_notice
from tests.cli_helpers import cli_database, liaison, on_database

# bot/cli/__init__.py registers the group itself; registering it again here is harmless.
main.add_command(notice)

GROUP = "律师行业党小组"  # of the sample district


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return cli_database(tmp_path, monkeypatch, demo=True)


def sent_id(result: Result) -> int:
    assert result.exit_code == 0, result.output
    return int(result.output.strip().splitlines()[-1])


def test_send_now_prints_the_id_last_and_lists_it(database_url: str) -> None:
    result = liaison(
        "notice", "send", "--group", GROUP, "--text", "周六上午九点开会。", "--from", "区委组织部"
    )
    notice_id = sent_id(result)
    lines = result.output.splitlines()
    assert lines[0] == f"notice {notice_id} to {GROUP}: sending now"
    assert lines[1].startswith("recipients: telegram ")
    assert lines[1].endswith(", group chats 0, qq groups 0")
    assert "unreachable" in lines[1]

    listing = liaison("notice", "list").output.splitlines()
    [line] = [row for row in listing if row.startswith(f"{notice_id}\t")]
    _, status, when, author, groups, urgent, preview = line.split("\t")
    assert (status, author, groups, urgent, preview) == (
        "scheduled",
        "区委组织部",
        GROUP,
        "-",
        "周六上午九点开会。",
    )
    assert when.endswith("+08:00")

    status_output = liaison("notice", "status", str(notice_id))
    assert status_output.exit_code == 0
    assert f"notice {notice_id}: scheduled, send at" in status_output.output
    assert "pending\t0" in status_output.output  # not enqueued yet

    async def audit(database: Database) -> list[tuple[str, str]]:
        async with database.session() as session:
            rows = await session.execute(select(AuditEvent.actor, AuditEvent.action))
            return [(actor, action) for actor, action in rows if action.startswith("notice")]

    actor = f"cli:{getpass.getuser()}"
    assert on_database(database_url, audit) == [(actor, "notice.create"), (actor, "notice.status")]


def test_without_from_the_notice_is_signed_by_the_organisation_and_everyone_is_everyone(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = liaison(
        "notice", "send", "--everyone", "--text", "全体党员：请更新联系方式。", "--urgent"
    )
    notice_id = sent_id(result)
    assert result.output.startswith(f"notice {notice_id} to everyone: sending now")
    monkeypatch.setenv("LIAISON_ORGANISATION_NAME", "中共江汉区委组织部")
    named = sent_id(liaison("notice", "send", "--group", GROUP, "--text", "周日学习。"))
    listed = {
        int(row.split("\t")[0]): row.split("\t")[3:6]
        for row in liaison("notice", "list").output.splitlines()
        if row.split("\t")[0].isdigit()
    }
    # Members read "—— 党组织", never the login of whoever ran the command (root).
    assert listed[notice_id] == ["党组织", "everyone", "urgent"]
    assert listed[named][0] == "中共江汉区委组织部"

    async def signatures(database: Database) -> list[tuple[str, str]]:
        async with database.session() as session:
            rows = await session.execute(
                select(Notice.author_name, Notice.author).order_by(Notice.id)
            )
            return [(name, author) for name, author in rows]

    # Who ran it is still recorded, as the author.
    assert on_database(database_url, signatures) == [
        ("党组织", f"cli:{getpass.getuser()}"),
        ("中共江汉区委组织部", f"cli:{getpass.getuser()}"),
    ]


def first_of(month: int) -> date:
    """The next first of month, at least a day away: the command accepts a year at most."""
    today = datetime.now(UTC).date()
    day = date(today.year, month, 1)
    return day if day > today + timedelta(days=1) else date(today.year + 1, month, 1)


def test_scheduling_with_and_without_an_offset(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    winter, summer = first_of(1), first_of(7)
    local = sent_id(
        liaison("notice", "send", "--group", GROUP, "--text", "a", "--at", f"{winter}T09:00")
    )
    utc = sent_id(
        liaison("notice", "send", "--group", GROUP, "--text", "b", "--at", f"{winter} 09:00Z")
    )
    monkeypatch.setenv("LIAISON_TIMEZONE", "Europe/Berlin")
    berlin = liaison("notice", "send", "--group", GROUP, "--text", "c", "--at", f"{summer}T09:00")
    assert f"scheduled at {summer} 09:00+02:00" in berlin.output

    async def times(database: Database) -> dict[int, datetime]:
        async with database.session() as session:
            return {n.id: n.send_at for n in await session.scalars(select(Notice))}

    assert on_database(database_url, times) == {
        local: datetime.combine(winter, time(1, 0), UTC),
        utc: datetime.combine(winter, time(9, 0), UTC),
        sent_id(berlin): datetime.combine(summer, time(7, 0), UTC),
    }
    scheduled = liaison("notice", "list", "--scheduled").output
    assert scheduled.count("\tscheduled\t") == 3

    for bad, message in (
        ("next week", "is not an ISO 8601 time"),
        ("2020-01-01T09:00", "is in the past"),
        # Past the end of the calendar in UTC: refused as the bot refuses it, not a traceback.
        ("9999-12-31T23:59-12:00", "is more than a year ahead: schedule it at most a year"),
        (f"{winter.replace(year=winter.year + 1)}T09:00", "is more than a year ahead"),
    ):
        refused = liaison("notice", "send", "--group", GROUP, "--text", "x", "--at", bad)
        assert refused.exit_code == 1
        assert refused.output.startswith("error: --at ")
        assert message in refused.output
        assert len(refused.output.splitlines()) == 1  # no traceback
    assert liaison("notice", "list", "--scheduled").output.count("\tscheduled\t") == 3


def test_cancel_before_it_goes(database_url: str) -> None:
    later = sent_id(
        liaison("notice", "send", "--group", GROUP, "--text", "x", "--at", f"{first_of(1)}T09:00")
    )
    assert liaison("notice", "cancel", str(later)).output.strip() == f"cancelled notice {later}"
    again = liaison("notice", "cancel", str(later))
    assert again.exit_code == 1
    assert "already cancelled" in again.output
    assert "\tcancelled\t" in liaison("notice", "list").output
    assert liaison("notice", "list", "--scheduled").output == ""
    missing = liaison("notice", "cancel", "999")
    assert missing.exit_code == 1
    assert "no notice 999" in missing.output

    now = sent_id(liaison("notice", "send", "--group", GROUP, "--text", "y"))

    async def enqueue(database: Database) -> None:
        async with database.session() as session:
            await enqueue_notice(session, datetime.now(UTC), now)

    on_database(database_url, enqueue)
    gone = liaison("notice", "cancel", str(now))
    assert gone.exit_code == 1
    assert "already been sent" in gone.output


def test_text_from_a_file(database_url: str, tmp_path: Path) -> None:
    good = tmp_path / "notice.txt"
    good.write_bytes("\ufeff第一段。\r\n\r\n第二段。\r\n".encode())
    notice_id = sent_id(liaison("notice", "send", "--group", GROUP, "--file", str(good)))

    async def body(database: Database) -> str:
        async with database.session() as session:
            found = await session.get(Notice, notice_id)
            assert found is not None
            return found.body

    assert on_database(database_url, body) == "第一段。\n\n第二段。"

    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("第一段。".encode("gbk"))
    for args, message in (
        (["--file", str(gbk)], "gbk.txt is not UTF-8 text"),
        (["--file", str(tmp_path / "missing.txt")], "no such file"),
        (["--file", str(good), "--text", "x"], "exactly one of --text or --file"),
        ([], "exactly one of --text or --file"),
    ):
        refused = liaison("notice", "send", "--group", GROUP, *args)
        assert refused.exit_code == 1, args
        assert message in refused.output


def test_refused_input_is_a_clear_error(database_url: str) -> None:
    for args, message in (
        (["--group", "没有这个组", "--text", "x"], "no group named '没有这个组'"),
        (["--group", GROUP, "--text", "  \n "], "the notice is empty"),
        (["--group", GROUP, "--text", "长" * 8001], "the notice has 8001 characters; at most 8000"),
        (["--text", "x"], "choose at least one --group, or --everyone"),
        (["--group", GROUP, "--everyone", "--text", "x"], "--everyone already includes"),
        (["--group", GROUP, "--text", "x", "--from", "名" * 65], "--from must be 1 to 64"),
    ):
        refused = liaison("notice", "send", *args)
        assert refused.exit_code == 1, args
        assert message in refused.output, refused.output
    assert liaison("notice", "list").output == ""


def test_status_counts_states_reasons_and_receipts(database_url: str) -> None:
    notice_id = sent_id(liaison("notice", "send", "--group", GROUP, "--text", "周六开会"))

    async def deliver(database: Database) -> list[str]:
        now = datetime.now(UTC)
        async with database.session() as session:
            await enqueue_notice(session, now, notice_id)
        async with database.session() as session:
            rows = list(
                await session.execute(
                    select(Delivery.id, Member.id, Member.name)
                    .join(Member, Member.id == Delivery.member_id)
                    .where(Delivery.notice_id == notice_id)
                    .order_by(Member.name)
                )
            )
            delivered, failed = rows[0], rows[1]
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivered[0])
                .values(status=DeliveryStatus.DELIVERED)
            )
            await session.execute(
                update(Delivery)
                .where(Delivery.id == failed[0])
                .values(
                    status=DeliveryStatus.FAILED, last_error="gave up after 5 attempts: throttled"
                )
            )
            session.add(
                NoticeReceipt(notice_id=notice_id, member_id=delivered[1], acknowledged_at=now)
            )
            return [name for _, _, name in rows]

    names = on_database(database_url, deliver)
    result = liaison("notice", "status", str(notice_id))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith(f"notice {notice_id}: sent, send at ")
    assert lines[0].endswith(f"to {GROUP}")
    assert f"recipients\t{len(names)}" in lines
    assert "delivered\t1" in lines
    assert "failed\t1" in lines
    assert f"pending\t{len(names) - 2}" in lines
    assert "failed/suppressed\t1\tgave up after 5 attempts: throttled" in lines
    assert "acknowledged\t1" in lines
    assert f"acknowledged by\t{names[0]}" in lines

    unknown = liaison("notice", "status", "999")
    assert unknown.exit_code == 1
    assert "no notice 999" in unknown.output
