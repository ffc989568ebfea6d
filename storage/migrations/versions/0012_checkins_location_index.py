"""an index on checkins.location_report_id: deleting places no longer reads every check-in

The retention purge, an erasure and a withdrawal of consent delete places (location
reports); each deletion sets the check-ins naming it to NULL (ON DELETE SET NULL), which
without this index reads the whole checkins table per place: hours for a district's
nightly purge (benchmarks/retention.py), 5 s with it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_checkins_location_report_id'), ['location_report_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkins_location_report_id'))
