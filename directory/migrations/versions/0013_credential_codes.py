"""credential codes: an index on lower(public_code), so that a code issued before Crockford
base32 codes (mixed case) is found when typed in lower or upper case.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 11:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_certifications_public_code_lower', 'certifications',
                    [sa.text('lower(public_code)')], unique=False)


def downgrade():
    op.drop_index('ix_certifications_public_code_lower', table_name='certifications')
