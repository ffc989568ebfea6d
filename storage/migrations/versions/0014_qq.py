"""QQ: members', staff's and groups' QQ accounts, QQ channels, accounts keyed by platform

A QQ account and a Telegram account with the same number are different people, so the
tables keyed by a chat account (conversations, invite guards) gain the platform in their
primary key; what exists is Telegram's.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 20:00:00
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    'notice', 'checkin_prompt', 'checkin_reminder', 'escalation', 'lost_contact', 'study',
    'request_new', 'request_update', 'request_due', 'request_late', 'request_feedback',
    'certificate', 'cert_review', 'idea_new', 'idea_reply', 'rights_new', 'rights_reply',
    'sms_reply', 'sms_answer',
)
NEW_KINDS = (*OLD_KINDS, 'qq_suspended')
OLD_CHANNELS = ('telegram', 'sms', 'group_chat')
NEW_CHANNELS = (*OLD_CHANNELS, 'qq', 'qq_group')
PLATFORMS = ('telegram', 'qq')


def _platform() -> sa.Column[str]:
    return sa.Column(
        'platform',
        sa.Enum(*PLATFORMS, name='platform', native_enum=False, create_constraint=True,
                length=16),
        server_default='telegram',
        nullable=False,
    )


def _constraints(kinds: tuple[str, ...], channels: tuple[str, ...]) -> None:
    # Strings with CHECK constraints: new values widen the constraints.
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deliveries_messagekind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_deliveries_messagekind'), sa.column('kind').in_(kinds)
        )
        batch_op.drop_constraint(op.f('ck_deliveries_channelname'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_deliveries_channelname'), sa.column('channel').in_(channels)
        )


def _primary_key(table: str, columns: list[str]) -> None:
    # PostgreSQL swaps the constraint. SQLite rebuilds the table with the new key (its old
    # key has no name to drop by); SQLAlchemy warns that the reflected key columns differ
    # from the new key's, and then uses the new key, which is the point.
    if op.get_bind().dialect.name != 'sqlite':
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'pk_{table}', type_='primary')
            batch_op.create_primary_key(f'pk_{table}', columns)
        return
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Table .* specifies columns', sa.exc.SAWarning)
        with op.batch_alter_table(table, schema=None, recreate='always') as batch_op:
            batch_op.create_primary_key(f'pk_{table}', columns)


def upgrade() -> None:
    _constraints(NEW_KINDS, NEW_CHANNELS)
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qq_user_id', sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(op.f('uq_members_qq_user_id'), ['qq_user_id'])
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qq_user_id', sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(op.f('uq_staff_qq_user_id'), ['qq_user_id'])
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qq_group_id', sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(op.f('uq_groups_qq_group_id'), ['qq_group_id'])
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('used_by_qq_id', sa.BigInteger(), nullable=True))
    op.create_table(
        'qq_choices',
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('message_id', sa.BigInteger(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('buttons', sa.JSON(), nullable=False),
        sa.Column('inline', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('chat_id', name=op.f('pk_qq_choices')),
    )
    for table, key in (('conversations', ['chat_id', 'user_id']), ('invite_guards', ['user_id'])):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(_platform())
            if table == 'invite_guards':
                batch_op.alter_column('telegram_user_id', new_column_name='user_id')
        _primary_key(table, ['platform', *key])


def downgrade() -> None:
    op.drop_table('qq_choices')
    # What was QQ's cannot be kept in tables that know only Telegram.
    op.execute("DELETE FROM invite_guards WHERE platform <> 'telegram'")
    op.execute("DELETE FROM conversations WHERE platform <> 'telegram'")
    op.execute("DELETE FROM deliveries WHERE channel IN ('qq', 'qq_group') OR kind = 'qq_suspended'")
    _primary_key('conversations', ['chat_id', 'user_id'])
    _primary_key('invite_guards', ['user_id'])
    for table in ('conversations', 'invite_guards'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_platform'), type_='check')
            batch_op.drop_column('platform')
            if table == 'invite_guards':
                batch_op.alter_column('user_id', new_column_name='telegram_user_id')
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.drop_column('used_by_qq_id')
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_groups_qq_group_id'), type_='unique')
        batch_op.drop_column('qq_group_id')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_staff_qq_user_id'), type_='unique')
        batch_op.drop_column('qq_user_id')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_members_qq_user_id'), type_='unique')
        batch_op.drop_column('qq_user_id')
    _constraints(OLD_KINDS, OLD_CHANNELS)
