"""Absolute links to this site, always from SITE_URL: never from a request's Host header, which
whoever sends the request chooses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import MapAdapter

# Names a health check on the machine itself sends as its Host (curl http://127.0.0.1:8000/healthz).
# Not [::1]: werkzeug's check cannot match an IPv6 address.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def site_adapter() -> MapAdapter:
    """The app's URL map bound to SITE_URL (its host, path and scheme), made once per app."""
    app = current_app._get_current_object()
    adapter = app.extensions.get("directory.site_adapter")
    if adapter is None:
        site = urlsplit(app.config["SITE_URL"].rstrip("/"))
        adapter = app.url_map.bind(site.netloc, script_name=site.path or "/",
                                   url_scheme=site.scheme or "https")
        app.extensions["directory.site_adapter"] = adapter
    return adapter


def absolute_url(endpoint: str, _anchor: str | None = None, **values) -> str:
    """The absolute address of an endpoint on the public site (SITE_URL), in or out of a request."""
    url = site_adapter().build(endpoint, values, force_external=True)
    return f"{url}#{_anchor}" if _anchor else url


def site_root() -> str:
    """SITE_URL without a trailing slash: the base of every absolute link."""
    return current_app.config["SITE_URL"].rstrip("/")


def trusted_hosts(config: Mapping[str, Any]) -> list[str] | None:
    """The Host names the app answers (Flask's TRUSTED_HOSTS), None for any.

    SITE_URL's host always, with TRUSTED_HOSTS when set (a list, or names separated by commas;
    "*" alone: any host). Unset, in production: with the loopback names (a health check on the
    machine itself); outside production: any host.
    """
    setting = config.get("TRUSTED_HOSTS")
    if isinstance(setting, str):
        setting = [name.strip() for name in setting.split(",") if name.strip()]
    if setting is not None:
        others = [str(name).strip().lower() for name in setting]
        if others == ["*"]:
            return None
    elif config.get("PRODUCTION"):
        others = list(LOOPBACK_HOSTS)
    else:
        return None
    host = urlsplit(str(config.get("SITE_URL") or "")).hostname
    names = [host] if host else []
    return names + [name for name in others if name not in names]
