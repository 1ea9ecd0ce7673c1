"""licences: each practitioner's licence check at its official source; practitioners.npi.
Practitioners listed before this revision keep their listing for GRACE_DAYS, unchecked, to have
their licence verified (the sweep tells them by e-mail); listed_until now also needs the licence.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 20:00:00
"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa
import directory.models.base


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# How long a practitioner listed before licences were checked stays listed without a check.
GRACE_DAYS = 60


def upgrade():
    with op.batch_alter_table('practitioners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('npi', sa.String(length=10), nullable=True))
        batch_op.create_index(batch_op.f('ix_practitioners_npi'), ['npi'], unique=False)
    op.create_table(
        'licences',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practitioner_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('method', sa.String(length=12), nullable=True),
        sa.Column('source', sa.String(length=300), nullable=False),
        sa.Column('checked_number', sa.String(length=60), nullable=False),
        sa.Column('checked_jurisdiction', sa.String(length=10), nullable=False),
        sa.Column('verified_on', sa.Date(), nullable=True),
        sa.Column('verified_by_id', sa.Integer(), nullable=True),
        sa.Column('next_due', sa.Date(), nullable=True),
        sa.Column('register_expires_on', sa.Date(), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('grace_until', sa.Date(), nullable=True),
        sa.Column('grace_notice_sent_at', directory.models.base.UTCDateTime(timezone=True),
                  nullable=True),
        sa.Column('due_reminder_sent_at', directory.models.base.UTCDateTime(timezone=True),
                  nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', directory.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', directory.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('unverified', 'verified', 'failed', 'lapsed')",
                           name=op.f('ck_licences_status')),
        sa.CheckConstraint("method IS NULL OR method IN ('automatic', 'register', 'demo')",
                           name=op.f('ck_licences_method')),
        sa.CheckConstraint("status != 'verified' OR (method IS NOT NULL AND verified_on IS NOT "
                           "NULL AND next_due IS NOT NULL)",
                           name=op.f('ck_licences_verified_complete')),
        sa.ForeignKeyConstraint(['practitioner_id'], ['practitioners.id'],
                                name=op.f('fk_licences_practitioner_id_practitioners'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'],
                                name=op.f('fk_licences_verified_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_licences')),
        sa.UniqueConstraint('practitioner_id', name=op.f('uq_licences_practitioner_id')),
    )
    # Everyone listed today keeps the listing for GRACE_DAYS, unchecked.
    now = datetime.now(UTC)
    today = now.date()
    bind = op.get_bind()
    bind.execute(sa.text(
        "INSERT INTO licences (practitioner_id, status, source, checked_number, "
        "checked_jurisdiction, note, grace_until, version, created_at, updated_at) "
        "SELECT id, 'unverified', '', '', '', '', :grace, 1, :now, :now FROM practitioners "
        "WHERE listed_until >= :today"),
        {"grace": today + timedelta(days=GRACE_DAYS), "now": now, "today": today})
    # listed_until, by the new rule: the earlier of the certifications' last day and the
    # licence's (here, the grace period's); no licence row, not listed.
    bind.execute(sa.text(
        "UPDATE practitioners SET listed_until = (SELECT CASE WHEN l.grace_until < "
        "practitioners.listed_until THEN l.grace_until ELSE practitioners.listed_until END "
        "FROM licences l WHERE l.practitioner_id = practitioners.id)"))
    bind.execute(sa.text(
        "UPDATE practice_locations SET practitioner_listed_until = (SELECT p.listed_until FROM "
        "practitioners p WHERE p.id = practice_locations.practitioner_id)"))


def downgrade():
    op.drop_table('licences')
    with op.batch_alter_table('practitioners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_practitioners_npi'))
        batch_op.drop_column('npi')
