"""GET /api/v1/practitioners, /api/v1/practitioners/<id> and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from directory import enquiries, geo, hours, listing, maps, practice, reports, vocab
from directory.api.openapi import openapi_document
from directory.credentials.rules import scopes_for
from directory.extensions import csrf, db, limiter
from directory.headers import open_read_api
from directory.hsds import openapi as hsds_openapi
from directory.licences import services as licence_services
from directory.links import absolute_url, site_root
from directory.models import Certification, PracticeLocation, Practitioner
from directory.models.issuer import confirmed_ids
from directory.public import search_form, seo
from directory.public.forms import EnquiryForm, ReportForm
from directory.ratelimit import client_address, hashed_client_address, limit_blueprint, setting
from directory.search import filters as search_filters
from directory.security import public

bp = Blueprint("api", __name__, url_prefix="/api/v1")
limit_blueprint(bp, "RATELIMIT_API")  # every API request together, per client address
csrf.exempt(bp)
open_read_api(bp)
# The search page's checkboxes send any value for "on", and its empty boxes "": the API takes
# true or false, and numbers or nothing, as its document says.
BOOLEAN_PARAMETERS = search_filters.FLAGS
NUMBER_PARAMETERS = ("lat", "lng", "radius", "page", "per_page")
PLACE_REQUIRED = ("Give near (a postcode, a place or \"lat,lng\"), or lat and lng together, "
                  "or q (a name, a clinic or a licence number).")


def error(message: str, field: str | None = None, code: str = "invalid_parameter",
          status: int = 400, **extra):
    """The one JSON error shape: {"error": {"code", "message", "field", ...}}."""
    return jsonify(error={"code": code, "message": message, "field": field, **extra}), status


def place_json(place: geo.Place) -> dict:
    """A geocoded place."""
    return {"label": place.label, "lat": round(place.lat, 6), "lng": round(place.lng, 6),
            "precision": place.precision}


def location_json(loc: PracticeLocation) -> dict:
    """A practice location as the API shows it."""
    return {"name": loc.clinic_name, "city": loc.city, "region": loc.region,
            "postcode": loc.postcode, "country": loc.country,
            "lat": loc.lat, "lng": loc.lng, "wheelchair_accessible": loc.wheelchair_accessible}


def certification_json(cert: Certification, confirmed: set[int]) -> dict:
    """A verified certification as the API shows it; confirmed holds the ids of those its
    training organisation confirmed (models.issuer.confirmed_ids: one query per response)."""
    program = cert.program
    return {
        "program": program.name if program else cert.submitted_name,
        "organisation": program.organisation if program else None,
        "level": cert.level or (program.level if program else None),
        "verified_on": cert.verified_at.date().isoformat() if cert.verified_at else None,
        "expires_on": cert.expires_on.isoformat() if cert.expires_on else None,
        "verify_url": absolute_url("public.verify_code", code=cert.public_code),
        "issuer_confirmed": cert.id in confirmed,
    }


@bp.route("/practitioners")
@public
def practitioners():
    """Listed practitioners near a place, nearest first, with the search page's filters."""
    for name in BOOLEAN_PARAMETERS:
        if request.args.get(name, "true") not in ("true", "false"):
            return error(f"Use true or false for {name}.", name)
    for name in NUMBER_PARAMETERS:
        if not request.args.get(name, "0").strip():
            return error(f"Give a number for {name}, or leave it out.", name)
    form = search_form.SearchForm(request.args)
    if not form.validate():
        field = next(f for f in form if f.errors)
        if field is form.near and not form.near.data:
            # No place: what to say, unless lat or lng was given but is not a number.
            field = next((f for f in (form.lat, form.lng) if f.process_errors), None)
            if field is None:
                return error(PLACE_REQUIRED, "near", code="place_required")
        return error(field.errors[0], field.name)
    try:
        origin, results, _unit = search_form.run(form)
    except geo.Ambiguous as exc:
        return error(exc.message, "near", code="ambiguous_place",
                     candidates=[place_json(c) for c in exc.candidates])
    except geo.GeocodeError as exc:
        return error(exc.message, "near", code="unknown_place")
    except search_form.RadiusError as exc:
        return error(exc.message, "radius")
    if results.page > results.pages and results.total:
        return error(search_form.past_the_end(results.pages), "page")
    confirmed = confirmed_ids(c.id for h in results.hits for c in h.certifications)
    return jsonify(
        origin=place_json(origin) if origin else None, total=results.total,
        total_is_capped=results.capped,
        page=results.page, per_page=results.per_page, radius_km=round(results.radius_km, 3),
        items=[{
            "id": h.practitioner.id, "name": h.practitioner.full_name,
            "profession": h.practitioner.profession,
            "url": absolute_url("public.practitioner", slug=h.practitioner.slug),
            "distance_km": None if h.distance_km is None else round(h.distance_km, 3),
            "location": location_json(h.location),
            "scope": h.scope.as_json() if h.scope else None,
            "certifications": [certification_json(c, confirmed) for c in h.certifications],
            "demo": h.practitioner.is_demo,
        } for h in results.hits],
    )


@bp.route("/practitioners/<int:practitioner_id>")
@public
def practitioner(practitioner_id: int):
    """One listed practitioner."""
    p = db.session.scalar(select(Practitioner).where(Practitioner.id == practitioner_id,
                                                     listing.listed_clause()))
    if p is None:
        return error("No listed practitioner has that id.", None, code="not_found", status=404)
    scopes = {scope.jurisdiction: scope for scope in scopes_for(p)}
    certs = listing.shown_certifications(p)
    confirmed = confirmed_ids(c.id for c in certs)
    return jsonify(
        id=p.id, name=p.full_name, post_nominals=p.post_nominals, profession=p.profession,
        url=absolute_url("public.practitioner", slug=p.slug), photo=seo.photo_urls(p),
        accepting_new_patients=p.accepting_new_patients, languages=p.languages,
        techniques=p.techniques, conditions=p.conditions, demo=p.is_demo,
        phone=practice.shown_phone(p) or None, email=practice.shown_email(p) or None,
        fees=fees.as_json() if (fees := practice.fees(p)) else None,
        insurance=[{"code": code, "name": vocab.insurer_name(code),
                    "country": vocab.insurer_country(code)} for code in practice.insurers(p)],
        enquiry_url=absolute_url("public.enquiry", slug=p.slug)
        if practice.takes_enquiries(p) else None,
        locations=[{**location_json(loc), **location_hours_json(loc),
                    "scope": scope.as_json() if (
            scope := scopes.get(loc.region_code or loc.country)) else None}
            for loc in p.locations],
        licence=licence_services.licence_record(p),
        certifications=[certification_json(c, confirmed) for c in certs],
        # Where they practise first (each location carries its own); the licence's place
        # when no location is given.
        scope=next(iter(scopes.values())).as_json() if scopes else None,
    )


@bp.route("/openapi.json")
@public
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(site_root() + bp.url_prefix,
                                    site_root() + hsds_openapi.URL_PREFIX))


def location_hours_json(loc: PracticeLocation) -> dict:
    """A practice location's opening hours, whether it is open now on its own clock (null:
    unknown), and a directions link: the practitioner record's additions to location_json
    (a search hit carries only the columns the search reads)."""
    return {"time_zone": loc.time_zone, "by_appointment": loc.by_appointment,
            "hours": hours.as_json(loc.hours), "open_now": hours.open_now(loc),
            "directions_url": maps.directions_url(loc)}


# --- what patients send: a message to a practitioner, a report of wrong information -----------
# The same forms, services and limits as the profile's (public/routes.py), reading a JSON object
# instead of a form; no CSRF (the API sends no cookie-bound data), and no hidden field (a robot
# reaches the API directly: the limits hold it).


def _listed(practitioner_id: int) -> Practitioner | None:
    return db.session.scalar(select(Practitioner).where(Practitioner.id == practitioner_id,
                                                        listing.listed_clause()))


def _form_from_json(form_class, fields: tuple[str, ...]):
    """The form filled from the request's JSON object, or the 400 answer when the body is not
    one (or a field is not text)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, error("Send a JSON object (Content-Type: application/json).", None,
                           code="invalid_body")
    for name in fields:
        if name in body and not isinstance(body[name], str):
            return None, error(f"Give {name} as text.", name)
    data = MultiDict({name: body[name] for name in fields if name in body})
    return form_class(formdata=data, meta={"csrf": False}), None


def _first_error(form):
    field = next(f for f in form if f.errors)
    return error(field.errors[0], field.name)


@bp.route("/practitioners/<int:practitioner_id>/enquiries", methods=["POST"])
@public
def send_enquiry(practitioner_id: int):
    """Send a listed practitioner a message: {"name", "email", "message"}; 202 once queued."""
    p = _listed(practitioner_id)
    if p is None:
        return error("No listed practitioner has that id.", None, code="not_found", status=404)
    if not practice.takes_enquiries(p):
        return error(f"{p.full_name} does not take messages through the directory.", None,
                     code="enquiries_closed", status=409)
    form, refused = _form_from_json(EnquiryForm, ("name", "email", "message"))
    if refused:
        return refused
    if not form.validate():
        return _first_error(form)
    try:
        enquiries.send_enquiry(p, sender_name=form.name.data, sender_email=form.email.data,
                               message=form.message.data, client_key=hashed_client_address())
    except enquiries.EnquiryRefused as exc:
        return error(str(exc), None, code=exc.code, status=exc.status)
    return jsonify(status="sent", to=p.full_name, copy_to=form.email.data), 202


@bp.route("/practitioners/<int:practitioner_id>/reports", methods=["POST"])
@limiter.limit(setting("RATELIMIT_REPORT"), key_func=client_address,
               deduct_when=lambda response: response.status_code == 201)
@public
def report_listing(practitioner_id: int):
    """Report wrong information on a listed practitioner: {"kind", "details", "email"}."""
    p = _listed(practitioner_id)
    if p is None:
        return error("No listed practitioner has that id.", None, code="not_found", status=404)
    form, refused = _form_from_json(ReportForm, ("kind", "details", "email"))
    if refused:
        return refused
    if not form.validate():
        return _first_error(form)
    try:
        reports.submit_report(p, form.kind.data, form.details.data or "", form.email.data or "",
                              hashed_client_address())
    except reports.DuplicateReport as exc:
        return error(str(exc), "details", code="duplicate", status=409)
    return jsonify(status="received"), 201
