"""invites say how their code was hashed: HMAC-SHA256 from now on, plain SHA-256 before

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEME = sa.Enum(
    'sha256',
    'hmac-sha256',
    name='codescheme',
    native_enum=False,
    create_constraint=True,
    length=16,
)


def upgrade() -> None:
    # Every invite made so far stored a plain SHA-256; they keep working until used or
    # expired. The default only fills them in: a new invite always says its scheme.
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('code_scheme', SCHEME, server_default='sha256', nullable=False)
        )
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.alter_column('code_scheme', server_default=None)


def downgrade() -> None:
    # The older code looks codes up by plain SHA-256 only: the HMAC invites made since
    # stay as records, but their codes are wrong codes to it (liaisons make new ones).
    with op.batch_alter_table('invites', schema=None) as batch_op:
        # SQLite's copy of the table would otherwise keep the CHECK on the dropped column.
        batch_op.drop_constraint(op.f('ck_invites_codescheme'), type_='check')
        batch_op.drop_column('code_scheme')
