"""practitioners.listed_until: the last day a practitioner is listed, for a join-free search

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('practitioners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listed_until', sa.Date(), nullable=True))
    # Fill it for existing rows by the rule of directory.listing.listed_until_expression.
    op.execute(sa.text("""
        UPDATE practitioners SET listed_until = CASE
          WHEN EXISTS (SELECT 1 FROM users WHERE users.id = practitioners.user_id
                       AND users.is_active = :yes AND users.email_confirmed_at IS NOT NULL)
          THEN (SELECT max(coalesce(certifications.expires_on, :no_expiry)) FROM certifications
                WHERE certifications.practitioner_id = practitioners.id
                  AND certifications.status = 'verified')
          END
    """).bindparams(sa.bindparam("yes", True, sa.Boolean()),
                    sa.bindparam("no_expiry", date(9999, 12, 31), sa.Date())))


def downgrade():
    with op.batch_alter_table('practitioners', schema=None) as batch_op:
        batch_op.drop_column('listed_until')
