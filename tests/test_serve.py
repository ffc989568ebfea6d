"""`liaison serve` as a real process against a local Bot API server (LIAISON_TELEGRAM_API_URL)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import signal
import socket
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from telegram.ext import ApplicationBuilder

from bot.app import MENU_RETRY_JOB, file_url, publish_commands_or_retry
from bot.botapi import BotApiError, LocalBotApi, UpdateFactory
from bot.connect import backoff, connect, pause_until
from bot.context import LiaisonApplication
from bot.terminal import html_to_text
from messages.dispatcher import DispatcherConfig
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Delivery, DeliveryStatus, MessageKind
from tests.botapi_server import BotApiServer
from tests.factories import make_broadcast

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
DEADLINE = 30.0


def _environment(tmp_path: Path, server: BotApiServer, token: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LIAISON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        # Kept here whatever the database (a PostgreSQL one has no file to keep it beside).
        "LIAISON_INVITE_KEY_DIR": str(tmp_path),
        # The web console on a free port: tests run side by side.
        "LIAISON_CONSOLE_LISTEN": "127.0.0.1:0",
        "LIAISON_TELEGRAM_TOKEN": token,
        "LIAISON_TELEGRAM_API_URL": server.base_url,
        # A real process on the real clock: without this, a run at night would hold every
        # notice until the morning (quiet hours have tests of their own on a fake clock).
        "LIAISON_QUIET_HOURS_START": "00:00",
        "LIAISON_QUIET_HOURS_END": "00:00",
    }


async def _serve(
    environment: dict[str, str], stdout: int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    """`liaison serve` as a process of its own, with stderr piped for the test to read."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        env=environment,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_serve_runs_the_bot_against_the_configured_bot_api(tmp_path: Path) -> None:
    api = LocalBotApi()
    updates = UpdateFactory(api)
    async with BotApiServer(api, TOKEN) as server:
        process = await _serve(_environment(tmp_path, server, TOKEN))
        try:
            # The service upgrades its database, publishes its menu, then polls.
            await asyncio.wait_for(server.wait_until(lambda: bool(api.commands)), DEADLINE)
            server.push_update(updates.text(updates.user(424242), "/help"))
            await asyncio.wait_for(server.wait_until(lambda: bool(api.sent)), DEADLINE)
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
    assert "可用命令" in html_to_text(api.sent[0].text)
    assert process.returncode == 0, stderr.decode()
    assert TOKEN not in stderr.decode()
    assert (tmp_path / "serve.db").exists()
    # The web console ran beside the bot, on the free port it was given, and stopped with it.
    assert re.search(r"web console at http://127\.0\.0\.1:[1-9]\d*", stderr.decode())


async def test_serve_with_a_rejected_token_says_so_without_showing_it(tmp_path: Path) -> None:
    wrong = "654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
    async with BotApiServer(LocalBotApi(), TOKEN) as server:
        process = await _serve(_environment(tmp_path, server, wrong))
        stdout, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
    output = stdout.decode() + stderr.decode()
    assert process.returncode == 2
    assert "Telegram rejected LIAISON_TELEGRAM_TOKEN" in output
    assert "Traceback" not in output
    assert wrong not in output
    assert wrong.split(":")[1] not in output


async def test_serve_answers_although_the_command_menu_failed_at_start(tmp_path: Path) -> None:
    api = LocalBotApi()
    api.fail_next("setMyCommands", BotApiError(500, "Internal Server Error"))
    updates = UpdateFactory(api)
    async with BotApiServer(api, TOKEN) as server:
        process = await _serve(_environment(tmp_path, server, TOKEN))
        try:
            server.push_update(updates.text(updates.user(424242), "/help"))
            await asyncio.wait_for(server.wait_until(lambda: bool(api.sent)), DEADLINE)
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
    log = stderr.decode()
    assert "可用命令" in html_to_text(api.sent[0].text)
    assert process.returncode == 0, log
    assert "command menu not published" in log
    assert "Traceback" not in log


async def test_serve_waits_for_an_unreachable_bot_api_until_stopped(tmp_path: Path) -> None:
    async with BotApiServer(LocalBotApi(), TOKEN) as server:
        environment = _environment(tmp_path, server, TOKEN)
    # The server is gone: nothing listens at its address any more, as when the network is down.
    process = await _serve(environment)
    assert process.stderr is not None
    waiting = await asyncio.wait_for(_line_with(process.stderr, "cannot be reached"), DEADLINE)
    assert f"the Telegram Bot API at {server.base_url} cannot be reached (" in waiting
    assert "trying again in 1 s (attempt 1 failed)" in waiting
    # Stopped during the pause, it ends at once and cleanly, as when it runs.
    process.send_signal(signal.SIGTERM)
    stdout, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
    output = waiting + stdout.decode() + stderr.decode()
    assert process.returncode == 0, output
    assert "stopped before the Telegram Bot API could be reached" in output
    assert "Traceback" not in output
    assert TOKEN.split(":")[1] not in output


async def _line_with(stream: asyncio.StreamReader, text: str) -> str:
    while line := (await stream.readline()).decode():
        if text in line:
            return line
    raise AssertionError(f"the log ended without {text!r}")


def _free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_connecting_tries_again_with_growing_pauses_until_the_bot_api_is_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _free_port()
    api = LocalBotApi()
    server = BotApiServer(api, TOKEN, port=port)
    url = f"http://127.0.0.1:{port}/bot"
    application = ApplicationBuilder().token(TOKEN).base_url(url).updater(None).build()
    paused: list[float] = []

    async def pause(seconds: float) -> bool:
        # The test's clock: no time passes, and the network comes back at the third pause.
        paused.append(seconds)
        if len(paused) == 3:
            await server.start()
        return True

    try:
        with caplog.at_level(logging.INFO, logger="bot.connect"):
            reached = await connect(application, url=url, pause=pause, hide=TOKEN)
        assert reached
        assert application.bot.username == (await application.bot.get_me()).username
    finally:
        await application.shutdown()
        await server.close()
    assert paused == [1, 2, 4]
    logged = [r.getMessage() for r in caplog.records if r.name == "bot.connect"]
    assert [line.split(": trying again")[-1] for line in logged] == [
        " in 1 s (attempt 1 failed)",
        " in 2 s (attempt 2 failed)",
        " in 4 s (attempt 3 failed)",
        f"reached the Telegram Bot API at {url} (attempt 4)",
    ]
    assert TOKEN not in caplog.text


def test_the_pause_doubles_up_to_a_minute() -> None:
    assert list(itertools.islice(backoff(), 9)) == [1, 2, 4, 8, 16, 32, 60, 60, 60]


async def test_connecting_stops_when_the_service_is_stopped() -> None:
    url = f"http://127.0.0.1:{_free_port()}/bot"
    application = ApplicationBuilder().token(TOKEN).base_url(url).updater(None).build()
    stopping = asyncio.Event()
    stopping.set()  # SIGTERM arrived: the pause ends at once
    try:
        assert not await connect(application, url=url, pause=pause_until(stopping))
    finally:
        await application.shutdown()


async def test_a_failed_command_menu_is_tried_again_later(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    assert application.job_queue is not None
    for failure in (
        BotApiError(500, "Internal Server Error"),
        BotApiError(BotApiError.TIMEOUT, "Timed out"),
    ):
        bot_api.commands.clear()
        bot_api.fail_next("setMyCommands", failure)
        assert not await publish_commands_or_retry(application)
        assert bot_api.commands == {}
        [later] = application.job_queue.get_jobs_by_name(MENU_RETRY_JOB)
        later.schedule_removal()
        # Its time has come (the queue would run it then): this time Telegram answers.
        await later.run(application)
        assert bot_api.commands
        assert application.job_queue.get_jobs_by_name(MENU_RETRY_JOB) == ()


def test_file_downloads_follow_the_bot_api_url() -> None:
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"


async def test_killing_the_service_mid_broadcast_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL while a notice goes out; the restarted service finishes it.

    Only rows that were in flight at the kill (claimed, not yet recorded) may arrive twice.
    """
    members = 240
    url = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    database = Database.from_url(url)
    await upgrade(database.engine)
    now = datetime.now(UTC)
    await make_broadcast(
        database, now, members=members, first_user_id=700_000, author="cli:test", body="周六集合"
    )

    api = LocalBotApi()

    def notices() -> list[int]:
        return [m.chat_id for m in api.sent if "周六集合" in m.text]

    async with BotApiServer(api, TOKEN, record_requests=False) as server:
        env = {
            **_environment(tmp_path, server, TOKEN),
            "LIAISON_TELEGRAM_RATE": "60",
            "LIAISON_DELIVERY_LEASE_SECONDS": "2",
        }

        first = await _serve(env, stdout=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(server.wait_until(lambda: len(notices()) >= 60), DEADLINE)
        finally:
            first.kill()
            await first.wait()
        before_restart = len(notices())
        async with database.session() as session:
            in_flight = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == DeliveryStatus.SENDING)
            )
        assert before_restart < members, "the kill came too late to test anything"

        second = await _serve(env, stdout=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(
                server.wait_until(lambda: len(set(notices())) == members), DEADLINE
            )
        finally:
            second.send_signal(signal.SIGINT)
            try:
                _, stderr = await asyncio.wait_for(second.communicate(), DEADLINE)
            finally:
                # A failed run must not leave a service running on the machine.
                if second.returncode is None:
                    second.kill()
                    await second.wait()
        assert second.returncode == 0, stderr.decode()

    received = Counter(notices())
    assert set(received) == {700_000 + index for index in range(members)}
    duplicates = sum(received.values()) - members
    assert duplicates <= (in_flight or 0)
    # Unrecorded sends are at most half a second's worth (60/s) plus those mid-request.
    config = DispatcherConfig()
    assert duplicates <= 60 * config.record_seconds + config.concurrency
    async with database.session() as session:
        states = dict(
            (
                await session.execute(
                    select(Delivery.status, func.count())
                    .where(Delivery.kind == MessageKind.NOTICE)
                    .group_by(Delivery.status)
                )
            ).all()
        )
    await database.dispose()
    assert states == {DeliveryStatus.DELIVERED: members}
