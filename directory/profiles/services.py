"""Profile services: change → flush → audit → commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm.exc import StaleDataError

from directory import geo
from directory.extensions import db
from directory.models import PracticeLocation, Practitioner, User, record
from directory.models.base import utcnow

PROFILE_FIELDS = (
    "full_name", "post_nominals", "profession", "licence_number", "licence_country",
    "licence_region", "bio", "phone", "public_email", "website", "booking_url",
    "accepting_new_patients", "insurance_notes",
)
LOCATION_FIELDS = ("clinic_name", "street", "city", "region", "postcode", "country",
                   "wheelchair_accessible")


class ConflictError(Exception):
    """The record changed since the form was loaded (another tab or device saved first)."""


def update_profile(practitioner: Practitioner, actor: User, expected_version: int | None,
                   values: dict[str, Any], techniques: list[str], conditions: list[str],
                   languages: list[str]) -> Practitioner:
    """Save profile fields and tags, refusing to overwrite a newer save."""
    if expected_version is not None and expected_version != practitioner.version:
        raise ConflictError("Your profile was changed elsewhere since you opened this page.")
    changed = sorted(k for k in PROFILE_FIELDS if getattr(practitioner, k) != values.get(k))
    # Everything from the first change to the flush is guarded: loading the tags can autoflush.
    try:
        for key in PROFILE_FIELDS:
            setattr(practitioner, key, values.get(key))
        before = (practitioner.techniques, practitioner.conditions, practitioner.languages)
        practitioner.set_codes("technique", techniques)
        practitioner.set_codes("condition", conditions)
        practitioner.set_codes("language", languages)
        if before != (practitioner.techniques, practitioner.conditions, practitioner.languages):
            changed.append("tags")
        # Touching the row on every save bumps its version, even when only tags changed.
        practitioner.updated_at = utcnow()
        db.session.flush()
    except StaleDataError as exc:
        db.session.rollback()
        raise ConflictError("Your profile was changed elsewhere since you opened this page.") \
            from exc
    record("profile.updated", practitioner, actor=actor, fields=changed)
    db.session.commit()
    return practitioner


ADDRESS_FIELDS = {"street", "city", "region", "postcode", "country"}


def geocode(location: PracticeLocation) -> geo.Place | None:
    """Place the location on the map from its address (None: it cannot appear in search)."""
    place = geo.geocode_location(location.street, location.city, location.region,
                                 location.postcode, location.country)
    if place is None:
        location.lat = location.lng = location.geo_precision = None
    else:
        location.lat, location.lng = place.lat, place.lng
        location.geo_precision = place.precision
    return place


def add_location(practitioner: Practitioner, actor: User, values: dict[str, Any]
                 ) -> tuple[PracticeLocation, geo.Place | None]:
    """Add a practice location, geocoded as it is saved."""
    location = PracticeLocation(**{k: values.get(k) for k in LOCATION_FIELDS})
    place = geocode(location)
    practitioner.locations.append(location)
    db.session.flush()
    record("location.added", location, actor=actor, practitioner_id=practitioner.id,
           precision=location.geo_precision)
    db.session.commit()
    return location, place


def update_location(location: PracticeLocation, actor: User, values: dict[str, Any]
                    ) -> tuple[PracticeLocation, geo.Place | None]:
    """Change a practice location; a changed address is geocoded again."""
    changed = sorted(k for k in LOCATION_FIELDS if getattr(location, k) != values.get(k))
    for key in LOCATION_FIELDS:
        setattr(location, key, values.get(key))
    place = None
    if set(changed) & ADDRESS_FIELDS or location.lat is None:
        place = geocode(location)
    db.session.flush()
    record("location.updated", location, actor=actor, fields=changed)
    db.session.commit()
    return location, place


def delete_location(location: PracticeLocation, actor: User) -> None:
    """Remove a practice location."""
    record("location.deleted", location, actor=actor, practitioner_id=location.practitioner_id,
           city=location.city)
    db.session.delete(location)
    db.session.commit()
