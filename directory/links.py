"""Absolute links to this site, always from SITE_URL: never from a request's Host header, which
whoever sends the request chooses."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def absolute_url(endpoint: str, _anchor: str | None = None, **values) -> str:
    """The absolute address of an endpoint on the public site (SITE_URL), in or out of a request."""
    app = current_app._get_current_object()
    adapter = app.extensions.get("directory.site_adapter")
    if adapter is None:
        site = urlsplit(app.config["SITE_URL"].rstrip("/"))
        adapter = app.url_map.bind(site.netloc, script_name=site.path or "/",
                                   url_scheme=site.scheme or "https")
        app.extensions["directory.site_adapter"] = adapter
    url = adapter.build(endpoint, values, force_external=True)
    return f"{url}#{_anchor}" if _anchor else url


def site_root() -> str:
    """SITE_URL without a trailing slash: the base of every absolute link."""
    return current_app.config["SITE_URL"].rstrip("/")
