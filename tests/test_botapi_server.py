"""The bot against a local Bot API server over real HTTP (httpx on 127.0.0.1), as in production.

No request override: python-telegram-bot's own HTTPXRequest talks to `BotApiServer`, given to
the bot as LIAISON_TELEGRAM_API_URL would give it (Settings.telegram_api_url).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import httpx
import pytest
from telegram.error import InvalidToken

from bot.app import build_application
from bot.botapi import BotApiError, JSONDict, LocalBotApi, Outgoing, UpdateFactory
from bot.context import LiaisonApplication, Services
from bot.logs import configure_logging
from bot.terminal import html_to_text
from storage.clock import FakeMonotonic
from storage.directory import bot_username
from storage.settings import Settings
from tests.botapi_server import BotApiServer, UploadedFile, decode_params

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
WRONG_TOKEN = "123456:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
STRANGER = 424242
DEADLINE = 5.0  # seconds; each step takes milliseconds


def networked(
    services: Services, server: BotApiServer, monkeypatch: pytest.MonkeyPatch, token: str = TOKEN
) -> Services:
    """The test services, configured for the server through the environment, as deployed."""
    monkeypatch.setenv("LIAISON_TELEGRAM_TOKEN", token)
    monkeypatch.setenv("LIAISON_TELEGRAM_API_URL", server.base_url)
    settings = Settings(database_url=services.settings.database_url)
    assert settings.telegram_api_url == server.base_url
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == token
    return replace(services, settings=settings)


@pytest.fixture
async def server(bot_api: LocalBotApi) -> AsyncIterator[BotApiServer]:
    async with BotApiServer(bot_api, TOKEN) as running:
        yield running
    assert running.errors == []


class Rendered(logging.Handler):
    """Every record as rendered when logged, before any filter of the service rewrites it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, self.format(record)))


class ServiceLogs:
    """What the service's logging printed, and every record as it was logged."""

    def __init__(self, printed: io.StringIO, raw: Rendered) -> None:
        self.printed = printed
        self.raw = raw


@pytest.fixture
def service_logs() -> Iterator[ServiceLogs]:
    """The service's own logging (bot.logs.configure_logging) at DEBUG, printing to a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in ("httpx", "apscheduler")}
    configure_logging(logging.DEBUG, secrets=[TOKEN])
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    logs = ServiceLogs(io.StringIO(), Rendered())
    handler.setStream(logs.printed)
    root.handlers.insert(0, logs.raw)
    # As if debugging with httpx at INFO: its request lines carry the token in the URL.
    logging.getLogger("httpx").setLevel(logging.INFO)
    try:
        yield logs
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
async def polling(
    services: Services,
    server: BotApiServer,
    service_logs: ServiceLogs,
    monkeypatch: pytest.MonkeyPatch,
    monotonic: FakeMonotonic,
) -> AsyncIterator[LiaisonApplication]:
    """The bot as `liaison serve` runs it: real HTTPXRequest, long polling getUpdates.

    It paces itself on the virtual clock the server's Bot API keeps Telegram's limits on.
    """
    app = build_application(networked(services, server, monkeypatch), monotonic=monotonic)
    await app.initialize()
    try:
        assert app.post_init is not None
        assert app.updater is not None
        await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        yield app
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


async def answer(server: BotApiServer, update: JSONDict) -> Outgoing:
    """Push update and wait for the bot's one answer (a message sent or edited)."""
    sent = server.api.sent
    before = len(sent)
    server.push_update(update)
    await asyncio.wait_for(server.wait_until(lambda: len(sent) > before), DEADLINE)
    return sent[before]


async def test_bot_answers_over_http_with_long_polling(
    polling: LiaisonApplication,
    server: BotApiServer,
    bot_api: LocalBotApi,
    services: Services,
    service_logs: ServiceLogs,
) -> None:
    updates = UpdateFactory(bot_api)
    user = updates.user(STRANGER)

    help_text = await answer(server, updates.text(user, "/help"))
    assert help_text.method == "sendMessage"
    assert help_text.chat_id == STRANGER
    assert "可用命令" in html_to_text(help_text.text)
    assert help_text.parse_mode == "HTML"

    menu = await answer(server, updates.text(user, "/lang"))
    assert "请选择语言" in html_to_text(menu.text)
    english = next(button for button in menu.flat_buttons if button.text == "English")
    changed = await answer(server, updates.press(user, menu, english))
    assert changed.method == "editMessageText"
    assert changed.message_id == menu.message_id
    assert "Language set to English" in html_to_text(changed.text)
    assert server.calls_of("answerCallbackQuery")

    again = await answer(server, updates.text(user, "/help"))
    assert "Commands" in html_to_text(again.text)

    # getMe went over HTTP: post_init kept the @username it returned.
    async with services.db.session() as session:
        assert await bot_username(session) == "liaison_bot"

    # The command menu, in both languages.
    menus = {key.split("|")[0]: value for key, value in bot_api.commands.items()}
    assert {"zh", "en"} <= set(menus)
    assert any(c["description"] == "帮助" for c in menus["zh"])
    assert any(c["description"] == "Help" for c in menus["en"])
    assert {c["command"] for c in menus["zh"]} == {c["command"] for c in menus["en"]}

    # What python-telegram-bot sends: form fields, JSON-encoded when not strings; getUpdates
    # long-polls with the timeout it was given.
    with_params = [r for r in server.requests if r.params]
    assert with_params
    assert {r.content_type for r in with_params} == {"application/x-www-form-urlencoded"}
    assert all(r.http_method == "POST" for r in server.requests)
    polls = [r for r in server.requests if r.api_method == "getUpdates"]
    assert any(r.params.get("timeout") == 1 for r in polls)

    # The token is only ever logged inside a Bot API URL, by httpx (request lines) and
    # python-telegram-bot (its DEBUG "Set Bot API URL"); the service prints none of it.
    with_token = [(name, line) for name, line in service_logs.raw.lines if TOKEN in line]
    assert any(name == "httpx" for name, _ in with_token)
    outside_urls = [
        line
        for name, line in with_token
        if name.split(".")[0] not in ("httpx", "telegram")
        or line.count(TOKEN) != len(re.findall(r"https?://\S*/bot" + re.escape(TOKEN), line))
    ]
    assert outside_urls == []
    printed = service_logs.printed.getvalue()
    assert "HTTP Request: POST" in printed
    assert "[redacted]" in printed
    assert TOKEN not in printed


async def test_a_wrong_token_is_a_clear_error(
    services: Services, server: BotApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_application(networked(services, server, monkeypatch, WRONG_TOKEN))
    try:
        with pytest.raises(InvalidToken, match="rejected by the server"):
            await app.initialize()
    finally:
        await app.bot.shutdown()  # initialize() failed, so app.shutdown() would do nothing
    assert server.api.calls == []  # refused before reaching the Bot API


async def test_a_wrong_token_is_not_printed_by_the_service_logging(
    services: Services,
    server: BotApiServer,
    service_logs: ServiceLogs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure_logging(logging.DEBUG, secrets=[WRONG_TOKEN])
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(service_logs.printed)
    app = build_application(networked(services, server, monkeypatch, WRONG_TOKEN))
    try:
        await app.initialize()
    except InvalidToken:  # its message has the token in it (python-telegram-bot's doing)
        logging.getLogger("bot").exception("could not start")
    finally:
        await app.bot.shutdown()
    printed = service_logs.printed.getvalue()
    assert "rejected by the server" in printed
    assert WRONG_TOKEN not in printed


async def test_server_speaks_telegram_errors_and_long_polls(
    server: BotApiServer, bot_api: LocalBotApi
) -> None:
    url = f"{server.base_url}{TOKEN}"
    async with httpx.AsyncClient(timeout=60) as client:
        # Scripted errors keep their code and parameters (flood control: retry_after).
        bot_api.fail_next(
            "sendMessage", BotApiError(429, "Too Many Requests: retry after 3", {"retry_after": 3})
        )
        flood = await client.post(f"{url}/sendMessage", data={"chat_id": "1", "text": "hi"})
        assert flood.status_code == 429
        assert flood.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        }
        # JSON bodies too, as other Bot API clients send them.
        sent = await client.post(f"{url}/sendMessage", json={"chat_id": 1, "text": "hi"})
        assert sent.json()["result"]["text"] == "hi"
        unknown = await client.get(f"{url}/frobnicate")
        assert unknown.status_code == 404
        unauthorized = await client.get(f"{server.base_url}{WRONG_TOKEN}/getMe")
        assert unauthorized.status_code == 401
        assert unauthorized.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }

        # Long polling: the answer comes when an update is pushed, not at the timeout.
        poll = asyncio.create_task(client.post(f"{url}/getUpdates", data={"timeout": "30"}))
        await asyncio.wait_for(server.wait_until(lambda: bool(server.calls_of("getUpdates"))), 5)
        assert not poll.done()
        update = UpdateFactory(bot_api).text(UpdateFactory(bot_api).user(7), "/help")
        server.push_update(update)
        polled = await asyncio.wait_for(poll, DEADLINE)
        assert [u["update_id"] for u in polled.json()["result"]] == [update["update_id"]]
        # offset confirms it; with nothing new, the poll ends at its timeout.
        loop = asyncio.get_running_loop()
        started = loop.time()
        empty = await client.post(
            f"{url}/getUpdates", data={"offset": str(update["update_id"] + 1), "timeout": "0.2"}
        )
        assert empty.json() == {"ok": True, "result": []}
        assert 0.15 < loop.time() - started < DEADLINE
        assert bot_api.updates == []


async def test_telegram_limits_answer_429_with_retry_after_over_http() -> None:
    now = [100.0]
    bot_api = LocalBotApi(clock=lambda: now[0])
    async with BotApiServer(bot_api, TOKEN) as server, httpx.AsyncClient() as client:
        url = f"{server.base_url}{TOKEN}/sendMessage"

        async def send(chat_id: int, text: str) -> httpx.Response:
            return await client.post(url, data={"chat_id": str(chat_id), "text": text})

        assert (await send(1, "a")).status_code == 200
        refused = await send(1, "b")  # the same chat within the second
        assert refused.status_code == 429
        assert refused.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        }
        assert (await send(2, "c")).status_code == 200  # another chat is not held
        assert (await client.get(f"{server.base_url}{TOKEN}/getMe")).status_code == 200
        now[0] += 1.0
        assert (await send(1, "b")).status_code == 200
        assert server.throttled == 1
        assert [o.text for o in bot_api.sent] == ["a", "c", "b"]


async def test_an_extra_overall_cap_answers_429_too(bot_api: LocalBotApi) -> None:
    now = [100.0]
    async with (
        BotApiServer(bot_api, TOKEN, rate_limit=2, clock=lambda: now[0]) as server,
        httpx.AsyncClient() as client,
    ):
        url = f"{server.base_url}{TOKEN}/sendMessage"
        codes = [
            (await client.post(url, data={"chat_id": str(i), "text": str(i)})).status_code
            for i in range(1, 4)
        ]
        assert codes == [200, 200, 429]
        assert server.throttled == 1


def test_form_values_are_read_as_telegram_types_them() -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a:b"}]]}
    form = httpx.Request(
        "POST",
        "http://x/",
        data={
            "chat_id": "-100200300",
            "text": "123",
            "reply_markup": json.dumps(markup),
            "latitude": "30.5",
            "disable_notification": "true",
        },
    )
    params = decode_params(form.headers["content-type"], form.read())
    assert params == {
        "chat_id": -100200300,
        "text": "123",
        "reply_markup": markup,
        "latitude": 30.5,
        "disable_notification": True,
    }
    upload = httpx.Request(
        "POST",
        "http://x/",
        data={"chat_id": "@channel", "caption": "名单 ✓"},
        files={"document": ("名单.csv", b"a,b\r\n--x\r\n", "text/csv")},
    )
    params = decode_params(upload.headers["content-type"], upload.read())
    assert params == {
        "chat_id": "@channel",
        "caption": "名单 ✓",
        "document": UploadedFile("名单.csv", "text/csv", b"a,b\r\n--x\r\n"),
    }


async def test_http_keep_alive_pipelining_and_chunked_bodies(
    server: BotApiServer, bot_api: LocalBotApi
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    path = f"/bot{TOKEN}"
    body = b"chat_id=5&text=%E4%BD%A0%E5%A5%BD"
    # Another chat: Telegram allows one message a second in a chat.
    chunked = b"c\r\nchat_id=6&te\r\n5\r\nxt=ok\r\n0\r\n\r\n"
    writer.write(
        f"POST {path}/sendMessage HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
        + f"POST {path}/sendMessage HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
        + chunked
        + f"GET {path}/getMe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), DEADLINE)  # until the server closes
    writer.close()
    await writer.wait_closed()
    assert raw.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert raw.endswith(json.dumps({"ok": True, "result": bot_api.bot_user}).encode())
    assert [o.text for o in bot_api.sent] == ["你好", "ok"]

    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"NOT HTTP\r\n\r\n")
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), DEADLINE)
    writer.close()
    await writer.wait_closed()
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")


async def test_a_long_poll_ends_when_the_client_hangs_up_or_the_server_closes(
    bot_api: LocalBotApi,
) -> None:
    request = f"POST /bot{TOKEN}/getUpdates HTTP/1.1\r\nHost: x\r\n".encode()
    form = b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\n"
    server = BotApiServer(bot_api, TOKEN)
    async with server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request + form + b"timeout=30")
        await writer.drain()
        await asyncio.wait_for(server.wait_until(lambda: bool(server.calls_of("getUpdates"))), 5)
        writer.close()
        await writer.wait_closed()
        await asyncio.wait_for(server.wait_until(lambda: server.open_connections == 0), 5)

        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request + form + b"timeout=30")
        await writer.drain()
        await asyncio.wait_for(
            server.wait_until(lambda: len(server.calls_of("getUpdates")) == 2), 5
        )
    assert server.open_connections == 0  # closing did not wait for the 30 s poll
    assert await asyncio.wait_for(reader.read(), DEADLINE) == b""
    writer.close()
    await writer.wait_closed()
    assert server.errors == []
