"""Schema migrations (Alembic), run on an async engine's connection."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at storage/migrations, with no ini file needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database at engine up to revision (creating it if empty)."""
    config = alembic_config()

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite rebuilds a table to alter it; with foreign keys enforced, dropping the
            # old copy would cascade-delete its children (pragma only works outside a
            # transaction, hence before begin()).
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        async with connection.begin():
            await connection.run_sync(run)
        if sqlite:
            problems = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
            await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            await connection.commit()
            if problems:
                raise RuntimeError(f"migration left broken references: {problems[:5]}")


async def revision_status(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """The database's current revision and the newest one this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(current), head


def autogenerate(engine_url_sync_connection: Connection, message: str) -> None:
    """Write a new revision from the difference between the models and the database."""
    config = alembic_config()
    config.attributes["connection"] = engine_url_sync_connection
    command.revision(config, message=message, autogenerate=True)
