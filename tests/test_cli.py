"""The `liaison` command line: plain output, exit status 0 only on success."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import qq_rest
from storage.db import Database
from storage.invite_key import KEY_FILE
from storage.models import AuditEvent, Member
from tests.cli_helpers import liaison, on_database

ROOT = Path(__file__).resolve().parent.parent
HEADER = "name,phone,status,home_unit,origin,destination,groups,workplace,trade\n"


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LIAISON_DATABASE_URL", url)
    return url


@pytest.fixture
def district(database_url: str) -> None:
    assert liaison("db", "upgrade").exit_code == 0
    assert liaison("demo").exit_code == 0


def test_bad_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIAISON_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("LIAISON_TELEGRAM_TOKEN", "123:short")
    result = liaison("db", "status")
    assert result.exit_code == 2
    assert "LIAISON_TIMEZONE: unknown time zone 'Mars/Olympus'" in result.output
    assert "LIAISON_TELEGRAM_TOKEN" in result.output
    assert "123:short" not in result.output


def test_commands_need_an_upgraded_database(database_url: str) -> None:
    result = liaison("member", "list")
    assert result.exit_code == 1
    assert "liaison db upgrade" in result.output
    assert liaison("db", "upgrade").exit_code == 0
    status = liaison("db", "status")
    assert status.exit_code == 0
    current, newest = (line.split()[-1] for line in status.output.splitlines())
    assert current == newest != "empty"


def test_demo_twice_changes_nothing(database_url: str) -> None:
    liaison("db", "upgrade")
    assert liaison("demo").output.strip() == "sample district loaded"
    # The sample members' homes come with it, so /places answers in `make run`.
    assert "花楼街" in liaison("place", "list").output
    assert liaison("demo").output.strip() == "sample district already loaded"
    assert "not loaded" in liaison("demo", "--if-empty").output


def test_structure_commands(database_url: str) -> None:
    liaison("db", "upgrade")
    assert liaison("unit", "add", "江汉区").output.strip() == "added: unit 江汉区"
    assert liaison("unit", "add", "民族街道", "--parent", "江汉区").exit_code == 0
    assert liaison("unit", "add", "江汉区").output.strip() == "exists: unit 江汉区"
    added = liaison("group", "add", "律师行业党小组", "--kind", "trade", "--unit", "民族街道")
    assert added.output.strip() == "added: group 律师行业党小组 (trade)"
    missing = liaison("group", "add", "X", "--unit", "没有这个单位")
    assert missing.exit_code == 1
    assert "no unit named '没有这个单位'" in missing.output
    staff = liaison(
        "staff",
        "add",
        "--telegram-id",
        "555",
        "--name",
        "李联络",
        "--role",
        "liaison",
        "--group",
        "律师行业党小组",
    )
    assert staff.exit_code == 0, staff.output
    assert "555\t李联络\tliaison\t律师行业党小组" in liaison("staff", "list").output
    bad = liaison(
        "staff",
        "add",
        "--telegram-id",
        "556",
        "--name",
        "X",
        "--role",
        "liaison",
        "--group",
        "没有",
    )
    assert bad.exit_code == 1
    huge = liaison("staff", "add", "--telegram-id", "2" * 20, "--name", "X", "--role", "admin")
    assert (huge.exit_code, huge.output) == (
        1,
        f"error: --telegram-id {'2' * 20} is not a Telegram user id (1 to 4503599627370495)\n",
    )
    assert "李联络" in liaison("staff", "list").output


def test_member_import_and_list(district: None, tmp_path: Path) -> None:
    good = tmp_path / "roster.csv"
    good.write_text(HEADER + "测试员,139 0013 9000,outflow,民意街道党工委,,深圳,,,\n")
    result = liaison("member", "import", str(good))
    assert result.exit_code == 0, result.output
    assert "1 new, 0 updated, 0 unchanged" in result.output
    assert "0 new, 0 updated, 1 unchanged" in liaison("member", "import", str(good)).output

    listing = liaison("member", "list")
    assert "测试员\t+86 139****9000\toutflow\t民意街道党工委" in listing.output
    assert "13900139000" not in listing.output
    assert "+8613900139000" in liaison("member", "list", "--full").output

    group = liaison("member", "list", "--group", "律师行业党小组").output
    assert "胡斌" in group
    assert "张伟" not in group
    assert liaison("member", "list", "--group", "没有这个组").exit_code == 1


def test_member_import_with_bad_rows_reports_and_imports_nothing(
    district: None, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER + "甲,13900139000,outflow,,,,,,\n乙,123,outflow,,,,,,\n,13700137000,x,,,,,,\n"
    )
    result = liaison("member", "import", str(bad))
    assert result.exit_code == 1
    assert "row 3 (phone)" in result.output
    assert "row 4" in result.output
    assert "nothing was imported" in result.output
    assert "甲" not in liaison("member", "list").output
    assert liaison("member", "import", str(tmp_path / "missing.csv")).exit_code == 1
    wrong = tmp_path / "roster.txt"
    wrong.write_text("x")
    assert "use .csv or .xlsx" in liaison("member", "import", str(wrong)).output


def test_invite_create_prints_the_code_last(
    district: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = liaison("invite", "create", "--phone", "138 7100 0002")
    assert result.exit_code == 0, result.output
    code = result.output.strip().splitlines()[-1]
    assert len(code) == 8
    assert code.isalnum()
    assert "t.me" not in result.output

    monkeypatch.setenv("LIAISON_TELEGRAM_BOT_USERNAME", "jianghan_liaison_bot")
    linked = liaison("invite", "create", "--phone", "+86 138 7100 0002").output.splitlines()
    assert linked[-2] == f"https://t.me/jianghan_liaison_bot?start={linked[-1]}"

    unknown = liaison("invite", "create", "--phone", "13999999999")
    assert unknown.exit_code == 1
    assert liaison("invite", "create", "--phone", "not a phone").exit_code == 1


def test_invite_create_names_the_member_beside_the_masked_phone(
    district: None, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("姓名,手机号,类型\n李明,13800000001,流出\n李敏,13812340001,流出\n", "utf-8")
    assert liaison("member", "import", str(roster)).exit_code == 0
    first = liaison("invite", "create", "--phone", "13800000001").output.splitlines()[0]
    second = liaison("invite", "create", "--phone", "13812340001").output.splitlines()[0]
    # Both numbers mask to the same digits; the name tells the two slips apart.
    assert first == "invite for 李明 +86 138****0001, valid 14 days"
    assert second == "invite for 李敏 +86 138****0001, valid 14 days"


def run_chat(database_url: str, user_id: int, lines: list[str]) -> str:
    """`liaison chat` as a real process reading its standard input."""
    env = {**os.environ, "LIAISON_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", str(user_id)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_chat_as_an_impossible_user_is_refused(database_url: str) -> None:
    # 20 digits overflowed the database's integer: a traceback, before this check.
    for user in ("99999999999999999999", "0", "-5"):
        refused = liaison("chat", "--user", user)
        assert (refused.exit_code, refused.output) == (
            1,
            f"error: --user {user} is not a Telegram user id (1 to 4503599627370495)\n",
        )


def test_an_invite_from_the_command_line_binds_in_the_service(
    district: None, database_url: str, tmp_path: Path
) -> None:
    """`invite create` and the service (here `chat`, which starts like `serve`) share the
    key: the file made beside the database on first use, read by every later start."""
    code = liaison("invite", "create", "--phone", "138 7100 0002").output.splitlines()[-1]
    key_file = tmp_path / KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    made = key_file.read_text()

    transcript = run_chat(database_url, 515151, [f"/start {code}"])

    assert "王芳，您好！绑定成功" in transcript
    assert key_file.read_text() == made


def test_an_invite_made_with_another_secret_is_a_wrong_code(
    district: None, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LIAISON_INVITE_SECRET", "one secret of the service, 32+ chars")
    code = liaison("invite", "create", "--phone", "138 7100 0002").output.splitlines()[-1]
    assert not (tmp_path / KEY_FILE).exists()

    monkeypatch.setenv("LIAISON_INVITE_SECRET", "another secret of a service, 32+ chars")
    assert "邀请码不对" in run_chat(database_url, 515151, [f"/start {code}"])
    monkeypatch.setenv("LIAISON_INVITE_SECRET", "one secret of the service, 32+ chars")
    assert "绑定成功" in run_chat(database_url, 515151, [f"/start {code}"])


def test_a_postgresql_service_without_an_invite_key_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIAISON_DATABASE_URL", "postgresql+asyncpg://liaison@127.0.0.1:9/none")
    result = liaison("invite", "create", "--phone", "138 7100 0002")
    assert result.exit_code == 2
    assert "set LIAISON_INVITE_SECRET or LIAISON_INVITE_KEY_DIR" in result.output


def test_terminal_chat_through_standard_input(district: None, database_url: str) -> None:
    transcript = run_chat(database_url, 424242, ["/help", "/lang", "2", "/help", "/nonsense"])
    assert "> /help" in transcript
    assert "可用命令" in transcript
    assert "[1] 中文" in transcript
    assert "[2] English" in transcript
    assert "Language set to English" in transcript
    assert "There is no command /nonsense" in transcript


def test_the_sample_member_checks_in_from_the_terminal(district: None, database_url: str) -> None:
    transcript = run_chat(
        database_url,
        10001,
        ["/checkin", "同意", "武汉市江汉区", "工作稳定", "跳过", "不需要", "✅ 确认提交", "/where"],
    )
    assert "[1] 同意" in transcript
    assert "📍 所在地：湖北省 武汉市 江汉区" in transcript
    assert "已保存，谢谢您" in transcript
    assert "现在所在地：湖北省 武汉市 江汉区" in transcript


def test_a_group_ticked_in_the_terminal_shows_the_buttons_as_they_are_now(
    district: None, database_url: str
) -> None:
    transcript = run_chat(database_url, 20001, ["/notice", "2", "2"])
    # Only the buttons changed: the terminal shows them again, ticked, then unticked.
    ticked, unticked = transcript.split("> 2\n")[1:]
    assert "[2] ✓ 驻深圳流动党员党小组" in ticked
    assert "✓" not in unticked and "[2] 驻深圳流动党员党小组" in unticked


def test_a_liaison_sees_the_silent_members_of_the_sample_district(
    district: None, database_url: str
) -> None:
    transcript = run_chat(database_url, 20001, ["/overdue", "/member 王芳"])
    assert "尚未报到" in transcript
    assert "李强" in transcript  # silent for two months
    assert "赵敏" not in transcript.split("> /member")[0]  # checked in this month
    assert "+86 138****0002" in transcript
    assert "13871000002" not in transcript


def test_a_members_channel_order(district: None, tmp_path: Path) -> None:
    result = liaison("member", "channels", "--phone", "138 7100 0002", "短信、telegram")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "王芳: sms,telegram"
    assert "default" in liaison("member", "channels", "--phone", "13871000002", "default").output
    qq_first = liaison("member", "channels", "--phone", "13871000002", "QQ，短信")
    assert qq_first.output.strip() == "王芳: qq,sms"
    bad = liaison("member", "channels", "--phone", "13871000002", "pigeon")
    assert bad.exit_code == 1
    assert "unknown channel 'pigeon'" in bad.output
    assert liaison("member", "channels", "--phone", "13999999999", "sms").exit_code == 1

    roster = tmp_path / "roster.csv"
    roster.write_text(
        HEADER.strip() + ",channels\n王芳,13871000002,outflow,民意街道党工委,,,,,,sms\n"
    )
    assert "0 new, 1 updated" in liaison("member", "import", str(roster)).output
    roster.write_text(
        HEADER.strip() + ",channels\n王芳,13871000002,outflow,民意街道党工委,,,,,,fax\n"
    )
    rejected = liaison("member", "import", str(roster))
    assert rejected.exit_code == 1
    assert "row 2 (channels): unknown channel 'fax'" in rejected.output


def test_a_members_own_time_zone_from_the_command_line_and_the_roster(
    district: None, database_url: str, tmp_path: Path
) -> None:
    result = liaison("member", "timezone", "--phone", "138 7100 0002", "asia/dubai")
    assert result.exit_code == 0, result.output
    # Her name beside the masked phone, and the clock where she is.
    assert re.fullmatch(
        r"王芳 \(\+86 138\*\*\*\*0002\): time zone Asia/Dubai, "
        r"local time now \d{4}-\d\d-\d\d \d\d:\d\d\+04:00\n",
        result.output,
    ), result.output
    assert zones_and_audit(database_url) == ("Asia/Dubai", ["member.timezone"])

    unknown = liaison("member", "timezone", "--phone", "13871000002", "Dubai")
    assert unknown.exit_code == 2
    assert "unknown time zone 'Dubai' (use an IANA name like Asia/Dubai" in unknown.output
    assert liaison("member", "timezone", "--phone", "13999999999", "UTC").exit_code == 1
    assert zones_and_audit(database_url) == ("Asia/Dubai", ["member.timezone"])

    roster = tmp_path / "roster.csv"
    header = HEADER.strip() + ",timezone\n"
    roster.write_text(header + "王芳,13871000002,outflow,民意街道党工委,,,,,,Europe/Berlin\n")
    assert "0 new, 1 updated" in liaison("member", "import", str(roster)).output
    assert zones_and_audit(database_url)[0] == "Europe/Berlin"
    roster.write_text(header + "王芳,13871000002,outflow,民意街道党工委,,,,,,Berlin\n")
    rejected = liaison("member", "import", str(roster))
    assert rejected.exit_code == 1
    assert "row 2 (timezone): unknown time zone 'Berlin'" in rejected.output
    assert "ignored columns" not in rejected.output
    assert zones_and_audit(database_url)[0] == "Europe/Berlin"


def zones_and_audit(url: str) -> tuple[str | None, list[str]]:
    """王芳's time zone, and the audited changes of members' time zones."""

    async def read(database: Database) -> tuple[str | None, list[str]]:
        async with database.session() as session:
            zone = await session.scalar(
                select(Member.timezone).where(Member.phone == "+8613871000002")
            )
            actions = await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action == "member.timezone")
            )
            return zone, list(actions)

    return on_database(url, read)


def test_member_list_overdue_leaves_out_who_checked_in_this_month(district: None) -> None:
    overdue = liaison("member", "list", "--overdue")
    assert overdue.exit_code == 0, overdue.output
    names = {line.split("\t")[0] for line in overdue.output.splitlines()}
    assert "李强" in names  # last check-in two months ago
    assert "赵敏" not in names  # checked in this month
    assert len(names) == len(liaison("member", "list").output.splitlines()) - 2  # 赵敏, 罗兰
    group = liaison("member", "list", "--overdue", "--group", "律师行业党小组").output
    assert {line.split("\t")[0] for line in group.splitlines()} == {"胡斌", "朱琳", "郭亮"}


def test_a_group_linked_to_its_qq_group_and_a_staff_members_qq(district: None) -> None:
    linked = liaison("group", "link-qq", "律师行业党小组", "88000111")
    assert linked.exit_code == 0, linked.output
    assert linked.output.strip() == "linked: group 律师行业党小组 to QQ group 88000111"
    moved = liaison("group", "link-qq", "律师行业党小组", "88000222")
    assert "(was QQ group 88000111)" in moved.output
    unknown = liaison("group", "link-qq", "没有这个小组", "88000333")
    assert unknown.exit_code == 1 and "no group named" in unknown.output
    assert liaison("group", "link-qq", "律师行业党小组", "12").exit_code == 2  # not a QQ number
    unlinked = liaison("group", "unlink-qq", "88000222")
    assert unlinked.output.strip() == "unlinked: QQ group 88000222 from group 律师行业党小组"
    assert liaison("group", "unlink-qq", "88000222").exit_code == 1

    staff = liaison(
        "staff",
        "add",
        "--telegram-id",
        "30001",
        "--qq-id",
        "7654321",
        "--name",
        "孙联络",
        "--role",
        "liaison",
        "--group",
        "律师行业党小组",
    )
    assert staff.exit_code == 0, staff.output
    taken = liaison(
        "staff",
        "add",
        "--telegram-id",
        "30002",
        "--qq-id",
        "7654321",
        "--name",
        "周联络",
        "--role",
        "liaison",
    )
    assert taken.exit_code == 1 and "QQ account 7654321 belongs to 孙联络" in taken.output


def test_qq_status_and_an_early_end_of_its_rest(district: None, database_url: str) -> None:
    assert "sending: yes" in liaison("qq", "status").output
    assert liaison("qq", "resume").output.strip() == "QQ was not resting: nothing to resume"
    on_database(database_url, _rest)
    assert "resting until " in liaison("qq", "status").output
    resumed = liaison("qq", "resume")
    assert resumed.exit_code == 0 and "QQ resumes" in resumed.output
    assert "sending: yes" in liaison("qq", "status").output


async def _rest(database: Database) -> None:
    async with database.session() as session:
        now = datetime.now(UTC)
        await qq_rest.begin(session, now, now + timedelta(hours=6), "retcode 100")
