"""Yearly ratings and commendations: the scoring rules staff read and change (seeded with
the defaults), staff adjustments with their reasons, the commendation list, and the
commendation notice of the outbox

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 13:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    'notice',
    'checkin_prompt',
    'checkin_reminder',
    'escalation',
    'lost_contact',
    'study',
    'request_new',
    'request_update',
    'request_due',
    'request_late',
    'request_feedback',
    'certificate',
    'cert_review',
    'idea_new',
    'idea_reply',
    'rights_new',
    'rights_reply',
    'sms_reply',
    'sms_answer',
    'qq_suspended',
    'activity_invite',
    'activity_remind',
)
NEW_KINDS = (*OLD_KINDS, 'commendation')

# The defaults as this revision seeds them (storage/ratings.py DEFAULT_RULES, the same):
# criterion, points each, yearly cap in points (None: no cap).
DEFAULT_RULES = (
    ('on_time_checkin', 2, None),
    ('study_completed', 1, 20),
    ('attendance', 3, None),
    ('service_given', 4, None),
    ('idea_adopted', 5, None),
)


def _message_kinds(kinds: tuple[str, ...]) -> None:
    # deliveries.kind is a string with a CHECK constraint: new kinds widen the constraint.
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deliveries_messagekind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_deliveries_messagekind'), sa.column('kind').in_(kinds)
        )


def upgrade() -> None:
    rules = op.create_table(
        'rating_rules',
        sa.Column('criterion', sa.String(length=32), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('yearly_cap', sa.Integer(), nullable=True),
        sa.Column('updated_by', sa.String(length=100), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('criterion', name=op.f('pk_rating_rules')),
    )
    seeded = datetime.now(UTC)
    op.bulk_insert(
        rules,
        [
            {
                'criterion': criterion,
                'points': points,
                'yearly_cap': cap,
                'updated_by': 'migration:0021',
                'updated_at': seeded,
            }
            for criterion, points, cap in DEFAULT_RULES
        ],
    )
    op.create_table(
        'rating_adjustments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('made_by', sa.String(length=100), nullable=False),
        sa.Column('made_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['member_id'],
            ['members.id'],
            name=op.f('fk_rating_adjustments_member_id_members'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_adjustments')),
    )
    with op.batch_alter_table('rating_adjustments', schema=None) as batch_op:
        batch_op.create_index(
            'ix_rating_adjustments_year_member', ['year', 'member_id'], unique=False
        )
    op.create_table(
        'commendations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('chosen_by', sa.String(length=100), nullable=False),
        sa.Column('chosen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('citation', sa.Text(), nullable=True),
        sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['member_id'],
            ['members.id'],
            name=op.f('fk_commendations_member_id_members'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_commendations')),
        sa.UniqueConstraint('year', 'member_id', name=op.f('uq_commendations_year')),
    )
    _message_kinds(NEW_KINDS)


def downgrade() -> None:
    # An older version knows neither the kind nor the commendations it is about.
    op.execute("DELETE FROM deliveries WHERE kind = 'commendation'")
    _message_kinds(OLD_KINDS)
    op.drop_table('commendations')
    with op.batch_alter_table('rating_adjustments', schema=None) as batch_op:
        batch_op.drop_index('ix_rating_adjustments_year_member')
    op.drop_table('rating_adjustments')
    op.drop_table('rating_rules')
