"""The offline gazetteer: postcodes, places and regions of the six countries, from
data/gazetteer.csv.gz (GeoNames, CC BY 4.0; see data/GAZETTEER.md), loaded once per process."""

from __future__ import annotations

import gc
import gzip
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pycountry

from directory.geo.distance import KM_PER_DEGREE, haversine_km
from directory.geo.place import Place
from directory.vocab import GeoPrecision

GAZETTEER_PATH = Path(__file__).resolve().parent.parent / "data" / "gazetteer.csv.gz"
# Cities of 100,000 people or more outside the six countries (tools/build_world_cities.py).
WORLD_CITIES_PATH = GAZETTEER_PATH.with_name("world_cities.csv.gz")
COLUMNS = ("kind", "country", "code", "name", "region", "lat", "lng", "population", "postcodes")
GRID_DEG = 0.25  # cells of the nearest-postcode grid (about 28 km north to south)
# Places GeoNames gives no population (villages and suburbs under 1,000 people, or unmatched).
UNKNOWN_POPULATION = 1000
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

TOKEN_ALIASES = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort", "pt": "point"}
# Counties people write after a town ("Leeds, West Yorkshire") that ISO 3166-2 lists no code for
# (England's metropolitan counties and Greater London): the region each lies in. Counties that
# have a code ("Oxfordshire", "Cork") come from pycountry, each under its top-level region.
COUNTIES_WITHOUT_CODES = {
    "GB-ENG": ("Greater London", "Greater Manchester", "Merseyside", "South Yorkshire",
               "Tyne and Wear", "West Midlands", "West Yorkshire"),
}
# "Co. Cork", "County Durham": the word before a county's name.
COUNTY_WORDS = ("co ", "county ")


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
        self._add_counties()

    def _add_counties(self) -> None:
        """Counties, council areas and districts people type after a town, each standing for
        the top-level region it lies in ("Oxfordshire" → England, "Cork" → Munster); a name
        that is already a region's or a country's keeps that meaning."""
        counties: dict[str, set[str]] = {}
        for country in {r.country for r in self.regions.values()}:
            by_code = {s.code: s for s in pycountry.subdivisions.get(country_code=country) or []}
            for sub in by_code.values():
                top = sub
                while top.parent_code and top.parent_code in by_code:
                    top = by_code[top.parent_code]
                if top is sub or top.code not in self.regions:
                    continue
                name = re.sub(r"\s*\[.*?\]", "", sub.name)  # "Cardiff [Caerdydd GB-CRD]"
                # ISO writes "Durham, County", "Bristol, City of", "Vale of Glamorgan, The".
                name, _, after = name.partition(", ")
                if after and after not in ("County", "City of", "The"):
                    continue  # "Newry, Mourne and Down": a list of places, not a name
                counties.setdefault(name_key(name), set()).add(top.code)
        for region, names in COUNTIES_WITHOUT_CODES.items():
            for name in names:
                counties.setdefault(name_key(name), set()).add(region)
        for key, regions in counties.items():
            if key not in self.region_aliases and key not in COUNTRY_ALIASES:
                self.region_aliases[key] = regions

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
        for word in COUNTY_WORDS:  # "Co. Cork", "County Durham"
            if key.startswith(word) and (found := self._alias(key[len(word):])) is not None:
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


@cache
def _world_cities() -> dict[str, tuple[str, int]]:
    """Folded name → (country, population) of the largest city of that name outside the six
    countries."""
    found: dict[str, tuple[str, int]] = {}
    with gzip.open(WORLD_CITIES_PATH, "rt", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            key, country, population = line.rstrip("\n").split(",")
            if int(population) > found.get(key, ("", 0))[1]:
                found[key] = (country, int(population))
    return found


def world_city(name: str) -> tuple[str, int] | None:
    """(country, population) of the largest city outside the six countries with this name
    ("Zürich" → ("CH", 415367)), or None."""
    return _world_cities().get(name_key(name))
