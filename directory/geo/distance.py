"""Distances on the earth: great-circle kilometres, and the bounding boxes searches filter by."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180  # of latitude
KM_PER_MILE = 1.609344


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
