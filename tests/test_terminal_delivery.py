"""Several terminal chats over one database: each delivers only to its own account."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import build_application
from bot.background import make_dispatcher
from bot.botapi import LocalBotApi, LocalBotApiRequest
from bot.context import LiaisonApplication, Services
from bot.terminal import html_to_text
from messages.dispatcher import Dispatcher
from storage.db import Database
from storage.models import ChannelName, Delivery, DeliveryStatus, NoticeReceipt
from tests.chat import Person, talk
from tests.conftest import START
from tests.factories import make_group, make_member, make_staff

LIAISON = 9101  # 李联络, 驻深圳党小组
ZHANG = 9201  # 张伟, 驻深圳, on Telegram
WANG = 9202  # 王芳, 驻深圳, on Telegram, not in a terminal yet
SHENZHEN = "驻深圳党小组"
BODY = "周六上午九点，党员之家集合。"


@pytest.fixture(autouse=True)
async def district(db: Database) -> None:
    shenzhen = await make_group(db, START, SHENZHEN)
    await make_member(
        db, START, name="张伟", phone="+8613800000001", telegram_user_id=ZHANG, groups=[shenzhen]
    )
    await make_member(
        db, START, name="王芳", phone="+8613800000002", telegram_user_id=WANG, groups=[shenzhen]
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])


class Terminal:
    """`liaison chat --user ID`: its own Application, in-process Bot API and dispatcher."""

    def __init__(
        self, services: Services, application: LiaisonApplication, api: LocalBotApi, user_id: int
    ) -> None:
        self.api = api
        self.person = Person(application, api, user_id)
        self.dispatcher: Dispatcher = make_dispatcher(services, application, account=user_id)[0]

    def screen(self) -> str:
        """What the terminal printed: everything sent to its own account."""
        return "\n".join(
            html_to_text(m.text) for m in self.api.sent if m.chat_id == self.person.user_id
        )

    def sent_elsewhere(self) -> list[int]:
        return [m.chat_id for m in self.api.sent if m.chat_id != self.person.user_id]


@pytest.fixture
async def second_terminal(services: Services) -> AsyncIterator[Terminal]:
    api = LocalBotApi()
    application = build_application(services, request=LocalBotApiRequest(api))
    await application.initialize()
    yield Terminal(services, application, api, ZHANG)
    await application.shutdown()


async def deliveries(db: Database) -> dict[str | None, Delivery]:
    async with db.session() as session:
        return {d.address: d for d in await session.scalars(select(Delivery))}


async def test_a_notice_from_the_liaisons_terminal_shows_up_in_zhang_weis(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    second_terminal: Terminal,
    db: Database,
    services: Services,
) -> None:
    liaison = Terminal(services, application, bot_api, LIAISON)
    zhang = second_terminal
    await talk(
        liaison.person,
        [
            ("/notice", None),
            (SHENZHEN, None),
            ("下一步 ➡️", None),
            (BODY, None),
            ("📤 立即发送", "正在发给：驻深圳党小组"),
        ],
    )
    # The liaison's terminal runs its dispatcher first: nothing of the notice goes out there.
    assert await liaison.dispatcher.run_once() == 0
    assert liaison.sent_elsewhere() == []
    assert {d.status for d in (await deliveries(db)).values()} == {DeliveryStatus.PENDING}

    assert await zhang.dispatcher.run_once() == 1
    assert BODY in zhang.screen()
    assert zhang.sent_elsewhere() == []
    await talk(zhang.person, [("✅ 收到", None)])
    async with db.session() as session:
        assert await session.scalar(select(NoticeReceipt)) is not None

    # 王芳 has no terminal open: her notice waits, untouched, for hers (or `serve`).
    rows = await deliveries(db)
    wang = rows[str(WANG)]
    assert (wang.status, wang.attempts, wang.last_error) == (DeliveryStatus.PENDING, 0, None)
    assert rows[str(ZHANG)].status is DeliveryStatus.DELIVERED
    assert wang.channel is ChannelName.TELEGRAM

    api = LocalBotApi()
    app = build_application(services, request=LocalBotApiRequest(api))
    await app.initialize()
    try:
        assert await Terminal(services, app, api, WANG).dispatcher.run_once() == 1
    finally:
        await app.shutdown()
    assert [m.chat_id for m in api.sent if BODY in m.text] == [WANG]
