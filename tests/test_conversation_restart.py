"""A conversation survives the service: SIGKILL `liaison serve` in the middle of /checkin,
start it again, and the member's next answer continues the check-in from its step."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot.botapi import LocalBotApi, Outgoing, UpdateFactory
from bot.terminal import html_to_text
from storage.db import Database, create_engine
from storage.migrate import upgrade
from storage.models import CheckIn, Consent, Conversation, LocationReport, WorkSituation
from tests.botapi_server import BotApiServer
from tests.conftest import PG_URL
from tests.factories import make_member
from tests.test_serve import DEADLINE, TOKEN, _environment, _serve

MEMBER = 515_151


@pytest.fixture(params=["sqlite", *(["postgresql"] if PG_URL else [])])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of the service's own (the process cannot share a test's schema)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
        return
    name = f"liaison_restart_{tmp_path.name.lower().replace('-', '_')}"[:60]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_a_checkin_goes_on_after_the_service_is_killed(
    tmp_path: Path, database_url: str
) -> None:
    database = Database.from_url(database_url)
    await upgrade(database.engine)
    await make_member(database, datetime.now(UTC), telegram_user_id=MEMBER, consent=Consent.GIVEN)
    api = LocalBotApi()
    updates = UpdateFactory(api)
    member = updates.user(MEMBER)

    def last_with(fragment: str) -> Callable[[], Outgoing | None]:
        def find() -> Outgoing | None:
            shown = [m for m in api.sent if fragment in html_to_text(m.text)]
            return shown[-1] if shown else None

        return find

    async def until(find: Callable[[], Outgoing | None]) -> Outgoing:
        await asyncio.wait_for(server.wait_until(lambda: find() is not None), DEADLINE)
        found = find()
        assert found is not None
        return found

    def press(message: Outgoing, label: str) -> None:
        [button] = [b for b in message.flat_buttons if b.text == label]
        server.push_update(updates.press(member, message, button))

    async with BotApiServer(api, TOKEN) as server:
        environment = {
            **_environment(tmp_path, server, TOKEN),
            "LIAISON_DATABASE_URL": database_url,
        }
        first = await _serve(environment, stdout=asyncio.subprocess.DEVNULL)
        try:
            server.push_update(updates.text(member, "/checkin"))
            await until(last_with("您现在在哪里"))
            server.push_update(updates.text(member, "深圳南山"))
            work_question = await until(last_with("工作情况怎么样"))
        finally:
            first.kill()
            await first.wait()
        async with database.session() as session:
            kept = (await session.scalars(select(Conversation))).one()
        assert (kept.flow, kept.step) == ("checkin", "work")

        second = await _serve(environment, stdout=asyncio.subprocess.DEVNULL)
        try:
            # The question asked before the kill is answered after the restart.
            press(work_question, "工作稳定")
            note_question = await until(last_with("想补充说明吗"))
            press(note_question, "跳过")
            needs_question = await until(last_with("有没有需要组织帮忙的事"))
            press(needs_question, "不需要")
            summary = await until(last_with("请核对您的报到"))
            press(summary, "✅ 确认提交")
            await until(last_with("已保存，谢谢您"))
        finally:
            second.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(second.communicate(), DEADLINE)
        assert second.returncode == 0, stderr.decode()

    async with database.session() as session:
        checkin = (await session.scalars(select(CheckIn))).one()
        place = await session.get(LocationReport, checkin.location_report_id)
        left = (await session.scalars(select(Conversation))).all()
    await database.dispose()
    assert place is not None and "深圳" in (place.text or "")
    assert checkin.work_situation is WorkSituation.STABLE
    assert left == [], "a finished check-in leaves no draft behind"
