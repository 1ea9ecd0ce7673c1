"""Profile services: change → flush → audit → commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from directory import geo, hours, listing, outbox, vocab
from directory.extensions import db
from directory.licences import nppes
from directory.licences import services as licence_services
from directory.links import absolute_url
from directory.models import OpeningHours, PracticeLocation, Practitioner, User, record
from directory.models.base import utcnow
from directory.profiles import photos
from directory.vocab import LicenceStatus, TagKind

PROFILE_FIELDS = (
    "full_name", "post_nominals", "profession", "licence_number", "licence_country",
    "licence_region", "npi", "bio", "phone", "public_email", "website", "booking_url",
    "accepting_new_patients", "insurance_notes", "show_phone", "show_public_email",
    "enquiries_enabled", "fee_first_visit", "fee_follow_up", "fee_currency",
)
LOCATION_FIELDS = ("clinic_name", "street", "city", "region", "postcode", "country",
                   "wheelchair_accessible")


class ConflictError(Exception):
    """The record changed since the form was loaded (another tab or device saved first)."""


def update_profile(practitioner: Practitioner, actor: User, expected_version: int | None,
                   values: dict[str, Any], techniques: list[str], conditions: list[str],
                   languages: list[str], insurers: list[str] | None = None) -> Practitioner:
    """Save profile fields and tags (insurers None: unchanged), refusing to overwrite a newer
    save."""
    if expected_version is not None and expected_version != practitioner.version:
        raise ConflictError("Your profile was changed elsewhere since you opened this page.")
    changed = sorted(k for k in PROFILE_FIELDS if getattr(practitioner, k) != values.get(k))
    # Everything from the first change to the flush is guarded: loading the tags can autoflush.
    try:
        for key in PROFILE_FIELDS:
            setattr(practitioner, key, values.get(key))
        def tags() -> list[str]:
            return [(t.kind, t.code) for t in practitioner.tags]

        before = sorted(tags())
        practitioner.set_codes(TagKind.TECHNIQUE, techniques)
        practitioner.set_codes(TagKind.CONDITION, conditions)
        practitioner.set_codes(TagKind.LANGUAGE, languages)
        if insurers is not None:
            practitioner.set_codes(TagKind.INSURANCE, insurers)
        if before != sorted(tags()):
            changed.append("tags")
        # Touching the row on every save bumps its version, even when only tags changed.
        practitioner.updated_at = utcnow()
        _mark_attested(practitioner)  # saving the profile confirms it is accurate
        db.session.flush()
    except StaleDataError as exc:
        db.session.rollback()
        raise ConflictError("Your profile was changed elsewhere since you opened this page.") \
            from exc
    record("profile.updated", practitioner, actor=actor, fields=changed)
    licence_services.identity_changed(practitioner, set(changed), actor)
    licence = practitioner.licence
    if licence is None or licence.status == LicenceStatus.UNVERIFIED:
        # A US licence with an NPI is checked against the loaded NPPES file at once (a
        # mismatch records nothing: an administrator sees why on the licence review page).
        nppes.verify_from_nppes(practitioner, commit=False)
    db.session.commit()
    return practitioner


def _mark_attested(practitioner: Practitioner) -> None:
    """Record a "still accurate" confirmation now; the next year's reminders are due again."""
    practitioner.attested_at = utcnow()
    practitioner.attest_reminder_11_sent_at = practitioner.attest_reminder_12_sent_at = None


def attest(practitioner: Practitioner, actor: User) -> Practitioner:
    """The practitioner confirms their details are still accurate (keeps them in search)."""
    previous = practitioner.attested_at
    _mark_attested(practitioner)
    db.session.flush()
    record("profile.attested", practitioner, actor=actor,
           previous=previous.isoformat() if previous else None)
    db.session.commit()
    return practitioner


# A reminder 11 months (335 days) after a confirmation, and one when the profile leaves search
# (listing.ATTESTATION_DAYS, 12 months).
ATTEST_REMINDER_DAYS = 335


def send_attestation_reminders(now: datetime | None = None) -> int:
    """E-mail practitioners whose confirmation is 11 and 12 months old, once each per
    confirmation; each mark is committed before the mail, so a crash cannot send it twice."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Practitioner).join(User, User.id == Practitioner.user_id)
        .where(User.is_active.is_(True), Practitioner.attested_at.is_not(None),
               Practitioner.attested_at <= now - timedelta(days=ATTEST_REMINDER_DAYS),
               Practitioner.attest_reminder_12_sent_at.is_(None))
        .order_by(Practitioner.id)).all()
    sent = 0
    for p in due:
        hidden = not listing.is_attested(p, now)  # the same rule as search
        column = "attest_reminder_12_sent_at" if hidden else "attest_reminder_11_sent_at"
        if getattr(p, column) is not None:
            continue
        setattr(p, column, now)
        if hidden and p.attest_reminder_11_sent_at is None:
            p.attest_reminder_11_sent_at = now  # one reminder is enough then
        db.session.flush()
        record("profile.attest_reminder_sent", p, months=12 if hidden else 11,
               attested_at=p.attested_at.isoformat())
        outbox.queue(p.user.email,
                     "Your profile is hidden from search until you confirm your details" if hidden
                     else "Please confirm your details are still accurate",
                     "attestation_reminder", p=p, hidden=hidden,
                     hidden_on=p.attested_at + timedelta(days=listing.ATTESTATION_DAYS),
                     link=absolute_url("profiles.dashboard", _anchor="attest"))
        db.session.commit()  # marked sent with the message queued: exactly once
        sent += 1
    return sent


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
    location.region_code = vocab.location_region(location.country, location.region,
                                                 place.region if place else None)
    # "Open now" is computed on the location's own clock (directory.hours).
    location.time_zone = hours.time_zone_at(location.lat, location.lng)
    return place


def add_location(practitioner: Practitioner, actor: User, values: dict[str, Any],
                 openings: hours.WeeklyHours | None = None
                 ) -> tuple[PracticeLocation, geo.Place | None]:
    """Add a practice location, geocoded as it is saved, with its opening hours if given."""
    location = PracticeLocation(**{k: values.get(k) for k in LOCATION_FIELDS})
    location.by_appointment = bool(values.get("by_appointment"))
    set_hours(location, openings or [])
    place = geocode(location)
    practitioner.locations.append(location)
    db.session.flush()
    record("location.added", location, actor=actor, practitioner_id=practitioner.id,
           precision=location.geo_precision)
    db.session.commit()
    return location, place


def update_location(location: PracticeLocation, actor: User, values: dict[str, Any],
                    openings: hours.WeeklyHours | None = None
                    ) -> tuple[PracticeLocation, geo.Place | None]:
    """Change a practice location (and its opening hours, unless openings is None); a
    changed address is geocoded again."""
    changed = sorted(k for k in LOCATION_FIELDS if getattr(location, k) != values.get(k))
    for key in LOCATION_FIELDS:
        setattr(location, key, values.get(key))
    if "by_appointment" in values and location.by_appointment != bool(values["by_appointment"]):
        location.by_appointment = bool(values["by_appointment"])
        changed.append("by_appointment")
    if openings is not None and set_hours(location, openings):
        changed.append("hours")
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


def set_hours(location: PracticeLocation, openings: hours.WeeklyHours) -> bool:
    """Replace the location's opening hours with (weekday, opens, closes) ranges (checked by
    hours.check_day); whether they changed. The caller flushes and commits."""
    wanted = sorted(set(openings))
    if wanted == sorted((o.weekday, o.opens, o.closes) for o in location.hours):
        return False
    location.hours = [OpeningHours(weekday=day, opens=opens, closes=closes)
                      for day, opens, closes in wanted]
    return True


PHOTO_CONFLICT = "Your profile was changed elsewhere while the photo was saved. Please try again."


def change_photo(practitioner: Practitioner, actor: User, stream: BinaryIO) -> Practitioner:
    """Check and store an uploaded photo and show it on the profile (photos.PhotoError when
    refused); the previous photo's files are deleted once the change is committed."""
    key = photos.store(stream, practitioner.id)
    previous = practitioner.photo_key
    try:
        practitioner.photo_key = key
        db.session.flush()
        record("profile.photo_changed", practitioner, actor=actor,
               change="replaced" if previous else "added")
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        photos.remove(key)
        raise ConflictError(PHOTO_CONFLICT) from exc
    except Exception:
        db.session.rollback()
        photos.remove(key)
        raise
    photos.remove(previous)
    return practitioner


def remove_photo(practitioner: Practitioner, actor: User) -> Practitioner:
    """Take the photo off the profile; its files are deleted once the change is committed."""
    previous = practitioner.photo_key
    if previous is None:
        return practitioner
    try:
        practitioner.photo_key = None
        db.session.flush()
        record("profile.photo_changed", practitioner, actor=actor, change="removed")
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise ConflictError(PHOTO_CONFLICT) from exc
    photos.remove(previous)
    return practitioner
