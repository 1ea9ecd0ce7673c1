"""A practitioner's certifications: submit, follow, edit; evidence for the owner and admins."""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from directory import storage
from directory.certifications.forms import CertificationForm
from directory.credentials import evidence, lifecycle, services
from directory.extensions import db
from directory.forms import submitted_version
from directory.models import Certification, TrainingProgram
from directory.security import accepts_uploads, login_required, practitioner_required

bp = Blueprint("certifications", __name__, url_prefix="/certifications")


def _own(cert_id: int) -> Certification:
    """A certification of the logged-in practitioner, or 404."""
    cert = db.session.get(Certification, cert_id)
    if cert is None or cert.practitioner_id != current_user.practitioner.id:
        abort(404)
    return cert


def _chosen_program(form: CertificationForm) -> TrainingProgram | None:
    if not form.program.data:
        return None
    return db.session.get(TrainingProgram, int(form.program.data))


def _upload(form: CertificationForm) -> services.Upload | None:
    file = form.evidence.data
    if not getattr(file, "filename", None):
        return None
    return services.Upload(stream=file.stream, filename=file.filename)


@bp.route("/")
@practitioner_required
def index():
    """Each certification's status, the administrator's message and the expiry dates."""
    certs = db.session.scalars(
        db.select(Certification).where(Certification.practitioner_id ==
                                       current_user.practitioner.id)
        .order_by(Certification.submitted_at.desc(), Certification.id.desc())).all()
    return render_template("certifications/index.html", certs=certs,
                           labels=lifecycle.STATUS_LABELS)


@bp.route("/new", methods=["GET", "POST"])
@practitioner_required
@accepts_uploads
def new():
    """Submit a certification with its evidence."""
    form = CertificationForm(programs=services.active_programs())
    if form.validate_on_submit():
        try:
            cert = services.submit(current_user.practitioner, current_user, form.values(),
                                   _chosen_program(form), form.program_name.data,
                                   _upload(form))
        except evidence.EvidenceError as exc:
            form.evidence.errors.append(str(exc))
        except storage.StorageUnavailable:
            form.evidence.errors.append(storage.UNAVAILABLE)
            return render_template("certifications/form.html", form=form, cert=None), 503
        else:
            flash("Thank you. Your certification is waiting for review; we will e-mail you "
                  "when an administrator has decided.", "success")
            return redirect(url_for("certifications.index", _anchor=f"cert-{cert.id}"))
    return render_template("certifications/form.html", form=form, cert=None)


@bp.route("/<int:cert_id>/edit", methods=["GET", "POST"])
@practitioner_required
@accepts_uploads
def edit(cert_id: int):
    """Change a certification; a verified one goes back to review."""
    cert = _own(cert_id)
    if cert.status not in lifecycle.EDITABLE:
        flash(f"This certification is {lifecycle.STATUS_LABELS[cert.status]} and cannot be "
              "changed. Submit a new one instead.", "error")
        return redirect(url_for("certifications.index"))
    programs = services.active_programs()
    if cert.program is not None and cert.program not in programs:
        programs.append(cert.program)  # a retired program stays on the certification
    data = {key: getattr(cert, key) for key in services.CERT_FIELDS}
    data.update(version=str(cert.version),
                program=str(cert.program_id) if cert.match_outcome == "chosen" else "",
                program_name="" if cert.match_outcome == "chosen" else cert.submitted_name)
    form = CertificationForm(programs=programs, evidence_required=False, data=data)
    if form.validate_on_submit():
        expected = submitted_version(form.version)
        try:
            services.update(cert, current_user, expected, form.values(), _chosen_program(form),
                            form.program_name.data, _upload(form))
        except evidence.EvidenceError as exc:
            form.evidence.errors.append(str(exc))
        except storage.StorageUnavailable:
            form.evidence.errors.append(storage.UNAVAILABLE)
            return render_template("certifications/form.html", form=form, cert=cert), 503
        except (services.ConflictError, lifecycle.IllegalTransition) as exc:
            db.session.refresh(cert)
            form.version.data = str(cert.version)
            flash(f"{exc} Your changes are still in the form: check them and save again.",
                  "error")
        else:
            flash("Saved. Your certification is waiting for review.", "success")
            return redirect(url_for("certifications.index", _anchor=f"cert-{cert.id}"))
    return render_template("certifications/form.html", form=form, cert=cert)


@bp.route("/<int:cert_id>/evidence")
@login_required
def evidence_file(cert_id: int):
    """The evidence file, for its owner and administrators only (inline for the admin view)."""
    cert = db.session.get(Certification, cert_id)
    owner = (cert is not None and current_user.practitioner is not None
             and cert.practitioner_id == current_user.practitioner.id)
    if cert is None or not (owner or current_user.is_admin) or not cert.evidence_stored_name:
        abort(404)
    try:
        data = evidence.read_verified(cert.evidence_stored_name, cert.evidence_sha256,
                                      cert.evidence_mime)
    except evidence.EvidenceError:
        abort(410)
    inline = request.args.get("inline") == "1"
    response = send_file(io.BytesIO(data), mimetype=cert.evidence_mime,
                         as_attachment=not inline, max_age=0,
                         download_name=evidence.download_name(cert.evidence_original_name,
                                                              cert.evidence_mime))
    response.headers["X-Content-Type-Options"] = "nosniff"
    # A PDF shown inline cannot run scripts against this site.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    response.headers["Cache-Control"] = "private, no-store"
    return response
