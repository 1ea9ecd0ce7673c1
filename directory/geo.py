"""Geocoding: postcodes and place names to coordinates, distances and bounding boxes.

The only module that imports geopy. Locations are geocoded when they are saved
(`geocode_location`), and a search query once per search (`geocode`); both work offline from
the gazetteer in data/gazetteer.csv.gz (GeoNames, CC BY 4.0; see data/GAZETTEER.md). With
GEOCODER = "nominatim", saving a location first asks Nominatim (through geopy) for the street
address and falls back to the gazetteer on any failure.
"""

from __future__ import annotations

import gc
import gzip
import logging
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from geopy import exc as geopy_exc  # tests raise these through geo.geopy_exc
from geopy.geocoders import Nominatim

from directory.vocab import PRIMARY_COUNTRIES, GeoPrecision

log = logging.getLogger(__name__)

GAZETTEER_PATH = Path(__file__).resolve().parent / "data" / "gazetteer.csv.gz"
COLUMNS = ("kind", "country", "code", "name", "region", "lat", "lng", "population", "postcodes")
EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180  # of latitude
GRID_DEG = 0.25  # cells of the nearest-postcode grid (about 28 km north to south)
KM_PER_MILE = 1.609344
MAX_QUERY_LENGTH = 200
MAX_CANDIDATES = 10
# A place name resolves without asking when its most populous place has at least this many
# times the population of the next (London, England: 21 × London, Ontario), and is ambiguous
# otherwise (Portland, Oregon: 9.8 × Portland, Maine).
DOMINANCE = 15.0
# Places GeoNames gives no population (villages and suburbs under 1,000 people, or unmatched).
UNKNOWN_POPULATION = 1000
# An online result farther than this from the postcode or town entered is not trusted.
ONLINE_MAX_KM = 100.0
# Exact coordinates take the country and region of the nearest postcode within this distance.
NEAREST_POSTCODE_KM = 50.0
# "Shoreditch, London": a place qualified by another place must lie within this distance of it.
NEAR_KM = 50.0

COUNTRY_NAMES: dict[str, str] = {
    "US": "United States", "AU": "Australia", "GB": "United Kingdom",
    "CA": "Canada", "NZ": "New Zealand", "IE": "Ireland",
}
COUNTRY_ALIASES: dict[str, str] = {
    "us": "US", "usa": "US", "united states": "US", "united states of america": "US",
    "america": "US",
    "au": "AU", "aus": "AU", "australia": "AU",
    "gb": "GB", "uk": "GB", "united kingdom": "GB", "great britain": "GB", "britain": "GB",
    "ca": "CA", "can": "CA", "canada": "CA",
    "nz": "NZ", "new zealand": "NZ", "aotearoa": "NZ",
    "ie": "IE", "irl": "IE", "ireland": "IE", "eire": "IE", "republic of ireland": "IE",
}
# Region labels use the short code in these countries ("NY", "VIC", "ON"), the name elsewhere.
SHORT_REGION_COUNTRIES = frozenset({"US", "AU", "CA"})
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
TOKEN_ALIASES = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort", "pt": "point"}


@dataclass(frozen=True)
class Place:
    """A geocoded point with a label for people and how precise it is."""

    label: str
    lat: float
    lng: float
    precision: GeoPrecision
    country: str  # ISO 3166-1 alpha-2; "" for coordinates far from any known postcode
    region: str | None  # ISO 3166-2, e.g. "US-CO", "AU-VIC", "GB-ENG"
    source: str = "gazetteer"  # "gazetteer" | "online"
    # Set when the online geocoder was configured but not used: why, in a sentence for people.
    fallback_reason: str | None = None
    # For coordinates: the label of the nearest known postcode (within NEAREST_POSTCODE_KM).
    near: str | None = None


class GeocodeError(ValueError):
    """A query that cannot be turned into a place; `message` is a sentence for people."""

    def __init__(self, message: str) -> None:
        """Keep the message for display."""
        super().__init__(message)
        self.message = message


class Ambiguous(GeocodeError):
    """A query that matches several places; `candidates` are ordered by importance."""

    def __init__(self, message: str, candidates: list[Place]) -> None:
        """Keep the message and the candidates to offer."""
        super().__init__(message)
        self.candidates = candidates


class Region(NamedTuple):
    """A state, province or constituent country."""

    code: str
    country: str
    name: str
    lat: float
    lng: float


class PostcodeRow(NamedTuple):
    """A postcode as the gazetteer stores it."""

    country: str
    code: str
    name: str
    region: str
    lat: float
    lng: float


class PlaceRow(NamedTuple):
    """A town, suburb or city as the gazetteer stores it."""

    country: str
    code: str
    name: str
    region: str
    lat: float
    lng: float
    population: int
    postcodes: int

    @property
    def importance(self) -> tuple[int, int]:
        """Population (a floor for unknown ones), then number of postcodes."""
        return max(self.population, UNKNOWN_POPULATION), self.postcodes


@dataclass(frozen=True)
class Filter:
    """A qualifier: "OR", "Oregon", "USA" (regions, countries) or "London" (near a place)."""

    regions: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    near: tuple[PlaceRow, ...] = ()

    def accepts(self, row: PlaceRow) -> bool:
        """Whether a place lies in one of the regions or countries, or near the places."""
        if self.near:
            return any(haversine_km(row.lat, row.lng, a.lat, a.lng) <= NEAR_KM for a in self.near)
        return row.region in self.regions or row.country in self.countries


_SIMPLE_NAME = re.compile(r"[A-Za-z ]+")
_NEEDS_ALIAS = frozenset(TOKEN_ALIASES) | {"mc"}


def name_key(name: str) -> str:
    """Fold a name for matching: accents, case, punctuation, St/Mt/Ft, "Mc Kenzie"."""
    if _SIMPLE_NAME.fullmatch(name):  # most names: a fast path for loading the gazetteer
        words = name.lower().split()
        if _NEEDS_ALIAS.isdisjoint(words):
            return " ".join(words)
    if not name.isascii():
        name = unicodedata.normalize("NFKD", name)
        name = "".join(ch for ch in name if not unicodedata.combining(ch))
    text = re.sub(r"['’`.]", "", name.casefold()).replace("&", " and ")
    words = [TOKEN_ALIASES.get(w, w) for w in re.sub(r"[^\w]+", " ", text).split()]
    return re.sub(r"\bmc ", "mc", " ".join(words))


class Gazetteer:
    """Postcodes, places and regions of the six countries, indexed for lookup."""

    # Rows stay as the CSV's strings until asked for, so that loading stays fast.

    def __init__(self, text: str) -> None:
        """Index the CSV text (see tools/build_gazetteer.py for the columns)."""
        self.regions: dict[str, Region] = {}
        self.region_aliases: dict[str, set[str]] = {}
        # Raw CSV lines, split when asked for: "US,10001" → its line; name key → lines.
        self._postcodes: dict[str, str] = {}
        self._places: dict[str, list[str]] = {}
        self._grid: dict[tuple[int, int], list[PostcodeRow]] | None = None
        lines = text.splitlines()
        if not lines or lines[0] != ",".join(COLUMNS):
            raise RuntimeError(f"{GAZETTEER_PATH} does not start with {','.join(COLUMNS)}")
        postcodes, places, pending = self._postcodes, self._places, []
        for line in lines[1:]:
            kind, country, code, name, _ = line.split(",", 4)
            if kind == "postcode":
                postcodes[f"{country},{code}"] = line
            elif kind == "place":
                if name:
                    places.setdefault(name_key(name), []).append(line)
                else:
                    pending.append((f"{country},{code}", line))
            elif kind == "region":
                self._add_region(line.split(","))
        for code, line in pending:  # a blank name is that of the postcode
            places.setdefault(name_key(postcodes[code].split(",", 4)[3]), []).append(line)

    def _add_region(self, row: list[str]) -> None:
        """Record a region and the names and codes people may type for it."""
        _, country, code, names, _, lat, lng, _, _ = row
        canonical, *aliases = names.split("|")
        self.regions[code] = Region(code, country, canonical, float(lat), float(lng))
        short = code.split("-", 1)[1]
        typed = [canonical, *aliases, code]
        if len(short) > 1:
            typed.append(short)
        for text in typed:
            self.region_aliases.setdefault(name_key(text), set()).add(code)

    def __len__(self) -> int:
        """Number of postcodes and places."""
        return len(self._postcodes) + sum(len(rows) for rows in self._places.values())

    def postcode_row(self, country: str, code: str) -> PostcodeRow | None:
        """A postcode's row, or None when the gazetteer does not have it."""
        line = self._postcodes.get(f"{country},{code}")
        if line is None:
            return None
        row = line.split(",")
        return PostcodeRow(row[1], row[2], row[3], row[4], float(row[5]), float(row[6]))

    def postcode(self, country: str, code: str) -> Place | None:
        """The Place of a postcode, or None when the gazetteer does not have it."""
        row = self.postcode_row(country, code)
        return None if row is None else self.postcode_place(row)

    def largest_places(self, min_population: int) -> list[PlaceRow]:
        """Every place of at least this population, most populous first (for demo data)."""
        found = []
        for key, lines in self._places.items():
            if any(int(line.split(",")[7] or 0) >= min_population for line in lines):
                found += [row for row in self.places_named(key)
                          if row.population >= min_population]
        found.sort(key=lambda row: row.population, reverse=True)
        return found

    def places_named(self, name: str) -> list[PlaceRow]:
        """The places called `name` (folded), most important first."""
        rows = []
        for line in self._places.get(name_key(name), ()):
            _, country, code, place_name, region, lat, lng, population, count = line.split(",")
            base = self._postcodes[f"{country},{code}"].split(",")
            rows.append(PlaceRow(
                country, code, place_name or base[3], region or base[4],
                float(lat or base[5]), float(lng or base[6]),
                int(population) if population else 0, int(count) if count else 1))
        rows.sort(key=lambda p: p.importance, reverse=True)
        return rows

    def postcode_place(self, row: PostcodeRow) -> Place:
        """A postcode row as a Place labelled "10001, New York, NY, United States"."""
        parts = [row.code, row.name, self.region_label(row.region, short=True),
                 COUNTRY_NAMES[row.country]]
        return Place(", ".join(p for p in parts if p), row.lat, row.lng, GeoPrecision.POSTCODE,
                     row.country, row.region or None)

    def place(self, row: PlaceRow) -> Place:
        """A place row as a Place labelled "Portland, Oregon, United States"."""
        name = row.name
        same = [p for p in self.places_named(row.name)
                if p.country == row.country and p.region == row.region]
        if len(same) > 1:
            name = f"{name} ({row.code})"  # e.g. the many villages called Newton in England
        parts = [name, self.region_label(row.region), COUNTRY_NAMES[row.country]]
        return Place(", ".join(p for p in parts if p), row.lat, row.lng, GeoPrecision.PLACE,
                     row.country, row.region or None)

    def region_label(self, code: str, short: bool = False) -> str:
        """ "NY" or "New York" for US-NY; "" for no region."""
        region = self.regions.get(code)
        if region is None:
            return ""
        if short and region.country in SHORT_REGION_COUNTRIES:
            return code.split("-", 1)[1]
        return region.name

    def qualifier(self, text: str) -> Filter | None:
        """Read "OR", "Oregon", "USA" or "Oregon USA" as a filter; None if it is neither."""
        key = name_key(text)
        found = self._alias(key)
        if found is not None:
            return found
        words = key.split()
        if len(words) > 8:  # no region and country together are that long
            return None
        for i in range(1, len(words)):
            left, right = self._alias(" ".join(words[:i])), self._alias(" ".join(words[i:]))
            if left and right:
                # "Oregon USA": the region must lie in the country.
                regions = {r for r in left.regions if self.regions[r].country in right.countries}
                regions |= {r for r in right.regions if self.regions[r].country in left.countries}
                if regions:
                    return Filter(regions=frozenset(regions))
        return None

    def _alias(self, key: str) -> Filter | None:
        """The regions and country a folded name or code stands for, if any."""
        regions = self.region_aliases.get(key, set())
        country = COUNTRY_ALIASES.get(key)
        if regions or country:
            return Filter(frozenset(regions), frozenset({country} if country else ()))
        return None

    def nearest_postcode(self, lat: float, lng: float, within_km: float) -> PostcodeRow | None:
        """The postcode nearest a point, if one lies within the distance (up to ~100 km)."""
        if self._grid is None:
            grid: dict[tuple[int, int], list[PostcodeRow]] = {}
            for key in self._postcodes:
                row = self.postcode_row(*key.split(","))
                assert row is not None  # noqa: S101 — a key of the same dict
                grid.setdefault(self._cell(row.lat, row.lng), []).append(row)
            self._grid = grid
        # Rank the candidates by a flat-earth distance (cheap arithmetic, the same order as the
        # great-circle distance at this scale), then check the winner exactly. Cells are read
        # in rings around the point's own until no unread cell can hold a nearer postcode.
        coslat = math.cos(math.radians(lat))
        best_d2, best = math.inf, None
        i0, j0 = self._cell(lat, lng)
        columns = round(360 / GRID_DEG)
        for ring in range(0, math.ceil(within_km / KM_PER_DEGREE / GRID_DEG / max(coslat, 0.1))
                          + 2):
            for i in range(i0 - ring, i0 + ring + 1):
                edge = abs(i - i0) == ring
                for j in range(j0 - ring, j0 + ring + 1, 1 if edge else 2 * ring or 1):
                    for row in self._grid.get((i, j % columns), ()):
                        dy = row.lat - lat
                        dx = ((row.lng - lng + 180) % 360 - 180) * coslat
                        d2 = dx * dx + dy * dy
                        if d2 < best_d2:
                            best_d2, best = d2, row
            # Every unread cell lies at least this far (in degrees of latitude) from the point.
            reach = ring * GRID_DEG * min(1.0, coslat)
            if best_d2 <= reach * reach or reach * KM_PER_DEGREE > within_km:
                break
        if best is None or haversine_km(lat, lng, best.lat, best.lng) > within_km:
            return None
        return best

    @staticmethod
    def _cell(lat: float, lng: float) -> tuple[int, int]:
        return (math.floor(lat / GRID_DEG),
                math.floor(lng / GRID_DEG) % round(360 / GRID_DEG))


@cache
def gazetteer() -> Gazetteer:
    """The gazetteer, loaded from data/gazetteer.csv.gz once per process."""
    with gzip.open(GAZETTEER_PATH, "rt", encoding="utf-8", newline="") as fh:
        text = fh.read()
    # The cyclic garbage collector would walk the new containers again and again while they
    # are built, for nothing: none of them is garbage. Pausing it halves the load time.
    paused = gc.isenabled()
    gc.disable()
    try:
        return Gazetteer(text)
    finally:
        if paused:
            gc.enable()


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
        raise GeocodeError(
            "We can search only in the United States, Australia, the United Kingdom, Canada, "
            "New Zealand and Ireland.") from None
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


def _geocode_postcode(g: Gazetteer, text: str, wanted: str | None) -> Place | None:
    """The postcode in the query, if the query is one, starts with one or ends with one."""
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
            return _choose(g, rows, text)
    raise _not_found(text)


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


class OnlineGeocoder(Protocol):
    """What geocode_location needs of a geopy geocoder (Nominatim, or a fake in tests)."""

    def geocode(self, query: Any, **kwargs: Any) -> Any:
        """A geopy Location (latitude, longitude, address) or None."""


def nominatim_geocoder(config: Mapping[str, Any]) -> OnlineGeocoder:
    """geopy's Nominatim client configured from GEOCODER_USER_AGENT and GEOCODER_TIMEOUT."""
    agent = config.get("GEOCODER_USER_AGENT") or (
        f"dry-needling-directory ({config.get('SITE_URL', 'http://localhost')})")
    return Nominatim(user_agent=agent, timeout=float(config.get("GEOCODER_TIMEOUT", 5)))


def _app_config() -> Mapping[str, Any]:
    """The current Flask app's config, or nothing outside an app context."""
    from flask import current_app, has_app_context

    return current_app.config if has_app_context() else {}


def geocode_location(
    street: str | None,
    city: str | None,
    region: str | None,
    postcode: str | None,
    country: str | None,
    *,
    config: Mapping[str, Any] | None = None,
    geocoder_factory: Callable[[Mapping[str, Any]], OnlineGeocoder] | None = None,
) -> Place | None:
    """Geocode a practice location when it is saved; None means it cannot be placed."""
    # The postcode first (precision "postcode"), else city and region ("place"). With
    # GEOCODER = "nominatim" the street address is tried online first ("exact", source
    # "online"); on any failure the gazetteer answers and `fallback_reason` says why.
    # `config` defaults to the current app's; `geocoder_factory` to nominatim_geocoder.
    config = _app_config() if config is None else config
    offline = _offline_location(city, region, postcode, country)
    mode = str(config.get("GEOCODER", "offline")).lower()
    if mode == "offline":
        return offline
    if mode != "nominatim":
        log.warning("unknown GEOCODER %r: using the offline gazetteer", mode)
        return offline
    if not (street and street.strip()):
        return offline
    reason: str
    try:
        online = _online_location(street, city, region, postcode, country, config,
                                  geocoder_factory or nominatim_geocoder)
    except (geopy_exc.GeopyError, TimeoutError, OSError) as exc:
        log.warning("online geocoding failed, using the gazetteer: %s: %s",
                    type(exc).__name__, exc)
        reason = ("The street-address lookup was unavailable, so the location was placed by "
                  "its postcode or town.")
    else:
        if online is not None and offline is not None and haversine_km(
                online.lat, online.lng, offline.lat, offline.lng) > ONLINE_MAX_KM:
            log.warning("online result %s is over %s km from %s; using the gazetteer",
                        online.label, ONLINE_MAX_KM, offline.label)
            reason = ("The street-address lookup gave a point far from the postcode or town, "
                      "so the location was placed by its postcode or town.")
        elif online is not None:
            if offline is None:
                return online
            return replace(online, country=online.country or offline.country,
                           region=online.region or offline.region)
        else:
            reason = ("The street address was not found, so the location was placed by its "
                      "postcode or town.")
    return replace(offline, fallback_reason=reason) if offline is not None else None


def _offline_location(city: str | None, region: str | None, postcode: str | None,
                      country: str | None) -> Place | None:
    """The gazetteer's answer for a location: its postcode, else its city and region."""
    try:
        wanted = country_code(country)
    except ValueError:
        return None
    g = gazetteer()
    if postcode and postcode.strip():
        try:
            key = normalise_postcode(postcode, wanted)
        except Ambiguous:
            key = None
        if key is not None and (found := g.postcode(*key)) is not None:
            return found
    if city and city.strip() and len(city) <= MAX_QUERY_LENGTH:
        query = ", ".join(p.strip() for p in (city, region) if p and p.strip())
        try:
            return _geocode_place(g, clean_query(query), wanted)
        except GeocodeError:  # unknown, or several places of that name: better none than wrong
            return None
    return None


def _online_location(street: str, city: str | None, region: str | None,
                     postcode: str | None, country: str | None, config: Mapping[str, Any],
                     factory: Callable[[Mapping[str, Any]], OnlineGeocoder]) -> Place | None:
    """Ask the online geocoder for the street address; None when it finds nothing."""
    try:
        wanted = country_code(country)
    except ValueError:
        wanted = None
    query = {"street": street.strip(), "city": (city or "").strip(),
             "state": (region or "").strip(), "postalcode": (postcode or "").strip(),
             "country": COUNTRY_NAMES.get(wanted or "", (country or "").strip())}
    query = {k: v for k, v in query.items() if v}
    kwargs: dict[str, Any] = {"exactly_one": True}
    if wanted:
        kwargs["country_codes"] = [wanted.lower()]
    location = factory(config).geocode(query, **kwargs)
    if location is None:
        return None
    lat, lng = float(location.latitude), float(location.longitude)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    region_code = None
    if region and (qualifier := gazetteer().qualifier(region)) is not None:
        matching = [r for r in qualifier.regions if wanted is None or r.startswith(wanted)]
        region_code = matching[0] if len(matching) == 1 else None
    return Place(str(location.address), lat, lng, GeoPrecision.EXACT, wanted or "", region_code,
                 source="online")


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in kilometres between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lng: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) holding every point within radius_km; never wraps."""
    # Where the circle reaches a pole or crosses the antimeridian the longitude range is the
    # whole -180..180: still correct, only less selective (the haversine filter in SQL does
    # the rest), and min_lng <= max_lng always holds. `bounding_boxes` splits in two instead.
    if not all(math.isfinite(v) for v in (lat, lng, radius_km)) or radius_km < 0:
        raise ValueError("bounding_box needs finite coordinates and a radius of 0 or more")
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ValueError("latitude must be within -90..90 and longitude within -180..180")
    angle = radius_km / EARTH_RADIUS_KM
    min_lat, max_lat = lat - math.degrees(angle), lat + math.degrees(angle)
    if min_lat <= -90 or max_lat >= 90:
        return max(min_lat, -90.0), min(max_lat, 90.0), -180.0, 180.0
    # The widest longitude of a circle (Matuschek, "Finding points within a distance").
    dlng = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat)))))
    min_lng, max_lng = lng - dlng, lng + dlng
    if min_lng < -180 or max_lng > 180:
        return min_lat, max_lat, -180.0, 180.0
    return min_lat, max_lat, min_lng, max_lng


def bounding_boxes(lat: float, lng: float,
                   radius_km: float) -> list[tuple[float, float, float, float]]:
    """Like bounding_box, but split in two where the circle crosses the antimeridian."""
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius_km)
    if (min_lng, max_lng) != (-180.0, 180.0) or min_lat <= -90 or max_lat >= 90:
        return [(min_lat, max_lat, min_lng, max_lng)]
    angle = radius_km / EARTH_RADIUS_KM
    dlng = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat)))))
    if dlng >= 180:
        return [(min_lat, max_lat, -180.0, 180.0)]
    west, east = lng - dlng, lng + dlng
    if west < -180:
        return [(min_lat, max_lat, -180.0, east), (min_lat, max_lat, west + 360, 180.0)]
    return [(min_lat, max_lat, west, 180.0), (min_lat, max_lat, -180.0, east - 360)]
