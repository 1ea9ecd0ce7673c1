"""What the /hsds endpoints read: their query parameters, the searchable records they list, and
the HSDS `Page` around a list (plain code: the request's arguments come in as a mapping).

Who appears is directory.listing's rule (searchable practitioners only); a search near a
postcode is the site's location search (directory.search), by name the site's name search
(directory.search.names); paging is Flask-SQLAlchemy's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from directory import geo, listing, search
from directory.extensions import db
from directory.hsds.records import database_id, last_modified
from directory.models import PracticeLocation, Practitioner
from directory.search import names
from directory.vocab import GeoPrecision

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_PAGE = 100_000
# The site's largest search radius, in metres.
MAX_PROXIMITY_M = int(search.MAX_RADIUS_KM * 1000)
DEFAULT_PROXIMITY_M = 25_000
# Parameters of the HSDS API reference this directory does not support: it has no taxonomy.
UNSUPPORTED = {
    "taxonomy_term_id": "This directory has no taxonomy: every service is dry needling.",
    "taxonomy_id": "This directory has no taxonomy: every service is dry needling.",
}


class ParameterError(ValueError):
    """A query parameter refused: the message says what to send instead."""

    def __init__(self, message: str, field: str | None, code: str = "invalid_parameter") -> None:
        super().__init__(message)
        self.message, self.field, self.code = message, field, code


def _text(args: Mapping[str, str], name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    if "\x00" in value:
        raise ParameterError(f"{name} cannot hold a NUL character.", name)
    return value.strip()


def _integer(args: Mapping[str, str], name: str, low: int, high: int, default: int,
             what: str) -> int:
    value = _text(args, name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ParameterError(f"{what} must be a whole number.", name) from None
    if not low <= number <= high:
        raise ParameterError(f"{what} must be between {low} and {high}.", name)
    return number


def _boolean(args: Mapping[str, str], name: str) -> bool:
    value = _text(args, name)
    if value in (None, "", "false"):
        return False
    if value == "true":
        return True
    raise ParameterError(f"Use true or false for {name}.", name)


@dataclass(frozen=True)
class Query:
    """The parameters of a list: paging, and the filters, combined with AND."""

    page: int
    per_page: int
    search: names.NameQuery | None
    practitioner_id: int | None  # from organization_id
    organization_given: bool
    modified_after: datetime | None
    full: bool
    minimal: bool


def read_query(args: Mapping[str, str]) -> Query:
    """The list parameters every /hsds list takes; ParameterError for one refused."""
    for name, why in UNSUPPORTED.items():
        if _text(args, name):
            raise ParameterError(why, name, code="unsupported_parameter")
    if _text(args, "format") not in (None, "", "json"):
        raise ParameterError("The only format is json.", "format")
    page = _integer(args, "page", 1, MAX_PAGE, 1, "The page")
    per_page = _integer(args, "per_page", 1, MAX_PER_PAGE, DEFAULT_PER_PAGE,
                        "Results per page (per_page)")
    name = None
    if typed := _text(args, "search"):
        try:
            name = names.parse(db.session.connection(), typed)
        except names.NameQueryError as exc:
            raise ParameterError(exc.message, "search") from None
    organization = _text(args, "organization_id")
    practitioner_id = None
    if organization:
        practitioner_id = database_id("organization", organization)
        if practitioner_id is None:
            raise ParameterError("organization_id is not the id of an organization of this "
                                 "directory.", "organization_id")
    return Query(page=page, per_page=per_page, search=name, practitioner_id=practitioner_id,
                 organization_given=bool(organization),
                 modified_after=_datetime(args, "modified_after"),
                 full=_boolean(args, "full"), minimal=_boolean(args, "minimal"))


def _datetime(args: Mapping[str, str], name: str) -> datetime | None:
    value = _text(args, name)
    if not value:
        return None
    try:
        found = datetime.fromisoformat(value)
        return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ParameterError(f"Give {name} as an ISO 8601 date or date and time, such as "
                             "2026-01-31 or 2026-01-31T09:00:00Z.", name) from None


# --------------------------------------------------------------------------- pages


@dataclass
class Page:
    """One page of a list, with what HSDS's Page tells about it."""

    items: Sequence
    total: int
    page: int
    per_page: int

    def as_json(self, contents: list) -> dict:
        """The HSDS Page around `contents` (the items, as HSDS objects)."""
        pages = max(1, math.ceil(self.total / self.per_page))
        return {"total_items": self.total, "total_pages": pages, "page_number": self.page,
                "size": len(contents), "first_page": self.page == 1,
                "last_page": self.page >= pages, "empty": not contents, "contents": contents}


def _paged(statement: Select, query: Query) -> Page:
    found = db.paginate(statement, page=query.page, per_page=query.per_page,
                        max_per_page=MAX_PER_PAGE, error_out=False)
    return Page(list(found.items), found.total or 0, query.page, query.per_page)


def _practitioner_filters(query: Query, dialect: str) -> list:
    where = [listing.searchable_clause()]
    if query.organization_given:
        where.append(Practitioner.id == query.practitioner_id)
    if query.modified_after is not None:
        where.append(last_modified(Practitioner) >= query.modified_after)
    if query.search is not None:
        where.append(names.match_clause(dialect, Practitioner.id))
    return where


def _ordered(statement: Select, query: Query, dialect: str) -> Select:
    """Best match first with a search (as the site's name search ranks), else by id; the
    name query's bind parameters filled in."""
    if query.search is None:
        return statement.order_by(Practitioner.id)
    return (statement.order_by(names.rank_expression(query.search.size).desc(),
                               names.order_key(dialect), Practitioner.id)
            .params(**query.search.parameters(dialect)))


def practitioners(query: Query) -> Page:
    """The page of searchable practitioners (services, organizations) the query asks for."""
    dialect = db.session.connection().dialect.name
    statement = (select(Practitioner).where(*_practitioner_filters(query, dialect))
                 .options(selectinload(Practitioner.locations)
                          .selectinload(PracticeLocation.hours)))
    return _paged(_ordered(statement, query, dialect), query)


def locations(query: Query) -> Page:
    """The page of searchable practitioners' locations (service_at_locations), by
    practitioner (best match first with a search), then location."""
    dialect = db.session.connection().dialect.name
    statement = (select(PracticeLocation)
                 .join(Practitioner, Practitioner.id == PracticeLocation.practitioner_id)
                 .where(*_practitioner_filters(query, dialect))
                 .options(selectinload(PracticeLocation.hours)))
    statement = _ordered(statement, query, dialect).order_by(PracticeLocation.id)
    return _paged(statement, query)


def near_postcode(args: Mapping[str, str], query: Query) -> Page:
    """The page of the site's location search around a postcode's centroid, within
    `proximity` metres: each searchable practitioner at their nearest location, nearest
    first, the same results as the search page's. Counted up to the search's cap."""
    if query.organization_given or query.modified_after is not None:
        raise ParameterError("organization_id and modified_after cannot be combined with "
                             "postcode: the search near a postcode takes search, proximity "
                             "and paging.", "postcode")
    postcode = _text(args, "postcode") or ""
    proximity = _proximity(args)
    try:
        place = geo.geocode(postcode)
    except geo.Ambiguous as exc:
        raise ParameterError(exc.message, "postcode", code="unknown_postcode") from None
    except geo.GeocodeError as exc:
        raise ParameterError(exc.message, "postcode", code="unknown_postcode") from None
    if place.precision != GeoPrecision.POSTCODE:
        raise ParameterError(f"“{postcode[:60]}” is not a postcode we know: give a postcode "
                             "or zip code.", "postcode", code="unknown_postcode")
    results = search.search(place.lat, place.lng, proximity / 1000, page=query.page,
                            per_page=query.per_page, name=query.search)
    by_id = _locations_by_id([hit.location.id for hit in results.hits])
    return Page([by_id[hit.location.id] for hit in results.hits if hit.location.id in by_id],
                results.total, query.page, query.per_page)


def _proximity(args: Mapping[str, str]) -> float:
    value = _text(args, "proximity")
    if value is None or value == "":
        return float(DEFAULT_PROXIMITY_M)
    try:
        metres = float(value)
    except ValueError:
        raise ParameterError("proximity is a distance in metres: a number.",
                             "proximity") from None
    if not 1 <= metres <= MAX_PROXIMITY_M:  # also refuses nan and inf
        raise ParameterError(f"proximity must be between 1 and {MAX_PROXIMITY_M} metres.",
                             "proximity")
    return metres


def _locations_by_id(ids: list[int]) -> dict[int, PracticeLocation]:
    if not ids:
        return {}
    found = db.session.scalars(select(PracticeLocation).where(PracticeLocation.id.in_(ids))
                               .options(selectinload(PracticeLocation.hours),
                                        selectinload(PracticeLocation.practitioner)))
    return {loc.id: loc for loc in found}


def one(kind: str, text: str, read: Callable[[int], object | None]):
    """The searchable record an {id} names, or None (not an id of this kind, or not
    searchable)."""
    found_id = database_id(kind, text)
    return None if found_id is None else read(found_id)


def searchable_practitioner(practitioner_id: int) -> Practitioner | None:
    """The practitioner with this id, when searchable."""
    return db.session.scalar(select(Practitioner).where(Practitioner.id == practitioner_id,
                                                        listing.searchable_clause()))


def searchable_location(location_id: int) -> PracticeLocation | None:
    """The practice location with this id, when its practitioner is searchable."""
    return db.session.scalar(
        select(PracticeLocation).join(Practitioner,
                                      Practitioner.id == PracticeLocation.practitioner_id)
        .where(PracticeLocation.id == location_id, listing.searchable_clause()))
