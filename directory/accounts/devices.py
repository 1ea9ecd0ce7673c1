"""Device cookies (OWASP's "Slow Down Online Guessing Attacks with Device Cookies"): a browser
that logged in to an account gets a signed, long-lived, HttpOnly cookie naming the account (a
hash of its address) and a random nonce. Login attempts that present a valid one for the
account typed are counted per device cookie (ratelimit.device_key), not against the account's
counters for untrusted clients, so guessing from elsewhere cannot lock the owner out."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from directory.accounts.services import normalise_email

SALT = "device-cookie"
MAX_AGE = timedelta(days=365)
PREFIX = "device-"


def account_key(email: str) -> str:
    """The account an address names, as a hash (no address in cookies or counters)."""
    return hashlib.sha256(normalise_email(email).encode("utf-8", "replace")).hexdigest()[:32]


def cookie_name(account: str) -> str:
    """One device cookie per account a browser has logged in to."""
    return PREFIX + account[:16]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def issue(response: Response, email: str) -> None:
    """After a successful login: a new device cookie for this account (a fresh nonce, so the
    failures counted against the previous one are behind it)."""
    account = account_key(email)
    value = _serializer().dumps({"a": account, "n": secrets.token_urlsafe(16)})
    response.set_cookie(cookie_name(account), value, max_age=int(MAX_AGE.total_seconds()),
                        path="/account/", httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))


def submitted_email() -> str:
    """The e-mail address typed into this request's form ('' when none or unreadable)."""
    try:
        return request.form.get("email") or ""
    except HTTPException:  # too large or malformed: the view answers that (413, 400)
        return ""


def presented_nonce() -> str | None:
    """The nonce of a valid device cookie for the account typed into this login form, if the
    browser sent one (read once per request)."""
    if "device_nonce" not in g:
        g.device_nonce = _read(submitted_email())
    return g.device_nonce


def _read(email: str) -> str | None:
    if not email:
        return None
    account = account_key(email)
    value = request.cookies.get(cookie_name(account))
    if not value:
        return None
    try:
        data = _serializer().loads(value, max_age=int(MAX_AGE.total_seconds()))
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("a") != account or not data.get("n"):
        return None
    return str(data["n"])
