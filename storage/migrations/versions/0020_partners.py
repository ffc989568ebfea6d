"""Partner organisations of the two-way management agreements, members assigned to them by
hand, and the half-yearly letters drawn and sent to them

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-09 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        'partner_organisations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('address', sa.String(length=300), nullable=True),
        sa.Column('contact_person', sa.String(length=64), nullable=True),
        sa.Column('contact_phone', sa.String(length=20), nullable=True),
        sa.Column('adcode', sa.String(length=12), nullable=False),
        sa.Column('side', _enum('partnerside', 'origin', 'destination'), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['unit_id'], ['units.id'], name=op.f('fk_partner_organisations_unit_id_units'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_organisations')),
        sa.UniqueConstraint('name', name=op.f('uq_partner_organisations_name')),
    )
    with op.batch_alter_table('partner_organisations', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_partner_organisations_adcode'), ['adcode'], unique=False
        )

    op.create_table(
        'partner_assignments',
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('partner_id', sa.Integer(), nullable=False),
        sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('assigned_by', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ['member_id'], ['members.id'], name=op.f('fk_partner_assignments_member_id_members'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['partner_id'], ['partner_organisations.id'],
            name=op.f('fk_partner_assignments_partner_id_partner_organisations'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('member_id', name=op.f('pk_partner_assignments')),
    )
    with op.batch_alter_table('partner_assignments', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_partner_assignments_partner_id'), ['partner_id'], unique=False
        )

    op.create_table(
        'partner_letters',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('partner_id', sa.Integer(), nullable=False),
        sa.Column('half', sa.String(length=6), nullable=False),
        sa.Column('generated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('generated_by', sa.String(length=100), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sent_by', sa.String(length=100), nullable=True),
        sa.Column(
            'sent_how', _enum('lettermeans', 'post', 'email', 'hand', 'fax', 'other'),
            nullable=True,
        ),
        sa.Column('sent_digest', sa.String(length=64), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ['partner_id'], ['partner_organisations.id'],
            name=op.f('fk_partner_letters_partner_id_partner_organisations'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_letters')),
        sa.UniqueConstraint('partner_id', 'half', name=op.f('uq_partner_letters_partner_id')),
    )


def downgrade() -> None:
    op.drop_table('partner_letters')
    with op.batch_alter_table('partner_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_assignments_partner_id'))
    op.drop_table('partner_assignments')
    with op.batch_alter_table('partner_organisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_organisations_adcode'))
    op.drop_table('partner_organisations')
