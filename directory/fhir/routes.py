"""/fhir: metadata, and read and search for the directory's resources."""

from __future__ import annotations

import json

from flask import Blueprint, Response, request

from directory.extensions import csrf
from directory.fhir import params
from directory.fhir.capability import capability_statement
from directory.fhir.finders import TYPES, searchset
from directory.fhir.outcome import FHIR_JSON, FhirError, operation_outcome
from directory.headers import open_read_api
from directory.ratelimit import limit_blueprint
from directory.security import public

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
limit_blueprint(bp, "RATELIMIT_API")
csrf.exempt(bp)
open_read_api(bp)


def fhir_response(body: dict, status: int = 200) -> Response:
    """A FHIR JSON answer."""
    return Response(json.dumps(body, ensure_ascii=False), status, mimetype=FHIR_JSON)


@bp.errorhandler(FhirError)
def refused(error: FhirError) -> Response:
    """A refused request: an OperationOutcome with its status."""
    return fhir_response(operation_outcome(error.diagnostics, error.code), error.status)


def _args() -> dict[str, list[str]]:
    return {name: request.args.getlist(name) for name in request.args}


def _type(resource_type: str):
    found = TYPES.get(resource_type)
    if found is None:
        raise FhirError(f"{resource_type[:60]!r} is not a resource type served here; the "
                        f"types are {', '.join(TYPES)} (see /fhir/metadata).", 404,
                        "not-supported")
    return found


@bp.route("/metadata")
@public
def metadata():
    """The CapabilityStatement: what this server supports."""
    params.parse_read(_args())
    return fhir_response(capability_statement())


@bp.route("/<resource_type>")
@public
def search(resource_type: str):
    """Search a resource type: a searchset Bundle."""
    kind = _type(resource_type)
    query = params.parse(kind.name, _args())
    count, page = query["_count"], query["_page"]
    found = kind.search(query, (page - 1) * count, count)
    return fhir_response(searchset(kind.name, found, list(request.args.items(multi=True)),
                                   count, page))


@bp.route("/<resource_type>/<resource_id>")
@public
def read(resource_type: str, resource_id: str):
    """Read one resource by id."""
    kind = _type(resource_type)
    params.parse_read(_args())
    resource = kind.read(resource_id) if params.ID_PATTERN.fullmatch(resource_id) else None
    if resource is None:
        raise FhirError(f"No {kind.name} has the id {resource_id[:70]!r} here.", 404,
                        "not-found")
    return fhir_response(resource)
