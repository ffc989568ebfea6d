"""The database layer: pragmas, time zones, migrations, configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from storage import audit, directory
from storage.clock import FakeClock
from storage.db import Database
from storage.migrate import revision_status, upgrade
from storage.models import AuditEvent, Base, GroupKind
from storage.settings import ConfigError, Settings, load_settings, sqlite_path


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    async with database.session() as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA busy_timeout"))).scalar() == 10_000
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    await database.dispose()


async def test_upgrade_twice_is_harmless_and_reports_head(tmp_path: Path) -> None:
    database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'y.db'}")
    assert (await revision_status(database.engine))[0] is None
    await upgrade(database.engine)
    await upgrade(database.engine)
    current, head = await revision_status(database.engine)
    assert current == head
    assert head is not None
    await database.dispose()


async def test_times_come_back_aware_and_equal(db: Database) -> None:
    wuhan = timezone(timedelta(hours=8))
    moment = datetime(2026, 12, 1, 0, 30, tzinfo=wuhan)  # still 30 November in UTC
    async with db.session() as session:
        await audit.record(session, moment, actor="cli:test", action="x", subject="时间")
    async with db.session() as session:
        event = await session.scalar(select(AuditEvent))
    assert event is not None
    assert event.at == moment
    assert event.at.tzinfo is not None
    assert event.at.astimezone(UTC).day == 30


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with db.session() as session:
            await audit.record(session, datetime(2026, 1, 1), actor="a", action="b")  # noqa: DTZ001


async def test_directory_refuses_bad_names_and_conflicts(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    async with db.session() as session:
        await directory.add_unit(session, now, "江汉区")
        await directory.add_group(session, now, "律师行业党小组", kind=GroupKind.TRADE)
    async with db.session() as session:
        with pytest.raises(directory.DirectoryError, match="1–100"):
            await directory.add_unit(session, now, "  ")
        with pytest.raises(directory.DirectoryError, match="no unit named"):
            await directory.add_unit(session, now, "民族街道", parent="不存在")
        with pytest.raises(directory.DirectoryError, match="exists with kind trade"):
            await directory.add_group(session, now, "律师行业党小组", kind=GroupKind.OTHER)


def test_settings_defaults_and_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///liaison.db"
    assert settings.locale == "zh_CN"
    assert settings.timezone == "Asia/Shanghai"
    assert sqlite_path(settings.database_url) == Path("liaison.db")
    monkeypatch.setenv("LIAISON_DATABASE_URL", "mysql://x")
    monkeypatch.setenv("LIAISON_LOCALE", "fr")
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert "LIAISON_DATABASE_URL" in message
    assert "LIAISON_LOCALE" in message


def test_settings_from_liaison_toml_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "liaison.toml").write_text('timezone = "Europe/Berlin"\nlocale = "en"\n')
    assert load_settings().timezone == "Europe/Berlin"
    monkeypatch.setenv("LIAISON_TIMEZONE", "Asia/Urumqi")
    settings = load_settings()
    assert (settings.timezone, settings.locale) == ("Asia/Urumqi", "en")


def test_token_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "123456789:" + "A" * 35
    settings = Settings(telegram_token=token)  # type: ignore[arg-type]
    assert token not in repr(settings)
    assert token not in str(settings.model_dump())


async def test_migrations_match_the_models(db: Database) -> None:
    """A model change without a migration fails here, on every backend."""

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with db.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_upgrading_a_database_with_data_keeps_it(tmp_path: Path, clock: FakeClock) -> None:
    """Each migration runs on a populated 0001 database; SQLite table rebuilds lose nothing."""
    database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    await upgrade(database.engine, "0001")
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO groups (id, name, kind, created_at) "
                "VALUES (1, '律师行业党小组', 'trade', '2026-01-01 00:00:00')"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO members (id, name, phone, status, consent, registered_at, updated_at)"
                " VALUES (1, '张伟', '+8613800138000', 'outflow', 'given',"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        await connection.execute(text("INSERT INTO member_groups VALUES (1, 1)"))
    await upgrade(database.engine)
    async with database.session() as session:
        assert (await session.execute(text("SELECT * FROM member_groups"))).all() == [(1, 1)]
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    current, head = await revision_status(database.engine)
    assert current == head
    await database.dispose()
