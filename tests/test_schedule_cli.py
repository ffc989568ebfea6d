"""`liaison schedule …` and `liaison member lost`: the cycle from the command line."""

from __future__ import annotations

import getpass
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.models import AuditEvent, CheckInCycle, Delivery, Member
from tests.cli_helpers import cli_database, liaison, on_database
from tests.cycle_harness import SHANGHAI, local
from tests.factories import make_checkin, make_group, make_member

NOV = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
SHENZHEN = "驻深圳流动党员党小组"
LAWYERS = "律师行业党小组"
DEFAULT = (
    "prompt day 1 at 09:00; reminders +3d, +7d; escalation day 10; lost contact after 6 months"
)


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A district of three members in two groups, one of them in Berlin."""
    url = cli_database(tmp_path, monkeypatch)

    async def seed(database: Database) -> None:
        shenzhen = await make_group(database, NOV, SHENZHEN)
        lawyers = await make_group(database, NOV, LAWYERS)
        await make_member(
            database,
            NOV,
            name="张伟",
            phone="+8613800000001",
            telegram_user_id=1001,
            groups=[shenzhen],
        )
        await make_member(database, NOV, name="李娜", phone="+8613800000002", groups=[shenzhen])
        await make_member(
            database,
            NOV,
            name="Max",
            phone="+8613800000003",
            groups=[lawyers],
            timezone="Europe/Berlin",
        )

    on_database(url, seed)
    return url


def audited(url: str, prefix: str) -> list[tuple[str, str | None, dict[str, Any] | None]]:
    async def read(database: Database) -> list[tuple[str, str | None, dict[str, Any] | None]]:
        async with database.session() as session:
            rows = await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.startswith(prefix))
                .order_by(AuditEvent.id)
            )
            return [(e.action, e.subject, e.detail) for e in rows]

    return on_database(url, read)


def cycles(url: str) -> list[tuple[int, str, str, bool]]:
    async def read(database: Database) -> list[tuple[int, str, str, bool]]:
        async with database.session() as session:
            rows = await session.scalars(select(CheckInCycle))
            return [(r.prompt_day, r.prompt_time, r.reminder_days, r.enabled) for r in rows]

    return on_database(url, read)


def deliveries(url: str) -> int:
    async def count(database: Database) -> int:
        async with database.session() as session:
            return int(await session.scalar(select(func.count()).select_from(Delivery)) or 0)

    return on_database(url, count)


ACTOR = f"cli:{getpass.getuser()}"
JOB_LINE = re.compile(r"^  (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}) CST  (.+)$")


# --- schedule list -------------------------------------------------------------------------


def test_list_shows_the_cycles_the_quiet_hours_and_the_jobs_with_their_times(
    database_url: str,
) -> None:
    assert liaison("schedule", "set", "--group", LAWYERS, "--day", "2").exit_code == 0
    result = liaison("schedule", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        "cycles:",
        f"  default: {DEFAULT}",
        f"  {LAWYERS}: prompt day 2 at 09:00; reminders +3d, +7d; escalation day 10; "
        f"lost contact after 6 months  (set by {ACTOR})",
        "quiet hours: 21:00–08:00 in each member's time zone",
    ]
    assert re.fullmatch(r"jobs in the next 40 days \((\d+) of \1\):", lines[4])
    jobs = [JOB_LINE.match(line) for line in lines[5:]]
    assert all(jobs), lines[5:]
    timed = [(m[1], m[2], m[3]) for m in jobs if m]
    assert [(day, clock) for day, clock, _ in timed] == sorted((d, c) for d, c, _ in timed)
    what = {description: (day, clock) for day, clock, description in timed}
    # The prompt at 09:00 on the 1st in Wuhan, and in Berlin at its own 09:00.
    assert what["check-in prompt (default cycle, Asia/Shanghai)"][0].endswith("-01")
    assert what["check-in prompt (default cycle, Asia/Shanghai)"][1] == "09:00"
    assert what["check-in prompt (default cycle, Europe/Berlin)"][1] in {"15:00", "16:00"}
    assert what[f"check-in prompt ({LAWYERS}, Asia/Shanghai)"][0].endswith("-02")
    assert what["escalation to liaisons (default cycle)"][0].endswith("-10")
    assert what["lost contact check (daily)"][1] == "09:00"

    # A shorter horizon lists fewer of the same jobs: the daily check is always there.
    soon = liaison("schedule", "list", "--days", "1").output.splitlines()
    header = next(line for line in soon if line.startswith("jobs in the next 1 days"))
    shown, total = map(int, re.findall(r"\d+", header.removeprefix("jobs in the next 1 days")))
    assert 1 <= shown < total == len(timed)
    assert any(line.endswith("  lost contact check (daily)") for line in soon)


# --- schedule run-due ----------------------------------------------------------------------


def test_run_due_enqueues_once_and_says_what(database_url: str) -> None:
    early = liaison("schedule", "run-due", "--now", "2026-12-01T08:59")
    assert early.output.splitlines() == ["due by 2026-12-01 08:59 CST:", "enqueued 0 message(s)"]

    first = liaison("schedule", "run-due", "--now", "2026-12-01T09:00")
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [
        "due by 2026-12-01 09:00 CST:",
        "  2026-12 prompt: 2 member(s) (default cycle, Asia/Shanghai)",
        "enqueued 2 message(s)",
    ]
    assert deliveries(database_url) == 2
    # Again (a second operator, a timer that fired too): nothing new.
    again = liaison("schedule", "run-due", "--now", "2026-12-01T01:00:00+00:00")
    assert again.output.splitlines() == ["due by 2026-12-01 09:00 CST:", "enqueued 0 message(s)"]
    assert deliveries(database_url) == 2
    # 09:00 in Berlin is eight hours later (16:00 in Wuhan): Max's prompt.
    berlin = liaison("schedule", "run-due", "--now", "2026-12-01T09:00:00+01:00")
    assert "  2026-12 prompt: 1 member(s) (default cycle, Europe/Berlin)" in berlin.output
    assert berlin.output.endswith("enqueued 1 message(s)\n")
    assert [detail for _, _, detail in audited(database_url, "schedule.run_due")] == [
        {"at": "2026-12-01T08:59:00+08:00", "messages": 0},
        {"at": "2026-12-01T09:00:00+08:00", "messages": 2},
        {"at": "2026-12-01T01:00:00+00:00", "messages": 0},
        {"at": "2026-12-01T09:00:00+01:00", "messages": 1},
    ]


def test_a_bad_now_is_a_clear_error(database_url: str) -> None:
    for bad in ("tomorrow", "2026-13-01T09:00", ""):
        refused = liaison("schedule", "run-due", "--now", bad)
        assert refused.exit_code != 0, bad
        assert f"--now {bad!r} is not an ISO 8601 time" in refused.output
        assert "--at" not in refused.output
    # Moments at the calendar's ends overflowed the date arithmetic (a traceback, and an
    # AssertionError for the month after December 9999): refused, naming the range.
    for far in ("9999-12-31T23:59", "9999-12-01T09:00", "0001-01-01T00:00+05:00", "1999-12-31"):
        refused = liaison("schedule", "run-due", "--now", far)
        assert (refused.exit_code, refused.output.splitlines()) == (
            1,
            [
                f"error: --now {far} is {'before 2000' if far < '2' else 'more than a year ahead'}"
                ": give a moment from 2000 to a year from now"
            ],
        )
    assert deliveries(database_url) == 0
    assert audited(database_url, "schedule.run_due") == []


# --- schedule show / set / reset -----------------------------------------------------------


def test_set_show_and_reset_a_groups_cycle(database_url: str) -> None:
    show = liaison("schedule", "show", "--group", SHENZHEN)
    assert show.output == f"{SHENZHEN} (the default cycle): {DEFAULT}\n"

    changed = liaison(
        "schedule",
        "set",
        "--group",
        SHENZHEN,
        "--day",
        "2",
        "--time",
        "8:30",
        "--reminders",
        "4",
        "--escalation",
        "12",
        "--lost",
        "3",
    )
    assert changed.exit_code == 0, changed.output
    mine = "prompt day 2 at 08:30; reminders +4d; escalation day 12; lost contact after 3 months"
    assert changed.output.splitlines() == [
        f"{SHENZHEN}: {mine}",
        "a running service picks this up within LIAISON_SCHEDULE_POLL_SECONDS",
    ]
    assert liaison("schedule", "show", "--group", SHENZHEN).output == (
        f"{SHENZHEN} (own cycle): {mine}\n"
    )
    assert cycles(database_url) == [(2, "08:30", "4", True)]
    # It is what the scheduler goes by: the 1st passes, the 2nd at 08:30 prompts.
    assert "enqueued 0" in liaison("schedule", "run-due", "--now", "2026-12-01T09:00").output
    assert "2026-12 prompt: 2 member(s) (驻深圳流动党员党小组, Asia/Shanghai)" in (
        liaison("schedule", "run-due", "--now", "2026-12-02T08:30").output
    )

    off = liaison("schedule", "set", "--group", SHENZHEN, "--off")
    assert off.output.splitlines()[0] == (
        f"{SHENZHEN}: off (no prompts, reminders, escalation or lost-contact checks)"
    )
    assert cycles(database_url) == [(2, "08:30", "4", False)]
    assert liaison("schedule", "set", "--group", SHENZHEN, "--on").exit_code == 0

    reset = liaison("schedule", "reset", "--group", SHENZHEN)
    assert reset.output == f"{SHENZHEN} follows the default cycle again: {DEFAULT}\n"
    assert cycles(database_url) == []
    again = liaison("schedule", "reset", "--group", SHENZHEN)
    assert again.output == f"{SHENZHEN} already follows the default cycle\n"
    assert liaison("schedule", "show", "--group", SHENZHEN).output == show.output

    group = "group:1"
    assert audited(database_url, "schedule.") == [
        (
            "schedule.set",
            group,
            {"day": "2", "time": "8:30", "reminders": "4", "escalation": "12", "lost": "3"},
        ),
        ("schedule.run_due", None, {"at": "2026-12-01T09:00:00+08:00", "messages": 0}),
        # (Max follows the default cycle: his Berlin prompt of the 1st goes late, with them.)
        ("schedule.run_due", None, {"at": "2026-12-02T08:30:00+08:00", "messages": 3}),
        ("schedule.set", group, {"enabled": "off"}),
        ("schedule.set", group, {"enabled": "on"}),
        ("schedule.reset", group, None),
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--group", SHENZHEN, "--day", "30"], "the prompt day must be between 1 and 28"),
        (["--group", SHENZHEN, "--time", "25:00"], "'25:00' is not a time of day like 09:00"),
        (["--group", SHENZHEN, "--reminders", "7,3"], "reminder days must be increasing"),
        (["--group", SHENZHEN, "--day", "20", "--reminders", "3,9"], "the last reminder (day 29)"),
        (["--group", SHENZHEN, "--escalation", "1"], "the escalation day must come after"),
        (["--group", SHENZHEN, "--lost", "0"], "lost contact needs between 1 and 60 months"),
        (["--group", SHENZHEN, "--day", "two"], "day must be a whole number, not 'two'"),
        (["--group", "没有这个组", "--day", "2"], "no group named '没有这个组'"),
        (["--group", SHENZHEN], "nothing to change"),
    ],
)
def test_settings_that_cannot_work_are_refused_and_change_nothing(
    database_url: str, options: list[str], message: str
) -> None:
    refused = liaison("schedule", "set", *options)
    assert refused.exit_code == 1
    assert f"error: {message}" in refused.output
    assert cycles(database_url) == []
    assert audited(database_url, "schedule.") == []
    assert liaison("schedule", "show", "--group", SHENZHEN).output == (
        f"{SHENZHEN} (the default cycle): {DEFAULT}\n"
    )


def test_show_and_reset_of_an_unknown_group(database_url: str) -> None:
    for command in ("show", "reset"):
        refused = liaison("schedule", command, "--group", "没有这个组")
        assert refused.exit_code == 1
        assert "error: no group named '没有这个组'" in refused.output


# --- member lost ---------------------------------------------------------------------------


def test_members_flagged_lost_contact_are_listed_masked_and_confirmed_by_phone(
    database_url: str,
) -> None:
    async def silent_since_may(database: Database) -> None:
        group = await make_group(database, NOV, SHENZHEN)
        for name, phone, day in (("老周", "+8613800000004", 18), ("老吴", "+8613800000005", 20)):
            member = await make_member(
                database,
                NOV,
                name=name,
                phone=phone,
                groups=[group],
                registered_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
            await make_checkin(database, member, local(SHANGHAI, 2026, 5, day, 10), city="深圳")

    on_database(database_url, silent_since_may)
    assert liaison("member", "lost").output == "no member is flagged lost contact\n"
    flagged = liaison("schedule", "run-due", "--now", "2026-11-19T09:00")
    assert ("  lost contact: 1 member(s) flagged; 0 message(s) to staff") in flagged.output
    liaison("schedule", "run-due", "--now", "2026-11-21T09:00")

    listing = liaison("member", "lost")
    assert listing.exit_code == 0
    assert listing.output.splitlines() == [
        "老周  +86 138****0004  flagged 2026-11-19 09:00 CST  not confirmed: prompts continue",
        "老吴  +86 138****0005  flagged 2026-11-21 09:00 CST  not confirmed: prompts continue",
    ]
    assert "13800000004" not in listing.output

    confirmed = liaison("member", "lost", "--confirm", "138 0000 0004")
    assert confirmed.exit_code == 0, confirmed.output
    assert confirmed.output.splitlines()[0] == (
        f"老周  +86 138****0004  flagged 2026-11-19 09:00 CST  confirmed by {ACTOR}"
    )

    async def state(database: Database) -> dict[str, tuple[bool, bool]]:
        async with database.session() as session:
            rows = await session.scalars(select(Member).order_by(Member.id))
            return {
                m.name: (m.lost_contact_at is not None, m.lost_contact_confirmed_at is not None)
                for m in rows
            }

    assert on_database(database_url, state) == {
        "张伟": (False, False),
        "李娜": (False, False),
        "Max": (False, False),
        "老周": (True, True),
        "老吴": (True, False),
    }
    # December's prompt skips the confirmed member only.
    december = liaison("schedule", "run-due", "--now", "2026-12-01T09:00")
    assert "2026-12 prompt: 3 member(s) (default cycle, Asia/Shanghai)" in december.output

    for phone, message in (
        ("+8613800000001", "张伟 is not flagged as lost contact (checked in since?)"),
        ("+8613900000000", "no member with phone +86 139****0000"),
        ("12", "too short"),
    ):
        refused = liaison("member", "lost", "--confirm", phone)
        assert refused.exit_code == 1, phone
        assert refused.output.startswith("error: ") and message in refused.output
    assert on_database(database_url, state)["张伟"] == (False, False)
    actions = [
        (action, subject) for action, subject, _ in audited(database_url, "member.lost_contact")
    ]
    assert actions.count(("member.lost_contact_confirm", "member:4")) == 1
    assert [a for a, _ in actions].count("member.lost_contact_list") == 3


def test_run_due_counts_the_messages_it_enqueued_when_it_flags_lost_contact(
    database_url: str,
) -> None:
    async def silent_since_may(database: Database) -> None:
        group = await make_group(database, NOV, SHENZHEN)
        member = await make_member(
            database,
            NOV,
            name="老周",
            phone="+8613800000004",
            groups=[group],
            registered_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        await make_checkin(database, member, local(SHANGHAI, 2026, 5, 18, 10), city="深圳")

    on_database(database_url, silent_since_may)
    result = liaison("schedule", "run-due", "--now", "2026-11-19T09:00")
    # No staff yet: the flag is set and nobody can be told.
    assert "lost contact: 1 member(s) flagged" in result.output
    assert "0 message(s) to staff" in result.output
    written = deliveries(database_url)
    assert result.output.endswith(f"enqueued {written} message(s)\n")
