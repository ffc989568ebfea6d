"""Shared fixtures: the real database on every backend, a fake clock, the real bot offline."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bot.app import build_application
from bot.botapi import LocalBotApi, LocalBotApiRequest
from bot.console.app import console_app
from bot.context import LiaisonApplication, Services
from messages.dispatcher import Dispatcher
from messages.render import Renderer, normalize_locale
from storage.clock import FakeClock, FakeMonotonic
from storage.db import Database, create_engine
from storage.migrate import upgrade
from storage.models import Base
from storage.regions import default_index
from storage.settings import LOCALES, Settings
from tests.delivery import Deliver, make_dispatcher

PG_URL = os.environ.get("LIAISON_TEST_DATABASE_URL", "").strip()
if PG_URL.startswith("postgresql://"):
    PG_URL = "postgresql+asyncpg://" + PG_URL.removeprefix("postgresql://")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]

# The invite codes' HMAC key of the services under test (storage/invite_key.py).
INVITE_KEY = b"test invite key: not the one of any service"

# 10:00 in Wuhan on 15 November 2026: inside office hours, mid-month.
START = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)


def run_async(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion on a thread of its own.

    Session fixtures are first requested from inside a test's event loop, where
    asyncio.run() is not allowed.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(make())).result()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The developer's own LIAISON_* variables and liaison.toml must not leak into tests.
    for name in list(os.environ):
        if name.startswith("LIAISON_") and name != "LIAISON_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, built once and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "liaison.db"

    async def build() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    run_async(build)
    return path


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A PostgreSQL schema of this run's own, migrated once, dropped at the end."""
    schema = f"liaison_test_{os.getpid()}"

    async def run(sql: str, migrate: bool = False) -> None:
        engine = create_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
        async with engine.begin() as connection:
            await connection.execute(text(sql))
            if migrate:
                await connection.execute(text(f"CREATE SCHEMA {schema}"))
        if migrate:
            await upgrade(engine)
        await engine.dispose()

    run_async(lambda: run(f"DROP SCHEMA IF EXISTS {schema} CASCADE", True))
    yield schema
    run_async(lambda: run(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The real database, empty and migrated: SQLite always, PostgreSQL when configured."""
    if request.param == "sqlite":
        path = tmp_path / "liaison.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database.from_url(f"sqlite+aiosqlite:///{path}")
    else:
        schema = request.getfixturevalue("pg_schema")
        database = Database.from_url(
            PG_URL, connect_args={"server_settings": {"search_path": schema}}
        )
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        async with database.session() as session:
            await session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def monotonic() -> FakeMonotonic:
    """Virtual seconds for Telegram's limits: the bot paces itself and the Bot API enforces
    the limits on this clock, and a second of pacing takes no real time."""
    return FakeMonotonic()


@pytest.fixture
def settings(db: Database) -> Settings:
    return Settings(
        database_url=str(db.engine.url.render_as_string(hide_password=False)),
    )


RENDERED: set[str] = set()
INCLUDE = re.compile(r"""{%-?\s*include\s+["']([^"']+)["']""")


class RecordingRenderer(Renderer):
    """The real renderer, noting which templates the suite has rendered."""

    def render(self, locale: str, name: str, /, **context: Any) -> str:
        RENDERED.add(f"{normalize_locale(locale)}/{name}.html")
        return super().render(locale, name, **context)

    def render_text(self, locale: str, name: str, /, **context: Any) -> str:
        RENDERED.add(f"{normalize_locale(locale)}/{name}.txt")
        return super().render_text(locale, name, **context)


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    return RecordingRenderer()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-all-templates",
        action="store_true",
        help="fail the run if some member-facing template was never rendered by a test",
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # A pytest-xdist worker saw only its share of the tests: the controller checks the union.
        workeroutput["rendered"] = sorted(RENDERED)
        return
    if not session.config.getoption("--require-all-templates") or exitstatus != 0:
        return
    renderer = Renderer()
    every = {
        f"{loc}/{name}.{ext}"
        for loc in LOCALES
        for ext in ("html", "txt")
        for name in renderer.template_names(loc, ext)
    }
    # Partials are rendered through the templates that include them.
    included = set()
    for name in every:
        source, _, _ = renderer.env.loader.get_source(renderer.env, name)  # type: ignore[union-attr]
        included |= set(INCLUDE.findall(source))
    missing = sorted(every - RENDERED - included)
    if missing:
        print("\ntemplates never rendered by any test:\n  " + "\n  ".join(missing))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist: a worker is done; what it rendered counts for the whole run."""
    RENDERED.update(getattr(node, "workeroutput", {}).get("rendered", ()))


@pytest.fixture
def services(settings: Settings, db: Database, clock: FakeClock, renderer: Renderer) -> Services:
    return Services(
        settings=settings,
        db=db,
        clock=clock,
        renderer=renderer,
        regions=default_index(),
        invite_key=INVITE_KEY,
    )


@pytest.fixture
def bot_api(monotonic: FakeMonotonic) -> LocalBotApi:
    """The in-process Bot API, keeping Telegram's limits (429 beyond them) in virtual time."""
    return LocalBotApi(clock=monotonic.seconds)


@pytest.fixture
async def application(
    services: Services, bot_api: LocalBotApi, monotonic: FakeMonotonic
) -> AsyncIterator[LiaisonApplication]:
    """The real Application with every feature, answered by the in-process Bot API.

    It keeps Telegram's real limits (30/s, 1 s per chat, 20/min per group) on the virtual
    clock the Bot API enforces them on.
    """
    app = build_application(services, request=LocalBotApiRequest(bot_api), monotonic=monotonic)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    yield app
    await app.shutdown()


@pytest.fixture
def dispatcher(application: LiaisonApplication, services: Services) -> Dispatcher:
    """The service's dispatcher on the test's bot (Telegram and group chats; SMS waits)."""
    return make_dispatcher(services, application.bot)


@pytest.fixture
def deliver(dispatcher: Dispatcher, bot_api: LocalBotApi) -> Deliver:
    """`await deliver()` sends what is due and returns what each chat received."""
    return Deliver(dispatcher, bot_api)


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the web console: it keeps the session cookie, follows nothing itself."""
    transport = httpx.ASGITransport(app=console_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
