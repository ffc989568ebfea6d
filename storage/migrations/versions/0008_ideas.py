"""ideas: the table suggestions becomes ideas, the word the feature has everywhere else;
audit subjects and open reply drafts say idea too

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the word its enums' class names start with): the names the models' naming
# convention gives its keys, indexes and CHECK constraints follow from these.
OLD = ('suggestions', 'suggestion')
NEW = ('ideas', 'idea')

# The reply being typed to one (bot/features/ideas/reply.py) is stored as a draft whose
# field names are JSON keys: an open draft would no longer read after the rename.
REPLY_FLOW = 'idea_reply'


def _names(table: str, word: str) -> list[str]:
    """The key, index and constraint names of the table, in one order for both words."""
    return [
        f'pk_{table}',
        f'fk_{table}_member_id_members',
        f'ck_{table}_{word}kind',
        f'ck_{table}_{word}status',
        f'ix_{table}_member_id',
        f'ix_{table}_status_created',
    ]


def _shape(table: str, word: str) -> sa.Table:
    """The table as 0004 made it, with every name following table and word."""
    pk, fk, ck_kind, ck_status, ix_member, ix_status = _names(table, word)
    return sa.Table(
        table,
        sa.MetaData(),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reply', sa.Text(), nullable=True),
        sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('replied_by', sa.String(length=100), nullable=True),
        sa.Column('adopted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('adopted_by', sa.String(length=100), nullable=True),
        sa.CheckConstraint("kind IN ('idea', 'opinion')", name=op.f(ck_kind)),
        sa.CheckConstraint("status IN ('new', 'replied', 'adopted')", name=op.f(ck_status)),
        sa.ForeignKeyConstraint(
            ['member_id'], ['members.id'], name=op.f(fk), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f(pk)),
        sa.Index(op.f(ix_member), 'member_id'),
        sa.Index(op.f(ix_status), 'status', 'created_at'),
    )


def _rename(old: tuple[str, str], new: tuple[str, str]) -> None:
    old_table, new_table = old[0], new[0]
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite renames a table in place but none of its constraints: the table is copied
        # into one whose CREATE TABLE carries the new names (batch mode), and the indexes,
        # dropped with the old copy, are made again under theirs.
        for index in _names(*old)[-2:]:
            op.drop_index(index, table_name=old_table)
        op.rename_table(old_table, new_table)
        with op.batch_alter_table(new_table, copy_from=_shape(*new), recreate='always'):
            pass
        return
    # PostgreSQL renames everything in place; the id's sequence is renamed with the table,
    # as a fresh database names it (the column's default follows it by oid).
    op.rename_table(old_table, new_table)
    op.execute(f'ALTER SEQUENCE IF EXISTS {old_table}_id_seq RENAME TO {new_table}_id_seq')
    names = list(zip(_names(*old), _names(*new), strict=True))
    for before, after in names[:4]:
        op.execute(f'ALTER TABLE {new_table} RENAME CONSTRAINT {before} TO {after}')
    for before, after in names[4:]:
        op.execute(f'ALTER INDEX {before} RENAME TO {after}')


def _reply_drafts(old_key: str, new_key: str) -> None:
    conversations = sa.table(
        'conversations',
        sa.column('chat_id', sa.BigInteger()),
        sa.column('user_id', sa.BigInteger()),
        sa.column('flow', sa.String()),
        sa.column('draft', sa.JSON()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(conversations.c.chat_id, conversations.c.user_id, conversations.c.draft)
        .where(conversations.c.flow == REPLY_FLOW)
    ).all()
    for chat_id, user_id, draft in rows:
        if not isinstance(draft, dict) or old_key not in draft:
            continue
        renamed = {new_key if key == old_key else key: value for key, value in draft.items()}
        bind.execute(
            sa.update(conversations)
            .where(conversations.c.chat_id == chat_id, conversations.c.user_id == user_id)
            .values(draft=renamed)
        )


def upgrade() -> None:
    _rename(OLD, NEW)
    # "suggestion:7" → "idea:7" ("suggestion:" is 11 characters).
    op.execute(
        "UPDATE audit_events SET subject = 'idea:' || substr(subject, 12)"
        " WHERE subject LIKE 'suggestion:%'"
    )
    _reply_drafts('suggestion_id', 'idea_id')


def downgrade() -> None:
    _reply_drafts('idea_id', 'suggestion_id')
    # Only the ideas' own audit actions ("idea.view", "idea.reply", ...) named one this way.
    op.execute(
        "UPDATE audit_events SET subject = 'suggestion:' || substr(subject, 6)"
        " WHERE action LIKE 'idea.%' AND subject LIKE 'idea:%'"
    )
    _rename(NEW, OLD)
