"""Read and search for each resource type of /fhir: which records answer (searchable
practitioners only: directory.listing's rule) and how the parsed parameters (params.py) narrow
them. TYPES is the table routes.py and the CapabilityStatement read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import case, false, func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import Select

from directory import listing
from directory.credentials.rules import scopes_for
from directory.extensions import db
from directory.fhir import resources
from directory.fhir.outcome import FhirError
from directory.fhir.params import (
    MAX_PAGE,
    SEARCH_PARAMS,
    Param,
    folded_words_clause,
    word_starts,
)
from directory.links import site_root
from directory.models import (
    Certification,
    Licence,
    PracticeLocation,
    Practitioner,
    TrainingProgram,
)
from directory.models.base import MAX_ID, utcnow
from directory.models.issuer import confirmed_ids
from directory.search import Filters, search
from directory.vocab import LicenceStatus


@dataclass
class Entry:
    """One search match: the resource, and the extensions of its entry.search (a distance)."""

    resource: dict
    search_extensions: list[dict] | None = None


@dataclass
class Page:
    """A page of matches and how many there are in all."""

    total: int
    entries: list[Entry]


def row_id(text: str) -> int | None:
    """A row id from an id's text, None when it can be no row's."""
    if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= MAX_ID:
        return int(text)
    return None


def row_ids(texts: list[str]) -> list[int]:
    """The row ids among these ids (the others match nothing)."""
    return [i for t in texts if (i := row_id(t)) is not None]


def paged(statements: list[Select], start: int, size: int) -> tuple[int, list]:
    """The total of these statements' rows, one after the other, and the rows from `start`
    (`size` of them): each statement counted and read with OFFSET and LIMIT."""
    total, rows = 0, []
    for stmt in statements:
        count = db.session.scalar(select(func.count()).select_from(
            stmt.order_by(None).subquery()))
        if size > len(rows) and start - total < count:
            offset = max(0, start - total)
            rows.extend(db.session.scalars(stmt.offset(offset).limit(size - len(rows))))
        total += count
    return total, rows


def organisation_ids() -> dict[str, int]:
    """Each training organisation's id: the lowest id of its programs."""
    return dict(db.session.execute(select(TrainingProgram.organisation,
                                          func.min(TrainingProgram.id))
                                   .group_by(TrainingProgram.organisation)).all())


# -------------------------------------------------------------------------- Practitioner

def _practitioner_resource(p: Practitioner, orgs: dict[str, int]) -> dict:
    return resources.practitioner(p, listing.shown_certifications(p), orgs)


def read_practitioner(resource_id: str) -> dict | None:
    """A searchable practitioner."""
    pid = row_id(resource_id)
    p = pid is not None and db.session.scalar(select(Practitioner).where(
        Practitioner.id == pid, listing.searchable_clause()))
    return _practitioner_resource(p, organisation_ids()) if p else None


def search_practitioners(q: dict[str, Any], start: int, size: int) -> Page:
    """Searchable practitioners by id, change date and name, by id."""
    stmt = (select(Practitioner).where(listing.searchable_clause())
            .options(selectinload(Practitioner.licence)).order_by(Practitioner.id))
    if "_id" in q:
        stmt = stmt.where(Practitioner.id.in_(row_ids(q["_id"])))
    for when in q.get("_lastUpdated", ()):
        stmt = stmt.where(when.clause(Practitioner.updated_at))
    wanted = {name: q[name] for name in ("name", "family", "given") if name in q}
    if wanted:
        # The folded words every practitioner keeps for the name search narrow it down in SQL;
        # then each name is matched as FHIR says (the parts split_name() gives), ids alone read.
        for text in wanted.values():
            stmt = stmt.where(folded_words_clause(Practitioner.search_words, text))
        ids = [pid for pid, full_name in db.session.execute(
                   stmt.with_only_columns(Practitioner.id, Practitioner.full_name))
               if _name_matches(full_name, wanted)]
        total = len(ids)
        chosen = ids[start:start + size]
        by_id = {p.id: p for p in db.session.scalars(
            select(Practitioner).where(Practitioner.id.in_(chosen))
            .options(selectinload(Practitioner.licence)))}
        rows = [by_id[pid] for pid in chosen]
    else:
        total, rows = paged([stmt], start, size)
    orgs = organisation_ids()
    return Page(total, [Entry(_practitioner_resource(p, orgs)) for p in rows])


def _name_matches(full_name: str, wanted: dict[str, str]) -> bool:
    """name: any part of the name; family: the family name; given: a given name."""
    parts = {"name": [full_name], "family": [resources.family_name(full_name)],
             "given": resources.given_names(full_name)}
    return all(any(word_starts(part, text) for part in parts[name])
               for name, text in wanted.items())


# --------------------------------------------------------------- Location, PractitionerRole

def searchable_locations() -> Select:
    """The practice locations of searchable practitioners, by id."""
    return (select(PracticeLocation).join(Practitioner)
            .where(listing.searchable_clause())
            .options(selectinload(PracticeLocation.hours),
                     selectinload(PracticeLocation.practitioner))
            .order_by(PracticeLocation.id))


def role_updated_sql():
    """resources.role_updated() in SQL: the later of the location's and the practitioner's
    updated_at."""
    return case((PracticeLocation.updated_at > Practitioner.updated_at,
                 PracticeLocation.updated_at), else_=Practitioner.updated_at)


def read_location(resource_id: str) -> dict | None:
    """A practice location of a searchable practitioner."""
    lid = row_id(resource_id)
    loc = lid is not None and db.session.scalar(
        searchable_locations().where(PracticeLocation.id == lid))
    return resources.location(loc) if loc else None


def search_locations(q: dict[str, Any], start: int, size: int) -> Page:
    """Locations by id, change date and name, or near a point with the site's search."""
    if "near" in q:
        return _near(q, start, size)
    stmt = searchable_locations()
    if "_id" in q:
        stmt = stmt.where(PracticeLocation.id.in_(row_ids(q["_id"])))
    for when in q.get("_lastUpdated", ()):
        stmt = stmt.where(when.clause(PracticeLocation.updated_at))
    if "name" in q:  # the clinic's name, matched in Python (folded like every name)
        ids = [lid for lid, clinic in db.session.execute(
                   stmt.with_only_columns(PracticeLocation.id, PracticeLocation.clinic_name))
               if word_starts(clinic or "", q["name"])]
        chosen = ids[start:start + size]
        by_id = {loc.id: loc for loc in db.session.scalars(
            select(PracticeLocation).where(PracticeLocation.id.in_(chosen)))}
        return Page(len(ids), [Entry(resources.location(by_id[lid])) for lid in chosen])
    total, rows = paged([stmt], start, size)
    return Page(total, [Entry(resources.location(loc)) for loc in rows])


def _near(q: dict[str, Any], start: int, size: int) -> Page:
    """near: the site's location search (directory.search), nearest first, the distance of
    each match in its entry; as the site's, each searchable practitioner's nearest location,
    and at most search.MAX_RESULTS of them."""
    for other in ("_id", "_lastUpdated", "name"):
        if other in q:
            raise FhirError(f"{other}: not supported together with near.", 400,
                            "not-supported")
    near = q["near"]
    results = search(near.lat, near.lng, near.radius_km, Filters(),
                     page=q["_page"], per_page=max(size, 1))
    hits = results.hits if size else []
    loaded = {loc.id: loc for loc in db.session.scalars(searchable_locations().where(
        PracticeLocation.id.in_([h.location.id for h in hits])))}
    return Page(results.total, [
        Entry(resources.location(loaded[h.location.id]),
              [resources.distance_extension(h.distance_km)])
        for h in hits if h.location.id in loaded])


def _role_entries(locations: list[PracticeLocation]) -> list[Entry]:
    scopes: dict[int, dict] = {}
    entries = []
    for loc in locations:
        p = loc.practitioner
        if p.id not in scopes:
            scopes[p.id] = {s.jurisdiction: s for s in scopes_for(p)}
        scope = scopes[p.id].get(loc.region_code or loc.country)
        entries.append(Entry(resources.practitioner_role(loc, scope)))
    return entries


def read_role(resource_id: str) -> dict | None:
    """A searchable practitioner at one of their locations."""
    lid = row_id(resource_id)
    loc = lid is not None and db.session.scalar(
        searchable_locations().where(PracticeLocation.id == lid))
    return _role_entries([loc])[0].resource if loc else None


def search_roles(q: dict[str, Any], start: int, size: int) -> Page:
    """Roles by id, change date, practitioner, location and specialty."""
    stmt = searchable_locations()
    if "_id" in q:
        stmt = stmt.where(PracticeLocation.id.in_(row_ids(q["_id"])))
    for when in q.get("_lastUpdated", ()):
        stmt = stmt.where(when.clause(role_updated_sql()))
    if "practitioner" in q:
        stmt = stmt.where(PracticeLocation.practitioner_id.in_(row_ids(q["practitioner"])))
    if "location" in q:
        stmt = stmt.where(PracticeLocation.id.in_(row_ids(q["location"])))
    if "specialty" in q and resources.DRY_NEEDLING not in q["specialty"]:
        stmt = stmt.where(false())  # every role is dry needling: another code matches none
    total, rows = paged([stmt], start, size)
    return Page(total, _role_entries(rows))


# -------------------------------------------------------------------------- Organization

def _organisations() -> list[list[TrainingProgram]]:
    """Every training organisation of the registry (its programs), by id."""
    by_name: dict[str, list[TrainingProgram]] = defaultdict(list)
    for program in db.session.scalars(select(TrainingProgram).order_by(TrainingProgram.id)):
        by_name[program.organisation].append(program)
    return list(by_name.values())


def _organisation(programs: list[TrainingProgram]) -> dict:
    return resources.organization(programs[0].id, programs[0].organisation, programs)


def read_organisation(resource_id: str) -> dict | None:
    """A training organisation."""
    found = next((o for o in _organisations() if str(o[0].id) == resource_id), None)
    return _organisation(found) if found else None


def search_organisations(q: dict[str, Any], start: int, size: int) -> Page:
    """Training organisations by id, change date and name or acronym (the registry is small:
    read whole)."""
    found = [programs for programs in _organisations()
             if ("_id" not in q or str(programs[0].id) in q["_id"])
             and ("name" not in q or any(word_starts(text, q["name"]) for text in (
                 programs[0].organisation, *(p.organisation_acronym or "" for p in programs))))
             and all(when.matches(resources.organisation_updated(programs))
                     for when in q.get("_lastUpdated", ()))]
    return Page(len(found), [Entry(_organisation(o)) for o in found[start:start + size]])


# -------------------------------------------------------------------- VerificationResult

def _licences() -> Select:
    return (select(Licence).join(Practitioner).where(listing.searchable_clause(),
                                                     Licence.status == LicenceStatus.VERIFIED)
            .order_by(Licence.id))


def _certifications() -> Select:
    return (select(Certification).join(Practitioner)
            .where(listing.searchable_clause(), listing.shown_clause(utcnow().date()))
            .order_by(Certification.id))


def _verification_entries(rows: list) -> list[Entry]:
    orgs = organisation_ids()
    confirmed = confirmed_ids(r.id for r in rows if isinstance(r, Certification))
    entries = []
    for row in rows:
        if isinstance(row, Licence):
            entries.append(Entry(resources.licence_verification(row)))
        else:
            shown = [c.id for c in listing.shown_certifications(row.practitioner)]
            # Its place in Practitioner.qualification: after the licence, in the shown order.
            entries.append(Entry(resources.certification_verification(
                row, 1 + shown.index(row.id), orgs, row.id in confirmed)))
    return entries


VERIFIED_KINDS: dict[str, tuple[Callable[[], Select], Any]] = {
    "licence": (_licences, Licence), "certification": (_certifications, Certification)}


def read_verification(resource_id: str) -> dict | None:
    """One licence or certification verification of a searchable practitioner."""
    kind, _, number = resource_id.partition("-")
    if kind not in VERIFIED_KINDS or (rid := row_id(number)) is None:
        return None
    statement, model = VERIFIED_KINDS[kind]
    row = db.session.scalar(statement().where(model.id == rid))
    return _verification_entries([row])[0].resource if row else None


def search_verifications(q: dict[str, Any], start: int, size: int) -> Page:
    """Licence verifications, then certification verifications, by id, change date and
    target practitioner."""
    statements = []
    for kind, (statement, model) in VERIFIED_KINDS.items():
        stmt = statement()
        if "_id" in q:
            ids = [rid for text in q["_id"] if text.startswith(f"{kind}-")
                   and (rid := row_id(text.removeprefix(f"{kind}-"))) is not None]
            stmt = stmt.where(model.id.in_(ids))
        for when in q.get("_lastUpdated", ()):
            stmt = stmt.where(when.clause(model.updated_at))
        if "target" in q:
            stmt = stmt.where(model.practitioner_id.in_(row_ids(q["target"])))
        statements.append(stmt)
    total, rows = paged(statements, start, size)
    return Page(total, _verification_entries(rows))


# ------------------------------------------------------------------------ the searchset

def searchset(type_name: str, found: Page, args: list[tuple[str, str]], count: int,
              page: int) -> dict:
    """A page of matches as a searchset Bundle: the total, the self link (the query with its
    _count and _page) and a next link while more pages hold matches, every link absolute from
    SITE_URL; each entry a match, with its search extensions."""
    base = f"{site_root()}/fhir/{type_name}"
    kept = [(k, v) for k, v in args if k not in ("_page", "_count")]

    def link(relation: str, number: int) -> dict:
        return {"relation": relation,
                "url": f"{base}?{urlencode([*kept, ('_count', count), ('_page', number)])}"}

    links = [link("self", page)]
    if count and page * count < found.total and page < MAX_PAGE:
        links.append(link("next", page + 1))
    bundle: dict = {"resourceType": "Bundle", "type": "searchset", "total": found.total,
                    "link": links}
    if found.entries:
        bundle["entry"] = [
            {"fullUrl": f"{base}/{e.resource['id']}", "resource": e.resource,
             "search": {"mode": "match", **({"extension": e.search_extensions}
                                            if e.search_extensions else {})}}
            for e in found.entries]
    return bundle


# ------------------------------------------------------------------------------- the table

@dataclass(frozen=True)
class ResourceType:
    """One resource type of /fhir: how it is read and searched, and what it holds."""

    name: str
    documentation: str
    read: Callable[[str], dict | None]
    search: Callable[[dict[str, Any], int, int], Page]

    @property
    def params(self) -> tuple[Param, ...]:
        """Its search parameters (params.SEARCH_PARAMS)."""
        return SEARCH_PARAMS[self.name]


TYPES: dict[str, ResourceType] = {t.name: t for t in (
    ResourceType("Practitioner", "Searchable practitioners (listed, with a verified licence and "
                 "a verified, unexpired dry-needling certification, and confirmed accurate "
                 "within 12 months): name, NPI and licence number, and a qualification for the "
                 "licence and each certification.", read_practitioner, search_practitioners),
    ResourceType("PractitionerRole", "A searchable practitioner at one practice location (the "
                 "id is the location's): specialty dry needling, new patients, and the scope "
                 "verdict there.", read_role, search_roles),
    ResourceType("Location", "The practice locations of searchable practitioners: address, "
                 "position, hours, wheelchair access.", read_location, search_locations),
    ResourceType("Organization", "The training organisations of the registry of recognised "
                 "dry-needling programs.", read_organisation, search_organisations),
    ResourceType("VerificationResult", "One per verified licence (licence-<n>) and per "
                 "verified, unexpired certification (certification-<n>) of a searchable "
                 "practitioner.", read_verification, search_verifications),
)}
