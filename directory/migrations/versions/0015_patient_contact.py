"""patients' contact and richer profiles: enquiries (metadata only), listing reports, opening
hours and time zones of locations, photo, fees and contact choices of practitioners, insurers
as practitioner tags.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 17:50:00
"""
from alembic import op
import sqlalchemy as sa

from directory.models.base import UTCDateTime

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

TAG_KINDS_BEFORE = "kind IN ('technique', 'condition', 'language')"
TAG_KINDS_AFTER = "kind IN ('technique', 'condition', 'language', 'insurance')"


def _tag_kinds(sqltext: str) -> None:
    with op.batch_alter_table('practitioner_tags', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_practitioner_tags_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_practitioner_tags_kind'), sqltext)


def _fill_time_zones() -> None:
    """The time zone of every placed location, as saving it now sets it (directory.hours):
    looked up once per distinct point, then one UPDATE per zone and 500 locations."""
    from directory.hours import time_zone_at

    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, lat, lng FROM practice_locations "
        "WHERE lat IS NOT NULL AND lng IS NOT NULL"))
    zones: dict[tuple[float, float], str | None] = {}
    ids_by_zone: dict[str, list[int]] = {}
    for location_id, lat, lng in rows:
        point = (float(lat), float(lng))
        if point not in zones:
            zones[point] = time_zone_at(*point)
        if zones[point]:
            ids_by_zone.setdefault(zones[point], []).append(location_id)
    update = sa.text("UPDATE practice_locations SET time_zone = :zone WHERE id IN :ids"
                     ).bindparams(sa.bindparam('ids', expanding=True))
    for zone, ids in ids_by_zone.items():
        for start in range(0, len(ids), 500):
            conn.execute(update, {'zone': zone, 'ids': ids[start:start + 500]})


def upgrade():
    # Plain ADD COLUMN (no batch copy): on SQLite, re-creating practitioners would fire the
    # ON DELETE CASCADE of every table that refers to it and drop its full-text triggers.
    for column in (
            sa.Column('show_phone', sa.Boolean(), server_default=sa.true(), nullable=False),
            sa.Column('show_public_email', sa.Boolean(), server_default=sa.true(),
                      nullable=False),
            sa.Column('enquiries_enabled', sa.Boolean(), server_default=sa.true(),
                      nullable=False),
            sa.Column('fee_first_visit', sa.Integer(), nullable=True),
            sa.Column('fee_follow_up', sa.Integer(), nullable=True),
            sa.Column('fee_currency', sa.String(length=3), nullable=True),
            sa.Column('photo_key', sa.String(length=64), nullable=True)):
        op.add_column('practitioners', column)
    op.add_column('practice_locations', sa.Column('by_appointment', sa.Boolean(),
                                                  server_default=sa.false(), nullable=False))
    op.add_column('practice_locations', sa.Column('time_zone', sa.String(length=64),
                                                  nullable=True))
    _fill_time_zones()
    _tag_kinds(TAG_KINDS_AFTER)

    op.create_table('opening_hours',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('weekday', sa.Integer(), nullable=False),
        sa.Column('opens', sa.Time(), nullable=False),
        sa.Column('closes', sa.Time(), nullable=False),
        sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_opening_hours_weekday')),
        sa.CheckConstraint('closes > opens', name=op.f('ck_opening_hours_closes_after_opens')),
        sa.ForeignKeyConstraint(['location_id'], ['practice_locations.id'],
                                name=op.f('fk_opening_hours_location_id_practice_locations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_opening_hours')))
    op.create_index(op.f('ix_opening_hours_location_id'), 'opening_hours', ['location_id'])

    op.create_table('enquiries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('practitioner_id', sa.Integer(), nullable=False),
        sa.Column('sender_name', sa.String(length=120), nullable=False),
        sa.Column('sender_email', sa.String(length=254), nullable=False),
        sa.Column('client_key', sa.String(length=64), nullable=False),
        sa.Column('message_length', sa.Integer(), nullable=False),
        sa.Column('link_count', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.CheckConstraint("status IN ('sent', 'trapped')", name=op.f('ck_enquiries_status')),
        sa.ForeignKeyConstraint(['practitioner_id'], ['practitioners.id'],
                                name=op.f('fk_enquiries_practitioner_id_practitioners'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_enquiries')))
    op.create_index('ix_enquiries_client_key_created_at', 'enquiries',
                    ['client_key', 'created_at'])
    op.create_index('ix_enquiries_practitioner_id_created_at', 'enquiries',
                    ['practitioner_id', 'created_at'])

    op.create_table('listing_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('practitioner_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('details', sa.Text(), nullable=False),
        sa.Column('reporter_email', sa.String(length=254), nullable=False),
        sa.Column('client_key', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('resolved_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('resolved_by_id', sa.Integer(), nullable=True),
        sa.Column('resolution', sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('wrong_address', 'wrong_phone', 'wrong_hours', 'closed', "
            "'not_this_person', 'other')", name=op.f('ck_listing_reports_kind')),
        sa.CheckConstraint("status IN ('open', 'corrected', 'dismissed')",
                           name=op.f('ck_listing_reports_status')),
        sa.CheckConstraint("(status = 'open') = (resolved_at IS NULL)",
                           name=op.f('ck_listing_reports_resolved_when_decided')),
        sa.ForeignKeyConstraint(['practitioner_id'], ['practitioners.id'],
                                name=op.f('fk_listing_reports_practitioner_id_practitioners'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'],
                                name=op.f('fk_listing_reports_resolved_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_reports')))
    op.create_index(op.f('ix_listing_reports_practitioner_id'), 'listing_reports',
                    ['practitioner_id'])
    op.create_index('ix_listing_reports_status_created_at', 'listing_reports',
                    ['status', 'created_at'])
    op.create_index('ix_listing_reports_client_key_created_at', 'listing_reports',
                    ['client_key', 'created_at'])


def downgrade():
    op.drop_table('listing_reports')
    op.drop_table('enquiries')
    op.drop_table('opening_hours')
    op.execute("DELETE FROM practitioner_tags WHERE kind = 'insurance'")
    _tag_kinds(TAG_KINDS_BEFORE)
    # DROP COLUMN in place (SQLite 3.35+), for the reason given in upgrade().
    op.drop_column('practice_locations', 'time_zone')
    op.drop_column('practice_locations', 'by_appointment')
    for column in ('photo_key', 'fee_currency', 'fee_follow_up', 'fee_first_visit',
                   'enquiries_enabled', 'show_public_email', 'show_phone'):
        op.drop_column('practitioners', column)
