"""Notices made in the web console keep their form's key, so a form sent twice makes one

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A unique index rather than a constraint: SQLite adds it without rebuilding the table.
    op.add_column('notices', sa.Column('request_key', sa.String(length=100), nullable=True))
    op.create_index('ix_notices_request_key', 'notices', ['request_key'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_notices_request_key', table_name='notices')
    op.drop_column('notices', 'request_key')
