"""issuers: the issuer role (an account of a training organisation), issuers (user ↔
organisation) and issuer_confirmations (the organisation's answer on a certification and the
facts it answered about).

users.role's CHECK gains 'issuer'. On PostgreSQL the constraint is dropped and created again.
SQLite cannot alter a CHECK, and rebuilding users (Alembic's batch copy) would drop the old
table, whose implicit DELETE cascades to every practitioner while foreign keys are on (they
are, on the app's connections, and cannot be switched off inside the migration's transaction);
so the constraint's text is replaced in the schema, the procedure SQLite documents for
relaxing a constraint (https://www.sqlite.org/lang_altertable.html, "otheralter"): widening
the list of allowed values leaves every stored row valid.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 20:00:00
"""
from alembic import op
import sqlalchemy as sa
import directory.models.base


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OLD_ROLE_CHECK = "role IN ('practitioner', 'admin')"
NEW_ROLE_CHECK = "role IN ('practitioner', 'admin', 'issuer')"


def _set_role_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        sql = bind.execute(sa.text(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'")).scalar_one()
        if old not in sql:
            raise RuntimeError(f"users has no CHECK ({old}) to replace")
        version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
        bind.execute(sa.text("PRAGMA writable_schema = ON"))
        bind.execute(sa.text(
            "UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'users'"),
            {"sql": sql.replace(old, new)})
        bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
        bind.execute(sa.text("PRAGMA writable_schema = OFF"))
        problems = bind.execute(sa.text("PRAGMA integrity_check")).scalars().all()
        if problems != ["ok"]:
            raise RuntimeError(f"integrity check after changing users' CHECK: {problems}")
    else:
        op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
        op.create_check_constraint(op.f('ck_users_role'), 'users', new)


def upgrade():
    _set_role_check(OLD_ROLE_CHECK, NEW_ROLE_CHECK)
    op.create_table(
        'issuers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('organisation', sa.String(length=200), nullable=False),
        sa.Column('created_at', directory.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', directory.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_issuers_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_issuers')),
        sa.UniqueConstraint('user_id', name=op.f('uq_issuers_user_id')),
    )
    op.create_index(op.f('ix_issuers_organisation'), 'issuers', ['organisation'], unique=False)
    op.create_table(
        'issuer_confirmations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('certification_id', sa.Integer(), nullable=False),
        sa.Column('organisation', sa.String(length=200), nullable=False),
        sa.Column('answer', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('answered_by_id', sa.Integer(), nullable=True),
        sa.Column('answered_at', directory.models.base.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column('roster_upload', sa.String(length=32), nullable=True),
        sa.Column('certificate_number', sa.String(length=80), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=True),
        sa.Column('level', sa.Integer(), nullable=True),
        sa.Column('completed_on', sa.Date(), nullable=True),
        sa.Column('expires_on', sa.Date(), nullable=True),
        sa.Column('created_at', directory.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', directory.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("answer IN ('confirmed', 'disputed')",
                           name=op.f('ck_issuer_confirmations_answer')),
        sa.CheckConstraint("answer != 'disputed' OR reason != ''",
                           name=op.f('ck_issuer_confirmations_disputed_with_reason')),
        sa.ForeignKeyConstraint(
            ['certification_id'], ['certifications.id'],
            name=op.f('fk_issuer_confirmations_certification_id_certifications'),
            ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'],
                                name=op.f('fk_issuer_confirmations_answered_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(
            ['program_id'], ['training_programs.id'],
            name=op.f('fk_issuer_confirmations_program_id_training_programs'),
            ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_issuer_confirmations')),
        sa.UniqueConstraint('certification_id',
                            name=op.f('uq_issuer_confirmations_certification_id')),
    )


def downgrade():
    op.drop_table('issuer_confirmations')
    op.drop_index(op.f('ix_issuers_organisation'), table_name='issuers')
    op.drop_table('issuers')
    # Issuer accounts cannot exist without the role: they go (their audit events keep the
    # event without its actor, their sessions go with them). A certification an issuer revoked
    # names it as the reviewer: that history is not thrown away by a downgrade.
    revoked = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM certifications WHERE reviewed_by_id IN "
        "(SELECT id FROM users WHERE role = 'issuer')")).scalar_one()
    if revoked:
        raise RuntimeError(f"{revoked} certification(s) were revoked by an issuer account: "
                           "downgrading below 0011 would lose who revoked them.")
    op.execute("DELETE FROM users WHERE role = 'issuer'")
    _set_role_check(NEW_ROLE_CHECK, OLD_ROLE_CHECK)
