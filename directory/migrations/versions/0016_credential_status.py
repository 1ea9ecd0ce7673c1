"""Open Badges credentials: each certification's index in the revocation status list.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 18:30:00
"""
from alembic import op
import sqlalchemy as sa

from directory.models.base import UTCDateTime

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('status_list_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('certification_id', sa.Integer(), nullable=True),
        sa.Column('index', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['certification_id'], ['certifications.id'],
                                name=op.f('fk_status_list_entries_certification_id_certifications'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_status_list_entries')),
        sa.UniqueConstraint('certification_id',
                            name=op.f('uq_status_list_entries_certification_id')),
        sa.UniqueConstraint('index', name=op.f('uq_status_list_entries_index')))


def downgrade():
    op.drop_table('status_list_entries')
