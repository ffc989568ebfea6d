"""What a person types, and what reaches a terminal or a phone, is clean text.

A NUL character in typed text is dropped on the way in (PostgreSQL cannot store one);
coordinates out of range are refused; control and bidi characters never reach a terminal
or an SMS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.botapi import LocalBotApi
from bot.context import LiaisonApplication, Services
from storage.clock import FakeClock
from storage.db import Database, create_engine
from storage.ideas import submit
from storage.models import CheckIn, Consent, Idea, IdeaKind, LocationReport, Place
from storage.notices import create_notice
from storage.text import printable
from tests.chat import Person, said, talk
from tests.cli_helpers import liaison, on_database
from tests.conftest import PG_URL, START, run_async
from tests.cycle_harness import RecordingSms
from tests.delivery import make_dispatcher
from tests.factories import make_group, make_member, make_place, make_staff
from tests.test_cli import run_chat

MEMBER = 8601
LIAISON = 8602
WANG = 8603  # a member who reads English


@pytest.fixture(params=["sqlite", *(["postgresql"] if PG_URL else [])])
def cli_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A migrated database of the `liaison` command's own, on each backend (the command
    cannot share a test's PostgreSQL schema, so it gets a database)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
        dropped = None
    else:
        name = f"liaison_hygiene_{tmp_path.name.lower().replace('-', '_')}"[:60]
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        dropped = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'

        async def create() -> None:
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
            await admin.dispose()

        run_async(create)
    monkeypatch.setenv("LIAISON_DATABASE_URL", url)
    # No SQLite file to keep the invite key beside: the command and the chat share this one.
    monkeypatch.setenv("LIAISON_INVITE_KEY_DIR", str(tmp_path))
    assert liaison("db", "upgrade").exit_code == 0
    yield url
    if dropped is not None:

        async def drop() -> None:
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            async with admin.connect() as connection:
                await connection.execute(text(dropped))
            await admin.dispose()

        run_async(drop)


async def district(db: Database) -> None:
    shenzhen = await make_group(db, START, "驻深圳党小组")
    await make_member(
        db,
        START,
        name="张伟",
        phone="+8613800000001",
        telegram_user_id=MEMBER,
        groups=[shenzhen],
        consent=Consent.GIVEN,
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])


# --- NUL characters in typed text -----------------------------------------------------------


async def test_a_nul_in_a_typed_place_is_dropped_and_the_checkin_saved(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await district(db)
    zhang = Person(application, bot_api, MEMBER)
    await talk(
        zhang,
        [
            ("/checkin", "1/3 您现在在哪里"),
            ("武汉市\x00江汉区", ["所在地：湖北省 武汉市 江汉区", "2/3 工作情况怎么样"]),
            ("工作稳定", "想补充说明吗"),
            ("还在\x00华强电子", "3/3"),
            ("不需要", ["请核对您的报到", "还在华强电子"]),
            ("✅ 确认提交", "已保存，谢谢您"),
        ],
    )
    async with db.session() as session:
        checkin = await session.scalar(select(CheckIn))
        report = await session.scalar(select(LocationReport))
    assert checkin is not None and report is not None
    assert checkin.work_note == "还在华强电子"
    assert report.text == "武汉市江汉区"


async def test_a_nul_in_an_idea_is_dropped_and_the_idea_kept(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await district(db)
    zhang = Person(application, bot_api, MEMBER)
    await talk(
        zhang,
        [
            ("/idea", "1/3"),
            ("💡 金点子", "金点子 2/3：内容"),
            ("开办\x00夜校", ["金点子 3/3：请确认", "开办夜校"]),
            ("📨 发送", "已收到您的金点子，编号 #1"),
        ],
    )
    async with db.session() as session:
        bodies = list(await session.scalars(select(Idea.body)))
    assert bodies == ["开办夜校"]


async def test_a_nul_in_a_member_query_finds_the_member(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await district(db)
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [("/member 张\x00伟", ["张伟（流出党员）", "电话：+86 138****0001"])])


def test_a_nul_in_a_reply_file_is_dropped_and_the_reply_kept(cli_url: str, tmp_path: Path) -> None:
    async def add(database: Database) -> None:
        member = await make_member(database, START, name="张伟", phone="+8613800000001")
        async with database.session() as session:
            await submit(session, START, member_id=member.id, kind=IdeaKind.IDEA, text="开办夜校")

    on_database(cli_url, add)
    reply = tmp_path / "reply.txt"
    reply.write_text("谢谢，\x00下月开办。", encoding="utf-8")
    result = liaison("idea", "reply", "1", "--file", str(reply))
    assert result.exit_code == 0, result.output
    assert "replied to suggestion 1" in result.output

    async def replies(database: Database) -> list[str | None]:
        async with database.session() as session:
            return list(await session.scalars(select(Idea.reply)))

    assert on_database(cli_url, replies) == ["谢谢，下月开办。"]


# --- coordinates that are not on Earth ------------------------------------------------------

NOT_ON_EARTH = [
    (float("inf"), 114.27),
    (1e308, 114.27),
    (91.0, 200.0),
    (30.58, float("nan")),
    (float("-inf"), float("-inf")),
]


async def share(person: Person, latitude: float, longitude: float) -> str:
    """Share a location a Telegram client could not have sent; what the bot answered."""
    return said(await person.send_update(person.updates.location(person.user, latitude, longitude)))


@pytest.mark.parametrize(("latitude", "longitude"), NOT_ON_EARTH)
async def test_places_refuses_a_location_not_on_earth(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    latitude: float,
    longitude: float,
) -> None:
    await district(db)
    await make_place(db, START)
    zhang = Person(application, bot_api, MEMBER)
    await talk(zhang, [("/places", "发送我的位置")])
    answer = await share(zhang, latitude, longitude)
    assert "这个位置不对" in answer and "纬度在 -90 到 90 之间" in answer
    assert "民意街道党员之家" not in answer and "出错" not in answer
    # A real location still finds the place.
    assert "民意街道党员之家" in await share(zhang, 30.58, 114.27)


@pytest.mark.parametrize(("latitude", "longitude"), NOT_ON_EARTH)
async def test_a_checkin_refuses_a_location_not_on_earth_and_asks_again(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    latitude: float,
    longitude: float,
) -> None:
    await district(db)
    zhang = Person(application, bot_api, MEMBER)
    await talk(zhang, [("/checkin", "1/3 您现在在哪里")])
    answer = await share(zhang, latitude, longitude)
    assert "这个位置不对" in answer and "位置没有保存" in answer and "1/3 您现在在哪里" in answer
    # The check-in goes on: a real place is taken.
    await talk(zhang, [("/loc 30.58 114.27", ["所在地：湖北省 武汉市", "2/3 工作情况怎么样"])])


async def test_bad_locations_are_refused_in_english_too(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await make_member(
        db, START, name="王芳", telegram_user_id=WANG, consent=Consent.GIVEN, locale="en"
    )
    await make_place(db, START)
    wang = Person(application, bot_api, WANG, language_code="en")
    answer = await share(wang, 30.58, float("nan"))
    assert "That location is not valid: its longitude is not a number on Earth" in answer
    await talk(wang, [("/checkin", "1/3")])
    answer = await share(wang, 95.0, 114.27)
    assert "its latitude is not a number on Earth" in answer and "it was not saved" in answer


@pytest.mark.parametrize(
    ("latitude", "longitude", "problem"),
    [
        ("inf", "114.27", "latitude 'inf' is not a number"),
        ("1e308", "114.27", "latitude 1e+308 is outside -90…90"),
        ("91", "200", "longitude 200 is outside -180…180"),
        ("30.58", "NaN", "longitude 'NaN' is not a number"),
    ],
)
def test_a_places_file_with_coordinates_not_on_earth_is_refused(
    cli_url: str, tmp_path: Path, latitude: str, longitude: str, problem: str
) -> None:
    path = tmp_path / "places.csv"
    path.write_text(
        "名称,类型,地址,所在区,纬度,经度\n"
        "民意街道党员之家,党员之家,民意四路 12 号,江汉区,30.58,114.27\n"
        f"某地,党员之家,某路 1 号,江汉区,{latitude},{longitude}\n",
        encoding="utf-8",
    )
    result = liaison("place", "import", str(path))
    assert result.exit_code == 1
    assert problem in result.output and "nothing was imported" in result.output

    async def count(database: Database) -> int:
        async with database.session() as session:
            return await session.scalar(select(func.count()).select_from(Place)) or 0

    assert on_database(cli_url, count) == 0


# --- control and bidi characters on a terminal and in an SMS --------------------------------

# A title-setting OSC, a screen clear, a colour, and the nine bidi embeddings, overrides
# and isolates: none of them may reach a terminal or a phone.
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m\x9b0m"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
NASTY_NAME = f"张{ESCAPES}伟{BIDI}"
NASTY_TEXT = f"建议{ESCAPES}每月办一次夜校\u202egpj.exe\u202c\n第二行\t结束\r\x08"
CONTROLS = {*"\x1b\x07\x9b\x08\r\x00", *BIDI}


def shows_none(output: str) -> bool:
    return not CONTROLS & set(output) and "pwned" not in output and "[2J" not in output


def test_printable_keeps_the_words_and_drops_the_rest() -> None:
    assert printable(NASTY_TEXT) == "建议每月办一次夜校gpj.exe\n第二行\t结束"
    assert printable(NASTY_NAME) == "张伟"
    # An unterminated string ends with the text; plain text and emoji are untouched.
    assert printable("名字\x1b]0;到最后") == "名字"
    assert printable("Wang Fang 王芳 🙂 (+86) [1] €") == "Wang Fang 王芳 🙂 (+86) [1] €"


def test_cli_listings_show_no_control_or_bidi_characters(cli_url: str) -> None:
    async def add(database: Database) -> None:
        group = await make_group(database, START, "驻深圳党小组")
        member = await make_member(
            database, START, name=NASTY_NAME, phone="+8613800000001", groups=[group]
        )
        async with database.session() as session:
            await submit(session, START, member_id=member.id, kind=IdeaKind.IDEA, text=NASTY_TEXT)

    on_database(cli_url, add)
    for command in (["member", "list"], ["idea", "list"], ["idea", "show", "1"]):
        result = liaison(*command)
        assert result.exit_code == 0, result.output
        assert "张伟" in result.output, command
        assert shows_none(result.output), (command, result.output)
    assert "建议每月办一次夜校gpj.exe\n第二行\t结束" in result.output


async def test_an_sms_shows_no_control_or_bidi_characters(
    services: Services, db: Database, clock: FakeClock
) -> None:
    group = await make_group(db, START, "汉正街市场党小组")
    await make_member(db, START, name="商户", phone="+8613900000001", groups=[group])
    async with db.session() as session:
        await create_notice(
            session,
            START,
            author="cli:test",
            author_name=f"花楼街道{BIDI}党工委",
            body=NASTY_TEXT,
            groups=["汉正街市场党小组"],
        )
    sms = RecordingSms(clock)
    assert await make_dispatcher(services, sms=sms).run_once() == 1
    [(_, message)] = sms.sent
    assert message.text.startswith("【通知】建议每月办一次夜校gpj.exe\n第二行\t结束")
    assert message.text.endswith("——花楼街道党工委")
    assert shows_none(message.text)


def test_liaison_chat_shows_no_control_or_bidi_characters(cli_url: str) -> None:
    assert liaison("demo").exit_code == 0
    typed = f"建议{ESCAPES}夜校\u202egpj.exe\u202c{BIDI}"
    transcript = run_chat(cli_url, 10001, ["/idea", "1", typed])
    assert "> 建议夜校gpj.exe" in transcript  # the line as typed, echoed
    assert "请确认" in transcript and transcript.count("建议夜校gpj.exe") == 2
    assert shows_none(transcript), transcript


def test_every_command_prints_through_the_one_echo() -> None:
    # A command that called click.echo itself would print members' text raw again.
    cli = Path(__file__).parent.parent / "bot" / "cli"
    direct = [
        path.name
        for path in sorted(cli.glob("*.py"))
        if path.name != "common.py" and "click.echo" in path.read_text(encoding="utf-8")
    ]
    assert direct == [], f"print with bot.cli.common.echo, not click.echo: {direct}"
