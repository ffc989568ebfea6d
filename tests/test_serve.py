"""`liaison serve` as a real process against a local Bot API server (LIAISON_TELEGRAM_API_URL)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.app import file_url
from bot.botapi import LocalBotApi, UpdateFactory
from bot.terminal import html_to_text
from tests.botapi_server import BotApiServer

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
DEADLINE = 30.0


def _environment(tmp_path: Path, server: BotApiServer, token: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LIAISON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        "LIAISON_TELEGRAM_TOKEN": token,
        "LIAISON_TELEGRAM_API_URL": server.base_url,
    }


async def test_serve_runs_the_bot_against_the_configured_bot_api(tmp_path: Path) -> None:
    api = LocalBotApi()
    updates = UpdateFactory(api)
    async with BotApiServer(api, TOKEN) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            env=_environment(tmp_path, server, TOKEN),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
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


async def test_serve_with_a_rejected_token_says_so_without_showing_it(tmp_path: Path) -> None:
    wrong = "654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
    async with BotApiServer(LocalBotApi(), TOKEN) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            env=_environment(tmp_path, server, wrong),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), DEADLINE)
    output = stdout.decode() + stderr.decode()
    assert process.returncode == 2
    assert "Telegram rejected LIAISON_TELEGRAM_TOKEN" in output
    assert wrong not in output
    assert wrong.split(":")[1] not in output


def test_file_downloads_follow_the_bot_api_url() -> None:
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"
