"""Pages anyone can see."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from directory import listing
from directory.credentials import codes
from directory.credentials.rules import scopes_for
from directory.extensions import db, limiter
from directory.models import Certification, Practitioner
from directory.models.base import utcnow
from directory.public import seo
from directory.public.forms import VerifyForm
from directory.public.search_page import BACK_PARAMETER, render_search, results_url
from directory.ratelimit import client_address, setting
from directory.security import public
from directory.vocab import CertStatus

bp = Blueprint("public", __name__)


@bp.route("/")
@public
def home():
    """The home page: search near a place (the results appear on the same page)."""
    return render_search()


@bp.route("/favicon.ico")
@public
def favicon():
    """The site's icon, where browsers look for it without a <link>."""
    response = current_app.response_class(_icon(current_app.static_folder),
                                          mimetype="image/vnd.microsoft.icon")
    response.cache_control.public, response.cache_control.max_age = True, 86400
    return response


@lru_cache(maxsize=1)
def _icon(folder: str) -> bytes:
    return (Path(folder) / "favicon.ico").read_bytes()


@bp.route("/robots.txt")
@public
def robots():
    """What crawlers may read: the public pages, not the accounts' or administrators'."""
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW),
             seo.robots_sitemap_line()]
    response = current_app.response_class("\n".join(lines) + "\n", mimetype="text/plain")
    response.cache_control.public, response.cache_control.max_age = True, 86400
    return response


# Pages a crawler has no business reading (private, or a form without content of its own).
ROBOTS_DISALLOW = ("/admin/", "/account/", "/dashboard", "/profile/", "/certifications/",
                   "/issuer/", "/api/")


@bp.route("/sitemap.xml")
@public
def sitemap():
    """The sitemap of the site's pages and the indexed profiles: the one file, or an index of
    the files when there are more URLs than one file may hold."""
    files = seo.file_count()
    body = seo.urlset_xml(seo.file_entries(1)) if files == 1 else seo.index_xml(files)
    return _xml(body)


@bp.route("/sitemap-<int:number>.xml")
@public
def sitemap_file(number: int):
    """One file of the sitemap (1 to the count the index names; any other number: 404)."""
    if not 1 <= number <= seo.file_count():
        abort(404)
    return _xml(seo.urlset_xml(seo.file_entries(number)))


def _xml(body: str):
    response = current_app.response_class(body, mimetype="application/xml")
    response.cache_control.public, response.cache_control.max_age = True, 3600
    return response


# The canonical address of a site page, for templates/base.html.
bp.add_app_template_global(seo.canonical_url, "canonical_url")


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
    listed, certs = listing.is_listed(p), listing.shown_certifications(p)
    # The page's structured data and preview tags only once it is public; until then (its
    # owner and administrators) and while it is not indexed: noindex.
    return render_template("public/practitioner.html", p=p, listed=listed, certs=certs,
                           scopes=scopes_for(p), indexed=listing.is_published(p),
                           meta=seo.profile_meta(p, certs) if listed else None,
                           back_url=results_url(request.args.get(BACK_PARAMETER)))


@bp.route("/verify", methods=["GET"])
@limiter.limit(setting("RATELIMIT_VERIFY"), key_func=client_address)
@public
def verify():
    """A form where anyone types a credential's public code."""
    form = VerifyForm(request.args, meta={"csrf": False})
    if request.args and form.validate():
        return redirect(url_for("public.verify_code", code=form.lookup_code()))
    return render_template("public/verify.html", form=form)


@bp.route("/verify/<code>")
@limiter.limit(setting("RATELIMIT_VERIFY"), key_func=client_address)
@public
def verify_code(code: str):
    """The current status of the credential with this public code."""
    cert = codes.find(code)
    # Never verified, or verified once but rejected after an edit: not a verified credential.
    if cert is None or cert.verified_at is None or cert.status == CertStatus.REJECTED:
        form = VerifyForm(data={"code": code[:64]}, meta={"csrf": False})
        return render_template("public/verify.html", form=form, not_found=True), 404
    if code != cert.public_code:  # typed in another case or in groups: its own address
        return redirect(url_for("public.verify_code", code=cert.public_code))
    return render_template("public/verified.html", cert=cert,
                           status=public_status(cert),
                           listed=listing.is_listed(cert.practitioner), now=utcnow())


def public_status(cert: Certification) -> str:
    """What the public check says: verified, expired, revoked or under review."""
    if listing.is_verified(cert) and not listing.is_unexpired(cert):
        return CertStatus.EXPIRED  # past its expiry day, before the sweep marks it
    if cert.status in (CertStatus.VERIFIED, CertStatus.EXPIRED, CertStatus.REVOKED):
        return cert.status
    return "under review"
