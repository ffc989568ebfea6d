"""`liaison idea`: list, show, reply, adopt and export the members' ideas."""

from __future__ import annotations

import csv
import getpass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli import main
from bot.cli.idea import idea
from storage.db import Database
from storage.ideas import MAX_REPLY_LENGTH, submit
from storage.models import (
    AuditEvent,
    Delivery,
    Idea,
    IdeaKind,
    IdeaStatus,
    Member,
    MessageKind,
)
from tests.cli_helpers import cli_database, liaison, on_database

# bot/cli/__init__.py registers the group itself; registering it again here is harmless.
main.add_command(idea)

SENT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return cli_database(tmp_path, monkeypatch, demo=True)


def send_idea(url: str, name: str, text: str, kind: IdeaKind, at: datetime = SENT) -> int:
    async def add(database: Database) -> int:
        async with database.session() as session:
            member_id = await session.scalar(select(Member.id).where(Member.name == name))
            assert member_id is not None
            row = await submit(session, at, member_id=member_id, kind=kind, text=text)
            return row.id

    return on_database(url, add)


def stored(url: str) -> tuple[list[Idea], list[str], list[str]]:
    """The ideas, the audit actions, and the topics of the replies to members."""

    async def read(database: Database) -> tuple[list[Idea], list[str], list[str]]:
        async with database.session() as session:
            rows = list(await session.scalars(select(Idea).order_by(Idea.id)))
            actions = list(
                await session.scalars(
                    select(AuditEvent.action)
                    .where(AuditEvent.action.startswith("idea."))
                    .order_by(AuditEvent.id)
                )
            )
            topics = list(
                await session.scalars(
                    select(Delivery.topic)
                    .where(Delivery.kind == MessageKind.IDEA_REPLY)
                    .order_by(Delivery.id)
                )
            )
            return rows, actions, topics

    return on_database(url, read)


def test_list_show_reply_and_adopt(database_url: str) -> None:
    older = send_idea(database_url, "张伟", "建议每月办一次夜校\n第二行", IdeaKind.IDEA)
    newer = send_idea(
        database_url,
        "王芳",
        "<b>意见</b>：通知太多",
        IdeaKind.OPINION,
        at=datetime(2026, 11, 21, 2, 0, tzinfo=UTC),
    )
    listing = liaison("idea", "list")
    assert listing.exit_code == 0, listing.output
    lines = [line.split("\t") for line in listing.output.splitlines()]
    assert [(line[0], line[2], line[3], line[4], line[5]) for line in lines] == [
        (str(newer), "opinion", "new", "王芳", "<b>意见</b>：通知太多"),
        (str(older), "idea", "new", "张伟", "建议每月办一次夜校 第二行"),
    ]
    assert lines[0][1] == "2026-11-21 10:00+08:00"

    shown = liaison("idea", "show", str(older))
    assert shown.exit_code == 0, shown.output
    assert f"suggestion {older}: idea, new" in shown.output
    assert "建议每月办一次夜校\n第二行" in shown.output
    assert "member: 张伟 (+86 138****0001)" in shown.output  # the phone number masked

    replied = liaison("idea", "reply", str(older), "谢谢，下月开始。")
    assert replied.exit_code == 0, replied.output
    assert replied.output.strip() == f"replied to suggestion {older} of 张伟; they will hear it"
    adopted = liaison("idea", "adopt", str(older))
    assert adopted.output.strip() == f"adopted suggestion {older} of 张伟; they will hear it"

    # Unanswered first: the opinion still leads; filters by status and kind.
    lines = [line.split("\t") for line in liaison("idea", "list").output.splitlines()]
    assert [(line[0], line[3], line[6]) for line in lines] == [
        (str(newer), "new", "-"),
        (str(older), "adopted", "谢谢，下月开始。"),
    ]
    only = liaison("idea", "list", "--status", "adopted").output.splitlines()
    assert [line.split("\t")[0] for line in only] == [str(older)]
    assert liaison("idea", "list", "--kind", "opinion").output.startswith(f"{newer}\t")

    shown = liaison("idea", "show", str(older)).output
    actor = f"cli:{getpass.getuser()}"
    assert f"reply ({actor}, " in shown and f"adopted ({actor}, " in shown

    rows, actions, topics = stored(database_url)
    assert (rows[0].status, rows[0].reply) == (IdeaStatus.ADOPTED, "谢谢，下月开始。")
    assert topics == [f"idea:{older}:reply:1", f"idea:{older}:adopted"]
    assert actions == [
        "idea.list.view",
        "idea.view",
        "idea.reply",
        "idea.adopt",
        "idea.list.view",
        "idea.list.view",
        "idea.list.view",
        "idea.view",
    ]


def test_refusals_change_nothing(database_url: str, tmp_path: Path) -> None:
    older = send_idea(database_url, "张伟", "建议", IdeaKind.IDEA)
    for args, message in (
        (("show", "999"), "no suggestion 999"),
        (("reply", "999", "好"), "no suggestion 999"),
        (("adopt", "999"), "no suggestion 999"),
        (("reply", str(older), "长" * (MAX_REPLY_LENGTH + 1)), "at most 2000"),
        (("reply", str(older), "   "), "the reply is empty"),
        (("reply", str(older)), "give the reply as TEXT or with --file"),
        (("reply", str(older), "x", "--file", str(tmp_path / "r.txt")), "not both"),
        (("reply", str(older), "--file", str(tmp_path / "missing.txt")), "no such file"),
    ):
        result = liaison("idea", *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
    rows, actions, topics = stored(database_url)
    assert (rows[0].status, rows[0].reply, topics, actions) == (IdeaStatus.NEW, None, [], [])
    assert liaison("idea", "adopt", str(older)).exit_code == 0
    again = liaison("idea", "adopt", str(older))
    assert again.exit_code == 1 and "already adopted" in again.output
    assert stored(database_url)[2] == [f"idea:{older}:adopted"]


def test_a_reply_from_a_file_replaces_the_first(database_url: str, tmp_path: Path) -> None:
    older = send_idea(database_url, "张伟", "建议", IdeaKind.IDEA)
    assert liaison("idea", "reply", str(older), "第一次").exit_code == 0
    path = tmp_path / "reply.txt"
    path.write_text("第二次回复\n两行", encoding="utf-8")
    assert liaison("idea", "reply", str(older), "--file", str(path)).exit_code == 0
    rows, _, topics = stored(database_url)
    assert rows[0].reply == "第二次回复\n两行"
    assert topics == [f"idea:{older}:reply:1", f"idea:{older}:reply:2"]


def test_export_csv_and_xlsx(database_url: str, tmp_path: Path) -> None:
    formula = send_idea(database_url, "张伟", '=HYPERLINK("http://x","点我")', IdeaKind.IDEA)
    plain = send_idea(database_url, "王芳", "多办讲座，\n少开会", IdeaKind.OPINION)
    assert liaison("idea", "reply", str(plain), "好的").exit_code == 0
    target = tmp_path / "ideas.csv"
    result = liaison("idea", "export", str(target))
    assert result.output.strip() == f"2 suggestion(s) written to {target}"
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:8] == ["id", "sent", "kind", "status", "member", "groups", "text", "reply"]
    by_id = {row[0]: row for row in rows[1:]}
    # A member's text never runs as a spreadsheet formula.
    assert by_id[str(formula)][6] == '\'=HYPERLINK("http://x","点我")'
    assert by_id[str(plain)][3:8] == [
        "replied",
        "王芳",
        by_id[str(plain)][5],
        "多办讲座，\n少开会",
        "好的",
    ]
    assert by_id[str(formula)][5] == "青年流动党员联络群, 驻深圳流动党员党小组"

    workbook = tmp_path / "ideas.xlsx"
    assert liaison("idea", "export", str(workbook), "--status", "new").exit_code == 0
    sheet = load_workbook(workbook).active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0][0] == "id" and len(cells) == 2
    assert cells[1][6] == '\'=HYPERLINK("http://x","点我")'
    assert sheet.cell(row=2, column=7).data_type == "s"

    bad = liaison("idea", "export", str(tmp_path / "missing" / "x.csv"))
    assert bad.exit_code == 1 and "cannot write" in bad.output
    _, actions, _ = stored(database_url)
    assert actions.count("idea.export") == 2
