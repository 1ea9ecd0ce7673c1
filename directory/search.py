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
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Float, and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import selectinload

from directory import geo, listing
from directory.extensions import db
from directory.models import Certification, PracticeLocation, Practitioner, PractitionerTag
from directory.models.base import utcnow

EARTH_RADIUS_KM = 6371.0088
MAX_RESULTS = 200
RADII_KM = (5, 10, 25, 50, 100)
MAX_RADIUS_KM = 500.0
FIRST_RING_KM = 2.0


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
    """One practitioner at their nearest location."""

    practitioner: Practitioner
    location: PracticeLocation
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


def haversine_sql(lat: float, lng: float):
    """The great-circle distance in km from (lat, lng) to a location row, as a SQL expression."""
    loc = PracticeLocation
    rlat, rlng = math.radians(lat), math.radians(lng)
    half_dlat = (func.radians(loc.lat) - rlat) / 2
    half_dlng = (func.radians(loc.lng) - rlng) / 2
    a = (func.power(func.sin(half_dlat), 2)
         + math.cos(rlat) * func.cos(func.radians(loc.lat)) * func.power(func.sin(half_dlng), 2))
    a = case((a > 1.0, literal(1.0, Float)), else_=a)  # rounding must not leave asin's domain
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(a))


def _filter_clauses(filters: Filters) -> list:
    clauses = []
    if filters.profession:
        clauses.append(Practitioner.profession == filters.profession)
    for kind, code in (("technique", filters.technique), ("condition", filters.condition),
                       ("language", filters.language)):
        if code:
            clauses.append(exists().where(
                PractitionerTag.practitioner_id == Practitioner.id,
                PractitionerTag.kind == kind, PractitionerTag.code == code))
    if filters.accepting is not None:
        clauses.append(Practitioner.accepting_new_patients.is_(filters.accepting))
    if filters.accessible:
        clauses.append(PracticeLocation.wheelchair_accessible.is_(True))
    return clauses


def nearest_query(lat: float, lng: float, radius_km: float, filters: Filters, limit: int,
                  today: date, offset: int = 0):
    """One SQL query: the nearest listed practitioners within radius_km (one row each)."""
    distance = haversine_sql(lat, lng).label("distance_km")
    boxes = [and_(PracticeLocation.lat.between(b[0], b[1]),
                  PracticeLocation.lng.between(b[2], b[3]))
             for b in geo.bounding_boxes(lat, lng, radius_km)]
    located = (
        select(PracticeLocation.id.label("location_id"),
               PracticeLocation.practitioner_id.label("practitioner_id"),
               Practitioner.full_name.label("name"), distance)
        .join(Practitioner, Practitioner.id == PracticeLocation.practitioner_id)
        .where(or_(*boxes), listing.listed_clause(today), *_filter_clauses(filters))
        .subquery("located")
    )
    ranked = (
        select(located, func.row_number().over(
            partition_by=located.c.practitioner_id,
            order_by=(located.c.distance_km, located.c.location_id)).label("rank"))
        .where(located.c.distance_km <= radius_km)
        .subquery("ranked")
    )
    return (
        select(ranked.c.practitioner_id, ranked.c.location_id, ranked.c.distance_km)
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.distance_km, ranked.c.name, ranked.c.practitioner_id)
        .offset(offset).limit(limit)
    )


def search(lat: float, lng: float, radius_km: float, filters: Filters | None = None,
           page: int = 1, per_page: int = 20, today: date | None = None) -> Results:
    """The page of nearest listed practitioners, widening the ring until it has enough."""
    filters = filters or Filters()
    today = today or utcnow().date()
    radius_km = min(max(float(radius_km), 0.1), MAX_RADIUS_KM)
    wanted = MAX_RESULTS + 1  # one more than the cap tells "more than MAX_RESULTS"
    ring = min(radius_km, FIRST_RING_KM)
    queries = 0
    while True:
        queries += 1
        rows = db.session.execute(nearest_query(lat, lng, ring, filters, wanted, today)).all()
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
                   per_page=per_page, radius_km=radius_km, queries=queries)


def _load_hits(rows) -> list[Hit]:
    """The practitioners and locations of a page, with what the result list shows."""
    if not rows:
        return []
    practitioners = {p.id: p for p in db.session.scalars(
        select(Practitioner).where(Practitioner.id.in_([r.practitioner_id for r in rows]))
        .options(selectinload(Practitioner.tags)))}
    locations = {loc.id: loc for loc in db.session.scalars(
        select(PracticeLocation).where(PracticeLocation.id.in_([r.location_id for r in rows])))}
    return [Hit(practitioners[r.practitioner_id], locations[r.location_id], float(r.distance_km))
            for r in rows]


def verified_certifications(practitioner_ids: list[int], today: date | None = None
                            ) -> dict[int, list[Certification]]:
    """The shown (verified, unexpired) certifications of several practitioners in one query."""
    today = today or utcnow().date()
    out: dict[int, list[Certification]] = {pid: [] for pid in practitioner_ids}
    if not practitioner_ids:
        return out
    for cert in db.session.scalars(
            select(Certification).where(
                Certification.practitioner_id.in_(practitioner_ids),
                Certification.status == "verified",
                or_(Certification.expires_on.is_(None), Certification.expires_on >= today))
            .options(selectinload(Certification.program))
            .order_by(Certification.verified_at)):
        out[cert.practitioner_id].append(cert)
    return out


__all__ = ["MAX_RESULTS", "RADII_KM", "Filters", "Hit", "Results", "search"]
