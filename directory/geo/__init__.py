"""Geocoding: postcodes and place names to coordinates, distances and bounding boxes.

Locations are geocoded when they are saved (`geocode_location`), and a search query once per
search (`geocode`); both work offline from the gazetteer in data/gazetteer.csv.gz (GeoNames,
CC BY 4.0; see data/GAZETTEER.md). With GEOCODER = "nominatim", saving a location first asks
Nominatim (through geopy) for the street address and falls back to the gazetteer on any failure.

Callers use the names below as `geo.<name>`; the modules depend on each other one way only,
each on those above it:

- `distance`: EARTH_RADIUS_KM, KM_PER_DEGREE, KM_PER_MILE, `haversine_km`, `bounding_box`
  and `bounding_boxes` (split at the antimeridian).
- `place`: what geocoding answers: `Place`, `GeocodeError` and `Ambiguous`.
- `gazetteer`: the offline gazetteer: GAZETTEER_PATH, COLUMNS, the country names and aliases,
  its rows (`Region`, `PostcodeRow`, `PlaceRow`), `Filter`, `name_key`, `Gazetteer` and the
  once-per-process loader `gazetteer()`.
- `parse`: reading a search query: `country_code`, the postcode shapes of the six countries
  and `normalise_postcode`, `parse_coordinates` (LATLNG), `clean_query`, "Newton (CB22)" code
  hints, and `geocode(query, country)` itself.
- `online`: the only module that imports geopy: `OnlineGeocoder`, `nominatim_geocoder` and
  `geocode_location` (the gazetteer's answer, or Nominatim's when GEOCODER = "nominatim").

A test that replaces one of these must patch the module that looks it up (for example
`geo.online.nominatim_geocoder`), not this package. `geo.gazetteer` is the loader function,
which hides the submodule of the same name here: import from `directory.geo.gazetteer` (or
use `sys.modules["directory.geo.gazetteer"]`) to reach the module itself.
"""

from __future__ import annotations

from directory.geo import distance, online, parse, place
from directory.geo.distance import (
    EARTH_RADIUS_KM,
    KM_PER_DEGREE,
    KM_PER_MILE,
    bounding_box,
    bounding_boxes,
    haversine_km,
)
from directory.geo.gazetteer import (
    COLUMNS,
    COUNTRY_ALIASES,
    COUNTRY_NAMES,
    GAZETTEER_PATH,
    GRID_DEG,
    NEAR_KM,
    SHORT_REGION_COUNTRIES,
    TOKEN_ALIASES,
    UNKNOWN_POPULATION,
    Filter,
    Gazetteer,
    PlaceRow,
    PostcodeRow,
    Region,
    gazetteer,
    name_key,
)
from directory.geo.online import (
    ONLINE_MAX_KM,
    OnlineGeocoder,
    geocode_location,
    geopy_exc,
    nominatim_geocoder,
)
from directory.geo.parse import (
    AU_NZ,
    CA_FSA,
    CA_FULL,
    CODE_HINT,
    COUNTRY_ORDER,
    DOMINANCE,
    GB_FULL,
    GB_OUTWARD,
    IE_FULL,
    IE_KEY,
    LATLNG,
    MAX_CANDIDATES,
    MAX_QUERY_LENGTH,
    NEAREST_POSTCODE_KM,
    US_ZIP,
    clean_query,
    country_code,
    geocode,
    normalise_postcode,
    parse_coordinates,
)
from directory.geo.place import Ambiguous, GeocodeError, Place

__all__ = [
    "AU_NZ", "CA_FSA", "CA_FULL", "CODE_HINT", "COLUMNS", "COUNTRY_ALIASES", "COUNTRY_NAMES",
    "COUNTRY_ORDER", "DOMINANCE", "EARTH_RADIUS_KM", "GAZETTEER_PATH", "GB_FULL", "GB_OUTWARD",
    "GRID_DEG", "IE_FULL", "IE_KEY", "KM_PER_DEGREE", "KM_PER_MILE", "LATLNG", "MAX_CANDIDATES",
    "MAX_QUERY_LENGTH", "NEAREST_POSTCODE_KM", "NEAR_KM", "ONLINE_MAX_KM",
    "SHORT_REGION_COUNTRIES", "TOKEN_ALIASES", "UNKNOWN_POPULATION", "US_ZIP",
    "Ambiguous", "Filter", "Gazetteer", "GeocodeError", "OnlineGeocoder", "Place", "PlaceRow",
    "PostcodeRow", "Region",
    "bounding_box", "bounding_boxes", "clean_query", "country_code", "distance", "gazetteer",
    "geocode", "geocode_location", "geopy_exc", "haversine_km", "name_key",
    "nominatim_geocoder", "normalise_postcode", "online", "parse", "parse_coordinates", "place",
]
