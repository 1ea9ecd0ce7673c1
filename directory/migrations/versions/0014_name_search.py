"""name search: practitioners.search_words (the folded words of the name, the clinics' names,
the licence number and the NPI, kept by directory.search.names), indexed for full-text search;
search_words, the vocabulary the typos are looked up in, indexed by trigram.

SQLite: an FTS5 table over practitioners.search_words (external content, kept by triggers) and
an FTS5 trigram table over the vocabulary (each word padded as pg_trgm pads it, kept by
triggers). PostgreSQL: the pg_trgm extension, a GIN index on to_tsvector('simple',
search_words) and a trigram GIN index on the vocabulary.

Existing practitioners get their words here, computed by the same function the app uses.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 14:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE practitioner_search USING fts5(search_words, content='practitioners', "
    "content_rowid='id', tokenize='ascii', prefix='3')",
    "CREATE TRIGGER practitioner_search_insert AFTER INSERT ON practitioners BEGIN "
    "INSERT INTO practitioner_search(rowid, search_words) VALUES (new.id, new.search_words); END",
    "CREATE TRIGGER practitioner_search_delete AFTER DELETE ON practitioners BEGIN "
    "INSERT INTO practitioner_search(practitioner_search, rowid, search_words) "
    "VALUES ('delete', old.id, old.search_words); END",
    "CREATE TRIGGER practitioner_search_update AFTER UPDATE OF search_words ON practitioners "
    "BEGIN INSERT INTO practitioner_search(practitioner_search, rowid, search_words) "
    "VALUES ('delete', old.id, old.search_words); "
    "INSERT INTO practitioner_search(rowid, search_words) VALUES (new.id, new.search_words); END",
    # The index of the rows already there (all with empty words until the refresh below).
    "INSERT INTO practitioner_search(practitioner_search) VALUES ('rebuild')",
    "CREATE VIRTUAL TABLE search_word_trigrams USING fts5(word, tokenize='trigram', "
    "detail='none')",
    "CREATE TRIGGER search_word_trigrams_insert AFTER INSERT ON search_words BEGIN "
    "INSERT INTO search_word_trigrams(rowid, word) VALUES (new.rowid, '  ' || new.word || ' '); "
    "END",
    "CREATE TRIGGER search_word_trigrams_delete AFTER DELETE ON search_words BEGIN "
    "DELETE FROM search_word_trigrams WHERE rowid = old.rowid; END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS search_word_trigrams_delete",
    "DROP TRIGGER IF EXISTS search_word_trigrams_insert",
    "DROP TABLE IF EXISTS search_word_trigrams",
    "DROP TRIGGER IF EXISTS practitioner_search_update",
    "DROP TRIGGER IF EXISTS practitioner_search_delete",
    "DROP TRIGGER IF EXISTS practitioner_search_insert",
    "DROP TABLE IF EXISTS practitioner_search",
]


def upgrade():
    bind = op.get_bind()
    postgresql = bind.dialect.name == 'postgresql'
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column('practitioners', sa.Column('search_words', sa.Text(), server_default='',
                                             nullable=False))
    op.create_table(
        'search_words',
        sa.Column('word', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('word', name=op.f('pk_search_words')),
    )
    op.create_index('ix_search_words_trigrams', 'search_words', ['word'], unique=False,
                    postgresql_using='gin', postgresql_ops={'word': 'gin_trgm_ops'})
    if postgresql:
        op.execute("CREATE INDEX ix_practitioners_search_words ON practitioners "
                   "USING gin (to_tsvector('simple'::regconfig, search_words))")
    else:
        for statement in SQLITE_UP:
            op.execute(statement)
    # The words of the practitioners already there, by the app's own rule.
    from directory.search.names import refresh_search_words

    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM practitioners"))]
    refresh_search_words(bind, ids)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_practitioners_search_words")
    else:
        for statement in SQLITE_DOWN:
            op.execute(statement)
    op.drop_index('ix_search_words_trigrams', table_name='search_words')
    op.drop_table('search_words')
    op.drop_column('practitioners', 'search_words')
