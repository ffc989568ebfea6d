"""Activities cancelled and changed, and the waiting list: an activity's cancellation (when,
by whom, why) and its revision (each change of time, place or capacity), an invitation's
place on the waiting list, and the cancellation, change and place-from-the-waiting-list
kinds of the outbox

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    'notice', 'checkin_prompt', 'checkin_reminder', 'escalation', 'lost_contact', 'study',
    'request_new', 'request_update', 'request_due', 'request_late', 'request_feedback',
    'certificate', 'cert_review', 'idea_new', 'idea_reply', 'rights_new', 'rights_reply',
    'sms_reply', 'sms_answer', 'qq_suspended', 'activity_invite', 'activity_remind',
    'commendation',
)
ADDED_KINDS = ('activity_cancel', 'activity_change', 'activity_place')
NEW_KINDS = (*OLD_KINDS, *ADDED_KINDS)


def _message_kinds(kinds: tuple[str, ...]) -> None:
    # deliveries.kind is a string with a CHECK constraint: new kinds widen the constraint.
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deliveries_messagekind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_deliveries_messagekind'), sa.column('kind').in_(kinds)
        )


def upgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('revision', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=300), nullable=True))
    with op.batch_alter_table('activity_invitations', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True)
        )
    _message_kinds(NEW_KINDS)


def downgrade() -> None:
    # An older version knows none of these kinds, nor cancellations or the waiting list: a
    # cancelled activity would read as one still to come, so it goes with its messages.
    op.execute(
        "DELETE FROM deliveries WHERE kind IN ('activity_cancel', 'activity_change', "
        "'activity_place')"
    )
    op.execute("DELETE FROM activities WHERE cancelled_at IS NOT NULL")
    _message_kinds(OLD_KINDS)
    with op.batch_alter_table('activity_invitations', schema=None) as batch_op:
        batch_op.drop_column('waiting_since')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_by')
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('revision')
