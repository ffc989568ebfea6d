"""members.location_precision: the finest place check-ins keep once a member withdrew
consent to location (the province, or none)

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A string with a CHECK constraint, named as the models' naming convention names it.
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('location_precision', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_members_locationprecision'),
            sa.column('location_precision').in_(('province', 'none')),
        )


def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_members_locationprecision'), type_='check')
        batch_op.drop_column('location_precision')
