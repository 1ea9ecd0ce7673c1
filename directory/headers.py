"""Security headers on every response, and Secure cookies in production."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

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


def register(app: Flask) -> None:
    """Add the security headers to every response; Secure cookies when PRODUCTION is on."""
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
        return response
