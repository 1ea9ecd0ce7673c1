"""HTTP hygiene in one place: security headers on every response, no-store on private ones,
the request body limit, and Secure cookies in production."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import flask
from flask import Blueprint, Flask, Response, current_app, g, request, session
from sqlalchemy.exc import SQLAlchemyError

from directory import freshness
from directory.extensions import db
from directory.security import takes_uploads

# The evidence file is shown in an <iframe> on the admin's certification page.
FRAMEABLE_ENDPOINTS = frozenset({"certifications.evidence_file"})


def tile_origin(url: str | None) -> str | None:
    """The origin map tiles come from ("https://tile.example.org"), or None for this site.

    A Leaflet subdomain placeholder ("https://{s}.tile.example.org/...") becomes a wildcard.
    """
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None  # a path on this site: 'self' covers it
    host = parts.netloc.rsplit("@", 1)[-1].replace("{s}", "*")
    if "{" in host or "}" in host or any(ch in host for ch in " ;,'\""):
        return None  # a placeholder a CSP source cannot express; tiles will not load
    return f"{parts.scheme}://{host}"


def content_security_policy(map_tile_url: str | None) -> str:
    """The site's policy: its own scripts, styles and fonts only; images also from the tiles."""
    images = ["'self'", "data:"]
    origin = tile_origin(map_tile_url)
    if origin:
        images.append(origin)
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": " ".join(images),
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class Request(flask.Request):
    """The app's request: its body may be MAX_FORM_BODY (1 MB) long, MAX_CONTENT_LENGTH (32 MB)
    for a view marked @accepts_uploads. Decided when the body is first read, whoever reads it
    first (the CSRF check and the rate limits read the form before the view does)."""

    @property
    def max_content_length(self) -> int | None:
        """The limit for this request's body (a view may still set its own)."""
        if self._max_content_length is not None:
            return self._max_content_length
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        view = current_app.view_functions.get(self.url_rule.endpoint) if self.url_rule else None
        if view is not None and takes_uploads(view):
            return limit
        form_limit = current_app.config.get("MAX_FORM_BODY")
        if form_limit is None:
            return limit
        return form_limit if limit is None else min(limit, form_limit)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def is_private(access: str | None, blueprint: str | None) -> bool:
    """True for a response no cache may keep (Cache-Control: no-store), when it is not one made
    for a logged-in user (those always are): a view only some may use (any access but
    "public": a role, a login, or anonymous only) and every account page (login, sign-up,
    password reset and the links e-mailed with a token)."""
    return (access is not None and access != "public") or blueprint == "accounts"


def made_for_a_user() -> bool:
    """True when this request looked up who is logged in and found someone. A response that never
    asked (a static file, /healthz) shows nobody's data and keeps its caching."""
    user = g.get("_login_user")  # set by Flask-Login once the request has loaded the user
    # is_anonymous, not is_authenticated: UserMixin's is_authenticated reads is_active, which a
    # commit has expired, so it would ask the database again (and fail if it just went away).
    return user is not None and not user.is_anonymous


# The JSON media types of the read-only APIs (the directory's own, FHIR's).
JSON_TYPES = frozenset({"application/json", "application/fhir+json"})


def open_read_api(blueprint: Blueprint) -> None:
    """What a read-only API lets anyone read, any site may read from a browser (a clinic
    embedding the directory), errors included: it sends no cookie-bound data, so no
    credentials; its POST routes (what patients send) are not opened to other sites' scripts.
    And <, > and & in its JSON are written as \\u escapes: the same text to a JSON reader, never
    markup to a page that drops it into its HTML unescaped."""

    @blueprint.after_request
    def allow_any_origin(response: Response) -> Response:
        if request.method in ("GET", "HEAD"):
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @blueprint.after_request
    def escape_markup(response: Response) -> Response:
        if response.mimetype in JSON_TYPES and not response.direct_passthrough:
            response.set_data(response.get_data().replace(b"<", b"\\u003c")
                              .replace(b">", b"\\u003e").replace(b"&", b"\\u0026"))
        return response


def is_the_same_for_everyone(response: Response) -> bool:
    """True when a public view's answer holds nothing of this visitor: a successful GET, no
    form token made for them (a page with a CSRF token must never be shared: it would hand one
    visitor's token to another), no change to their session (a message shown once, a new
    cookie), and no caching of its own (a photo, a file)."""
    return (request.method in ("GET", "HEAD") and response.status_code == 200
            and not response.direct_passthrough and "Cache-Control" not in response.headers
            and current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token") not in g
            and not current_app.session_interface.should_set_cookie(current_app, session))


def cache_public(response: Response) -> None:
    """Cache headers for a public view's answer: what is the same for every visitor may be kept
    PUBLIC_MAX_AGE seconds by any cache, with a strong ETag of its body and Last-Modified from
    the directory's version (directory.freshness; the start of today at the latest, when
    expiries and confirmations that lapsed overnight change the listing), and a conditional
    request is answered 304. Anything else a public view answers is for this visitor only."""
    if not is_the_same_for_everyone(response):
        if request.method in ("GET", "HEAD") and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "private, no-cache"
        return
    try:
        _version, changed_at = freshness.current(db.session)
    except SQLAlchemyError:
        db.session.rollback()
        response.headers["Cache-Control"] = "no-cache"
        return
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    response.headers["Cache-Control"] = f"public, max-age={current_app.config['PUBLIC_MAX_AGE']}"
    response.last_modified = max(changed_at, today)
    response.add_etag()
    response.make_conditional(request)


def register(app: Flask) -> None:
    """Add the security headers to every response, no-store to private ones; the body limit;
    Secure cookies when PRODUCTION is on."""
    app.request_class = Request
    if app.config.get("PRODUCTION"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    policy = content_security_policy(app.config.get("MAP_TILE_URL"))
    hsts = app.config.get("HSTS")

    @app.after_request
    def security_headers(response: Response) -> Response:
        frameable = request.endpoint in FRAMEABLE_ENDPOINTS
        ancestors = "'self'" if frameable else "'none'"
        existing = response.headers.get("Content-Security-Policy")
        if existing is None:
            csp = policy if not frameable else policy.replace(
                "frame-ancestors 'none'", "frame-ancestors 'self'")
            response.headers["Content-Security-Policy"] = csp
        elif "frame-ancestors" not in existing:
            # A view's own stricter policy (the evidence file's sandbox) is kept as it is.
            response.headers["Content-Security-Policy"] = (
                f"{existing}; frame-ancestors {ancestors}")
        response.headers["X-Frame-Options"] = "SAMEORIGIN" if frameable else "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if hsts and request.is_secure:
            response.headers["Strict-Transport-Security"] = hsts
        view = app.view_functions.get(request.url_rule.endpoint) if request.url_rule else None
        if made_for_a_user() or is_private(getattr(view, "access", None), request.blueprint):
            if "no-store" not in response.headers.get("Cache-Control", ""):
                response.headers["Cache-Control"] = "no-store"
        elif getattr(view, "access", None) == "public":
            cache_public(response)
        return response
