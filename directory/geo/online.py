"""Online geocoding of practice locations as they are saved: the only module that imports geopy.

Locations are geocoded offline from the gazetteer; with GEOCODER = "nominatim", saving a
location first asks Nominatim (through geopy) for the street address and falls back to the
gazetteer on any failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from geopy import exc as geopy_exc  # tests raise these through geo.geopy_exc
from geopy.geocoders import Nominatim

from directory.geo.distance import haversine_km
from directory.geo.gazetteer import COUNTRY_NAMES, gazetteer
from directory.geo.parse import (
    MAX_QUERY_LENGTH,
    _geocode_place,
    clean_query,
    country_code,
    normalise_postcode,
)
from directory.geo.place import Ambiguous, GeocodeError, Place
from directory.vocab import GeoPrecision

log = logging.getLogger(__name__)

# An online result farther than this from the postcode or town entered is not trusted.
ONLINE_MAX_KM = 100.0


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
