"""Error pages in the site's style (JSON for /api/)."""

from __future__ import annotations

import math

from flask import Flask, g, jsonify, make_response, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError, TooManyRequests

from directory.links import site_adapter
from directory.ratelimit import retry_after
from directory.storage import StorageUnavailable

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have permission to see this page.",
    404: "We could not find that page.",
    405: "That action is not allowed here.",
    413: "That upload is too large.",
    429: "Too many requests. Please wait a moment and try again.",
    500: "Something went wrong on our side. It has been logged.",
    503: "The directory is unavailable for a moment. Please try again in a few seconds.",
}


CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         413: "too_large", 429: "rate_limited", 500: "server_error", 503: "unavailable"}


STORAGE_UNAVAILABLE = ("Files cannot be read or stored at the moment. Nothing was changed: "
                       "please try again in a few minutes.")


UNTRUSTED_HOST = "This site does not answer to that address."
# The JSON APIs, whose errors (an unknown address, a refused method, a rate limit) are the API's
# JSON error, not a page: the directory's own and the HSDS feed (FHIR answers OperationOutcomes).
JSON_ERROR_PATHS = ("/api/", "/hsds/")


def _render(code: int, message: str):
    if request_ctx and request_ctx.url_adapter is None:
        # A Host outside TRUSTED_HOSTS leaves the request no URL adapter: the page's links
        # are built against SITE_URL instead.
        request_ctx.url_adapter = site_adapter()
    if request.path == "/fhir" or request.path.startswith("/fhir/"):
        from directory.fhir.outcome import FHIR_JSON, for_status

        response = jsonify(for_status(code, message))
        response.mimetype = FHIR_JSON
        return response, code
    if request.path.startswith(JSON_ERROR_PATHS) or request.path == "/hsds":
        return jsonify(error={"code": CODES.get(code, "error"), "message": message,
                              "field": None}), code
    return render_template("errors/error.html", code=code, message=message), code


def wait_words(seconds: int) -> str:
    """A wait in words: "40 seconds", "1 minute", "90 minutes", "3 hours"."""
    if seconds >= 2 * 3600:
        count, unit = math.ceil(seconds / 3600), "hour"
    elif seconds >= 60:
        count, unit = math.ceil(seconds / 60), "minute"
    else:
        count, unit = seconds, "second"
    return f"{count} {unit}" + ("s" if count != 1 else "")


OUT_OF_REACH = ("connect", "terminat", "shut down", "shutting down", "locked", "unable to open",
                "timeout", "timed out", "closed")


def database_out_of_reach(error: OperationalError) -> bool:
    """True for a database that cannot be reached or is busy, not for a faulty query."""
    if error.connection_invalidated:
        return True
    message = str(error.orig).lower()
    return any(word in message for word in OUT_OF_REACH)


def register(app: Flask) -> None:
    """Install handlers for HTTP errors, CSRF failures and uncaught exceptions."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _render(400, "Your form expired or was sent from elsewhere. Please try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error.code or 500
        response = make_response(_render(code, MESSAGES.get(code, error.description or "Error")))
        # The exception's own headers, but the page's type: Allow on a 405 (the methods the
        # address takes), WWW-Authenticate, Retry-After.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(SecurityError)
    def untrusted_host(error: SecurityError):
        """A Host header outside TRUSTED_HOSTS (or none this site could name): 400."""
        return _render(400, UNTRUSTED_HOST)

    @app.errorhandler(TooManyRequests)
    def too_many_requests(error: TooManyRequests):
        seconds = retry_after()
        response = make_response(_render(
            429, f"Too many requests. Please try again in {wait_words(seconds)}."))
        response.headers["Retry-After"] = str(seconds)
        return response

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError):
        """The database is out of reach for a moment (a restart, a failover, a busy SQLite
        file): 503, try again. Any other OperationalError is a mistake of ours: a 500."""
        from directory.extensions import db, login_manager

        db.session.rollback()
        if not database_out_of_reach(error):
            app.logger.error("Exception on %s [%s]", request.path, request.method,
                             exc_info=error)
            return _render(500, MESSAGES[500])
        # The driver's own message: SQLAlchemy's would add the statement and its parameters.
        app.logger.error("database unavailable: %s: %s", type(error.orig).__name__,
                         str(error.orig).strip().splitlines()[0] if str(error.orig) else "")
        # The page must not ask the database who is logged in: it is shown as to a visitor.
        g._login_user = login_manager.anonymous_user()
        response = make_response(_render(503, MESSAGES[503]))
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(StorageUnavailable)
    def storage_unavailable(error: StorageUnavailable):
        """The file store (S3, the upload folder) is out of reach: 503, try again. Nothing was
        changed: every service writes its file before committing the row that names it."""
        from directory.extensions import db

        db.session.rollback()  # (directory.storage logged what happened)
        response = make_response(_render(503, STORAGE_UNAVAILABLE))
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError):
        # A database that went away where no handler could catch it (an after-request hook,
        # after the view had answered) is still a 503 "try again", shown as to a visitor.
        if isinstance(error.original_exception, OperationalError):
            return database_unavailable(error.original_exception)
        if isinstance(error.original_exception, StorageUnavailable):
            return storage_unavailable(error.original_exception)
        return _render(500, MESSAGES[500])
