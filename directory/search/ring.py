"""The location search: nearest searchable practitioners to a point, with filters.

The same SQL runs on SQLite and PostgreSQL. Each query is bounded by a box on the composite
(lat, lng) index (on SQLite, the box's locations are found by an R*Tree first:
directory.search.rtree), computes the haversine distance in SQL, applies the searchable rule
(directory.listing: listed, and confirmed accurate within 12 months) and the filters, keeps
each practitioner's nearest location, and orders by distance then name; the same statement
counts the results and returns what the requested page shows of them.

At a dense city centre a 25 km circle can hold tens of thousands of practitioners; computing
every distance there costs hundreds of milliseconds. So the search widens a ring from a small
radius until it has enough results (at most MAX_RESULTS + 1) or reaches the requested radius:
the nearest practitioners come from the smallest box that holds them, and the count is exact up
to MAX_RESULTS and reported as "more than" beyond it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import Float, Integer, and_, bindparam, cast, func, null, or_, select, true

from directory import geo, listing
from directory.credentials import rules
from directory.credentials.rules import Scope
from directory.extensions import db
from directory.models import (
    Certification,
    PracticeLocation,
    Practitioner,
    TrainingProgram,
)
from directory.models.base import utcnow
from directory.search import filters as search_filters
from directory.search import names, rtree
from directory.search.filters import Filters

RADIANS_PER_DEGREE = math.pi / 180
MAX_RESULTS = 200
RADII_KM = (5, 10, 25, 50, 100)
MAX_RADIUS_KM = 500.0
FIRST_RING_KM = 2.0
MIN_RING_KM = 0.2
# The first ring's size comes from a count of nearby locations, kept per cell of this size
# (degrees, about 2 km) for this long (seconds), for at most this many cells per process.
DENSITY_CELL_DEG = 0.02
DENSITY_TTL_S = 600.0
DENSITY_CELLS = 50_000


@dataclass
class Hit:
    """One practitioner at their nearest location, with the certifications the public sees
    (read-only records of the columns listed in HIT_PRACTITIONER, HIT_LOCATION and
    HIT_CERTIFICATION)."""

    practitioner: SimpleNamespace
    location: SimpleNamespace
    distance_km: float | None  # None: found by name, without a place
    certifications: list[SimpleNamespace] = field(default_factory=list)
    rule_id: int | None = None
    # Whether the profession may dry-needle where this location is (rules.Scope), or None
    # without a profession.
    scope: Scope | None = None


@dataclass
class Results:
    """A page of hits and the count (exact up to MAX_RESULTS, then capped)."""

    hits: list[Hit]
    total: int
    capped: bool
    page: int
    per_page: int
    radius_km: float

    @property
    def pages(self) -> int:
        """How many pages the (capped) results fill."""
        return max(1, math.ceil(self.total / self.per_page))


def haversine_sql():
    """The great-circle distance in km from the point given as bind parameters (rlat, rlng in
    radians, coslat = cos(rlat)) to a location row, as a SQL expression.

    The haversine formula, with hav(x) = (1 - cos x) / 2 (the same as sin²(x / 2), in three
    function calls per row instead of eight; at short distances its rounding stays far below a
    millimetre).
    """
    loc = PracticeLocation
    lat, lng = loc.lat * RADIANS_PER_DEGREE, loc.lng * RADIANS_PER_DEGREE
    a = ((1 - func.cos(lat - bindparam("rlat"))) / 2
         + bindparam("coslat") * func.cos(lat) * (1 - func.cos(lng - bindparam("rlng"))) / 2)
    # Within MAX_RADIUS_KM, a stays far below 1, so asin never leaves its domain.
    return 2 * geo.EARTH_RADIUS_KM * func.asin(func.sqrt(a))


def _box_clause(n_boxes: int, index: str = "btree"):
    """The locations in the ring's boxes (bind parameters b{i}_s, _n, _w, _e): read from the
    (lat, lng) index, or with index="rtree" (SQLite: rtree.box_index()) from the locations the
    R*Tree finds there, the same box applied to their rows."""
    box = or_(*(and_(PracticeLocation.lat.between(bindparam(f"b{i}_s"), bindparam(f"b{i}_n")),
                     PracticeLocation.lng.between(bindparam(f"b{i}_w"), bindparam(f"b{i}_e")))
                for i in range(n_boxes)))
    if index == "rtree":
        return and_(PracticeLocation.id.in_(rtree.candidates(n_boxes)), box)
    return box


# What a result shows, by attribute name: hit.practitioner.<name>, hit.location.<name>,
# cert.<name> and cert.program.<name>. The query labels each column with its record and name.
HIT_PRACTITIONER = {"id": Practitioner.id, "slug": Practitioner.slug,
                    "full_name": Practitioner.full_name,
                    "post_nominals": Practitioner.post_nominals,
                    "profession": Practitioner.profession, "is_demo": Practitioner.is_demo,
                    "accepting_new_patients": Practitioner.accepting_new_patients,
                    "photo_key": Practitioner.photo_key}
HIT_LOCATION = {"id": PracticeLocation.id, "clinic_name": PracticeLocation.clinic_name,
                "city": PracticeLocation.city, "region": PracticeLocation.region,
                "postcode": PracticeLocation.postcode, "country": PracticeLocation.country,
                "region_code": PracticeLocation.region_code,
                "lat": PracticeLocation.lat, "lng": PracticeLocation.lng,
                "wheelchair_accessible": PracticeLocation.wheelchair_accessible}
HIT_CERTIFICATION = {"id": Certification.id, "submitted_name": Certification.submitted_name,
                     "level": Certification.level, "verified_at": Certification.verified_at,
                     "expires_on": Certification.expires_on,
                     "public_code": Certification.public_code}
HIT_PROGRAM = {"id": TrainingProgram.id, "name": TrainingProgram.name,
               "organisation": TrainingProgram.organisation,
               "organisation_acronym": TrainingProgram.organisation_acronym,
               "level": TrainingProgram.level}
HIT_COLUMNS = {"practitioner": HIT_PRACTITIONER, "location": HIT_LOCATION,
               "certification": HIT_CERTIFICATION, "program": HIT_PROGRAM}


def _labelled_hit_columns() -> list:
    return [column.label(f"{record}_{name}") for record, columns in HIT_COLUMNS.items()
            for name, column in columns.items()]


@lru_cache(maxsize=256)
def nearest_statement(n_boxes: int, shape: tuple[str, ...], dialect: str = "sqlite",
                      named: bool = False, index: str = "btree"):
    """One SQL query for one ring: how many searchable practitioners lie within :radius (counted
    up to :limit, one each at their nearest location, nearest first, then by name), and for
    those from :start to :start + :page_size what the result list shows, with their shown
    certifications. Built once per combination of filters (and of a name query or none) and
    reused with new parameters.

    The searchable rule (listing.searchable_location_clause) and the order by name read the
    copies each location carries of its practitioner (kept by directory.listing), so without a
    profession or "accepting" filter the box is read from the (lat, lng) index alone;
    practitioners, locations and certifications are read only for the page. A name query
    (directory.search.names) keeps the practitioners its full-text index finds. With
    index="rtree" (SQLite) the box's locations come from the R*Tree (directory.search.rtree).
    """
    distance = haversine_sql().label("distance_km")
    located = (
        select(PracticeLocation.id.label("location_id"),
               PracticeLocation.practitioner_id.label("practitioner_id"),
               PracticeLocation.practitioner_name.label("name"), distance)
        .where(_box_clause(n_boxes, index), *_location_clauses(shape, dialect, named))
    )
    if search_filters.needs_practitioner(shape):
        located = located.join(Practitioner,
                               Practitioner.id == PracticeLocation.practitioner_id)
    located = located.subquery("located")
    ranked = (
        select(located, func.row_number().over(
            partition_by=located.c.practitioner_id,
            order_by=(located.c.distance_km, located.c.location_id)).label("rank"))
        .where(located.c.distance_km <= bindparam("radius"))
        .subquery("ranked")
    )
    nearest = (
        select(ranked.c.practitioner_id, ranked.c.location_id, ranked.c.distance_km,
               ranked.c.name)
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.distance_km, ranked.c.name, ranked.c.practitioner_id)
        .limit(bindparam("limit"))
        .cte("nearest")
    )
    return _page_of(nearest, lambda c: (c.distance_km, c.name, c.practitioner_id))


def _location_clauses(shape: tuple[str, ...], dialect: str, named: bool) -> list:
    """What every searched location must satisfy: its practitioner searchable, the filters,
    and the name query when there is one."""
    found = [listing.searchable_location_clause(bindparam("today"), bindparam("attested_since")),
             *search_filters.clauses(shape)]
    if named:
        found.append(names.match_clause(dialect, PracticeLocation.practitioner_id))
    return found


@lru_cache(maxsize=64)
def named_statement(shape: tuple[str, ...], dialect: str, size: int, in_country: bool = False):
    """The search by name without a place: the practitioners the name query finds (counted up
    to :limit), best match first (names.rank_expression, then their words, then id), each at
    their first location (in :country, when `in_country`), with what the result list shows of
    those on the page."""
    if dialect == "postgresql":
        return _named_statement_by_practitioner(shape, size, in_country)
    where = _location_clauses(shape, dialect, True)
    if in_country:
        where.append(PracticeLocation.country == bindparam("country"))
    located = (
        select(PracticeLocation.id.label("location_id"),
               PracticeLocation.practitioner_id.label("practitioner_id"),
               func.row_number().over(partition_by=PracticeLocation.practitioner_id,
                                      order_by=PracticeLocation.id).label("rank"))
        .where(*where)
    )
    if search_filters.needs_practitioner(shape):
        located = located.join(Practitioner,
                               Practitioner.id == PracticeLocation.practitioner_id)
    located = located.subquery("located")
    score = names.rank_expression(size).label("score")
    key = names.order_key(dialect).label("name")
    nearest = (
        select(located.c.practitioner_id, located.c.location_id,
               cast(null(), Float).label("distance_km"), key, score)
        .join(Practitioner, Practitioner.id == located.c.practitioner_id)
        .where(located.c.rank == 1)
        .order_by(score.desc(), key, located.c.practitioner_id)
        .limit(bindparam("limit"))
        .cte("nearest")
    )
    return _page_of(nearest, lambda c: (c.score.desc(), c.name, c.practitioner_id))


def _named_statement_by_practitioner(shape: tuple[str, ...], size: int, in_country: bool):
    """named_statement on PostgreSQL, the same rows: the matched practitioners ranked from their
    own rows (read once, by the full-text index), then, in that order, each one's first
    location that qualifies (a LATERAL look-up) until :limit are found. A common surname
    matches thousands: ranked first, only the best 201 have their locations read (the
    location-first order read every match's location and its row again: 21 ms at 1,000,000,
    against the 10 ms target)."""
    where = _location_clauses(shape, "postgresql", False)
    if in_country:
        where.append(PracticeLocation.country == bindparam("country"))
    first = (select(PracticeLocation.id.label("location_id"))
             .where(PracticeLocation.practitioner_id == Practitioner.id, *where)
             .order_by(PracticeLocation.id).limit(1).lateral("first_location"))
    score = names.rank_expression(size).label("score")
    key = names.order_key("postgresql").label("name")
    nearest = (
        select(Practitioner.id.label("practitioner_id"), first.c.location_id,
               cast(null(), Float).label("distance_km"), key, score)
        .select_from(Practitioner).join(first, true())
        .where(names.document_matches("postgresql"))
        .order_by(score.desc(), key, Practitioner.id)
        .limit(bindparam("limit"))
        .cte("nearest")
    )
    return _page_of(nearest, lambda c: (c.score.desc(), c.name, c.practitioner_id))


def _page_of(nearest, order):
    """From the found practitioners (a CTE: practitioner_id, location_id, distance_km, name) in
    the order order(columns) gives: their count, and the rows of the page from :start
    (:page_size of them), one per shown certification, with the columns the hits read."""
    # The page size is written into the SQL, not bound: told how few rows the page holds,
    # SQLite reads each one's certifications by index; with an unknown LIMIT its planner may
    # first build a Bloom filter over the whole certifications table (20 ms at 100,000).
    page = (select(nearest).order_by(*order(nearest.c))
            .limit(bindparam("page_size", type_=Integer, literal_execute=True))
            .offset(bindparam("start")).subquery("page"))
    found = select(func.count().label("found")).select_from(nearest).subquery("found")
    # One row even when the page is empty (it carries the count); then one per certification.
    scope_rule = rules.governing_rule_id_sql(PracticeLocation.region_code,
                                             PracticeLocation.country, Practitioner.profession)
    return (
        select(found.c.found, page.c.distance_km, scope_rule.label("scope_rule_id"),
               *_labelled_hit_columns())
        .select_from(found)
        .outerjoin(page, true())
        .outerjoin(Practitioner, Practitioner.id == page.c.practitioner_id)
        .outerjoin(PracticeLocation, PracticeLocation.id == page.c.location_id)
        .outerjoin(Certification, and_(Certification.practitioner_id == Practitioner.id,
                                       listing.shown_clause(bindparam("today"))))
        .outerjoin(TrainingProgram, TrainingProgram.id == Certification.program_id)
        .order_by(*order(page.c), Certification.verified_at, Certification.id)
    )


@lru_cache(maxsize=8)
def _probe_statement(n_boxes: int, index: str = "btree"):
    """How many locations lie in the box: read from the (lat, lng) index alone, or the
    R*Tree alone."""
    if index == "rtree":
        return rtree.count_statement(n_boxes)
    return select(func.count()).select_from(PracticeLocation).where(_box_clause(n_boxes))


def _params(lat: float, lng: float, radius_km: float, filters: Filters, today: date,
            limit: int) -> tuple[int, dict]:
    boxes = geo.bounding_boxes(lat, lng, radius_km)
    # Now, moved to the day searched (the real today unless a caller asks about another day).
    now = listing.now_on(today)
    params = {"rlat": math.radians(lat), "rlng": math.radians(lng),
              "coslat": math.cos(math.radians(lat)), "radius": radius_km, "today": today,
              "attested_since": listing.attested_since(now), "limit": limit}
    for i, (south, north, west, east) in enumerate(boxes):
        params.update({f"b{i}_s": south, f"b{i}_n": north, f"b{i}_w": west, f"b{i}_e": east})
    params.update(filters.parameters())
    return len(boxes), params


def nearest(lat: float, lng: float, radius_km: float, filters: Filters, limit: int,
            today: date, start: int = 0, page_size: int = 0,
            name: names.NameQuery | None = None) -> tuple[int, list[Hit]]:
    """One ring: how many practitioners it holds (up to `limit`) and the hits from `start`."""
    n_boxes, params = _params(lat, lng, radius_km, filters, today, limit)
    params.update(start=start, page_size=page_size)
    connection = db.session.connection()
    dialect = connection.dialect.name
    if name is not None:
        params.update(name.parameters(dialect))
    statement = nearest_statement(n_boxes, filters.shape, dialect, name is not None,
                                  rtree.box_index(dialect, radius_km))
    rows = connection.execute(statement, params).all()
    return rows[0].found, _hits(rows)


def first_ring(lat: float, lng: float, radius_km: float, wanted: int) -> float:
    """A first radius expected to hold about `wanted` locations, from the index alone."""
    probe = min(radius_km, FIRST_RING_KM)
    found = _locations_near(lat, lng, probe)
    if found == 0:
        return min(radius_km, probe * 4)
    # Area grows with the square of the radius; aim a little past `wanted` (smaller than the
    # probe at a dense city centre, larger where practitioners are sparse).
    return min(radius_km, max(MIN_RING_KM, probe * math.sqrt(1.5 * wanted / found)))


def _locations_near(lat: float, lng: float, probe_km: float) -> int:
    """How many locations the probe box around the point holds, remembered for a few minutes
    per cell of about 2 km: it only sizes the first ring (the search widens the ring when it
    holds too few), and searches come again and again from the same towns."""
    if probe_km != FIRST_RING_KM:
        return _count_in_box(lat, lng, probe_km)
    remembered = current_app.extensions.setdefault("search_density", {})
    cell = (round(lat / DENSITY_CELL_DEG), round(lng / DENSITY_CELL_DEG))
    now = time.monotonic()
    seen = remembered.get(cell)
    if seen is not None and now - seen[0] < DENSITY_TTL_S:
        return seen[1]
    found = _count_in_box(lat, lng, probe_km)
    if len(remembered) >= DENSITY_CELLS:
        remembered.clear()
    remembered[cell] = (now, found)
    return found


def _count_in_box(lat: float, lng: float, probe_km: float) -> int:
    n_boxes, params = _params(lat, lng, probe_km, Filters(), utcnow().date(), 0)
    connection = db.session.connection()
    statement = _probe_statement(n_boxes, rtree.box_index(connection.dialect.name))
    return connection.execute(statement, params).scalar_one()


# How results can be ordered: the parameter's value → its words. Distance is the default;
# the others order the nearest MAX_RESULTS (all the results unless the count is capped).
SORTS: dict[str, str] = {
    "distance": "Distance",
    "name": "Name",
    "accepting": "Accepting new patients first",
}
DEFAULT_SORT = "distance"


def _sort_key(sort: str):
    """How hits are ordered for a sort other than distance. The same in Python on both
    databases: their collations order accented and mixed-case names differently."""
    def key(hit: Hit) -> tuple:
        name = " ".join(names.words(hit.practitioner.full_name))
        if sort == "name":
            return (name, hit.distance_km, hit.practitioner.id)
        return (not hit.practitioner.accepting_new_patients, hit.distance_km, name,
                hit.practitioner.id)
    return key


def search(lat: float, lng: float, radius_km: float, filters: Filters | None = None,
           page: int = 1, per_page: int = 20, today: date | None = None,
           sort: str = DEFAULT_SORT, name: names.NameQuery | None = None) -> Results:
    """The page of nearest searchable practitioners, widening the ring until it has enough,
    ordered by distance (then name) or as `sort` says (one of SORTS); with a name query, only
    those it finds (directory.search.names)."""
    if sort not in SORTS:
        raise ValueError(f"Not a sort order: {sort!r}")
    filters = filters or Filters()
    today = today or utcnow().date()
    radius_km = min(max(float(radius_km), 0.1), MAX_RADIUS_KM)
    wanted = MAX_RESULTS + 1  # one more than the cap tells "more than MAX_RESULTS"
    # A name finds few practitioners: one query over the whole area, rather than rings
    # sized for everyone there.
    ring = radius_km if name is not None else first_ring(lat, lng, radius_km, wanted)
    start = (page - 1) * per_page
    # The page, cut at the cap (the count asks for one more than MAX_RESULTS).
    page_size = max(0, min(per_page, MAX_RESULTS - start))
    # Another order than distance reads all the (capped) results and orders them here.
    read_from, read_size = (start, page_size) if sort == DEFAULT_SORT else (0, MAX_RESULTS)
    while True:
        found, hits = nearest(lat, lng, ring, filters, wanted, today, read_from, read_size,
                              name)
        if found >= wanted or ring >= radius_km:
            break
        # Grow by the density seen so far (area grows with the square of the radius).
        growth = math.sqrt(wanted / max(found, 1)) * 1.2
        ring = min(radius_km, ring * min(max(growth, 2.0), 8.0))
    if sort != DEFAULT_SORT:
        hits = sorted(hits, key=_sort_key(sort))[start:start + page_size]
    _add_scopes(hits)
    return Results(hits=hits, total=min(found, MAX_RESULTS), capped=found > MAX_RESULTS,
                   page=page, per_page=per_page, radius_km=radius_km)


def search_by_name(name: names.NameQuery, filters: Filters | None = None, page: int = 1,
                   per_page: int = 20, today: date | None = None,
                   sort: str = DEFAULT_SORT, country: str | None = None) -> Results:
    """The page of searchable practitioners a name query finds, anywhere (or practising in
    `country`, an ISO 3166-1 code): best match first (or as `sort` says: "distance" means the
    best match, there being no place), each at their first location, without a distance."""
    if sort not in SORTS:
        raise ValueError(f"Not a sort order: {sort!r}")
    filters = filters or Filters()
    today = today or utcnow().date()
    now = listing.now_on(today)
    start = (page - 1) * per_page
    page_size = max(0, min(per_page, MAX_RESULTS - start))
    read_from, read_size = (start, page_size) if sort == DEFAULT_SORT else (0, MAX_RESULTS)
    connection = db.session.connection()
    dialect = connection.dialect.name
    params = {"today": today, "attested_since": listing.attested_since(now),
              "limit": MAX_RESULTS + 1, "start": read_from, "page_size": read_size,
              **filters.parameters(), **name.parameters(dialect)}
    if country:
        params["country"] = country
    statement = named_statement(filters.shape, dialect, name.size, bool(country))
    rows = connection.execute(statement, params).all()
    found, hits = rows[0].found, _hits(rows)
    if sort != DEFAULT_SORT:
        hits = sorted(hits, key=_sort_key(sort))[start:start + page_size]
    _add_scopes(hits)
    return Results(hits=hits, total=min(found, MAX_RESULTS), capped=found > MAX_RESULTS,
                   page=page, per_page=per_page, radius_km=0.0)


def _add_scopes(hits: list[Hit]) -> None:
    """Each hit's Scope, from the rule the query found for its location (one query for all)."""
    found = rules.rules_by_id(h.rule_id for h in hits)
    for hit in hits:
        if hit.practitioner.profession:
            where = hit.location.region_code or hit.location.country
            hit.scope = rules.scope_of(found.get(hit.rule_id), where, hit.practitioner.profession)


def _record(row, record: str) -> SimpleNamespace:
    return SimpleNamespace(**{name: row[f"{record}_{name}"] for name in HIT_COLUMNS[record]})


def _hits(rows) -> list[Hit]:
    """The page's hits from the ring's rows (one per shown certification, in order).

    Plain read-only records rather than ORM objects: a results page only reads a few columns.
    A certification's program is None when it names a program outside the registry.
    """
    hits: dict[int, Hit] = {}
    for row in rows:
        row = row._mapping
        if row["practitioner_id"] is None:  # an empty page: the row only carries the count
            continue
        hit = hits.get(row["location_id"])
        if hit is None:
            distance = row["distance_km"]
            hit = hits[row["location_id"]] = Hit(
                _record(row, "practitioner"), _record(row, "location"),
                None if distance is None else float(distance), rule_id=row["scope_rule_id"])
        if row["certification_id"] is not None:
            cert = _record(row, "certification")
            cert.program = (None if row["program_id"] is None
                            else _record(row, "program"))
            hit.certifications.append(cert)
    return list(hits.values())


__all__ = ["DEFAULT_SORT", "MAX_RESULTS", "RADII_KM", "SORTS", "Hit", "Results", "search",
           "search_by_name"]
