"""`liaison material`: the study library, push schedules and the completion report."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result
from sqlalchemy import select

from bot.cli import main
from bot.cli.material import material
from storage.db import Database
from storage.models import AuditEvent, Member, StudyMaterial, StudySchedule
from storage.study import mark_studied, next_occurrence, push_due_study
from tests.cli_helpers import cli_database, liaison, on_database

# bot/cli/__init__.py registers the group itself; registering it again here is harmless.
main.add_command(material)

GROUP = "律师行业党小组"  # of the sample district
SHENZHEN = "驻深圳流动党员党小组"  # of the sample district, with its weekly push
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return cli_database(tmp_path, monkeypatch, demo=True)


def last_id(result: Result) -> int:
    assert result.exit_code == 0, result.output
    return int(result.output.strip().splitlines()[-1])


def rows(result: Result, first: str) -> list[list[str]]:
    """The tab-separated lines of the output whose first field is first."""
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    return [line for line in lines if line[0] == first]


def test_the_demo_library_and_its_weekly_push(database_url: str) -> None:
    listing = liaison("material", "list").output.splitlines()
    assert [line.split("\t")[2] for line in listing] == [
        "江汉区流动党员服务指南（摘要）",
        "流动党员须知：双联双管",
        "党章学习：党员的八项义务",
    ]
    [plan] = [line.split("\t") for line in liaison("material", "plan", "list").output.splitlines()]
    assert plan[1:4] == [SHENZHEN, "every mon 19:00", "next material"]
    assert plan[4].endswith("19:00+08:00")
    assert plan[5:] == ["0 pushed", "active"]


def test_add_list_and_archive_materials(database_url: str, tmp_path: Path) -> None:
    added = liaison(
        "material",
        "add",
        "--title",
        "学习新党章",
        "--text",
        "第一章\n\n第一条……",
        "--link",
        "https://www.12371.cn/dangzhang",
        "--tag",
        "党章,必修",
        "--tag",
        "Basics",
    )
    material_id = last_id(added)
    assert added.output.splitlines()[0] == (
        f"material {material_id}: 学习新党章 (tags: 党章,必修,basics)"
    )
    text = tmp_path / "lesson.txt"
    text.write_bytes("\ufeff党史学习：从武汉出发。\r\n".encode())
    from_file = last_id(liaison("material", "add", "--title", "党史", "--file", str(text)))

    async def bodies(database: Database) -> dict[int, str]:
        async with database.session() as session:
            return {m.id: m.body for m in await session.scalars(select(StudyMaterial))}

    stored = on_database(database_url, bodies)
    assert stored[material_id] == "第一章\n\n第一条……"
    assert stored[from_file] == "党史学习：从武汉出发。"

    [line] = rows(liaison("material", "list"), str(material_id))
    assert line[2:5] == ["学习新党章", "党章,必修,basics", "0 groups"]
    assert line[-1] == "https://www.12371.cn/dangzhang"

    archived = liaison("material", "archive", str(material_id))
    assert archived.output.strip() == f"archived material {material_id}: 学习新党章"
    assert rows(liaison("material", "list"), str(material_id)) == []
    [line] = rows(liaison("material", "list", "--all"), str(material_id))
    assert line[5].startswith("archived ")
    again = liaison("material", "archive", str(material_id))
    assert (again.exit_code, again.output.strip()) == (
        1,
        f"error: material {material_id} is already archived",
    )

    async def audit(database: Database) -> list[tuple[str, str]]:
        async with database.session() as session:
            found = await session.execute(select(AuditEvent.actor, AuditEvent.action))
            return [(actor, action) for actor, action in found if action.startswith("study")]

    actor = f"cli:{getpass.getuser()}"
    assert on_database(database_url, audit) == [
        (actor, "study.material.add"),
        (actor, "study.material.add"),
        (actor, "study.material.archive"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--title", "x"], "exactly one of --text or --file"),
        (["--title", "x", "--text", "a", "--file", "a.txt"], "exactly one of --text or --file"),
        (["--title", "x", "--file", "missing.txt"], "no such file: missing.txt"),
        (["--title", " ", "--text", "a"], "the title is empty"),
        (["--title", "x", "--text", "a", "--link", "www.12371.cn"], "is not a web address"),
        (["--title", "x", "--text", "a", "--tag", "two words"], "is not a tag"),
        (["--title", "x", "--text", "字" * 8001], "the text has 8001 characters"),
    ],
)
def test_bad_materials_are_refused_and_nothing_is_added(
    database_url: str, args: list[str], message: str
) -> None:
    refused = liaison("material", "add", *args)
    assert refused.exit_code == 1
    assert message in refused.output
    assert len(liaison("material", "list").output.splitlines()) == 3  # the demo's


def test_a_file_that_is_not_utf8_is_refused(database_url: str, tmp_path: Path) -> None:
    text = tmp_path / "lesson.txt"
    text.write_bytes("党史".encode("gbk"))
    refused = liaison("material", "add", "--title", "党史", "--file", str(text))
    assert refused.exit_code == 1
    assert "lesson.txt is not UTF-8 text" in refused.output


def test_plan_add_list_and_stop(database_url: str) -> None:
    weekly = liaison(
        "material", "plan", "add", "--group", GROUP, "--weekly", "周三", "--at", "8:30"
    )
    weekly_id = last_id(weekly)
    assert weekly.output.splitlines()[0] == (
        f"schedule {weekly_id} for {GROUP}: every wed 08:30, next material"
    )
    assert weekly.output.splitlines()[1].startswith("first push: ")
    day = (datetime.now(SHANGHAI) + timedelta(days=30)).date().isoformat()
    one_off = liaison(
        "material", "plan", "add", "--group", GROUP, "--on", day, "--at", "19:00", "--material", "1"
    )
    one_off_id = last_id(one_off)
    assert one_off.output.splitlines()[0] == (
        f"schedule {one_off_id} for {GROUP}: {day} 19:00, material 1 党章学习：党员的八项义务"
    )
    assert one_off.output.splitlines()[1] == f"first push: {day} 19:00+08:00"
    tagged = last_id(
        liaison(
            "material",
            "plan",
            "add",
            "--group",
            GROUP,
            "--weekly",
            "fri",
            "--at",
            "20:00",
            "--tag",
            "必修",
        )
    )

    listing = liaison("material", "plan", "list")
    # By group, then in the order they were made; the demo's push is for 驻深圳….
    assert [line.split("\t")[0] for line in listing.output.splitlines()] == [
        str(weekly_id),
        str(one_off_id),
        str(tagged),
        "1",
    ]
    [line] = rows(listing, str(tagged))
    assert line[2:4] == ["every fri 20:00", "next material tagged 必修"]

    stopped = liaison("material", "plan", "stop", str(weekly_id))
    assert stopped.output.strip() == f"stopped schedule {weekly_id} for {GROUP}"
    assert rows(liaison("material", "plan", "list"), str(weekly_id)) == []
    [line] = rows(liaison("material", "plan", "list", "--all"), str(weekly_id))
    assert line[4:] == ["-", "0 pushed", "stopped"]
    again = liaison("material", "plan", "stop", str(weekly_id))
    assert (again.exit_code, again.output.strip()) == (
        1,
        f"error: push schedule {weekly_id} is already stopped",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "19:00"], "exactly one of --weekly DAY or --on DATE"),
        (["--weekly", "mon", "--on", "2099-01-01", "--at", "19:00"], "exactly one of"),
        (["--weekly", "mon", "--at", "19:00", "--material", "1"], "--material is for --on"),
        (["--on", "2099-01-01", "--at", "19:00"], "--on needs --material ID"),
        (["--on", "2099-01-01", "--at", "9:00", "--material", "1", "--tag", "a"], "--tag is for"),
        (["--weekly", "someday", "--at", "19:00"], "'someday' is not a weekday"),
        (["--on", "01/12/2099", "--at", "19:00", "--material", "1"], "is not a date like"),
        (["--weekly", "mon", "--at", "7pm"], "'7pm' is not a time of day like 19:00"),
        (["--on", "2020-01-01", "--at", "19:00", "--material", "1"], "is in the past"),
        (["--on", "2099-01-01", "--at", "19:00", "--material", "1"], "more than a year ahead"),
        (["--on", "2099-01-01", "--at", "19:00", "--material", "99"], "no material 99"),
        (["--weekly", "mon", "--at", "19:00", "--group", "没有"], "no group named '没有'"),
    ],
)
def test_bad_plans_are_refused(database_url: str, args: list[str], message: str) -> None:
    group = [] if "--group" in args else ["--group", GROUP]
    refused = liaison("material", "plan", "add", *group, *args)
    assert refused.exit_code == 1
    assert message in refused.output
    assert len(liaison("material", "plan", "list").output.splitlines()) == 1  # the demo's


def test_the_completion_report_is_audited_as_an_export(database_url: str) -> None:
    async def push_and_study(database: Database) -> None:
        async with database.session() as session:
            schedule = await session.scalar(select(StudySchedule))
            assert schedule is not None
            due = next_occurrence(schedule, datetime.now(UTC), SHANGHAI)
            assert due is not None
            [report] = await push_due_study(session, due, zone=SHANGHAI)
            assert report.material_id is not None
            zhang = await session.scalar(select(Member.id).where(Member.name == "张伟"))
            assert zhang is not None
            await mark_studied(
                session, due + timedelta(hours=1), material_id=report.material_id, member_id=zhang
            )

    on_database(database_url, push_and_study)
    everything = liaison("material", "report")
    groups = rows(everything, "group")
    assert ["group", SHENZHEN, "5 members"] in groups
    assert ["group", GROUP, "3 members"] in groups
    [line] = rows(everything, "material")
    assert (line[1], line[2], line[4]) == ("1", "党章学习：党员的八项义务", "1/5 studied")
    assert line[3].endswith(" 19:00+08:00")

    one = liaison("material", "report", "--group", SHENZHEN)
    assert [row[1] for row in rows(one, "group")] == [SHENZHEN]
    members = {row[1]: row[2:] for row in rows(one, "member")}
    assert len(members) == 5
    assert members["张伟"][0] == "1/1 studied"
    assert members["张伟"][1].endswith(" 20:00+08:00")
    assert members["王芳"] == ["0/1 studied", "-"]

    unknown = liaison("material", "report", "--group", "没有")
    assert unknown.exit_code == 1
    assert "no group named '没有'" in unknown.output

    async def exports(database: Database) -> list[tuple[str, str, object]]:
        async with database.session() as session:
            found = await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "study.report.export")
            )
            return [(e.actor, e.action, (e.detail or {}).get("group")) for e in found]

    actor = f"cli:{getpass.getuser()}"
    assert on_database(database_url, exports) == [
        (actor, "study.report.export", None),
        (actor, "study.report.export", SHENZHEN),
    ]
