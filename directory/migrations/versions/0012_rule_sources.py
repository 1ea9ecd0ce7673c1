"""rule sources: jurisdiction rules carry their confidence (source type and date), pending
changes, a note for patients, registration_required, a review-due date, and which rows an
administrator edited (`reference load` updates the others from the data file);
practice_locations.region_code (the jurisdiction of the place of practice) and
scope_verdict (the verdict there, in the search's covering index); scope_changes
(practitioners whose verdict changed when a rule changed, for an administrator to look at).

Rules an administrator created or edited before this revision (an audit event rule.created or
rule.updated names them) are marked administrator-edited, so the next load leaves them alone.
Existing locations get their region code from the region typed on them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 07:00:00
"""
from alembic import op
import sqlalchemy as sa
import directory.models.base


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

SOURCE_TYPE_CHECK = "source_type IN ('primary', 'secondary')"


SCOPE_VERDICT_UPDATE = """
UPDATE practice_locations SET scope_verdict = (
  SELECT CASE WHEN p.profession IS NULL THEN NULL ELSE coalesce((
    SELECT r.permitted FROM jurisdiction_rules r
    WHERE r.jurisdiction IN (practice_locations.region_code, practice_locations.country)
      AND (r.profession = p.profession OR r.profession = '*')
    ORDER BY CASE WHEN r.jurisdiction LIKE '%-%' THEN 0 ELSE 1 END,
             CASE WHEN r.profession = '*' THEN 1 ELSE 0 END
    LIMIT 1), 'unknown') END
  FROM practitioners p WHERE p.id = practice_locations.practitioner_id)
"""


def upgrade():
    # jurisdiction_rules is small and nothing refers to it: SQLite's batch copy is safe here.
    with op.batch_alter_table('jurisdiction_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registration_required', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('patient_note', sa.Text(), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('source_type', sa.String(length=10),
                                      server_default='secondary', nullable=False))
        batch_op.add_column(sa.Column('source_date', sa.String(length=100), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('pending_changes', sa.Text(), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('review_due_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column(
            'admin_edited_at', directory.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('data_digest', sa.String(length=64), nullable=True))
        batch_op.create_check_constraint(op.f('ck_jurisdiction_rules_source_type'),
                                        SOURCE_TYPE_CHECK)
        batch_op.create_index(batch_op.f('ix_jurisdiction_rules_review_due_on'),
                              ['review_due_on'], unique=False)
    # Plain ALTER TABLE ... ADD COLUMN on both databases (no copy of the locations).
    op.add_column('practice_locations',
                  sa.Column('region_code', sa.String(length=10), nullable=True))
    op.add_column('practice_locations',
                  sa.Column('scope_verdict', sa.String(length=10), nullable=True))
    op.create_table(
        'scope_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practitioner_id', sa.Integer(), nullable=False),
        sa.Column('rule_id', sa.Integer(), nullable=True),
        sa.Column('jurisdiction', sa.String(length=10), nullable=False),
        sa.Column('verdict_before', sa.String(length=10), nullable=False),
        sa.Column('verdict_after', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('resolved_at', directory.models.base.UTCDateTime(timezone=True),
                  nullable=True),
        sa.Column('resolved_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', directory.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', directory.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['practitioner_id'], ['practitioners.id'],
                                name=op.f('fk_scope_changes_practitioner_id_practitioners'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'],
                                name=op.f('fk_scope_changes_resolved_by_id_users')),
        sa.ForeignKeyConstraint(['rule_id'], ['jurisdiction_rules.id'],
                                name=op.f('fk_scope_changes_rule_id_jurisdiction_rules'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scope_changes')),
    )
    with op.batch_alter_table('scope_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scope_changes_practitioner_id'),
                              ['practitioner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scope_changes_resolved_at'), ['resolved_at'],
                              unique=False)

    bind = op.get_bind()
    bind.execute(sa.text(
        "UPDATE jurisdiction_rules SET admin_edited_at = (SELECT max(a.at) FROM audit_events a"
        " WHERE a.subject_type = 'jurisdiction_rules' AND a.subject_id = jurisdiction_rules.id"
        " AND a.action IN ('rule.created', 'rule.updated'))"))
    from directory import vocab
    locations = sa.table('practice_locations', sa.column('id', sa.Integer),
                         sa.column('region', sa.String), sa.column('country', sa.String),
                         sa.column('region_code', sa.String))
    rows = bind.execute(sa.select(locations.c.id, locations.c.region, locations.c.country)
                        .where(locations.c.region != '')).all()
    for location_id, region, country in rows:
        code = vocab.resolve_region(country, region)
        if code:
            bind.execute(locations.update().where(locations.c.id == location_id)
                         .values(region_code=code))
    # Each location's verdict, as directory.listing keeps it from now on (the rule of the
    # region before the country's, the profession's before any profession's), and in the
    # search's covering index beside the other copies.
    bind.execute(sa.text(SCOPE_VERDICT_UPDATE))
    op.create_index('ix_practice_locations_country_region_code', 'practice_locations',
                    ['country', 'region_code'], unique=False)
    with op.batch_alter_table('practice_locations', schema=None) as batch_op:
        batch_op.drop_index('ix_practice_locations_lat_lng')
        batch_op.create_index('ix_practice_locations_lat_lng',
                              ['lat', 'lng', 'practitioner_id', 'practitioner_listed_until',
                               'practitioner_attested_at', 'practitioner_name',
                               'scope_verdict'], unique=False)


def downgrade():
    with op.batch_alter_table('scope_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scope_changes_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_scope_changes_practitioner_id'))
    op.drop_table('scope_changes')
    op.drop_index('ix_practice_locations_country_region_code', table_name='practice_locations')
    with op.batch_alter_table('practice_locations', schema=None) as batch_op:
        batch_op.drop_index('ix_practice_locations_lat_lng')
        batch_op.create_index('ix_practice_locations_lat_lng',
                              ['lat', 'lng', 'practitioner_id', 'practitioner_listed_until',
                               'practitioner_attested_at', 'practitioner_name'], unique=False)
    with op.batch_alter_table('practice_locations', schema=None) as batch_op:
        batch_op.drop_column('scope_verdict')
        batch_op.drop_column('region_code')
    with op.batch_alter_table('jurisdiction_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jurisdiction_rules_review_due_on'))
        batch_op.drop_constraint(op.f('ck_jurisdiction_rules_source_type'), type_='check')
        for column in ('data_digest', 'admin_edited_at', 'review_due_on', 'pending_changes',
                       'source_date', 'source_type', 'patient_note', 'registration_required'):
            batch_op.drop_column(column)
