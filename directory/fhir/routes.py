"""/fhir: metadata, and read and search for the directory's resources."""

from __future__ import annotations

from flask import Blueprint

from directory.extensions import csrf
from directory.headers import open_read_api
from directory.ratelimit import limit_blueprint

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
limit_blueprint(bp, "RATELIMIT_API")
csrf.exempt(bp)
open_read_api(bp)
