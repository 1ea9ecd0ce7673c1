"""nppes: the loaded NPPES dissemination file (nppes_providers, replaced whole by each load)
and the record of each load (nppes_files), for the automatic check of US licences.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 20:00:00
"""
from alembic import op
import sqlalchemy as sa
import directory.models.base


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'nppes_providers',
        sa.Column('npi', sa.String(length=10), nullable=False),
        sa.Column('last_name', sa.String(length=70), nullable=False),
        sa.Column('first_name', sa.String(length=40), nullable=False),
        sa.Column('middle_name', sa.String(length=40), nullable=False),
        sa.Column('credential', sa.String(length=40), nullable=False),
        sa.Column('other_last_name', sa.String(length=70), nullable=False),
        sa.Column('other_first_name', sa.String(length=40), nullable=False),
        sa.Column('deactivated_on', sa.Date(), nullable=True),
        sa.Column('taxonomies', sa.JSON(), nullable=False),
        sa.CheckConstraint('length(npi) = 10', name=op.f('ck_nppes_providers_npi_length')),
        sa.PrimaryKeyConstraint('npi', name=op.f('pk_nppes_providers')),
    )
    op.create_table(
        'nppes_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('file_name', sa.String(length=255), nullable=False),
        sa.Column('file_date', sa.Date(), nullable=False),
        sa.Column('rows_read', sa.Integer(), nullable=False),
        sa.Column('rows_kept', sa.Integer(), nullable=False),
        sa.Column('deactivated_kept', sa.Integer(), nullable=False),
        sa.Column('seconds', sa.Double(), nullable=False),
        sa.Column('loaded_at', directory.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('rows_read >= 0 AND rows_kept >= 0 AND rows_kept <= rows_read',
                           name=op.f('ck_nppes_files_rows')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_nppes_files')),
    )


def downgrade():
    op.drop_table('nppes_files')
    op.drop_table('nppes_providers')
