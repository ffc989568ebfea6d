"""Check-ins by (period, member): the dashboard counts a month's members from the index alone

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 22:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The new index begins with period, so the old one on period alone is redundant.
    op.create_index('ix_checkins_period_member', 'checkins', ['period', 'member_id'])
    op.drop_index('ix_checkins_period', table_name='checkins')


def downgrade() -> None:
    op.create_index('ix_checkins_period', 'checkins', ['period'])
    op.drop_index('ix_checkins_period_member', table_name='checkins')
