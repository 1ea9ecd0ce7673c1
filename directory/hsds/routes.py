"""/hsds: the Open Referral HSDS 3.0 API profile (read-only, public).

The REQUIRED endpoints (`/`, `/services`, `/services/{id}`), with `/service_at_locations`
(search near a postcode within `proximity` metres), `/service_at_locations/{id}`,
`/organizations` and `/organizations/{id}`. Lists are HSDS `Page`s; the objects come from
directory.hsds.records, the lists from directory.hsds.queries. Errors are the JSON API's
shape (directory.api.routes.error).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from directory.api.routes import error
from directory.extensions import csrf
from directory.headers import open_read_api
from directory.hsds import queries, records
from directory.hsds.openapi import URL_PREFIX
from directory.links import absolute_url
from directory.ratelimit import limit_blueprint
from directory.security import public

bp = Blueprint("hsds", __name__, url_prefix=URL_PREFIX)
limit_blueprint(bp, "RATELIMIT_API")
csrf.exempt(bp)
open_read_api(bp)


@bp.errorhandler(queries.ParameterError)
def refused(exc: queries.ParameterError):
    """A parameter refused: 400 with the API's error shape."""
    return error(exc.message, exc.field, code=exc.code)


def not_found(what: str):
    """No searchable record has that id: 404 with the API's error shape."""
    return error(f"No {what} of this directory has that id.", None, code="not_found",
                 status=404)


@bp.route("/")
@public
def index():
    """The API's root: the HSDS version, profile and the OpenAPI document describing it."""
    return jsonify(version=records.HSDS_VERSION, profile=records.PROFILE_URL,
                   openapi_url=absolute_url("api.openapi"))


@bp.route("/services")
@public
def services():
    """A page of services: dry needling by each searchable practitioner."""
    query = queries.read_query(request.args)
    page = queries.practitioners(query)
    if query.minimal:
        contents = [records.minimal_service(p) for p in page.items]
    else:
        contents = [records.service(p, full=query.full) for p in page.items]
    return jsonify(page.as_json(contents))


@bp.route("/services/<service_id>")
@public
def service(service_id: str):
    """One service, fully nested: its organization and its service_at_locations."""
    p = queries.one("service", service_id, queries.searchable_practitioner)
    if p is None:
        return not_found("service")
    return jsonify(records.service(p, full=True))


@bp.route("/service_at_locations")
@public
def service_at_locations():
    """A page of services at their locations; near a postcode (within proximity metres,
    nearest first) the site's location search."""
    query = queries.read_query(request.args)
    if request.args.get("postcode", "").strip():
        page = queries.near_postcode(request.args, query)
    elif request.args.get("proximity", "").strip():
        raise queries.ParameterError("proximity is a distance from a postcode: give postcode "
                                     "too.", "proximity", code="postcode_required")
    else:
        page = queries.locations(query)
    contents = [records.service_at_location(loc, full_service=query.full) for loc in page.items]
    return jsonify(page.as_json(contents))


@bp.route("/service_at_locations/<service_at_location_id>")
@public
def service_at_location(service_at_location_id: str):
    """One service at one location, with the location and the service fully nested."""
    loc = queries.one("service_at_location", service_at_location_id,
                      queries.searchable_location)
    if loc is None:
        return not_found("service_at_location")
    return jsonify(records.service_at_location(loc, full_service=True))


@bp.route("/organizations")
@public
def organizations():
    """A page of organizations: each searchable practitioner's practice."""
    query = queries.read_query(request.args)
    page = queries.practitioners(query)
    contents = [records.organization(p, full=query.full) for p in page.items]
    return jsonify(page.as_json(contents))


@bp.route("/organizations/<organization_id>")
@public
def organization(organization_id: str):
    """One organization, with its locations and its service."""
    p = queries.one("organization", organization_id, queries.searchable_practitioner)
    if p is None:
        return not_found("organization")
    return jsonify(records.organization(p, full=True))
