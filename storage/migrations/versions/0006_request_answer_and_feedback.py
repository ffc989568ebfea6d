"""service requests: the staff's answer on closing, the member's feedback comment, and the
feedback alert to staff

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

OLD_KINDS = (
    'notice', 'checkin_prompt', 'checkin_reminder', 'escalation', 'lost_contact', 'study',
    'request_new', 'request_update', 'request_due', 'request_late',
    'certificate', 'cert_review', 'idea_new', 'idea_reply',
)
NEW_KINDS = (*OLD_KINDS, 'request_feedback')

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _message_kinds(kinds: tuple[str, ...]) -> None:
    # deliveries.kind is a string with a CHECK constraint: new kinds widen the constraint.
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deliveries_messagekind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_deliveries_messagekind'), sa.column('kind').in_(kinds)
        )


def upgrade() -> None:
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('feedback_comment', sa.Text(), nullable=True))
    _message_kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM deliveries WHERE kind NOT IN :kinds").bindparams(
        sa.bindparam('kinds', OLD_KINDS, expanding=True)))
    _message_kinds(OLD_KINDS)
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_column('feedback_comment')
        batch_op.drop_column('answer')
