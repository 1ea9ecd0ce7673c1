"""Reading a search query: coordinates, a postcode of one of the six countries, or a place name
with optional regions, countries or a nearby place; `geocode` turns it into a Place."""

from __future__ import annotations

import re
import unicodedata

from directory import vocab
from directory.geo.gazetteer import (
    COUNTRY_ALIASES,
    UNKNOWN_POPULATION,
    Filter,
    Gazetteer,
    PlaceRow,
    gazetteer,
    name_key,
    world_city,
)
from directory.geo.place import Ambiguous, GeocodeError, Place
from directory.vocab import PRIMARY_COUNTRIES, GeoPrecision

MAX_QUERY_LENGTH = 200
MAX_CANDIDATES = 10
# A place name resolves without asking when its most populous place has at least this many
# times the population of the next (London, England: 21 × London, Ontario), and is ambiguous
# otherwise (Portland, Oregon: 9.8 × Portland, Maine).
DOMINANCE = 15.0
# A name alone that a city outside the six countries bears means that city when it is this many
# times larger than the largest town of that name in them, and that town is smaller than this.
WORLD_CITY_DOMINANCE = 20.0
WORLD_CITY_LOCAL_MAX = 50_000
COVERED = ("the United States, Australia, the United Kingdom, Canada, New Zealand and "
           "Ireland")
# Exact coordinates take the country and region of the nearest postcode within this distance.
NEAREST_POSTCODE_KM = 50.0
# Order in which a postcode that exists in several countries is offered: the directory's own.
COUNTRY_ORDER = PRIMARY_COUNTRIES

US_ZIP = re.compile(r"(\d{5})(\d{4})?")
AU_NZ = re.compile(r"\d{3,4}")
GB_FULL = re.compile(r"([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})")
GB_OUTWARD = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?")
CA_FULL = re.compile(r"([A-Z]\d[A-Z])(\d[A-Z]\d)")
CA_FSA = re.compile(r"[ABCEGHJ-NPRSTVXY]\d[A-Z]")
IE_FULL = re.compile(r"([AC-FHKNPRTV-Y]\d{2}|D6W)([\dAC-FHKNPRTV-Y]{4})")
IE_KEY = re.compile(r"[AC-FHKNPRTV-Y]\d{2}|D6W")
LATLNG = re.compile(r"([-+]?\d{1,3}(?:\.\d+)?)\s*(,|;|\s)\s*([-+]?\d{1,3}(?:\.\d+)?)")
CODE_HINT = re.compile(r"(.*?)\s*\(([A-Za-z\d ]{2,8})\)")


def country_code(country: str | None) -> str | None:
    """"US", "us", "USA" or "United States" → "US"; None stays None; unknown → ValueError."""
    if country is None or not country.strip():
        return None
    code = COUNTRY_ALIASES.get(name_key(country))
    if code is None:
        raise ValueError(f"unsupported country: {country!r}")
    return code


def normalise_postcode(text: str, country: str | None) -> tuple[str, str] | None:
    """(country, code) as the gazetteer keys it: "sw1a 1aa" → ("GB", "SW1A"); None if no shape."""
    # Without a country the shape decides where it is unambiguous; otherwise (4 digits: AU or
    # NZ; "W12": GB or IE) the gazetteer decides, and Ambiguous is raised when several have it.
    try:
        wanted = country_code(country)
    except ValueError:
        return None
    compact = re.sub(r"[\s\-‐-―]+", "", text).upper()
    if not compact.isalnum() or not compact.isascii() or len(compact) > 9:
        return None
    options: list[tuple[str, str]] = []
    if match := US_ZIP.fullmatch(compact):
        options.append(("US", match.group(1)))
    elif AU_NZ.fullmatch(compact):
        options += [("AU", compact.zfill(4)), ("NZ", compact.zfill(4))]
    elif match := GB_FULL.fullmatch(compact):
        options.append(("GB", match.group(1)))
    elif match := CA_FULL.fullmatch(compact):
        options.append(("CA", match.group(1)))
    elif match := IE_FULL.fullmatch(compact):
        options.append(("IE", match.group(1)))
    else:
        if GB_OUTWARD.fullmatch(compact):
            options.append(("GB", compact))
        if CA_FSA.fullmatch(compact) or (wanted == "CA" and re.fullmatch(r"[A-Z]\d[A-Z]",
                                                                         compact)):
            options.append(("CA", compact))
        if IE_KEY.fullmatch(compact):
            options.append(("IE", compact))
    if wanted is not None:
        options = [o for o in options if o[0] == wanted]
    if len(options) <= 1:
        return options[0] if options else None
    g = gazetteer()
    known = [o for o in options if g.postcode_row(*o) is not None]
    if len(known) > 1:
        known.sort(key=lambda o: COUNTRY_ORDER.index(o[0]))
        candidates = [p for o in known if (p := g.postcode(*o)) is not None]
        raise Ambiguous(
            f"“{text.strip()}” is a postcode in more than one country. Choose one below.",
            candidates)
    return known[0] if known else None


def geocode(query: str, country: str | None = None) -> Place:
    """A search query → Place: "lat,lng", a postcode or a place name with optional region."""
    text = clean_query(query)
    try:
        wanted = country_code(country)
    except ValueError:
        raise GeocodeError(f"We can search only in {COVERED}.") from None
    if (exact := parse_coordinates(text)) is not None:
        return exact
    g = gazetteer()
    found = _geocode_postcode(g, text, wanted)
    if found is not None:
        return found
    return _geocode_place(g, text, wanted)


def clean_query(query: str) -> str:
    """Collapse whitespace and control characters; reject empty and over-long queries."""
    if not isinstance(query, str):
        raise GeocodeError("Enter a postcode or a town to search near.")
    if len(query) > MAX_QUERY_LENGTH * 5:
        raise _too_long()
    text = " ".join("".join(" " if not ch.isprintable() else ch
                            for ch in unicodedata.normalize("NFC", query)).split())
    if not text:
        raise GeocodeError("Enter a postcode or a town to search near.")
    if len(text) > MAX_QUERY_LENGTH:
        raise _too_long()
    return text


def _too_long() -> GeocodeError:
    """The error for a query over MAX_QUERY_LENGTH characters."""
    return GeocodeError(f"That is too long to search for: enter a postcode or a town "
                        f"(at most {MAX_QUERY_LENGTH} characters).")


def _not_found(text: str) -> GeocodeError:
    """The error for a query that matches nothing."""
    shown = text if len(text) <= 60 else text[:57] + "…"
    return GeocodeError(f"We could not find “{shown}”. Try a postcode or a nearby town.")


def parse_coordinates(text: str) -> Place | None:
    """ "40.75,-73.99" → an exact Place; None if the text is not a pair of numbers."""
    match = LATLNG.fullmatch(text.strip())
    if match is None:
        return None
    first, separator, second = match.groups()
    if separator.isspace() and not ("." in first and "." in second):
        return None
    lat, lng = float(first), float(second)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise GeocodeError("Coordinates must be a latitude between -90 and 90 and a longitude "
                           "between -180 and 180, for example “40.75, -73.99”.")
    nearest = gazetteer().nearest_postcode(lat, lng, NEAREST_POSTCODE_KM)
    label = f"{lat:.5f}, {lng:.5f}"
    if nearest is None:
        return Place(label, lat, lng, GeoPrecision.EXACT, "", None)
    near = gazetteer().postcode_place(nearest)
    return Place(f"{label} (near {near.label})", lat, lng, GeoPrecision.EXACT, near.country,
                 near.region, near=near.label)


def _hint_countries(g: Gazetteer, text: str) -> set[str]:
    """Countries named or implied (by a region) anywhere in the text."""
    words = [w for w in re.split(r"[\s,]+", text) if w]
    found: set[str] = set()
    for size in (1, 2, 3):
        for i in range(len(words) - size + 1):
            qualifier = g.qualifier(" ".join(words[i:i + size]))
            if qualifier is not None:
                found |= set(qualifier.countries)
                found |= {g.regions[r].country for r in qualifier.regions}
    return found


EIRCODE_SHAPED = re.compile(r"([AC-FHKNPRTV-Y]\d{2}|D6W)[A-Z\d]{4}")
EIRCODE_MESSAGE = ("“{text}” is not a valid Eircode: after the routing key ({key}) come four "
                   "characters, digits or the letters A, C, D, E, F, H, K, N, P, R, T, V, W, X "
                   "and Y.")


def _refuse_a_wrong_postcode(text: str, wanted: str | None) -> None:
    """A query shaped as a postcode is refused with a message when it cannot be one: an
    Eircode with letters Eircodes do not use ("T12 AB12" is not Scotland's AB12), or another
    country's postcode when a country is chosen ("80202" in Ireland)."""
    compact = re.sub(r"[\s\-‐-―]+", "", text).upper()
    if (EIRCODE_SHAPED.fullmatch(compact) and not IE_FULL.fullmatch(compact)
            and not GB_FULL.fullmatch(compact) and wanted in (None, "IE")):
        raise GeocodeError(EIRCODE_MESSAGE.format(text=text, key=compact[:3]))
    if wanted is None or normalise_postcode(text, wanted) is not None:
        return
    try:
        elsewhere = normalise_postcode(text, None)
    except Ambiguous:
        elsewhere = ("", "")
    if elsewhere is not None:
        raise GeocodeError(f"“{text}” is not a postcode of {vocab.country_in_sentence(wanted)}. "
                           "Check the postcode, or choose its country.")


def _geocode_postcode(g: Gazetteer, text: str, wanted: str | None) -> Place | None:
    """The postcode in the query, if the query is one, starts with one or ends with one."""
    _refuse_a_wrong_postcode(text, wanted)
    key = normalise_postcode(text, wanted)
    if key is not None:
        found = g.postcode(*key)
        if found is None:
            raise _not_found(text)
        return found
    segments = [s.strip() for s in text.split(",") if s.strip()]
    words = text.replace(",", " ").split()
    attempts: list[tuple[str, str]] = []
    if len(segments) > 1:
        attempts.append((segments[0], text[len(segments[0]):]))
    for size in (2, 1):
        if len(words) > size:
            tail = " ".join(words[-size:])
            if any(ch.isdigit() for ch in tail):
                attempts.append((tail, " ".join(words[:-size])))
    for candidate, rest in attempts:
        hints = _hint_countries(g, rest)
        country = wanted or (hints.pop() if len(hints) == 1 else None)
        try:
            key = normalise_postcode(candidate, country)
        except Ambiguous:
            continue
        if key is not None and (found := g.postcode(*key)) is not None:
            return found
    return None


def _geocode_place(g: Gazetteer, text: str, wanted: str | None) -> Place:
    """A place name, optionally followed by regions, countries or a nearby place."""
    segments = [s.strip() for s in text.split(",") if s.strip()]
    if not segments:
        raise _not_found(text)
    head, filters = segments[0], []
    for segment in segments[1:]:
        qualifier = g.qualifier(segment)
        if qualifier is None:
            qualifier = _near_filter(g, segment)
        if qualifier is None:
            raise _not_found(text)
        filters.append(qualifier)
    if wanted is not None:
        filters.append(Filter(countries=frozenset({wanted})))
    # "Portland OR", "Melbourne VIC", "Salt Lake City Utah": trailing words may be a region.
    words = head.split()
    options: list[tuple[str, list[Filter]]] = [(head, filters)]
    for i in range(len(words) - 1, 0, -1):
        qualifier = g.qualifier(" ".join(words[i:]))
        if qualifier is not None:
            options.append((" ".join(words[:i]), [*filters, qualifier]))
    for name, conditions in options:
        rows = _rows_named(g, name)
        rows = [r for r in rows if all(f.accepts(r) for f in conditions)]
        if rows:
            if not conditions:
                _not_a_world_city(g, head, text, rows)
            return _choose(g, rows, text)
    if not filters:
        _not_a_world_city(g, head, text, [])
    raise _not_found(text)


def _not_a_world_city(g: Gazetteer, name: str, text: str, rows: list[PlaceRow]) -> None:
    """ "Zürich", "Kraków" alone mean the large city outside the six countries, not the small
    town of that name in them: say which countries we cover (and offer the towns, if any)."""
    found = world_city(name)
    largest = max((r.population for r in rows), default=0)
    if found is None or largest >= WORLD_CITY_LOCAL_MAX or (
            found[1] < WORLD_CITY_DOMINANCE * max(largest, UNKNOWN_POPULATION)):
        return
    where = vocab.country_name(found[0])
    if not rows:
        raise GeocodeError(f"“{text}” is in {where}: we list practitioners only in {COVERED}.")
    rows = sorted(rows, key=lambda r: r.importance, reverse=True)
    raise Ambiguous(f"“{text}” is a city in {where}, and we list practitioners only in "
                    f"{COVERED}. Did you mean one of these?",
                    [g.place(r) for r in rows[:MAX_CANDIDATES]])


def _rows_named(g: Gazetteer, name: str) -> list[PlaceRow]:
    """Places called `name`; "Newton (CB22)" picks the Newton around postcode CB22."""
    match = CODE_HINT.fullmatch(name)
    if match:
        code = re.sub(r"\s+", "", match.group(2)).upper()
        return [r for r in g.places_named(match.group(1)) if r.code == code]
    return g.places_named(name)


def _near_filter(g: Gazetteer, text: str) -> Filter | None:
    """ "Shoreditch, London": keep places within NEAR_KM of a place called London."""
    anchors = _rows_named(g, text)
    return Filter(near=tuple(anchors)) if anchors else None


def _choose(g: Gazetteer, rows: list[PlaceRow], text: str) -> Place:
    """The place, or Ambiguous unless one is far more populous than the rest."""
    rows = sorted(rows, key=lambda r: r.importance, reverse=True)
    if len(rows) == 1 or rows[0].importance[0] >= DOMINANCE * rows[1].importance[0]:
        return g.place(rows[0])
    candidates = [g.place(r) for r in rows[:MAX_CANDIDATES]]
    raise Ambiguous(f"“{text}” matches more than one place. Choose one below, or add a state, "
                    "province or country.", candidates)
