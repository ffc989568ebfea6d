"""The audit log by actor and by subject, newest first (the console's filters, /mydata)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_audit_events_actor_id', 'audit_events', ['actor', 'id'])
    op.create_index('ix_audit_events_subject_id', 'audit_events', ['subject', 'id'])


def downgrade() -> None:
    op.drop_index('ix_audit_events_subject_id', table_name='audit_events')
    op.drop_index('ix_audit_events_actor_id', table_name='audit_events')
