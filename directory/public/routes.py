"""Pages anyone can see."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user
from sqlalchemy import select

from directory import listing
from directory.extensions import db
from directory.models import Practitioner
from directory.security import public

bp = Blueprint("public", __name__)


@bp.route("/")
@public
def home():
    """The home page."""
    return render_template("public/home.html")


@bp.route("/about")
@public
def about():
    """What the directory is, and what "verified" means."""
    return render_template("public/about.html")


@bp.route("/p/<slug>")
@public
def practitioner(slug: str):
    """A practitioner's public profile (owner and admins see it before it is listed)."""
    p = db.session.scalar(select(Practitioner).where(Practitioner.slug == slug))
    if p is None or not listing.can_view(p, current_user):
        abort(404)
    return render_template("public/practitioner.html", p=p, listed=listing.is_listed(p))
