"""Searchable practitioners as Open Referral HSDS 3.0 objects (plain code: no request).

The mapping, decided once here:

- organization: the practitioner's practice, one per practitioner. Its name is the clinic
  name of their first practice location (their own name without one). Clinics are free text
  typed by each practitioner: merging two practitioners' "City Physio" would join strangers, and
  let one practitioner's typing change another's record.
- service: dry needling by one practitioner ("Dry needling — <name>"), status active, at the
  organization's locations; contact details only as the practitioner chose to show them;
  `licenses` and `accreditations` from the verified licence and certifications, `assured_date`
  the latest of those verifications.
- location: a practice location (physical), with its address, accessibility and opening hours.
- service_at_location: the service at one of its locations (one per practice location, as a
  location belongs to one practitioner).

Ids are UUIDs (the schema's format), derived from the kind of object and the database id by
hsds_id() and read back by database_id(): stable, independent of SITE_URL, and reversible
without a table.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from directory import listing, practice, vocab
from directory.hours import format_time
from directory.licences.services import licence_record
from directory.links import absolute_url
from directory.models import Certification, PracticeLocation, Practitioner
from directory.models.base import MAX_ID

HSDS_VERSION = "3.0"
# The base specification (this API follows no named profile).
PROFILE_URL = "https://github.com/openreferral/specification/tree/3.0"
# RFC 5545 BYDAY codes, Monday first (OpeningHours.weekday: 0 is Monday).
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

# --------------------------------------------------------------------------- ids

# The namespace of this directory's HSDS ids (a constant: never SITE_URL, which may change).
ID_NAMESPACE = uuid.UUID("5b0f7a52-3f63-4a8e-9d51-7c2f1e0b6a10")
KINDS = ("organization", "service", "location", "service_at_location", "address",
         "accessibility", "phone", "language", "cost_option", "schedule")
_ID_BITS = 62  # below RFC 9562's variant bits
_LOW_MASK = (1 << 64) - 1


def _kind_prefix(kind: str) -> int:
    """The top 64 bits of every id of this kind: uuid5 of the kind, version nibble set to 8
    (RFC 9562 UUIDv8: laid out by the application)."""
    if kind not in KINDS:
        raise ValueError(f"Not an HSDS kind: {kind!r}")
    high = uuid.uuid5(ID_NAMESPACE, kind).int >> 64
    return (high & ~(0xF << 12)) | (0x8 << 12)


def hsds_id(kind: str, database_id: int, part: int = 0) -> str:
    """The UUID of one object: its kind, its database id, and (for several objects of a kind
    from one row, e.g. a practitioner's languages or fees) a part number below 256."""
    if not 0 <= database_id < 1 << (_ID_BITS - 8) or not 0 <= part < 256:
        raise ValueError("database id or part out of range")
    low = (0b10 << 62) | (database_id << 8) | part
    return str(uuid.UUID(int=(_kind_prefix(kind) << 64) | low))


def database_id(kind: str, text: str) -> int | None:
    """The database id in an id hsds_id() made for this kind (part 0), or None for any other
    text."""
    try:
        value = uuid.UUID(text).int
    except (ValueError, TypeError, AttributeError):
        return None
    if value >> 64 != _kind_prefix(kind) or (value & _LOW_MASK) >> 62 != 0b10:
        return None
    low = value & ((1 << 62) - 1)
    if low & 0xFF or low >> 8 > MAX_ID:
        return None  # a part, or a number no row's id can be (it would overflow the query)
    return low >> 8


# --------------------------------------------------------------------------- helpers


def _date(value: date | datetime | None) -> str | None:
    return value.date().isoformat() if isinstance(value, datetime) else (
        value.isoformat() if value else None)


def _timestamp(value: datetime | None) -> str | None:
    """An RFC 3339 date-time in UTC (the database keeps naive UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _present(record: dict) -> dict:
    """The record without empty values: HSDS properties are typed without null."""
    return {key: value for key, value in record.items()
            if value is not None and value != "" and value != []}


def service_name(p: Practitioner) -> str:
    """The service's name: what it is, and by whom."""
    return f"Dry needling — {p.full_name}"


def last_modified(p: Practitioner) -> datetime:
    """When the practitioner's record last changed: what `modified_after` compares."""
    return p.updated_at


def assured_on(p: Practitioner, certs: list[Certification]) -> date | None:
    """The last verification: the latest of the licence's check and the shown certifications'
    approvals."""
    days = [c.verified_at.date() for c in certs if c.verified_at]
    if p.licence is not None and p.licence.verified_on:
        days.append(p.licence.verified_on)
    return max(days, default=None)


def licenses_text(p: Practitioner) -> str:
    """The licence in words: number, where, NPI, and its check at the official source."""
    record = licence_record(p)
    check = record["verification"]
    words = [vocab.PROFESSIONS.get(p.profession or "", "Licence")]
    if record["number"]:
        words.append(f"licence {record['number']}")
    if record["jurisdiction"]:
        words.append(f"({record['jurisdiction']})")
    text = " ".join(words)
    if record["npi"]:
        text += f", NPI {record['npi']}"
    if check["verified_on"]:
        text += f"; verified on {check['verified_on']}"
        if check["source"]:
            text += f" at {check['source']}"
    if check["next_due"]:
        text += f"; next check due {check['next_due']}"
    return text + "."


def accreditations_text(certs: list[Certification]) -> str:
    """The verified dry needling certifications in words, each with its public verify page."""
    parts = []
    for cert in certs:
        program = cert.program
        name = program.name if program else cert.submitted_name
        if program and program.organisation:
            name += f" ({program.organisation})"
        if cert.verified_at:
            name += f", verified {cert.verified_at.date().isoformat()}"
        if cert.expires_on:
            name += f", expires {cert.expires_on.isoformat()}"
        parts.append(f"{name}: {absolute_url('public.verify_code', code=cert.public_code)}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- objects


def organization(p: Practitioner, *, full: bool = False) -> dict:
    """The practitioner's practice (organization_list's fields; `full`: with its locations
    and its one service, as /organizations/{id} answers)."""
    clinics = list(dict.fromkeys(loc.clinic_name for loc in p.locations if loc.clinic_name))
    record = {
        "id": hsds_id("organization", p.id),
        "name": clinics[0] if clinics else p.full_name,
        "alternate_name": "; ".join(clinics[1:]),
        "description": f"The practice of {p.full_name}"
                       + (f", {vocab.PROFESSIONS[p.profession].lower()}"
                          if p.profession in vocab.PROFESSIONS else "")
                       + ", listed in the Dry Needling Directory.",
        "email": practice.shown_email(p),
        "website": p.website if p.website.startswith(("https://", "http://")) else "",
    }
    if full:
        record["locations"] = [location(loc) for loc in p.locations]
        record["phones"] = _phones(p)
        record["services"] = [service(p)]
    return _present(record)


def _phones(p: Practitioner) -> list[dict]:
    number = practice.shown_phone(p)
    return [{"id": hsds_id("phone", p.id), "number": number}] if number else []


def _languages(p: Practitioner) -> list[dict]:
    return [{"id": hsds_id("language", p.id, i), "service_id": hsds_id("service", p.id),
             "name": vocab.language_name(code), "code": code}
            for i, code in enumerate(p.languages[:256])]


def _cost_options(p: Practitioner) -> list[dict]:
    fees = practice.fees(p)
    if fees is None:
        return []
    options = (("First visit", fees.first_visit), ("Follow-up visit", fees.follow_up))
    return [{"id": hsds_id("cost_option", p.id, i), "service_id": hsds_id("service", p.id),
             "option": option, "currency": fees.currency, "amount": amount / 100}
            for i, (option, amount) in enumerate(options) if amount is not None]


def fees_description(p: Practitioner) -> str:
    """The fees in words, written as people of the country write money."""
    fees = practice.fees(p)
    if fees is None:
        return ""
    country = practice.fee_country(p)
    parts = [f"{label} {practice.money(amount, fees.currency, country)}"
             for label, amount in (("first visit", fees.first_visit),
                                   ("follow-up visit", fees.follow_up)) if amount is not None]
    return "; ".join(parts).capitalize() + "."


def service(p: Practitioner, *, full: bool = False) -> dict:
    """Dry needling by this practitioner: service_list's fields (one-to-one, with the
    organization); `full`: with its service_at_locations, phones, languages and cost options,
    as /services/{id} answers."""
    certs = listing.shown_certifications(p)
    record = {
        "id": hsds_id("service", p.id),
        "organization_id": hsds_id("organization", p.id),
        "name": service_name(p),
        "description": p.bio or f"Dry needling by {p.full_name}, whose dry needling training "
                                "the directory verified.",
        "url": absolute_url("public.practitioner", slug=p.slug),
        "email": practice.shown_email(p),
        "status": "active",
        "fees_description": fees_description(p),
        "accreditations": accreditations_text(certs),
        "licenses": licenses_text(p),
        "assured_date": _date(assured_on(p, certs)),
        "last_modified": _timestamp(last_modified(p)),
        "organization": organization(p),
    }
    if full:
        record |= {
            "phones": _phones(p),
            "languages": _languages(p),
            "cost_options": _cost_options(p),
            "service_at_locations": [service_at_location(loc, with_service=False)
                                     for loc in p.locations],
        }
    return _present(record)


def location(loc: PracticeLocation) -> dict:
    """A practice location: its address, coordinates, accessibility and opening hours."""
    location_id = hsds_id("location", loc.id)
    address = {
        "id": hsds_id("address", loc.id), "location_id": location_id,
        # The schema requires these five; a location may leave street or region empty.
        "address_1": loc.street or "", "city": loc.city or "",
        "state_province": loc.region or "", "postal_code": loc.postcode or "",
        "country": loc.country, "address_type": "physical",
    }
    record = {
        "id": location_id,
        "location_type": "physical",
        "organization_id": hsds_id("organization", loc.practitioner_id),
        "name": loc.clinic_name,
        "latitude": loc.lat,
        "longitude": loc.lng,
        "addresses": [address],
        "accessibility": [{"id": hsds_id("accessibility", loc.id), "location_id": location_id,
                           "description": "Wheelchair accessible"}]
        if loc.wheelchair_accessible else [],
        "schedules": schedules(loc),
    }
    return _present(record)


def schedules(loc: PracticeLocation) -> list[dict]:
    """Opening hours as weekly RFC 5545 rules, one per opening range (local time at the
    location)."""
    found = []
    for opening in sorted(loc.hours, key=lambda h: (h.weekday, h.opens)):
        found.append(_present({
            "id": hsds_id("schedule", opening.id),
            "location_id": hsds_id("location", loc.id),
            "freq": "WEEKLY", "wkst": "MO", "byday": RRULE_DAYS[opening.weekday],
            "opens_at": format_time(opening.opens), "closes_at": format_time(opening.closes),
            "description": "By appointment" if loc.by_appointment else "",
            "notes": f"Local time ({loc.time_zone})" if loc.time_zone else "",
        }))
    return found


def service_at_location(loc: PracticeLocation, *, with_service: bool = True,
                        full_service: bool = False) -> dict:
    """The practitioner's service at this location, with the location (and the service, as
    service_at_location_list has it; `full_service`: the service fully nested)."""
    record = {
        "id": hsds_id("service_at_location", loc.id),
        "service_id": hsds_id("service", loc.practitioner_id),
        "location_id": hsds_id("location", loc.id),
        "location": location(loc),
    }
    if with_service:
        record["service"] = service(loc.practitioner, full=full_service)
    return record


def minimal_service(p: Practitioner) -> dict:
    """What `minimal` asks for: the id and when it changed (and the required name and
    status)."""
    return {"id": hsds_id("service", p.id), "name": service_name(p),
            "status": "active", "last_modified": _timestamp(last_modified(p))}
