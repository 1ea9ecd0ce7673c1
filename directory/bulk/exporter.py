"""Export the searchable directory (listing.searchable_clause: listed, and confirmed accurate
within 12 months, as in search) as CSV or JSON, streamed in batches.

The CSV has the import's columns, one row per practitioner with their first practice location
and their longest-lasting verified certification, so an export imports again into an empty site.
The JSON has every location and every shown certification.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from directory import field_rules, listing
from directory.bulk.columns import NAMES
from directory.bulk.reader import FORMULA_START
from directory.extensions import db
from directory.licences import services as licence_services
from directory.models import Certification, Practitioner
from directory.models.base import utcnow

BATCH = 1000
# Columns written as we format them (numbers, dates, codes): never a formula.
PLAIN = {"lat", "lng", "level", "hours", "in_person_hours", "supervised_sessions",
         "completed_on", "expires_on", "accepting_new_patients", "wheelchair_accessible",
         "licence_country", "country", "profession", "npi"}


def searchable_practitioners(today: date | None = None
                             ) -> Iterator[tuple[Practitioner, list[Certification]]]:
    """Every searchable practitioner (demo data left out), by id, with their shown (verified,
    unexpired) certifications."""
    now = listing.now_on(today)
    today = now.date()
    last = 0
    while True:
        ids = list(db.session.scalars(
            select(Practitioner.id).where(listing.published_clause(now), Practitioner.id > last)
            .order_by(Practitioner.id).limit(BATCH)))
        if not ids:
            return
        practitioners = db.session.scalars(
            select(Practitioner).where(Practitioner.id.in_(ids)).order_by(Practitioner.id)
            .options(joinedload(Practitioner.user), selectinload(Practitioner.tags),
                     selectinload(Practitioner.locations))).all()
        certs: dict[int, list[Certification]] = defaultdict(list)
        for cert in db.session.scalars(
                select(Certification).where(
                    Certification.practitioner_id.in_(ids), listing.shown_clause(today))
                .options(joinedload(Certification.program))
                .order_by(Certification.verified_at.desc(), Certification.id.desc())):
            certs[cert.practitioner_id].append(cert)
        for p in practitioners:
            yield p, certs[p.id]
        last = ids[-1]


def _main_certification(certs: list[Certification]) -> Certification | None:
    """The certification that keeps the practitioner listed longest (the newest on a tie)."""
    if not certs:
        return None
    return max(certs, key=lambda c: c.expires_on or listing.NO_EXPIRY)


def _number(value) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def csv_row(p: Practitioner, certs: list[Certification]) -> dict[str, str]:
    """One practitioner as a row of the import format."""
    loc = p.locations[0] if p.locations else None
    cert = _main_certification(certs)
    row = {
        "email": p.user.email, "full_name": p.full_name, "profession": p.profession or "",
        "post_nominals": p.post_nominals, "licence_number": p.licence_number,
        "licence_country": p.licence_country or "", "licence_region": p.licence_region or "",
        "npi": p.npi or "", "bio": p.bio, "phone": p.phone, "public_email": p.public_email,
        "website": p.website,
        "booking_url": p.booking_url, "languages": field_rules.LIST_SEPARATOR.join(p.languages),
        "techniques": field_rules.LIST_SEPARATOR.join(p.techniques),
        "conditions": field_rules.LIST_SEPARATOR.join(p.conditions),
        "accepting_new_patients": "yes" if p.accepting_new_patients else "no",
        "insurance_notes": p.insurance_notes,
    }
    if loc is not None:
        exact = loc.geo_precision == "exact" and loc.lat is not None
        row |= {"clinic_name": loc.clinic_name, "street": loc.street, "city": loc.city,
                "region": loc.region, "postcode": loc.postcode, "country": loc.country,
                "wheelchair_accessible": "yes" if loc.wheelchair_accessible else "no",
                # Other locations are placed again from their postcode or town on import.
                "lat": _number(loc.lat) if exact else "", "lng": _number(loc.lng) if exact else ""}
    if cert is not None:
        row |= {"program": cert.program.key if cert.program else cert.submitted_name,
                "level": _number(cert.level), "certificate_number": cert.certificate_number,
                "completed_on": cert.completed_on.isoformat() if cert.completed_on else "",
                "expires_on": cert.expires_on.isoformat() if cert.expires_on else "",
                "hours": _number(cert.hours), "in_person_hours": _number(cert.in_person_hours),
                "supervised_sessions": _number(cert.supervised_sessions)}
    return {name: _safe(name, row.get(name) or "") for name in NAMES}


def _safe(column: str, value: str) -> str:
    """A free-text value a spreadsheet would run as a formula gets an apostrophe in front
    (the import removes it)."""
    if column not in PLAIN and value.startswith(FORMULA_START):
        return "'" + value
    return value


def export_csv(today: date | None = None) -> Iterator[str]:
    """The searchable directory as CSV text, in pieces (header first)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=NAMES, lineterminator="\r\n")
    writer.writeheader()
    for n, (p, certs) in enumerate(searchable_practitioners(today), start=1):
        writer.writerow(csv_row(p, certs))
        if n % BATCH == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def practitioner_json(p: Practitioner, certs: list[Certification]) -> dict:
    """One practitioner with every location and shown certification."""
    return {
        "id": p.id, "slug": p.slug, "email": p.user.email, "full_name": p.full_name,
        "post_nominals": p.post_nominals, "profession": p.profession,
        "licence_number": p.licence_number, "licence_country": p.licence_country,
        "licence_region": p.licence_region, "npi": p.npi,
        "licence": licence_services.licence_record(p)["verification"],
        "bio": p.bio, "phone": p.phone,
        "public_email": p.public_email, "website": p.website, "booking_url": p.booking_url,
        "languages": p.languages, "techniques": p.techniques, "conditions": p.conditions,
        "accepting_new_patients": p.accepting_new_patients,
        "insurance_notes": p.insurance_notes, "demo": p.is_demo,
        "listed_until": None if p.listed_until in (None, listing.NO_EXPIRY)
        else p.listed_until.isoformat(),
        "locations": [{
            "clinic_name": loc.clinic_name, "street": loc.street, "city": loc.city,
            "region": loc.region, "postcode": loc.postcode, "country": loc.country,
            "lat": loc.lat, "lng": loc.lng, "geo_precision": loc.geo_precision,
            "wheelchair_accessible": loc.wheelchair_accessible,
        } for loc in p.locations],
        "certifications": [{
            "program": c.program.key if c.program else None,
            "program_name": c.program.name if c.program else c.submitted_name,
            "organisation": c.program.organisation if c.program else None,
            "level": c.level, "certificate_number": c.certificate_number,
            "completed_on": c.completed_on.isoformat() if c.completed_on else None,
            "expires_on": c.expires_on.isoformat() if c.expires_on else None,
            "hours": c.hours, "in_person_hours": c.in_person_hours,
            "supervised_sessions": c.supervised_sessions,
            "verified_on": c.verified_at.date().isoformat() if c.verified_at else None,
            "public_code": c.public_code,
        } for c in certs],
    }


def export_json(today: date | None = None) -> Iterator[str]:
    """The searchable directory as one JSON document, in pieces."""
    yield '{"exported_at": ' + json.dumps(utcnow().isoformat(timespec="seconds")) + \
        ', "practitioners": ['
    count = 0
    for p, certs in searchable_practitioners(today):
        yield ("," if count else "") + "\n" + json.dumps(practitioner_json(p, certs),
                                                          ensure_ascii=False)
        count += 1
    yield f'\n], "count": {count}}}\n'
