"""Activities (forums, classes taken to companies, volunteer service, meetings): the
activities, the groups invited, each member's answer and attendance, and the invitation and
reminder kinds of the outbox

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    'notice', 'checkin_prompt', 'checkin_reminder', 'escalation', 'lost_contact', 'study',
    'request_new', 'request_update', 'request_due', 'request_late', 'request_feedback',
    'certificate', 'cert_review', 'idea_new', 'idea_reply', 'rights_new', 'rights_reply',
    'sms_reply', 'sms_answer', 'qq_suspended',
)
NEW_KINDS = (*OLD_KINDS, 'activity_invite', 'activity_remind')


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _message_kinds(kinds: tuple[str, ...]) -> None:
    # deliveries.kind is a string with a CHECK constraint: new kinds widen the constraint.
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deliveries_messagekind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_deliveries_messagekind'), sa.column('kind').in_(kinds)
        )


def upgrade() -> None:
    op.create_table(
        'activities',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column(
            'kind',
            _enum('activitykind', 'forum', 'class', 'service', 'meeting', 'other'),
            nullable=False,
        ),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('place_id', sa.Integer(), nullable=True),
        sa.Column('place_name', sa.String(length=200), nullable=True),
        sa.Column('address', sa.String(length=300), nullable=False),
        sa.Column('latitude', sa.Float(), nullable=True),
        sa.Column('longitude', sa.Float(), nullable=True),
        sa.Column('radius_m', sa.Integer(), nullable=False),
        sa.Column('capacity', sa.Integer(), nullable=True),
        sa.Column('code', sa.String(length=8), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('organiser', sa.String(length=64), nullable=False),
        sa.Column('scope_staff_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('remind_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['place_id'], ['places.id'], name=op.f('fk_activities_place_id_places'),
            ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['scope_staff_id'], ['staff.id'], name=op.f('fk_activities_scope_staff_id_staff'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_activities')),
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activities_remind_at'), ['remind_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_starts_at'), ['starts_at'], unique=False)

    op.create_table(
        'activity_groups',
        sa.Column('activity_id', sa.Integer(), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['activity_id'], ['activities.id'],
            name=op.f('fk_activity_groups_activity_id_activities'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['group_id'], ['groups.id'], name=op.f('fk_activity_groups_group_id_groups'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('activity_id', 'group_id', name=op.f('pk_activity_groups')),
    )
    op.create_table(
        'activity_invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('activity_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=True),
        sa.Column('invited_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answer', _enum('activityanswer', 'yes', 'no'), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            'attendance_source', _enum('attendancesource', 'code', 'location', 'staff'),
            nullable=True,
        ),
        sa.Column('attendance_by', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ['activity_id'], ['activities.id'],
            name=op.f('fk_activity_invitations_activity_id_activities'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['member_id'], ['members.id'],
            name=op.f('fk_activity_invitations_member_id_members'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_invitations')),
        sa.UniqueConstraint(
            'activity_id', 'member_id', name=op.f('uq_activity_invitations_activity_id')
        ),
    )
    with op.batch_alter_table('activity_invitations', schema=None) as batch_op:
        batch_op.create_index('ix_activity_invitations_member_id', ['member_id'], unique=False)
    _message_kinds(NEW_KINDS)


def downgrade() -> None:
    # An older version knows neither the kinds nor the activities they are about.
    op.execute("DELETE FROM deliveries WHERE kind IN ('activity_invite', 'activity_remind')")
    _message_kinds(OLD_KINDS)
    with op.batch_alter_table('activity_invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_invitations_member_id')
    op.drop_table('activity_invitations')
    op.drop_table('activity_groups')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activities_starts_at'))
        batch_op.drop_index(batch_op.f('ix_activities_remind_at'))
    op.drop_table('activities')
