"""A practitioner's own dashboard, profile editor and practice locations."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from directory import field_rules, listing, practice, reports, storage, vocab
from directory.credentials import lifecycle
from directory.credentials.rules import scopes_for
from directory.dates import format_date
from directory.extensions import db
from directory.forms import submitted_version
from directory.models import Certification, PracticeLocation
from directory.models.base import utcnow
from directory.profiles import forms, photos, services
from directory.security import accepts_uploads, practitioner_required

bp = Blueprint("profiles", __name__)


def _own_location(location_id: int) -> PracticeLocation:
    """A location of the logged-in practitioner, or 404 (another's is never revealed)."""
    location = db.session.get(PracticeLocation, location_id)
    if location is None or location.practitioner_id != current_user.practitioner.id:
        abort(404)
    return location


@bp.route("/dashboard")
@practitioner_required
def dashboard():
    """The practitioner's home: what is missing before the profile is listed, each
    certification's status, and the yearly confirmation."""
    p = current_user.practitioner
    attested = listing.is_attested(p)
    licence_good_until = listing.licence_good_until(p.licence)
    licence_counts = licence_good_until is not None and licence_good_until >= utcnow().date()
    unplaced = [loc for loc in p.locations if loc.lat is None]
    checklist = [
        ("Confirm your e-mail address", current_user.is_confirmed, url_for("accounts.settings")),
        ("Choose your profession", bool(p.profession), url_for("profiles.edit")),
        ("Add your licence or registration number",
         bool(p.licence_number and p.licence_country), url_for("profiles.edit")),
        # Done once a location is on the map: one that could not be placed is not found by a
        # search near a place.
        ("Add at least one practice location patients can find on the map",
         any(loc.lat is not None for loc in p.locations),
         url_for("profiles.edit_location", location_id=unplaced[0].id) if unplaced
         else url_for("profiles.new_location")),
        ("Have your licence verified at its official register", licence_counts,
         url_for("profiles.dashboard", _anchor="licence")),
        ("Have a dry needling certification verified",
         bool(listing.shown_certifications(p)), url_for("certifications.index")),
    ]
    if p.attested_at is not None or listing.is_listed(p):
        # Saving the profile confirms it: a new account is not asked on its first day.
        checklist.append(("Confirm your details are still accurate (yearly)", attested,
                          url_for("profiles.dashboard", _anchor="attest")))
    certs = db.session.scalars(
        db.select(Certification).where(Certification.practitioner_id == p.id)
        .order_by(Certification.submitted_at.desc(), Certification.id.desc())).all()
    return render_template("profiles/dashboard.html", p=p, checklist=checklist,
                           listed=listing.is_listed(p), attested=attested,
                           attest_due_on=(p.attested_at + timedelta(days=listing.ATTESTATION_DAYS)
                                          if p.attested_at else None),
                           certs=certs, labels=lifecycle.STATUS_LABELS,
                           licence_good_until=licence_good_until,
                           today=utcnow().date(), scopes=scopes_for(p), unplaced=unplaced,
                           delete_form=forms.DeleteForm(),
                           attest_form=forms.AttestForm(),
                           open_reports=reports.open_reports(p), report_kinds=vocab.REPORT_KINDS)


@bp.route("/profile/attest", methods=["POST"])
@practitioner_required
def attest():
    """Confirm the profile details are still accurate (the yearly confirmation)."""
    form = forms.AttestForm()
    if form.validate_on_submit():
        p = services.attest(current_user.practitioner, current_user)
        flash(f"Thank you: you confirmed your details are accurate on "
              f"{format_date(p.attested_at)}. We will ask again in a year.", "success")
    else:
        flash("Your confirmation was not saved. Please press “My details are still accurate” "
              "again.", "error")
    return redirect(url_for("profiles.dashboard"))


def _profile_data(p) -> dict:
    """The saved profile as the form's starting values."""
    data = {key: getattr(p, key) for key in services.PROFILE_FIELDS}
    data.update(
        languages=", ".join(vocab.language_name(c) for c in p.languages),
        techniques=p.techniques, conditions=p.conditions, version=str(p.version),
        licence_region=p.licence_region.split("-", 1)[1] if p.licence_region else "",
        licence_country=p.licence_country or "", profession=p.profession or "",
        npi=p.npi or "", insurers=practice.insurers(p),
        fee_first_visit=field_rules.fee_text(p.fee_first_visit),
        fee_follow_up=field_rules.fee_text(p.fee_follow_up),
        fee_currency=p.fee_currency or practice.currency_for(
            practice.fee_country(p)) or "",
    )
    return data


@bp.route("/profile/edit", methods=["GET", "POST"])
@practitioner_required
def edit():
    """Edit the profile."""
    p = current_user.practitioner
    form = forms.ProfileForm(data=_profile_data(p))
    if form.validate_on_submit():
        values = {key: getattr(form, key).data for key in services.PROFILE_FIELDS}
        values["licence_region"] = form.region_code()
        values["licence_country"] = form.licence_country.data or None
        values["profession"] = form.profession.data or None
        values["npi"] = form.npi_digits()
        values.update(form.fee_values())
        expected = submitted_version(form.version)
        try:
            services.update_profile(p, current_user, expected, values,
                                    techniques=form.techniques.data,
                                    conditions=form.conditions.data,
                                    languages=form.language_codes(),
                                    insurers=form.insurers.data)
        except services.ConflictError as exc:
            db.session.refresh(p)
            form.version.data = str(p.version)
            flash(f"{exc} Your changes are still in the form below: check them against the "
                  "saved profile and save again.", "error")
        else:
            flash("Your profile has been saved.", "success")
            return redirect(url_for("profiles.dashboard"))
    return render_template("profiles/edit.html", form=form, p=p,
                           insurer_countries=practice.insurer_countries(p))


def _geocode_message(location: PracticeLocation, place) -> None:
    """Say where the location was placed, or that patients cannot find it yet."""
    if location.lat is None:
        flash(f"We could not place “{location.clinic_name}” on the map from its postcode or "
              "town, so it will not appear in search results until it is fixed. Check the "
              "postcode and the town.", "warning")
    elif place is not None and place.fallback_reason:
        flash(place.fallback_reason, "info")
    elif place is not None:
        flash(f"Placed on the map at {place.label}.", "info")


@bp.route("/profile/locations/new", methods=["GET", "POST"])
@practitioner_required
def new_location():
    """Add a practice location."""
    form = forms.LocationForm()
    if not form.is_submitted() and current_user.practitioner.licence_country:
        form.country.data = current_user.practitioner.licence_country
    if form.validate_on_submit():
        location, place = services.add_location(current_user.practitioner, current_user,
                                                form.data, form.openings())
        flash(f"Location “{location.clinic_name}” added.", "success")
        _geocode_message(location, place)
        return redirect(url_for("profiles.dashboard"))
    return render_template("profiles/location.html", form=form, location=None)


@bp.route("/profile/locations/<int:location_id>/edit", methods=["GET", "POST"])
@practitioner_required
def edit_location(location_id: int):
    """Change a practice location."""
    location = _own_location(location_id)
    form = forms.LocationForm(obj=location, data=forms.LocationForm.hours_data(location.hours))
    if form.validate_on_submit():
        location, place = services.update_location(location, current_user, form.data,
                                                   form.openings())
        flash(f"Location “{location.clinic_name}” saved.", "success")
        _geocode_message(location, place)
        return redirect(url_for("profiles.dashboard"))
    return render_template("profiles/location.html", form=form, location=location)


@bp.route("/profile/locations/<int:location_id>/delete", methods=["POST"])
@practitioner_required
def delete_location(location_id: int):
    """Remove a practice location."""
    location = _own_location(location_id)
    form = forms.DeleteForm()
    if form.validate_on_submit():
        name = location.clinic_name
        services.delete_location(location, current_user)
        flash(f"Location “{name}” removed.", "success")
    return redirect(url_for("profiles.dashboard"))


@bp.route("/profile/photo", methods=["GET", "POST"])
@practitioner_required
@accepts_uploads
def photo():
    """The profile photo: see it, upload a new one or remove it."""
    p = current_user.practitioner
    form = forms.PhotoForm()
    if form.validate_on_submit():
        try:
            services.change_photo(p, current_user, form.photo.data.stream)
        except photos.PhotoError as exc:
            form.photo.errors.append(str(exc))
        except storage.StorageUnavailable:
            form.photo.errors.append(storage.UNAVAILABLE)
            return render_template("profiles/photo.html", form=form, p=p,
                                   remove_form=forms.RemovePhotoForm()), 503
        except services.ConflictError as exc:
            flash(str(exc), "error")
        else:
            flash("Your photo has been saved: patients see it on your profile.", "success")
            return redirect(url_for("profiles.photo"))
    return render_template("profiles/photo.html", form=form, p=p,
                           remove_form=forms.RemovePhotoForm())


@bp.route("/profile/photo/delete", methods=["POST"])
@practitioner_required
def delete_photo():
    """Take the photo off the profile."""
    form = forms.RemovePhotoForm()
    if form.validate_on_submit() and current_user.practitioner.photo_key:
        try:
            services.remove_photo(current_user.practitioner, current_user)
        except services.ConflictError as exc:
            flash(str(exc), "error")
        else:
            flash("Your photo has been removed.", "success")
    return redirect(url_for("profiles.photo"))
