"""inbound SMS: members' replies by SMS (parts kept before they are acknowledged, the whole
message, the staff inbox), members.sms_stopped_at, and the SMS reply and answer kinds

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    'notice', 'checkin_prompt', 'checkin_reminder', 'escalation', 'lost_contact', 'study',
    'request_new', 'request_update', 'request_due', 'request_late', 'request_feedback',
    'certificate', 'cert_review', 'idea_new', 'idea_reply', 'rights_new', 'rights_reply',
)
NEW_KINDS = (*OLD_KINDS, 'sms_reply', 'sms_answer')


def _message_kinds(kinds: tuple[str, ...]) -> None:
    # deliveries.kind is a string with a CHECK constraint: new kinds widen the constraint.
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deliveries_messagekind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_deliveries_messagekind'), sa.column('kind').in_(kinds)
        )


def upgrade() -> None:
    op.create_table(
        'inbound_sms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sender', sa.String(length=32), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('intent', sa.String(length=16), nullable=True),
        sa.Column('outcome', sa.String(length=32), nullable=True),
        sa.Column('in_inbox', sa.Boolean(), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answered_by', sa.String(length=100), nullable=True),
        sa.Column('answers', sa.Integer(), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('done_by', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ['member_id'], ['members.id'], name=op.f('fk_inbound_sms_member_id_members'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_sms')),
    )
    with op.batch_alter_table('inbound_sms', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_sms_handled_at', ['handled_at'], unique=False)
        batch_op.create_index(
            'ix_inbound_sms_inbox', ['in_inbox', 'done_at', 'received_at'], unique=False
        )
        batch_op.create_index(batch_op.f('ix_inbound_sms_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_sms_sender'), ['sender'], unique=False)

    op.create_table(
        'inbound_sms_parts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dedupe_key', sa.String(length=80), nullable=False),
        sa.Column('sender', sa.String(length=32), nullable=False),
        sa.Column('recipient', sa.String(length=32), nullable=False),
        sa.Column('reference', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sms_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['sms_id'], ['inbound_sms.id'], name=op.f('fk_inbound_sms_parts_sms_id_inbound_sms'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_sms_parts')),
        sa.UniqueConstraint('dedupe_key', name=op.f('uq_inbound_sms_parts_dedupe_key')),
    )
    with op.batch_alter_table('inbound_sms_parts', schema=None) as batch_op:
        batch_op.create_index(
            'ix_inbound_sms_parts_assembly',
            ['sender', 'reference', 'total', 'sms_id'],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f('ix_inbound_sms_parts_sms_id'), ['sms_id'], unique=False
        )

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('sms_stopped_at', sa.DateTime(timezone=True), nullable=True)
        )
    _message_kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute(
        sa.text("DELETE FROM deliveries WHERE kind IN ('sms_reply', 'sms_answer')")
    )
    _message_kinds(OLD_KINDS)
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('sms_stopped_at')
    with op.batch_alter_table('inbound_sms_parts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_sms_parts_sms_id'))
        batch_op.drop_index('ix_inbound_sms_parts_assembly')
    op.drop_table('inbound_sms_parts')
    with op.batch_alter_table('inbound_sms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_sms_sender'))
        batch_op.drop_index(batch_op.f('ix_inbound_sms_member_id'))
        batch_op.drop_index('ix_inbound_sms_inbox')
        batch_op.drop_index('ix_inbound_sms_handled_at')
    op.drop_table('inbound_sms')
