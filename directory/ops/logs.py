"""Structured logs: one JSON line per request (logger "directory.request"), JSON lines on stderr."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, request, request_finished, request_started, session

log = logging.getLogger("directory.request")

# An incoming X-Request-ID is kept when it is a plain token (a proxy's or a load balancer's id);
# anything else is replaced, so the logs never carry what a client made up beyond that.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
REQUEST_ID_HEADER = "X-Request-ID"


def install(app: Flask) -> None:
    """Give every request an id (echoed in X-Request-ID) and log one line when it is answered."""
    request_started.connect(_started, app)
    request_finished.connect(_finished, app)


def request_id_from(incoming: str | None) -> str:
    """The incoming id when it is a sane token, else a new random one."""
    if incoming and SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _started(app: Flask, **_extra) -> None:
    g.request_started_at = time.perf_counter()
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))


def _finished(app: Flask, response, **_extra) -> None:
    request_id = g.get("request_id") or request_id_from(None)
    response.headers[REQUEST_ID_HEADER] = request_id
    enabled = app.config.get("REQUEST_LOG")
    if enabled is None:
        enabled = not app.testing
    if not enabled:
        return
    started = g.get("request_started_at")
    duration = (time.perf_counter() - started) * 1000 if started is not None else None
    fields = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "request_id": request_id,
        "method": request.method,
        "path": _logged_path(),
        "status": response.status_code,
        "duration_ms": round(duration, 1) if duration is not None else None,
        "remote_addr": request.remote_addr,
        "user_id": _user_id(),
    }
    log.info(json.dumps(fields), extra={"fields": fields})


def _logged_path() -> str:
    """The path, with an e-mailed secret in it (a reset or confirmation token) left out."""
    token = (request.view_args or {}).get("token")
    if token:
        return request.path.replace(str(token), "[token]")
    return request.path


def _user_id() -> int | None:
    """The logged-in user's id without a database query (healthz must not touch the database)."""
    user = g.get("_login_user")  # set by Flask-Login once the request has loaded the user
    if user is not None:
        return user.id if user.is_authenticated else None
    if request.cookies and "_user_id" in session:
        # Not loaded on this request (a static file, /healthz): the signed session says whose
        # it is ("<id>.<session version>", see User.get_id).
        user_id = str(session["_user_id"]).partition(".")[0]
        return int(user_id) if user_id.isdigit() else None
    return None


class JsonFormatter(logging.Formatter):
    """Each record as one JSON object; a request record's fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry = {"time": at, "level": record.levelname, "logger": record.name}
        if isinstance(fields, dict):
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# Production logging (gunicorn.conf.py passes it as logconfig_dict): JSON lines on stderr for the
# app, gunicorn's own messages included; gunicorn's access log stays silent (the app logs requests).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "directory.ops.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                            "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        # Alembic lists its plugins at INFO each time a process starts: noise, not news.
        "alembic.runtime.plugins": {"level": "WARNING"},
    },
}
