"""The ring search on SQLite's R*Tree (directory.search.rtree) finds exactly what the portable
(lat, lng) box finds, and the R*Tree follows every write to the practice locations."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, event, insert, inspect, text, update

from directory import listing
from directory.extensions import db
from directory.models import PracticeLocation, Practitioner, PractitionerTag, User
from directory.models.base import utcnow
from directory.search import Filters, names, ring, rtree, search
from tests import factories
from tests.conftest import stale_location_rtree
from tests.factories import DENVER, listed_at, offset

FIJI = (-17.8, 179.9)  # the antimeridian runs through it
NORTH = (89.6, 40.0)
SOUTH = (-89.4, -120.0)
RURAL_BOX = (38.0, 46.0, -110.0, -96.0)  # sparse: the Great Plains


def _point(rng: random.Random, lat: float, lng: float, sigma_km: float) -> tuple[float, float]:
    """A point around (lat, lng), longitude wrapped to [-180, 180), latitude kept inside."""
    dlat = rng.gauss(0, sigma_km) / 111.195
    dlng = rng.gauss(0, sigma_km) / (111.195 * max(math.cos(math.radians(lat)), 0.01))
    return (round(max(-89.99, min(89.99, lat + dlat)), 6),
            round(((lng + dlng + 180) % 360) - 180, 6))


def _world(rng: random.Random) -> None:
    """Practitioners written in bulk (as an import would): a dense city (more than the 200 of
    the cap within 25 km), a sparse countryside, both sides of the antimeridian, near both
    poles, some at the very same point, some not searchable, some locations without a point;
    several professions, tags, "accepting" and wheelchair access."""
    now = utcnow()
    places = ([_point(rng, *DENVER, 9) for _ in range(320)]
              + [(round(rng.uniform(*RURAL_BOX[:2]), 6), round(rng.uniform(*RURAL_BOX[2:]), 6))
                 for _ in range(160)]
              + [_point(rng, *FIJI, 60) for _ in range(70)]
              + [_point(rng, *NORTH, 80) for _ in range(35)]
              + [_point(rng, *SOUTH, 80) for _ in range(35)])
    places += [places[i] for i in rng.sample(range(len(places)), 30)]  # shared points: ties
    users, practitioners, locations, tags = [], [], [], []
    for i, (lat, lng) in enumerate(places, start=1):
        name = f"{rng.choice(['Ada', 'Bo', 'Cy', 'Di'])} {rng.choice(['Ng', 'Ola', 'Poe'])}"
        listed_until = rng.choices([date(9999, 12, 31), None, date.today() - timedelta(days=1)],
                                   [85, 8, 7])[0]
        attested_at = now if rng.random() < 0.93 else now - timedelta(days=500)
        clinic = f"Clinic {i}"
        users.append({"id": 1000 + i, "email": f"r{i}@example.com", "password_hash": "x",
                      "role": "practitioner", "email_confirmed_at": now, "is_active": True,
                      "created_at": now, "updated_at": now})
        practitioners.append({
            "id": i, "user_id": 1000 + i, "slug": f"r-{i}", "full_name": name,
            "post_nominals": "", "profession": rng.choice(["physiotherapist"] * 3
                                                         + ["chiropractor"]),
            "licence_number": f"R{i}", "bio": "", "phone": "", "public_email": "",
            "website": "", "booking_url": "", "accepting_new_patients": rng.random() < 0.7,
            "insurance_notes": "", "is_demo": False, "version": 1,
            "search_words": names.document(name, f"R{i}", None, [clinic]),
            "listed_until": listed_until, "attested_at": attested_at,
            "created_at": now, "updated_at": now})
        copies = {"practitioner_listed_until": listed_until,
                  "practitioner_attested_at": attested_at, "practitioner_name": name}
        spots = [(lat, lng)] + ([_point(rng, lat, lng, 15)] if rng.random() < 0.2 else [])
        if rng.random() < 0.03:
            spots.append((None, None))  # not on the map
        for spot_lat, spot_lng in spots:
            locations.append({
                "practitioner_id": i, "clinic_name": clinic, "street": "", "city": "Town",
                "region": "Colorado", "region_code": "US-CO", "postcode": "",
                "country": rng.choice(["US", "US", "AU", "NZ"]), "lat": spot_lat,
                "lng": spot_lng, "geo_precision": "postcode",
                "wheelchair_accessible": rng.random() < 0.5, "created_at": now,
                "updated_at": now, **copies})
        for code in rng.sample(["trigger_point", "electrical", "deep"], 2):
            tags.append({"practitioner_id": i, "kind": "technique", "code": code})
    for model, rows in ((User, users), (Practitioner, practitioners),
                        (PracticeLocation, locations), (PractitionerTag, tags)):
        db.session.execute(insert(model), rows)
    # Each location's verdict, as directory.listing keeps it.
    db.session.execute(update(PracticeLocation).values(
        {listing.SCOPE_COPY: listing.location_verdict_expression()}))
    db.session.commit()


@pytest.fixture
def every_ring(monkeypatch):
    """Every ring on the R*Tree, however narrow (by default narrow rings read the B-tree:
    rtree.MIN_RING_KM), so that the comparisons below exercise it everywhere."""
    monkeypatch.setattr(rtree, "MIN_RING_KM", 0.0)


def _found(results) -> tuple:
    """Everything a search returns, to compare the two boxes row for row."""
    return (results.total, results.capped, results.pages,
            [(h.practitioner.id, h.location.id, h.distance_km, h.rule_id,
              [c.id for c in h.certifications]) for h in results.hits])


def _search(app, portable: bool, *args, **kwargs):
    app.config["SEARCH_PORTABLE_BOX"] = portable
    # Each box sizes its first ring from its own counts (the results do not depend on it).
    app.extensions["search_density"] = {}
    try:
        return search(*args, **kwargs)
    finally:
        app.config["SEARCH_PORTABLE_BOX"] = False


QUERY_POINTS = [DENVER, offset(*DENVER, km_north=14, km_east=-6), (42.0, -103.0),
                (44.7, -99.1), FIJI, (-17.6, -179.8), (-18.1, 179.99), NORTH, (89.95, -170.0),
                SOUTH, (-89.9, 10.0)]
RADII = (2, 10, 25, 100, 500)
FILTERS = [Filters(), Filters(profession="chiropractor"), Filters(accepting=True),
           Filters(accessible=True), Filters(technique="electrical"),
           Filters(include_not_permitted=True),
           Filters(profession="physiotherapist", technique="deep", accessible=True)]


def test_the_rtree_finds_exactly_what_the_portable_box_finds(app_ctx, every_ring):
    rng = random.Random(19)
    _world(rng)
    capped = crossed = polar = 0
    for point in QUERY_POINTS:
        for radius in RADII:
            for filters in rng.sample(FILTERS, 2):
                page = rng.choice([1, 1, 2, 5, 11])
                sort = rng.choice(["distance", "distance", "name"])
                args = (*point, radius, filters)
                kwargs = {"page": page, "per_page": 20, "sort": sort}
                portable = _found(_search(app_ctx, True, *args, **kwargs))
                found = _found(_search(app_ctx, False, *args, **kwargs))
                assert found == portable, (point, radius, filters, page, sort)
                capped += portable[1]
                lngs = {db.session.get(PracticeLocation, h[1]).lng for h in portable[3]}
                crossed += bool(lngs) and min(lngs) < -179 and max(lngs) > 179
                polar += abs(point[0]) > 89 and bool(portable[3])
    # The comparison met the cap, results on both sides of the antimeridian and at the poles.
    assert capped and crossed and polar


def test_a_name_near_a_place_is_found_alike(app_ctx, every_ring):
    _world(random.Random(3))
    seen = 0
    for typed in ("Ada", "poe", "Di Olaa", "clinic 1"):
        query = names.parse(db.session.connection(), typed)
        for point, radius in ((DENVER, 25), (FIJI, 500), (NORTH, 100)):
            portable, found = (_found(_search(app_ctx, box, *point, radius, name=query))
                               for box in (True, False))
            assert found == portable, (typed, point, radius)
            seen += len(found[3])
    assert seen


def test_every_page_up_to_the_cap_is_the_same(app_ctx, every_ring):
    _world(random.Random(7))
    for filters in (Filters(), Filters(accepting=True)):
        pages = [[_found(_search(app_ctx, portable, *DENVER, 50, filters, page=n, per_page=25))
                  for n in range(1, 10)] for portable in (True, False)]
        assert pages[0] == pages[1]
        total, capped = pages[0][0][:2]
        assert sum(len(p[3]) for p in pages[0]) == total
        if not filters:
            assert (total, capped) == (200, True)  # capped: 200 of more


def test_the_search_reads_the_rtree_on_sqlite_only(app_ctx, every_ring, dialect):
    listed_at(*DENVER, "Ann")
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert [h.practitioner.full_name for h in _search(app_ctx, False, *DENVER, 25).hits] \
            == ["Ann"]
        used = any(rtree.TABLE in s for s in statements)
        statements.clear()
        _search(app_ctx, True, *DENVER, 25)
        assert not any(rtree.TABLE in s for s in statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert used == (dialect == "sqlite")


def test_sqlite_plans_the_ring_from_the_rtree(app_ctx, dialect):
    """SQLite's planner reads the R*Tree for the box, with all four bounds, and each
    candidate's row by its id (not the (lat, lng) index and the R*Tree as a filter). On
    PostgreSQL there is no R*Tree: the statement reads the table and its index alone."""
    listed_at(*DENVER, "Ann")
    seen: list[tuple] = []

    def capture(_conn, _cursor, statement, parameters, *_args):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        ring.nearest(*DENVER, 100, Filters(), 201, date.today(), 0, 20)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    statement, parameters = seen[-1]
    if dialect != "sqlite":
        assert rtree.TABLE not in statement
        assert rtree.TABLE not in inspect(db.engine).get_table_names()
        return
    raw = db.session.connection().connection.driver_connection
    plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
    assert any(rtree.TABLE in step and "VIRTUAL TABLE INDEX" in step for step in plan), plan
    assert not any("ix_practice_locations_lat_lng" in step for step in plan), plan


def test_narrow_rings_read_the_btree_and_wide_ones_the_rtree(app_ctx, dialect):
    wide = rtree.box_index(dialect, rtree.MIN_RING_KM)
    assert (rtree.box_index(dialect, 5.0), wide) == (
        ("btree", "rtree") if dialect == "sqlite" else ("btree", "btree"))
    app_ctx.config["SEARCH_PORTABLE_BOX"] = True
    assert rtree.box_index(dialect, 100.0) == "btree"


# ---------------------------------------------------------------- the R*Tree follows the rows

def _entries() -> dict[int, tuple]:
    """What the box finds locations by: on SQLite the R*Tree's points; on PostgreSQL (no
    R*Tree: the (lat, lng) index of the table itself) the located rows. The same writes must
    leave both right, and the searches below must find the same people on both."""
    if db.engine.dialect.name == "sqlite":
        sql = f"SELECT id, min_lat, max_lat, min_lng, max_lng FROM {rtree.TABLE}"  # noqa: S608
    else:
        sql = "SELECT id, lat, lat, lng, lng FROM practice_locations WHERE lat IS NOT NULL"
    return {row[0]: tuple(row[1:]) for row in db.session.execute(text(sql))}


def _names(lat, lng, radius) -> list[str]:
    return [h.practitioner.full_name for h in search(lat, lng, radius).hits]


def test_locations_added_moved_unplaced_and_deleted(app_ctx):
    ann = listed_at(*DENVER, "Ann")
    location = ann.locations[0]
    assert set(_entries()) == {location.id}
    boulder = (40.01499, -105.27055)
    location.lat, location.lng = boulder
    db.session.commit()
    assert _names(*DENVER, 10) == [] and _names(*boulder, 10) == ["Ann"]
    assert not stale_location_rtree()
    location.lat = location.lng = None  # not on the map any more
    db.session.commit()
    assert _entries() == {} and _names(*boulder, 10) == []
    location.lat, location.lng = DENVER
    second = factories.make_location(ann, lat=boulder[0], lng=boulder[1])
    assert set(_entries()) == {location.id, second.id}
    assert _names(*boulder, 10) == ["Ann"]
    db.session.delete(second)
    db.session.commit()
    assert set(_entries()) == {location.id} and _names(*boulder, 10) == []
    assert not stale_location_rtree()


def test_a_deleted_practitioners_locations_leave_the_rtree(app_ctx):
    ann = listed_at(*DENVER, "Ann")
    bob = listed_at(*offset(*DENVER, km_north=1), "Bob")
    cy = listed_at(*offset(*DENVER, km_north=2), "Cy")
    factories.make_location(bob, lat=DENVER[0], lng=DENVER[1] + 0.01)
    assert len(_entries()) == 4
    db.session.delete(ann)  # through the ORM
    db.session.commit()
    # Through the database's own ON DELETE CASCADE, without the ORM.
    db.session.execute(delete(Practitioner).where(Practitioner.id == bob.id))
    db.session.commit()
    assert set(_entries()) == {cy.locations[0].id}
    assert _names(*DENVER, 10) == ["Cy"]
    assert not stale_location_rtree()


def test_bulk_writes_keep_the_rtree(app_ctx):
    """Writes that bypass the ORM (an import, a data fix) keep it too: the triggers do."""
    ann = listed_at(*DENVER, "Ann")
    db.session.execute(update(PracticeLocation).values(lat=PracticeLocation.lat + 1))
    db.session.commit()
    assert not stale_location_rtree()
    assert _names(DENVER[0] + 1, DENVER[1], 5) == ["Ann"]
    db.session.execute(delete(PracticeLocation).where(PracticeLocation.practitioner_id == ann.id))
    # (the name search's words, which list the clinics, are the flush hook's: put right here)
    names.refresh_search_words(db.session.connection(), [ann.id])
    db.session.commit()
    assert _entries() == {}


def test_a_rolled_back_write_leaves_the_rtree_as_it_was(app_ctx):
    ann = listed_at(*DENVER, "Ann")
    before = _entries()
    ann.locations[0].lat = 10.0
    db.session.add(PracticeLocation(practitioner=ann, clinic_name="X", city="X", country="US",
                                    lat=11.0, lng=11.0))
    db.session.flush()
    assert len(_entries()) == 2
    db.session.rollback()
    assert _entries() == before


def test_the_migration_fills_the_rtree_from_existing_locations(tmp_path):
    from flask_migrate import downgrade, upgrade

    from directory import PACKAGE, create_app
    from tests.conftest import base_config
    from tests.test_migrations import insert_an_old_practitioner

    migrations = str(PACKAGE / "migrations")
    app = create_app(base_config(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path))
    with app.app_context():
        upgrade(directory=migrations, revision="0017")
        with db.engine.begin() as conn:
            insert_an_old_practitioner(conn, [
                {"id": 1, "country": "US", "lat": 39.7392, "lng": -104.9903},
                {"id": 2, "country": "US", "lat": -17.8, "lng": 179.99},
                {"id": 3, "country": "US", "lat": None, "lng": None}])
        upgrade(directory=migrations)
        with db.engine.connect() as conn:
            assert rtree.stale_entries(conn) == []
            assert conn.execute(text(f"SELECT id FROM {rtree.TABLE} ORDER BY id")  # noqa: S608
                                ).scalars().all() == [1, 2]
        downgrade(directory=migrations, revision="0017")
        with db.engine.connect() as conn:
            assert not conn.execute(text(
                "SELECT name FROM sqlite_master WHERE name LIKE :t"),
                {"t": f"{rtree.TABLE}%"}).all()
        db.engine.dispose()


def test_the_rtree_is_outside_the_models_but_compared_like_them():
    """Alembic's comparison leaves out the R*Tree and the tables SQLite makes for it."""
    for name in ("location_rtree", "location_rtree_node", "location_rtree_parent",
                 "location_rtree_rowid"):
        assert names.outside_the_models(name, "table")
    assert not names.outside_the_models("practice_locations", "table")
