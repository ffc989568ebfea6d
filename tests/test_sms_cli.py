"""`liaison sms inbox`: the SMS inbox from a terminal: list, answer by SMS, mark done."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from messages.channels.base import MobileOriginated
from messages.render import Renderer
from messages.sms_inbound import SmsInbox
from storage.clock import FakeClock
from storage.db import Database
from storage.models import AuditEvent, ChannelName, Delivery, Member, MessageKind
from storage.regions import default_index
from storage.sms_inbox import fingerprint
from tests.cli_helpers import cli_database, liaison, on_database

SENT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
STRANGER = "+8613700137000"


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return cli_database(tmp_path, monkeypatch, demo=True)


def texted(url: str, sender: str | None, text: str, *, name: str | None = None) -> str:
    """An SMS arrives from sender (or from the phone of the demo member name); the number."""

    async def arrive(database: Database) -> str:
        number = sender
        if name is not None:
            async with database.session() as session:
                number = await session.scalar(select(Member.phone).where(Member.name == name))
        assert number is not None
        inbox = SmsInbox(
            database,
            FakeClock(SENT),
            Renderer(),
            default_index(),
            zone=ZoneInfo("Asia/Shanghai"),
        )
        key = fingerprint(number, "Liaison", 8, 0, text.encode("utf-16-be"))
        await inbox(MobileOriginated(number, "Liaison", text, key))
        await inbox.handle_pending()
        return number

    return on_database(url, arrive)


def test_list_answer_and_mark_done(database_url: str) -> None:
    zhang = texted(database_url, None, "请问\t这个月的\n党费交给谁？", name="张伟")
    texted(database_url, STRANGER, "你好")
    texted(database_url, None, "报到 深圳南山", name="张伟")  # answered by its keyword

    listed = liaison("sms", "inbox")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert len(lines) == 2
    assert lines[0].split("\t") == [
        "2",
        "2026-11-20 10:00+08:00",
        "open",
        "+86 137****7000",
        "你好",
    ]
    assert lines[1].split("\t")[2:] == [
        "open",
        f"张伟 +86 {zhang[3:6]}****{zhang[-4:]}",
        "请问 这个月的 党费交给谁？",
    ]

    answered = liaison("sms", "inbox", "--answer", "1", "交给支部书记李明。")
    assert answered.exit_code == 0
    assert answered.output.strip() == f"answered SMS 1 by SMS to +86 {zhang[3:6]}****{zhang[-4:]}"
    assert liaison("sms", "inbox", "--done", "2").output.strip() == "SMS 2 is done"
    assert liaison("sms", "inbox", "--open").output == ""
    everything = liaison("sms", "inbox", "--all").output.splitlines()
    assert [line.split("\t")[2] for line in everything] == ["done", "answered×1"]

    async def read(database: Database) -> tuple[list[tuple[str, str | None]], list[str]]:
        async with database.session() as session:
            answers = await session.execute(
                select(Delivery.address, Delivery.channel, Delivery.payload).where(
                    Delivery.kind == MessageKind.SMS_ANSWER
                )
            )
            actions = await session.scalars(
                select(AuditEvent.actor + " " + AuditEvent.action)
                .where(AuditEvent.action.startswith("sms."))
                .order_by(AuditEvent.id)
            )
            return [(a, str(p)) for a, c, p in answers if c is ChannelName.SMS], list(actions)

    answers, actions = on_database(database_url, read)
    assert answers == [(zhang, str({"text": "交给支部书记李明。", "signature": "党组织"}))]
    me = f"cli:{getpass.getuser()}"
    assert actions == [
        f"{me} sms.inbox.list",
        f"{me} sms.answer",
        f"{me} sms.done",
        f"{me} sms.inbox.list",
        f"{me} sms.inbox.list",
    ]


def test_wrong_ids_and_options(database_url: str) -> None:
    texted(database_url, STRANGER, "你好")
    missing = liaison("sms", "inbox", "--done", "9")
    assert missing.exit_code == 1 and "no SMS 9 in the inbox" in missing.output
    both = liaison("sms", "inbox", "--all", "--open")
    assert both.exit_code == 2
    long = liaison("sms", "inbox", "--answer", "1", "长" * 201)
    assert long.exit_code == 1 and "at most 200" in long.output
