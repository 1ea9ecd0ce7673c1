"""Authorization: one decorator per role, the upload views' mark, and safe redirects."""

from __future__ import annotations

from functools import wraps
from urllib.parse import unquote, urlsplit

from flask import abort, flash, g, redirect, request, url_for
from flask_login import current_user

from directory.extensions import login_manager
from directory.models import issuer_of
from directory.vocab import Role


def practitioner_required(view):
    """Only a logged-in practitioner (with a profile) may use this view."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role != Role.PRACTITIONER or current_user.practitioner is None:
            abort(403)
        return view(*args, **kwargs)

    wrapped.access = Role.PRACTITIONER
    return wrapped


def admin_required(view):
    """Only a logged-in administrator may use this view."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    wrapped.access = Role.ADMIN
    return wrapped


def issuer_required(view):
    """Only a logged-in issuer account tied to an organisation may use this view; the view
    reads that organisation as g.issuer."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role != Role.ISSUER:
            abort(403)
        g.issuer = issuer_of(current_user)
        if g.issuer is None:
            abort(403)
        return view(*args, **kwargs)

    wrapped.access = Role.ISSUER
    return wrapped


def login_required(view):
    """Any logged-in user may use this view."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    wrapped.access = "user"
    return wrapped


def anonymous_only(view):
    """Pages for people who are not logged in (sign-up, login): others go to their home."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user.is_authenticated:
            flash("You are already logged in.", "info")
            return redirect(home_for(current_user))
        return view(*args, **kwargs)

    wrapped.access = "anonymous"
    return wrapped


def public(view):
    """Marks a view open to everyone, so the route table test knows it is deliberate."""
    view.access = "public"
    return view


def accepts_uploads(view):
    """Marks a view that takes file uploads: its request body may be MAX_CONTENT_LENGTH
    (32 MB), where every other view's stops at MAX_FORM_BODY (see headers.Request)."""
    view.accepts_uploads = True
    return view


def takes_uploads(view) -> bool:
    """True for a view marked with @accepts_uploads (under its authorization decorator too)."""
    return bool(getattr(view, "accepts_uploads", False))


def home_for(user) -> str:
    """Where a user lands after logging in."""
    if user.is_admin:
        return url_for("admin.index")
    if user.role == Role.ISSUER:
        return url_for("issuers.index")
    return url_for("profiles.dashboard")


def is_safe_next(target: str | None) -> bool:
    """True when target is a path on this site (no scheme, no host, no backslash tricks), also
    once percent-decoded (/%2F%2Fevil.example is //evil.example to a server that decodes it)."""
    if not target:
        return False
    for text in (target, unquote(target)):
        if not text.startswith("/") or text.startswith("//"):
            return False
        if "\\" in text or any(ord(ch) < 32 for ch in text):
            return False
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return False
    return True


def safe_next(default: str) -> str:
    """The request's next= when it is a local path, else the default."""
    target = request.values.get("next")
    return target if is_safe_next(target) else default
