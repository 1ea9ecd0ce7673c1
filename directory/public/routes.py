"""Pages anyone can see."""

from __future__ import annotations

import io
import secrets
from functools import lru_cache
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from directory import enquiries, listing, practice, reports
from directory.badges import credentials as badges
from directory.badges import status_list as status_list_module
from directory.credentials import codes
from directory.credentials.rules import scopes_for
from directory.extensions import csrf, db, limiter
from directory.models import Certification, Practitioner
from directory.models.base import utcnow
from directory.profiles import photos
from directory.public import seo
from directory.public.forms import CredentialForm, EnquiryForm, ReportForm, VerifyForm
from directory.public.search_page import BACK_PARAMETER, render_search, results_url
from directory.ratelimit import client_address, hashed_client_address, setting
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
                           back_url=results_url(request.args.get(BACK_PARAMETER)),
                           # No token in the page: it is the same for every visitor, so
                           # caches may share it (js/enquiry.js fetches this visitor's token).
                           enquiry_form=EnquiryForm(formdata=None, meta={"csrf": False}))


@bp.route("/csrf-token")
@public
def csrf_token():
    """This visitor's form token, for a form on a page every visitor shares (the profile's
    message form); never cached."""
    response = jsonify(token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/verify", methods=["GET"])
@limiter.limit(setting("RATELIMIT_VERIFY"), key_func=client_address)
@public
def verify():
    """A form where anyone types a credential's public code."""
    form = VerifyForm(request.args, meta={"csrf": False})
    if request.args and form.validate():
        return redirect(url_for("public.verify_code", code=form.lookup_code()))
    return render_template("public/verify.html", form=form, credential_form=CredentialForm())


@bp.route("/verify/<code>")
@limiter.limit(setting("RATELIMIT_VERIFY"), key_func=client_address)
@public
def verify_code(code: str):
    """The current status of the credential with this public code."""
    cert = codes.find(code)
    # Never verified, or verified once but rejected after an edit: not a verified credential.
    if cert is None or cert.verified_at is None or cert.status == CertStatus.REJECTED:
        form = VerifyForm(data={"code": code[:64]}, meta={"csrf": False})
        return render_template("public/verify.html", form=form, not_found=True,
                               credential_form=CredentialForm()), 404
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


@bp.route("/p/<slug>/report", methods=["GET", "POST"])
# Only a report that went through counts: a form sent back with a field message costs nothing.
@limiter.limit(setting("RATELIMIT_REPORT"), methods=["POST"], key_func=client_address,
               deduct_when=lambda response: response.status_code == 302)
@public
def report(slug: str):
    """Report a problem with a listed profile (one that is not listed cannot be: 404)."""
    p = db.session.scalar(select(Practitioner).where(Practitioner.slug == slug))
    if p is None or not listing.is_listed(p):
        abort(404)
    form = ReportForm()
    if form.validate_on_submit():
        try:
            reports.submit_report(p, form.kind.data, form.details.data or "",
                                  form.email.data or "", hashed_client_address())
        except reports.DuplicateReport as exc:
            flash(str(exc), "info")
        else:
            flash(f"Thank you: your report has been sent. {p.full_name} has been told, so they "
                  "can correct their listing, and an administrator will check it.", "success")
        return redirect(url_for("public.practitioner", slug=p.slug))
    return render_template("public/report.html", p=p, form=form)


RESEND = ("Your message is not sent yet: to be sure it comes from you, please press "
          "Send message once more.")


@bp.route("/p/<slug>/contact", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token: a refusal keeps what was typed (RESEND)
@public
def enquiry(slug: str):
    """Send a listed practitioner a message (their e-mail address is never shown): the form
    is also on the profile; here it comes back with its field messages and what was typed."""
    p = db.session.scalar(select(Practitioner).where(Practitioner.slug == slug))
    if p is None or not listing.is_listed(p):
        abort(404)
    form = EnquiryForm()
    refused = None
    if practice.takes_enquiries(p) and form.validate_on_submit():
        try:
            enquiries.send_enquiry(p, sender_name=form.name.data, sender_email=form.email.data,
                                   message=form.message.data,
                                   client_key=hashed_client_address(),
                                   trapped=form.is_trapped())
        except enquiries.EnquiryRefused as exc:
            refused = exc
        else:
            flash(f"Your message has been sent to {p.full_name}. A copy is on its way to "
                  f"{form.email.data}; their reply will come to that address.", "success")
            return redirect(url_for("public.practitioner", slug=p.slug))
    token = getattr(form, "csrf_token", None)  # None where CSRF is off (most tests)
    if token is not None and token.errors:
        # Sent without this visitor's token (the profile page's script did not run) or with an
        # expired one: the form comes back with what was typed and a fresh token.
        token.errors = []
        return render_template("public/enquiry.html", p=p, form=form, refused=RESEND)
    return render_template("public/enquiry.html", p=p, form=form,
                           refused=str(refused) if refused else None), (
        refused.status if refused else 200)


PHOTO_CACHE_SECONDS = 86400  # a key names one photo for good: a new photo gets a new key


@bp.route("/photos/<key>-<int:size>.jpg")
@public
def photo(key: str, size: int):
    """One size of a practitioner's photo, for whoever may see the profile (else 404)."""
    well_formed = size in photos.SIZES and photos.practitioner_id_of(key) is not None
    p = db.session.get(Practitioner, photos.practitioner_id_of(key)) if well_formed else None
    if (p is None or not secrets.compare_digest(p.photo_key or "", key)
            or not listing.can_view(p, current_user)):
        abort(404)
    # Read whole (tens of kilobytes): no file is left open by a client that goes away. A store
    # out of reach is the 503 page (errors.py).
    data = photos.read(key, size)
    if data is None:
        abort(404)
    # A key names one photo for good, so the key and size are its entity tag.
    response = send_file(io.BytesIO(data), mimetype="image/jpeg", conditional=True,
                         etag=f"{key}-{size}", max_age=PHOTO_CACHE_SECONDS)
    if listing.is_listed(p):
        response.cache_control.public = True
    else:  # the owner or an administrator, before the profile is public
        response.cache_control.max_age = None
        response.cache_control.private = True
        response.cache_control.no_store = True
    return response


def photo_sources(key: str) -> list[tuple[int, str]]:
    """Each size of a stored photo with its address, smallest first (one URL built, the others
    by its pattern): what templates/_macros/photo.html writes into an <img>'s srcset."""
    first = url_for("public.photo", key=key, size=photos.SIZES[0])
    stem = first.removesuffix(f"-{photos.SIZES[0]}.jpg")
    return [(size, f"{stem}-{size}.jpg") for size in photos.SIZES]


bp.add_app_template_global(photo_sources, "photo_sources")


# ----------------------------------------------------------------- Open Badges 3.0 credentials


@bp.route("/verify/<code>/credential.jwt")
@limiter.limit(setting("RATELIMIT_VERIFY"), key_func=client_address)
@public
def credential(code: str):
    """The Open Badges 3.0 credential of a verified certification, as a signed VC-JWT."""
    cert = codes.find(code)
    if not badges.issuable(cert):
        abort(404)
    if code != cert.public_code:
        return redirect(url_for("public.credential", code=cert.public_code))
    response = current_app.response_class(badges.issue(cert), mimetype=badges.MEDIA_TYPE)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="open-badge-{cert.public_code}.jwt"')
    response.cache_control.no_store = True
    return response


@bp.route("/credentials/status/<int:number>")
@public
def status_list(number: int):
    """The Bitstring Status List credential (revocation) of list `number`, as a signed VC-JWT."""
    if not 1 <= number <= status_list_module.list_count():
        abort(404)
    response = current_app.response_class(badges.signed_status_list(number),
                                          mimetype=badges.MEDIA_TYPE)
    response.cache_control.public, response.cache_control.max_age = True, 300
    return response


@bp.route("/verify/credential", methods=["POST"])
@limiter.limit(setting("RATELIMIT_VERIFY"), key_func=client_address)
@public
def verify_credential():
    """Check a pasted Open Badges credential: signature, issuer, dates and status."""
    form = CredentialForm()
    if not form.validate_on_submit():
        return render_template("public/verify.html", form=VerifyForm(formdata=None,
                               meta={"csrf": False}), credential_form=form), 400
    result = badges.verify(form.credential.data)
    return render_template("public/credential_check.html", result=result,
                           pretty=badges.pretty(result.claims) if result.claims else None)
