"""user_sessions: logins kept on the server (logout ends that session); users.session_version
goes (a password change deletes the other sessions' rows); e-mail addresses re-normalised

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00
"""
import logging

from alembic import op
import sqlalchemy as sa
import directory.models.base


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade():
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', directory.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', directory.models.base.UTCDateTime(timezone=True),
                  nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
        sa.UniqueConstraint('key_hash', name=op.f('uq_user_sessions_key_hash')),
    )
    op.create_index(op.f('ix_user_sessions_user_id'), 'user_sessions', ['user_id'], unique=False)
    # Every session made before this revision ends (its cookie names no session row): one
    # more login for everyone, once.
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place; batch mode would copy `users` and drop the
        # original, which with foreign keys on deletes every practitioner with it.
        op.execute("ALTER TABLE users DROP COLUMN session_version")
    else:
        op.drop_column('users', 'session_version')
    _renormalise_emails()


def _renormalise_emails():
    """Addresses as accounts.services.normalise_email stores them now (NFKC, the IDNA form of
    the domain, lower case). Only addresses with a non-ASCII character can change; one that
    would become another account's address is left as it is, and logged."""
    from directory.accounts.services import normalise_email

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, email FROM users")).all()
    taken = {email for _, email in rows}
    for user_id, email in rows:
        if email.isascii():
            continue
        new = normalise_email(email)
        if new == email:
            continue
        if new in taken:
            log.warning("users %s: %r would become %r, which another account has; left as it "
                        "is", user_id, email, new)
            continue
        conn.execute(sa.text("UPDATE users SET email = :new WHERE id = :id"),
                     {"new": new, "id": user_id})
        taken.add(new)


def downgrade():
    op.add_column('users', sa.Column('session_version', sa.Integer(), nullable=False,
                                     server_default='1'))
    op.drop_index(op.f('ix_user_sessions_user_id'), table_name='user_sessions')
    op.drop_table('user_sessions')
