"""/hsds: the Open Referral HSDS 3.0 API profile."""

from __future__ import annotations

from flask import Blueprint

from directory.extensions import csrf
from directory.headers import open_read_api
from directory.ratelimit import limit_blueprint

bp = Blueprint("hsds", __name__, url_prefix="/hsds")
limit_blueprint(bp, "RATELIMIT_API")
csrf.exempt(bp)
open_read_api(bp)
