"""The location search: nearest listed practitioners to a point, with filters.

The same SQL runs on SQLite and PostgreSQL. Each query is bounded by a box on the composite
(lat, lng) index, computes the haversine distance in SQL, applies the listing rule and the
filters, keeps each practitioner's nearest location, and orders by distance then name.

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
from datetime import UTC, date, datetime
from functools import lru_cache
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import and_, bindparam, exists, func, or_, select

from directory import geo, listing
from directory.extensions import db
from directory.models import (
    Certification,
    PracticeLocation,
    Practitioner,
    PractitionerTag,
    TrainingProgram,
)
from directory.models.base import utcnow

EARTH_RADIUS_KM = 6371.0088
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


@dataclass(frozen=True)
class Filters:
    """What a patient narrowed the search to; None means any."""

    profession: str | None = None
    technique: str | None = None
    condition: str | None = None
    language: str | None = None
    accepting: bool | None = None
    accessible: bool | None = None


@dataclass
class Hit:
    """One practitioner at their nearest location (read-only records of the columns listed in
    HIT_PRACTITIONER and HIT_LOCATION)."""

    practitioner: SimpleNamespace
    location: SimpleNamespace
    distance_km: float


@dataclass
class Results:
    """A page of hits and the count (exact up to MAX_RESULTS, then capped)."""

    hits: list[Hit]
    total: int
    capped: bool
    page: int
    per_page: int
    radius_km: float
    queries: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        """How many pages the (capped) results fill."""
        return max(1, math.ceil(self.total / self.per_page))


def haversine_sql():
    """The great-circle distance in km from the point given as bind parameters (rlat, rlng in
    radians, coslat = cos(rlat)) to a location row, as a SQL expression."""
    loc = PracticeLocation
    half_dlat = (func.radians(loc.lat) - bindparam("rlat")) / 2
    half_dlng = (func.radians(loc.lng) - bindparam("rlng")) / 2
    a = (func.power(func.sin(half_dlat), 2)
         + bindparam("coslat") * func.cos(func.radians(loc.lat))
         * func.power(func.sin(half_dlng), 2))
    # Within MAX_RADIUS_KM, a stays far below 1, so asin never leaves its domain.
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(a))


def _box_clause(n_boxes: int):
    return or_(*(and_(PracticeLocation.lat.between(bindparam(f"b{i}_s"), bindparam(f"b{i}_n")),
                      PracticeLocation.lng.between(bindparam(f"b{i}_w"), bindparam(f"b{i}_e")))
                 for i in range(n_boxes)))


def _filter_clauses(shape: tuple[str, ...]) -> list:
    clauses = []
    if "profession" in shape:
        clauses.append(Practitioner.profession == bindparam("profession"))
    for kind in ("technique", "condition", "language"):
        if kind in shape:
            tag = PractitionerTag.__table__.alias(f"tag_{kind}")
            clauses.append(exists().where(
                tag.c.practitioner_id == Practitioner.id, tag.c.kind == kind,
                tag.c.code == bindparam(kind)))
    if "accepting" in shape:
        clauses.append(Practitioner.accepting_new_patients.is_(True))
    if "accessible" in shape:
        clauses.append(PracticeLocation.wheelchair_accessible.is_(True))
    return clauses


@lru_cache(maxsize=256)
def nearest_statement(n_boxes: int, shape: tuple[str, ...]):
    """One SQL query: the nearest listed practitioners within :radius (one row each) who
    confirmed their details since :attested_since, built once per combination of filters and
    reused with new parameters (the values are bound)."""
    distance = haversine_sql().label("distance_km")
    located = (
        select(PracticeLocation.id.label("location_id"),
               PracticeLocation.practitioner_id.label("practitioner_id"),
               Practitioner.full_name.label("name"), distance)
        .join(Practitioner, Practitioner.id == PracticeLocation.practitioner_id)
        .where(_box_clause(n_boxes), Practitioner.listed_until >= bindparam("today"),
               Practitioner.attested_at >= bindparam("attested_since"),
               *_filter_clauses(shape))
        .subquery("located")
    )
    ranked = (
        select(located, func.row_number().over(
            partition_by=located.c.practitioner_id,
            order_by=(located.c.distance_km, located.c.location_id)).label("rank"))
        .where(located.c.distance_km <= bindparam("radius"))
        .subquery("ranked")
    )
    return (
        select(ranked.c.practitioner_id, ranked.c.location_id, ranked.c.distance_km)
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.distance_km, ranked.c.name, ranked.c.practitioner_id)
        .limit(bindparam("limit"))
    )


@lru_cache(maxsize=8)
def _probe_statement(n_boxes: int):
    """How many locations lie in the box: read from the (lat, lng) index alone."""
    return select(func.count()).select_from(PracticeLocation).where(_box_clause(n_boxes))


def _shape(filters: Filters) -> tuple[str, ...]:
    return tuple(name for name in ("profession", "technique", "condition", "language")
                 if getattr(filters, name)) + (
        ("accepting",) if filters.accepting else ()) + (
        ("accessible",) if filters.accessible else ())


def _params(lat: float, lng: float, radius_km: float, filters: Filters, today: date,
            limit: int) -> tuple[int, dict]:
    boxes = geo.bounding_boxes(lat, lng, radius_km)
    # Now, moved to the day searched (the real today unless a caller asks about another day).
    now = datetime.combine(today, utcnow().time(), tzinfo=UTC)
    params = {"rlat": math.radians(lat), "rlng": math.radians(lng),
              "coslat": math.cos(math.radians(lat)), "radius": radius_km, "today": today,
              "attested_since": listing.attested_since(now), "limit": limit}
    for i, (south, north, west, east) in enumerate(boxes):
        params.update({f"b{i}_s": south, f"b{i}_n": north, f"b{i}_w": west, f"b{i}_e": east})
    for name in ("profession", "technique", "condition", "language"):
        if getattr(filters, name):
            params[name] = getattr(filters, name)
    return len(boxes), params


def nearest(lat: float, lng: float, radius_km: float, filters: Filters, limit: int,
            today: date) -> list:
    """Rows (practitioner_id, location_id, distance_km) of one ring."""
    n_boxes, params = _params(lat, lng, radius_km, filters, today, limit)
    connection = db.session.connection()
    return connection.execute(nearest_statement(n_boxes, _shape(filters)), params).all()


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
    return db.session.connection().execute(_probe_statement(n_boxes), params).scalar_one()


def search(lat: float, lng: float, radius_km: float, filters: Filters | None = None,
           page: int = 1, per_page: int = 20, today: date | None = None) -> Results:
    """The page of nearest listed practitioners, widening the ring until it has enough."""
    filters = filters or Filters()
    today = today or utcnow().date()
    radius_km = min(max(float(radius_km), 0.1), MAX_RADIUS_KM)
    wanted = MAX_RESULTS + 1  # one more than the cap tells "more than MAX_RESULTS"
    ring = first_ring(lat, lng, radius_km, wanted)
    queries = 1
    while True:
        queries += 1
        rows = nearest(lat, lng, ring, filters, wanted, today)
        if len(rows) >= wanted or ring >= radius_km:
            break
        # Grow by the density seen so far (area grows with the square of the radius).
        growth = math.sqrt(wanted / max(len(rows), 1)) * 1.2
        ring = min(radius_km, ring * min(max(growth, 2.0), 8.0))
    capped = len(rows) > MAX_RESULTS
    rows = rows[:MAX_RESULTS]
    start = (page - 1) * per_page
    window = rows[start:start + per_page]
    return Results(hits=_load_hits(window), total=len(rows), capped=capped, page=page,
                   per_page=per_page, radius_km=radius_km, queries=queries + bool(window))


HIT_PRACTITIONER = (Practitioner.id, Practitioner.slug, Practitioner.full_name,
                    Practitioner.post_nominals, Practitioner.profession, Practitioner.is_demo,
                    Practitioner.accepting_new_patients)
HIT_LOCATION = (PracticeLocation.id, PracticeLocation.clinic_name, PracticeLocation.city,
                PracticeLocation.region, PracticeLocation.postcode, PracticeLocation.country,
                PracticeLocation.lat, PracticeLocation.lng, PracticeLocation.wheelchair_accessible)


@lru_cache(maxsize=1)
def _hits_statement():
    """The columns a result list shows, for the locations given as :ids (built once)."""
    return (select(*HIT_PRACTITIONER, *HIT_LOCATION)
            .join(PracticeLocation, PracticeLocation.practitioner_id == Practitioner.id)
            .where(PracticeLocation.id.in_(bindparam("ids", expanding=True))))


def _load_hits(rows) -> list[Hit]:
    """What the result list shows of a page's practitioners and locations, in one query.

    Plain read-only records rather than ORM objects: a results page only reads a few columns.
    """
    if not rows:
        return []
    width = len(HIT_PRACTITIONER)
    p_keys = [c.key for c in HIT_PRACTITIONER]
    l_keys = [c.key for c in HIT_LOCATION]
    loaded = {}
    for values in db.session.connection().execute(
            _hits_statement(), {"ids": [r.location_id for r in rows]}):
        practitioner = SimpleNamespace(**dict(zip(p_keys, values[:width], strict=True)))
        location = SimpleNamespace(**dict(zip(l_keys, values[width:], strict=True)))
        loaded[location.id] = (practitioner, location)
    return [Hit(*loaded[r.location_id], float(r.distance_km)) for r in rows]


@lru_cache(maxsize=1)
def _certifications_statement():
    """The shown certifications of the practitioners given as :ids on :today (built once)."""
    program = TrainingProgram
    return (select(Certification.practitioner_id, Certification.submitted_name,
                   Certification.level, Certification.verified_at, Certification.expires_on,
                   Certification.public_code, program.id.label("program_id"), program.name,
                   program.organisation, program.organisation_acronym,
                   program.level.label("program_level"))
            .outerjoin(program, program.id == Certification.program_id)
            .where(Certification.practitioner_id.in_(bindparam("ids", expanding=True)),
                   listing.shown_clause(bindparam("today")))
            .order_by(Certification.verified_at, Certification.id))


def verified_certifications(practitioner_ids: list[int], today: date | None = None
                            ) -> dict[int, list[SimpleNamespace]]:
    """The shown (verified, unexpired) certifications of several practitioners, in one query,
    as read-only records with what result lists show (program may be None)."""
    today = today or utcnow().date()
    out: dict[int, list[SimpleNamespace]] = {pid: [] for pid in practitioner_ids}
    if not practitioner_ids:
        return out
    for row in db.session.connection().execute(
            _certifications_statement(), {"ids": practitioner_ids, "today": today}):
        out[row.practitioner_id].append(SimpleNamespace(
            submitted_name=row.submitted_name, level=row.level, verified_at=row.verified_at,
            expires_on=row.expires_on, public_code=row.public_code,
            program=None if row.program_id is None else SimpleNamespace(
                name=row.name, organisation=row.organisation,
                organisation_acronym=row.organisation_acronym, level=row.program_level)))
    return out


__all__ = ["MAX_RESULTS", "RADII_KM", "Filters", "Hit", "Results", "search"]
