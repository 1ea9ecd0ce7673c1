"""Cacheable public pages: the directory's version, bumped by every change to public data.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 21:45:00
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa

from directory.models.base import UTCDateTime

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table('directory_version',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('changed_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_version')))
    op.bulk_insert(table, [{'id': 1, 'version': 1, 'changed_at': datetime.now(UTC)}])


def downgrade():
    op.drop_table('directory_version')
