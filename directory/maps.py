"""Links to a map service: the one place that builds a "directions" link for a location.

Google Maps URLs (https://developers.google.com/maps/documentation/urls/get-started): a
documented, keyless link that opens directions to the destination in the patient's browser or
maps app. The destination is the postal address as the profile shows it (not the coordinates,
which may be only a postcode's or a town's centre). Nothing is fetched: the site stays offline.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from directory import vocab

DIRECTIONS_URL = "https://www.google.com/maps/dir/"


def address_line(location: Any) -> str:
    """The location's address on one line: street, town, region, postcode, country name."""
    parts = [location.street, location.city, location.region, location.postcode,
             vocab.country_name(location.country) if location.country else ""]
    return ", ".join(part.strip() for part in parts if part and part.strip())


def directions_url(location: Any) -> str:
    """A link that opens directions to the location's address (no API key needed)."""
    return f"{DIRECTIONS_URL}?{urlencode({'api': '1', 'destination': address_line(location)})}"
