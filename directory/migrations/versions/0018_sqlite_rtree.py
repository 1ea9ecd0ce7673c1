"""SQLite R*Tree for the ring search: location_rtree, one point per located practice location,
kept by triggers on practice_locations (directory/search/rtree.py) and filled here from the
locations already there. On PostgreSQL (and any other database) nothing: the portable box on
the (lat, lng) index stays there.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 22:10:00
"""
from alembic import op

# Written out here, not imported: a migration keeps the statements it ran when it was made.
TABLE = 'location_rtree'
SQLITE_UP = [
    f"CREATE VIRTUAL TABLE {TABLE} USING rtree(id, min_lat, max_lat, min_lng, max_lng)",
    f"CREATE TRIGGER {TABLE}_insert AFTER INSERT ON practice_locations "
    "WHEN new.lat IS NOT NULL AND new.lng IS NOT NULL BEGIN "
    f"INSERT INTO {TABLE} (id, min_lat, max_lat, min_lng, max_lng) "
    "VALUES (new.id, new.lat, new.lat, new.lng, new.lng); END",
    f"CREATE TRIGGER {TABLE}_update AFTER UPDATE OF id, lat, lng ON practice_locations BEGIN "
    f"DELETE FROM {TABLE} WHERE id = old.id; "
    f"INSERT INTO {TABLE} (id, min_lat, max_lat, min_lng, max_lng) "
    "SELECT new.id, new.lat, new.lat, new.lng, new.lng "
    "WHERE new.lat IS NOT NULL AND new.lng IS NOT NULL; END",
    f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON practice_locations BEGIN "
    f"DELETE FROM {TABLE} WHERE id = old.id; END",
    f"INSERT INTO {TABLE} (id, min_lat, max_lat, min_lng, max_lng) "
    "SELECT id, lat, lat, lng, lng FROM practice_locations "
    "WHERE lat IS NOT NULL AND lng IS NOT NULL",
]
SQLITE_DOWN = [
    f"DROP TRIGGER IF EXISTS {TABLE}_delete",
    f"DROP TRIGGER IF EXISTS {TABLE}_update",
    f"DROP TRIGGER IF EXISTS {TABLE}_insert",
    f"DROP TABLE IF EXISTS {TABLE}",
]

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != 'sqlite':
        return
    for statement in SQLITE_UP:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        return
    for statement in SQLITE_DOWN:
        op.execute(statement)
