"""The ring search's box on SQLite, from an R*Tree (built into SQLite) instead of the (lat, lng)
B-tree.

A (lat, lng) B-tree answers a box by scanning every entry of its latitude band, whatever their
longitude: a wide rural search at 1,000,000 reads a whole band of the country. The R*Tree
location_rtree (migration 0018) holds one point-sized box per located practice location
(id = practice_locations.id; lat and lng each as min = max) and finds the locations of a box by
both coordinates at once.

Kept by SQLite triggers on practice_locations (insert, update of lat or lng, delete, including
deletes cascaded from practitioners), so it changes in the same transaction as whatever writes
the locations; a location without a point is not in it. PostgreSQL has no R*Tree: there the
portable box stays (ring.py asks box_index() which to use).

The R*Tree keeps its coordinates as 32-bit floats, rounding each box outward (a lower bound
down, an upper bound up), so the R*Tree's answer to a box holds every location in it, and a few
within a metre of its edges. The ring still applies the exact box to the location's own lat and
lng, so the R*Tree only narrows the rows read: the results are the portable query's, row for
row (tests/test_search_rtree.py).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import Integer, and_, bindparam, column, func, select, table, union_all

TABLE = "location_rtree"
# The R*Tree and the tables SQLite makes for it (location_rtree_node, _parent, _rowid): outside
# the models (directory.search.names.outside_the_models leaves them out of Alembic's comparison).
OUTSIDE_THE_MODELS = (TABLE,)

# Made and kept by migration 0018 (the table, its triggers, its first rows); read here.
location_rtree = table(TABLE, column("id", Integer), column("min_lat"), column("max_lat"),
                       column("min_lng"), column("max_lng"))

# Rings narrower than this (km) read the (lat, lng) B-tree even on SQLite. The R*Tree reads
# each candidate's row by its id, where the covering B-tree reads its latitude band from the
# index alone: a narrow ring (a dense town: the ring is sized to hold about 200) costs less
# as a thin band, a wide one (the countryside) much less from the R*Tree. Measured on
# 1,000,000 (README, "Search speed"); the results are the same either way.
MIN_RING_KM = 20.0


def box_index(dialect: str, ring_km: float | None = None) -> str:
    """Which index serves the ring's box: "rtree" on SQLite for a ring of MIN_RING_KM or more
    (or for a count, `ring_km` None), "btree" (the portable box on the (lat, lng) index)
    otherwise, elsewhere, or when the configuration's SEARCH_PORTABLE_BOX asks for it (to
    compare the two: tests and tools/bench_search.py --portable-box)."""
    if dialect != "sqlite" or current_app.config.get("SEARCH_PORTABLE_BOX"):
        return "btree"
    if ring_km is not None and ring_km < MIN_RING_KM:
        return "btree"
    return "rtree"


def _overlaps(i: int):
    """The R*Tree entries that may lie in box i (the ring's bind parameters b{i}_s... as in
    ring._box_clause): each entry's rounded-outward box meets the searched box."""
    r = location_rtree.c
    return and_(r.max_lat >= bindparam(f"b{i}_s"), r.min_lat <= bindparam(f"b{i}_n"),
                r.max_lng >= bindparam(f"b{i}_w"), r.min_lng <= bindparam(f"b{i}_e"))


def _each_box(n_boxes: int):
    """One SELECT per box (two where the ring crosses the antimeridian): the R*Tree answers
    one box per search, not an OR of two."""
    return [select(location_rtree.c.id).where(_overlaps(i)) for i in range(n_boxes)]


def candidates(n_boxes: int):
    """The ids of the locations that may lie in the ring's boxes (a superset, by at most a
    metre at the edges: the exact box is applied to the rows)."""
    selects = _each_box(n_boxes)
    return selects[0] if n_boxes == 1 else union_all(*selects)


def count_statement(n_boxes: int):
    """How many locations lie in the boxes, from the R*Tree alone (to size the first ring:
    the few at a box's edge it may count in excess do not matter there)."""
    return select(func.count()).select_from(candidates(n_boxes).subquery("candidates"))


# Wider than a 32-bit float's rounding of any latitude or longitude (at most 1.6e-5 degrees at
# ±180, rounded outward on both sides), far narrower than anything searched.
_POINT_WIDTH = 1e-4


_STALE = (
    "SELECT 'location', l.id FROM practice_locations l LEFT JOIN location_rtree r ON r.id = l.id "
    "WHERE l.lat IS NOT NULL AND l.lng IS NOT NULL AND (r.id IS NULL "
    "OR NOT (r.min_lat <= l.lat AND l.lat <= r.max_lat AND r.min_lng <= l.lng "
    "AND l.lng <= r.max_lng) "
    "OR r.max_lat - r.min_lat > ? OR r.max_lng - r.min_lng > ?) "
    "UNION ALL SELECT 'entry', r.id FROM location_rtree r "
    "LEFT JOIN practice_locations l ON l.id = r.id "
    "WHERE l.id IS NULL OR l.lat IS NULL OR l.lng IS NULL")


def stale_entries(connection) -> list[tuple]:
    """Where the R*Tree and the locations disagree (SQLite; empty when they match): located
    locations without their entry or whose entry does not hold their point alone, and entries
    of no located location. Checked after every test (tests/conftest.py)."""
    return [tuple(row) for row in connection.exec_driver_sql(_STALE, (_POINT_WIDTH,) * 2)]
