"""What geocoding answers: a Place, or a GeocodeError (Ambiguous when several places match)."""

from __future__ import annotations

from dataclasses import dataclass

from directory.vocab import GeoPrecision


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
