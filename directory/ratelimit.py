"""Rate limits: whom a request counts against, the configured limits, and Flask-Limiter's setup.

The limits themselves are declared on the views (`@limiter.limit(setting("RATELIMIT_LOGIN"), ...)`)
and read from the configuration at request time, so each deployment can tune them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable

from flask import Blueprint, Flask, current_app, g, request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from directory.accounts import devices
from directory.extensions import limiter

_limited_blueprints: set[str] = set()


def client_address() -> str:
    """The client's address (the proxy's X-Forwarded-For when PROXY_FIX trusts it)."""
    return f"ip:{request.remote_addr or 'unknown'}"


def hashed_client_address() -> str:
    """The client's address as stored with what a patient sends (enquiries, reports): keyed
    with the secret key, so the database can count one sender's messages without holding the
    address itself."""
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(),
                      client_address().encode(), hashlib.sha256)
    return digest.hexdigest()


def submitted_email() -> str:
    """The e-mail address typed into the form, as a key: the same whether or not it has an account.

    Normalised as accounts store addresses (`Jane@Ｅxample.com` is jane@example.com), and
    hashed, so the counters' storage holds no addresses.
    """
    return "email:" + devices.account_key(devices.submitted_email())


def submitted_email_at_address() -> str:
    """The typed e-mail address together with the client's address: one attacker's failures
    lock that address out of that account, not the account's owner elsewhere."""
    return f"{submitted_email()}|{client_address()}"


def trusted_device() -> bool:
    """This login attempt presents a valid device cookie for the account typed: it is counted
    per device cookie, not against the account's counters for untrusted clients."""
    return devices.presented_nonce() is not None


def untrusted_client() -> bool:
    """No valid device cookie for the account typed."""
    return not trusted_device()


def device_key() -> str:
    """The device cookie presented, as a key (its nonce; a new login gives a new one)."""
    return f"device:{devices.presented_nonce()}"


def current_account() -> str:
    """The logged-in account, as a key."""
    return f"user:{current_user.id}" if current_user.is_authenticated else "user:-"


def anonymous() -> bool:
    """Nobody is logged in (such a request is sent to the login page, not counted)."""
    return not current_user.is_authenticated


def setting(name: str) -> Callable[[], str]:
    """The limit configured under this name, read when a request arrives."""
    return lambda: current_app.config[name]


def note_failed_login() -> None:
    """Mark this request as a failed login, so it counts against the e-mail address's limit."""
    g.login_failed = True


def failed_login(_response) -> bool:
    """Flask-Limiter's deduct_when: only wrong credentials count towards the lockout."""
    return bool(g.get("login_failed"))


@limiter.request_filter
def _disabled_for_this_app() -> bool:
    """The limiter is one object for every app in the process; each app's setting decides."""
    return not current_app.config.get("RATELIMIT_ENABLED", True)


def limit_blueprint(blueprint: Blueprint, name: str) -> None:
    """One limit for all the routes of a blueprint together (applied once per process)."""
    if blueprint.name in _limited_blueprints:
        return
    limiter.shared_limit(setting(name), scope=blueprint.name, key_func=client_address)(blueprint)
    _limited_blueprints.add(blueprint.name)


def retry_after() -> int:
    """Seconds until the limit this request exceeded lets requests through again."""
    current = limiter.current_limit if limiter.initialized else None
    if current is None:
        return 60
    try:
        return max(1, math.ceil(current.window[0] - time.time()))
    except Exception:  # the storage went away meanwhile: a sensible guess
        return 60


def init_app(app: Flask) -> None:
    """Trust the configured proxies, choose where counters live, bind Flask-Limiter."""
    hops = int(app.config.get("PROXY_FIX") or 0)
    if hops > 0:
        # The client's address and scheme only: a forwarded Host could poison e-mailed links.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0,
                                x_prefix=0)
    uri = (app.config.get("RATELIMIT_STORAGE_URI") or app.config.get("REDIS_URL")
           or "memory://")
    app.config["RATELIMIT_STORAGE_URI"] = uri
    if (app.config.get("PRODUCTION") and uri.startswith("memory")
            and app.config.get("RATELIMIT_ENABLED", True)):
        app.logger.warning(
            "PRODUCTION without DIRECTORY_REDIS_URL: each process counts rate limits (and login "
            "lockouts) on its own, so with N processes every limit is N times looser.")
    if uri.startswith(("redis", "valkey")):  # redis://, rediss://, redis+unix://, ...
        # A Redis outage must not hang or break requests: give up quickly, count in memory
        # meanwhile (each process on its own) and go back to Redis when it answers again.
        options = {"socket_connect_timeout": 1, "socket_timeout": 1}
        app.config["RATELIMIT_STORAGE_OPTIONS"] = options | app.config.get(
            "RATELIMIT_STORAGE_OPTIONS", {})
        app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
        app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    if app.config.get("RATELIMIT_ENABLED", True):
        limiter.init_app(app)

