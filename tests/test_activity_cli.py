"""`liaison activity`: add, list, show and take attendance from the command line."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEvent
from tests.cli_helpers import cli_database, liaison, on_database

GROUP = "律师行业党小组"  # of the sample district: 胡斌, 朱琳 and 郭亮
WUHAN = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return cli_database(tmp_path, monkeypatch, demo=True)


def local(delta: timedelta) -> str:
    """A time that far from now, as an operator types it (the command reads the real clock)."""
    return (datetime.now(WUHAN) + delta).strftime("%Y-%m-%d %H:%M")


def made(result: Result) -> int:
    assert result.exit_code == 0, result.output
    return int(result.output.strip().splitlines()[-1])


def add(*extra: str, at: str | None = None) -> Result:
    return liaison(
        "activity",
        "add",
        "--kind",
        "class",
        "--title",
        "送课到企：律师事务所",
        "--at",
        at or local(timedelta(days=3)),
        "--group",
        GROUP,
        *extra,
    )


def test_add_invites_the_group_and_list_and_show_tell_it(database_url: str) -> None:
    at = local(timedelta(days=3))
    result = add(
        "--place", "民意街道党员之家", "--capacity", "20", "--from", "万松街道党工委", at=at
    )
    activity_id = made(result)
    lines = result.output.splitlines()
    assert lines[0].startswith(f"activity {activity_id}: class '送课到企：律师事务所', {at}")
    assert lines[1] == "at 民意街道党员之家, 武汉市江汉区民意四路 12 号（示例地址）"
    code = lines[2].removeprefix("check-in code ")
    assert len(code) == 6 and code.isdigit()
    assert lines[3].startswith("invited: telegram ") and "unreachable" in lines[3]

    [row] = [
        r
        for r in liaison("activity", "list").output.splitlines()
        if r.startswith(f"{activity_id}\t")
    ]
    fields = row.split("\t")
    assert fields[1] == "class" and fields[4] == "送课到企：律师事务所"
    assert fields[-4:] == ["20", code, "scheduled", "0"]

    shown = liaison("activity", "show", str(activity_id))
    assert shown.exit_code == 0, shown.output
    assert f"code\t{code}" in shown.output
    assert "answers\tinvited 3, coming 0/20, waiting 0, not coming 0, attended 0" in shown.output
    assert "胡斌\t+86 138****0013\tno answer" in shown.output

    actor = f"cli:{getpass.getuser()}"

    async def audit(database: Database) -> list[tuple[str, str]]:
        async with database.session() as session:
            rows = await session.execute(select(AuditEvent.actor, AuditEvent.action))
            return [(who, what) for who, what in rows if what.startswith("activity")]

    assert on_database(database_url, audit) == [
        (actor, "activity.create"),
        (actor, "activity.list"),
        (actor, "activity.view"),
    ]


def test_attendance_is_marked_by_name_or_phone_once_check_in_opens(database_url: str) -> None:
    later = made(add("--address", "万松园某律师事务所会议室"))
    early = liaison("activity", "attendance", str(later), "--mark", "胡斌")
    assert early.exit_code == 1
    assert "once check-in opens; nothing was changed" in early.output

    soon = made(add("--address", "万松园某律师事务所会议室", at=local(timedelta(minutes=10))))
    marked = liaison(
        "activity", "attendance", str(soon), "--mark", "胡斌", "--mark", "+8613871000014"
    )
    assert marked.exit_code == 0, marked.output
    assert marked.output.startswith("胡斌: attended\n朱琳: attended\n")
    assert "attended 2" in marked.output
    again = liaison("activity", "attendance", str(soon), "--mark", "胡斌", "--unmark", "朱琳")
    assert again.output.startswith("胡斌: attended (already)\n朱琳: not attended\n")
    # All or nothing: one name that is no invitee, and the other mark is not kept.
    wrong = liaison("activity", "attendance", str(soon), "--unmark", "胡斌", "--mark", "无此人")
    assert wrong.exit_code == 1 and "no invitee named '无此人'" in wrong.output
    shown = liaison("activity", "show", str(soon)).output
    assert "attended 1" in shown and "(staff)" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--place", "党员之家"), "names "),
        (("--place", "没有这个地方"), "no place '没有这个地方'"),
        (("--place", "民意街道党员之家", "--address", "x"), "exactly one of --place or --address"),
        (("--address", "x", "--lat", "30.5"), "both a latitude and a longitude"),
        (("--address", "x", "--group", "没有这个小组"), "no group named '没有这个小组'"),
    ],
)
def test_what_cannot_be_an_activity_is_refused_with_the_reason(
    database_url: str, args: tuple[str, ...], message: str
) -> None:
    result = add(*args)
    assert result.exit_code == 1
    assert message in result.output


def test_a_time_in_the_past_or_ending_before_it_starts_is_refused(database_url: str) -> None:
    past = add("--address", "x", at=local(-timedelta(days=1)))
    assert past.exit_code == 1 and "is in the past" in past.output
    backwards = add("--address", "x", at=local(timedelta(days=2)) + "-00:01")
    assert backwards.exit_code == 1 and "ends before it starts" in backwards.output
    missing = liaison("activity", "show", "999")
    assert missing.exit_code == 1 and "no activity 999" in missing.output


def test_edit_changes_time_place_or_places_and_cancel_cancels_once(database_url: str) -> None:
    activity_id = made(add("--address", "万松园某律师事务所会议室", "--capacity", "2"))
    nothing = liaison("activity", "edit", str(activity_id))
    assert nothing.exit_code == 1 and "give what changes" in nothing.output
    past = liaison("activity", "edit", str(activity_id), "--at", local(-timedelta(hours=1)))
    assert past.exit_code == 1 and "is in the past" in past.output

    later = local(timedelta(days=4))
    edited = liaison(
        "activity",
        "edit",
        str(activity_id),
        "--at",
        later,
        "--place",
        "民意街道党员之家",
        "--capacity",
        "none",
    )
    assert edited.exit_code == 0, edited.output
    lines = edited.output.splitlines()
    assert (
        lines[0] == f"activity {activity_id} '送课到企：律师事务所': changed time, place, capacity"
    )
    # A start alone keeps the two hours.
    assert lines[1].startswith(f"when\t{later}") and lines[1].endswith(
        (
            datetime.strptime(later, "%Y-%m-%d %H:%M").replace(tzinfo=WUHAN) + timedelta(hours=2)
        ).strftime("%H:%M")
    )
    assert lines[2] == "where\t民意街道党员之家, 武汉市江汉区民意四路 12 号（示例地址）"
    assert lines[3] == "places\tno limit"
    assert lines[4] == "told\t3"
    same = liaison("activity", "edit", str(activity_id), "--capacity", "0")
    assert "nothing changed" in same.output

    cancelled = liaison("activity", "cancel", str(activity_id), "--reason", "场地维修")
    assert cancelled.exit_code == 0, cancelled.output
    assert "cancelled; 3 invited members are told" in cancelled.output
    again = liaison("activity", "cancel", str(activity_id), "--reason", "场地维修")
    assert "was already cancelled; nobody was told again" in again.output
    refused = liaison("activity", "edit", str(activity_id), "--capacity", "9")
    assert refused.exit_code == 1 and "is cancelled; nothing was changed" in refused.output
    shown = liaison("activity", "show", str(activity_id)).output
    assert "cancelled\t" in shown and ": 场地维修" in shown
    [row] = [
        r
        for r in liaison("activity", "list").output.splitlines()
        if r.startswith(f"{activity_id}\t")
    ]
    assert row.split("\t")[-2] == "cancelled"

    async def audit(database: Database) -> list[str]:
        async with database.session() as session:
            rows = await session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.action.in_(["activity.change", "activity.cancel"])
                )
            )
            return list(rows)

    assert on_database(database_url, audit) == ["activity.change", "activity.cancel"]
