"""Health checks for load balancers and orchestrators: /healthz (alive) and /readyz (ready)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from directory.extensions import db
from directory.ops.schema import database_heads, script_heads
from directory.security import public

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)


def _answer(http_status: int, **body):
    response = jsonify(body)
    response.status_code = http_status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/healthz")
@public
def healthz():
    """The process is alive and answering (no database access)."""
    return _answer(200, status="ok")


@bp.route("/readyz")
@public
def readyz():
    """Ready for traffic: the database answers and its schema is at the newest migration."""
    try:
        current = database_heads(db.engine)
    except SQLAlchemyError as exc:
        log.warning("readyz: the database does not answer: %s", str(exc).splitlines()[0])
        return _answer(503, status="unavailable", reason="The database does not answer.")
    head = script_heads()
    if current != head:
        return _answer(503, status="unavailable",
                       reason="The database schema is not at the newest migration.",
                       database_revision=sorted(current), code_revision=sorted(head))
    return _answer(200, status="ok")
