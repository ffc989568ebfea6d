"""Migrations that move data: a database made by an older version, with rows in it, comes
up to head with every row readable, and back down, on every backend."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from bot.features.ideas.reply import FLOW as REPLY_FLOW
from bot.features.ideas.reply import ReplyDraft
from storage.db import Database, create_engine
from storage.ideas import submit
from storage.invites import Outcome, create_invite, redeem
from storage.migrate import alembic_config, upgrade
from storage.models import (
    AuditEvent,
    Base,
    CodeScheme,
    Conversation,
    Idea,
    IdeaKind,
    IdeaStatus,
    Invite,
)
from tests.conftest import BACKENDS, INVITE_KEY, PG_URL

SENT = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)
REPLIED = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def empty(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no tables at all, of the test's own (the `db` fixture is at head)."""
    if request.param == "sqlite":
        database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
        yield database
        await database.dispose()
        return
    schema = f"liaison_migrate_{os.getpid()}_{tmp_path.name.lower().replace('-', '_')}"[:60]
    admin = create_engine(PG_URL)
    async with admin.begin() as connection:
        await connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
    database = Database.from_url(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield database
    finally:
        await database.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await admin.dispose()


async def downgrade(database: Database, revision: str) -> None:
    """Take the database back to revision (storage.migrate only goes up)."""
    config = alembic_config()

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with database.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # As storage.migrate.upgrade: a table rebuild must not cascade to its children.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        async with connection.begin():
            await connection.run_sync(run)


def names(connection: Connection, table: str) -> set[str]:
    """The names of the table's key, foreign keys, CHECK constraints, indexes and sequence."""
    inspector = sa.inspect(connection)
    found = {str(inspector.get_pk_constraint(table)["name"])}
    found |= {str(fk["name"]) for fk in inspector.get_foreign_keys(table)}
    found |= {str(ck["name"]) for ck in inspector.get_check_constraints(table)}
    found |= {str(ix["name"]) for ix in inspector.get_indexes(table)}
    if connection.dialect.name == "postgresql":
        found |= {s for s in inspector.get_sequence_names() if s.startswith(f"{table}_")}
    return found


def differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


# The tables as revision 0007 has them, as much of them as the rows below fill in.
MEMBERS = sa.table(
    "members",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("status", sa.String()),
    sa.column("consent", sa.String()),
    sa.column("registered_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
SUGGESTIONS = sa.table(
    "suggestions",
    sa.column("id", sa.Integer()),
    sa.column("member_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("body", sa.Text()),
    sa.column("status", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("reply", sa.Text()),
    sa.column("replied_at", sa.DateTime(timezone=True)),
    sa.column("replied_by", sa.String()),
)
AUDIT = sa.table(
    "audit_events",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("subject", sa.String()),
)
CONVERSATIONS = sa.table(
    "conversations",
    sa.column("chat_id", sa.BigInteger()),
    sa.column("user_id", sa.BigInteger()),
    sa.column("flow", sa.String()),
    sa.column("step", sa.String()),
    sa.column("draft", sa.JSON()),
    sa.column("started_at", sa.DateTime(timezone=True)),
    sa.column("touched_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)
LIAISON_CHAT = 808_080


async def test_suggestions_become_ideas_and_back(empty: Database) -> None:
    """0008: the table suggestions is ideas, with its rows, its audit subjects and a reply
    being typed to one; its keys, constraints, indexes (and sequence) are named anew."""
    database = empty
    await upgrade(database.engine, "0007")
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.insert(MEMBERS).values(
                id=1,
                name="张伟",
                status="outflow",
                consent="given",
                registered_at=SENT,
                updated_at=SENT,
            )
        )
        old_id = (
            await connection.execute(
                sa.insert(SUGGESTIONS)
                .values(
                    member_id=1,
                    kind="opinion",
                    body="多办讲座，少开会",
                    status="replied",
                    created_at=SENT,
                    reply="下月开始",
                    replied_at=REPLIED,
                    replied_by="staff:1",
                )
                .returning(SUGGESTIONS.c.id)
            )
        ).scalar_one()
        await connection.execute(
            sa.insert(AUDIT),
            [
                {
                    "at": REPLIED,
                    "actor": "staff:1",
                    "action": "idea.reply",
                    "subject": f"suggestion:{old_id}",
                },
                {
                    "at": REPLIED,
                    "actor": "staff:1",
                    "action": "request.view",
                    "subject": "request:3",
                },
            ],
        )
        await connection.execute(
            sa.insert(CONVERSATIONS).values(
                chat_id=LIAISON_CHAT,
                user_id=LIAISON_CHAT,
                flow=REPLY_FLOW.name,
                step="confirm",
                draft={"suggestion_id": old_id, "body": "再补充一句", "parts": []},
                started_at=REPLIED,
                touched_at=REPLIED,
                expires_at=REPLIED,
            )
        )

    await upgrade(database.engine)

    async with database.session() as session:
        idea = await session.get(Idea, old_id)
        assert idea is not None
        assert (idea.kind, idea.status, idea.body, idea.reply, idea.replied_at) == (
            IdeaKind.OPINION,
            IdeaStatus.REPLIED,
            "多办讲座，少开会",
            "下月开始",
            REPLIED,
        )
        subjects = set(await session.scalars(select(AuditEvent.subject)))
        assert subjects == {f"idea:{old_id}", "request:3"}
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        # The reply that was being typed still reads, and goes on where it was.
        assert REPLY_FLOW.adapter.validate_python(conversation.draft) == ReplyDraft(
            idea_id=old_id, body="再补充一句"
        )
        # The next one is numbered after it (PostgreSQL's sequence came along).
        newer = await submit(session, REPLIED, member_id=1, kind=IdeaKind.IDEA, text="办夜校")
        newer_id = newer.id
        assert newer_id > old_id
    async with database.engine.connect() as connection:
        assert await connection.run_sync(names, "ideas") == {
            "pk_ideas",
            "fk_ideas_member_id_members",
            "ck_ideas_ideakind",
            "ck_ideas_ideastatus",
            "ix_ideas_member_id",
            "ix_ideas_status_created",
            *(["ideas_id_seq"] if connection.dialect.name == "postgresql" else []),
        }
        assert await connection.run_sync(differences) == []

    await downgrade(database, "0007")

    async with database.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(SUGGESTIONS.c.id, SUGGESTIONS.c.kind, SUGGESTIONS.c.body).order_by(
                    SUGGESTIONS.c.id
                )
            )
        ).all()
        assert [tuple(row) for row in rows] == [
            (old_id, "opinion", "多办讲座，少开会"),
            (newer_id, "idea", "办夜校"),
        ]
        subjects = set((await connection.execute(select(AUDIT.c.subject))).scalars())
        assert subjects == {f"suggestion:{old_id}", "request:3"}
        draft = (await connection.execute(select(CONVERSATIONS.c.draft))).scalar_one()
        assert draft == {"suggestion_id": old_id, "body": "再补充一句", "parts": []}
        assert await connection.run_sync(names, "suggestions") == {
            "pk_suggestions",
            "fk_suggestions_member_id_members",
            "ck_suggestions_suggestionkind",
            "ck_suggestions_suggestionstatus",
            "ix_suggestions_member_id",
            "ix_suggestions_status_created",
            *(["suggestions_id_seq"] if connection.dialect.name == "postgresql" else []),
        }

    # And up again: the round trip leaves the schema the models describe.
    await upgrade(database.engine)
    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


# The table as revision 0008 has it.
INVITES = sa.table(
    "invites",
    sa.column("id", sa.Integer()),
    sa.column("member_id", sa.Integer()),
    sa.column("code_hash", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
    sa.column("created_by", sa.String()),
)


async def test_invites_handed_out_before_the_hmac_still_bind(empty: Database) -> None:
    """0009: invites say how their code was hashed; those made before, a plain SHA-256,
    bind once after the upgrade, and the new ones are HMACs."""
    database = empty
    await upgrade(database.engine, "0008")
    code = "ABCDEFGH"
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.insert(MEMBERS).values(
                id=1,
                name="张伟",
                status="outflow",
                consent="pending",
                registered_at=SENT,
                updated_at=SENT,
            )
        )
        await connection.execute(
            sa.insert(INVITES).values(
                member_id=1,
                code_hash=hashlib.sha256(code.encode()).hexdigest(),
                created_at=SENT,
                expires_at=SENT + timedelta(days=14),
                created_by="cli:liaison",
            )
        )

    await upgrade(database.engine)

    async with database.session() as session:
        old = await session.scalar(select(Invite))
        assert old is not None and old.code_scheme is CodeScheme.SHA256
        new_code, new = await create_invite(
            session, REPLIED, member_id=1, created_by="cli:liaison", valid_days=14, key=INVITE_KEY
        )
        assert new.code_scheme is CodeScheme.HMAC_SHA256
    async with database.session() as session:
        # The newer invite replaced the unused old one, as it always does; an old one that
        # was left alone binds.
        old = await session.get(Invite, old.id)
        assert old is not None
        old.expires_at = SENT + timedelta(days=14)

    async with database.session() as session:
        bound = await redeem(
            session,
            REPLIED,
            user_id=LIAISON_CHAT,
            code=code,
            max_failures=5,
            lockout=timedelta(hours=1),
            key=INVITE_KEY,
        )
    assert (bound.outcome, bound.member_name) == (Outcome.BOUND, "张伟")
    async with database.engine.connect() as connection:
        assert "ck_invites_codescheme" in await connection.run_sync(names, "invites")
        assert await connection.run_sync(differences) == []

    await downgrade(database, "0008")
    async with database.engine.connect() as connection:
        hashes = set((await connection.execute(select(INVITES.c.code_hash))).scalars())
        assert hashes == {hashlib.sha256(code.encode()).hexdigest(), new.code_hash}
        assert new_code not in str(hashes)

    await upgrade(database.engine)
    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_location_precision_comes_and_goes(empty: Database) -> None:
    """0011: members.location_precision (the choice made withdrawing consent to location),
    a string with its CHECK constraint; nothing else differs from the models."""
    database = empty
    await upgrade(database.engine, "0008")
    await upgrade(database.engine)
    async with database.engine.connect() as connection:
        assert "ck_members_locationprecision" in await connection.run_sync(names, "members")
        assert await connection.run_sync(differences) == []
    await downgrade(database, "0008")
    async with database.engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("members")}
        )
        assert "location_precision" not in columns


DELIVERIES = sa.table(
    "deliveries",
    sa.column("dedupe_key", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("status", sa.String()),
    sa.column("rank", sa.Integer()),
    sa.column("attempts", sa.Integer()),
    sa.column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _delivery(key: str, kind: str) -> dict[str, object]:
    return {
        "dedupe_key": key,
        "kind": kind,
        "status": "pending",
        "rank": 0,
        "attempts": 0,
        "next_attempt_at": SENT,
        "created_at": SENT,
    }


async def test_activities_come_and_go(empty: Database) -> None:
    """0019: activities, the groups invited, each member's answer and attendance, and the
    invitation and reminder kinds of the outbox; down again, the activity messages go with
    the tables (an older version could read neither), the other messages stay."""
    database = empty
    await upgrade(database.engine, "0018")
    async with database.engine.begin() as connection:
        await connection.execute(sa.insert(DELIVERIES), [_delivery("n1:m1:sms", "notice")])
    await upgrade(database.engine)
    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
        found = await connection.run_sync(names, "activity_invitations")
        assert {
            "ck_activity_invitations_activityanswer",
            "ix_activity_invitations_member_id",
        } <= found
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.insert(DELIVERIES),
            [
                _delivery("act1:invite:m1:sms", "activity_invite"),
                _delivery("act1:remind:m1:sms", "activity_remind"),
            ],
        )
    await downgrade(database, "0018")
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
        kept = (await connection.execute(select(DELIVERIES.c.dedupe_key))).scalars().all()
    assert not tables & {"activities", "activity_groups", "activity_invitations"}
    assert kept == ["n1:m1:sms"]
    # And up once more: the same schema as the models.
    await upgrade(database.engine)
    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_partners_come_and_go(empty: Database) -> None:
    """0020: partner organisations, members assigned to them by hand, and the letters drawn
    and sent; down again the three tables go, and up once more matches the models."""
    database = empty
    await upgrade(database.engine, "0019")
    await upgrade(database.engine)
    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
        found = await connection.run_sync(names, "partner_letters")
        assert "ck_partner_letters_lettermeans" in found
    await downgrade(database, "0019")
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
    assert not tables & {"partner_organisations", "partner_assignments", "partner_letters"}


async def test_ratings_come_and_go(empty: Database) -> None:
    """0021: the rating rules (seeded with the defaults), adjustments, the commendation list
    and the commendation kind of the outbox; down again, the commendation messages go with
    the tables, the other messages stay."""
    database = empty
    await upgrade(database.engine, "0020")
    async with database.engine.begin() as connection:
        await connection.execute(sa.insert(DELIVERIES), [_delivery("n1:m1:sms", "notice")])
    await upgrade(database.engine)
    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
        seeded = await connection.execute(
            text("SELECT criterion, points, yearly_cap FROM rating_rules ORDER BY criterion")
        )
        assert [tuple(row) for row in seeded] == [
            ("attendance", 3, None),
            ("idea_adopted", 5, None),
            ("on_time_checkin", 2, None),
            ("service_given", 4, None),
            ("study_completed", 1, 20),
        ]
        unique = await connection.run_sync(
            lambda sync: sa.inspect(sync).get_unique_constraints("commendations")
        )
        assert [u["column_names"] for u in unique] == [["year", "member_id"]]
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.insert(DELIVERIES), [_delivery("commend:2026:m1:sms", "commendation")]
        )
    await downgrade(database, "0020")
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
        kept = (await connection.execute(select(DELIVERIES.c.dedupe_key))).scalars().all()
    assert not tables & {"rating_rules", "rating_adjustments", "commendations"}
    assert kept == ["n1:m1:sms"]


async def test_activity_changes_come_and_go(empty: Database) -> None:
    """0022: an activity's cancellation and revision, an invitation's place on the waiting
    list, and the cancellation, change and place kinds of the outbox; down again, the
    messages of those kinds go, the others stay."""
    database = empty
    await upgrade(database.engine, "0021")
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.insert(DELIVERIES), [_delivery("act1:invite:m1:sms", "activity_invite")]
        )
    await upgrade(database.engine)
    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.insert(DELIVERIES),
            [
                _delivery("act1:cancel:m1:sms", "activity_cancel"),
                _delivery("act1:change1:m1:sms", "activity_change"),
                _delivery("act1:place:m1:sms", "activity_place"),
            ],
        )
    await downgrade(database, "0021")
    async with database.engine.connect() as connection:
        kept = (await connection.execute(select(DELIVERIES.c.dedupe_key))).scalars().all()
    assert kept == ["act1:invite:m1:sms"]
    await upgrade(database.engine)
    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
