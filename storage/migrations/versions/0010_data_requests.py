"""data requests: members' corrections and deletions (PIPL Arts. 46-47); anonymous check-ins

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    'notice', 'checkin_prompt', 'checkin_reminder', 'escalation', 'lost_contact', 'study',
    'request_new', 'request_update', 'request_due', 'request_late', 'request_feedback',
    'certificate', 'cert_review', 'idea_new', 'idea_reply',
)
NEW_KINDS = (*OLD_KINDS, 'rights_new', 'rights_reply')


def _message_kinds(kinds: tuple[str, ...]) -> None:
    # deliveries.kind is a string with a CHECK constraint: new kinds widen the constraint.
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deliveries_messagekind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_deliveries_messagekind'), sa.column('kind').in_(kinds)
        )


def upgrade() -> None:
    op.create_table(
        'data_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column(
            'kind',
            sa.Enum('correct', 'delete', name='datarequestkind', native_enum=False,
                    create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column('member_id', sa.Integer(), nullable=True),
        sa.Column('field', sa.String(length=20), nullable=True),
        sa.Column('proposed_value', sa.String(length=200), nullable=True),
        sa.Column(
            'status',
            sa.Enum('pending', 'approved', 'rejected', 'withdrawn', name='datarequeststatus',
                    native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by', sa.String(length=100), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ['member_id'], ['members.id'], name=op.f('fk_data_requests_member_id_members'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_data_requests')),
    )
    with op.batch_alter_table('data_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_requests_member_id'), ['member_id'], unique=False)
        batch_op.create_index(
            'ix_data_requests_status_created', ['status', 'created_at'], unique=False
        )
    # An erased member's check-ins stay, without the member, for the monthly statistics.
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.alter_column('member_id', existing_type=sa.Integer(), nullable=True)
    _message_kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE kind IN ('rights_new', 'rights_reply')")
    _message_kinds(OLD_KINDS)
    # The older schema has no place for a check-in without its member.
    op.execute('DELETE FROM checkins WHERE member_id IS NULL')
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.alter_column('member_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('data_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_data_requests_status_created')
        batch_op.drop_index(batch_op.f('ix_data_requests_member_id'))
    op.drop_table('data_requests')
