"""The issuer's pages: its graduates' certifications, one to confirm, dispute or revoke, and
the roster upload."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from directory.admin.routes import page_asked
from directory.credentials import lifecycle
from directory.extensions import db
from directory.issuers import roster, services
from directory.issuers.forms import ANSWERS, AnswerForm, IssuerFilterForm, RevokeForm, RosterForm
from directory.security import accepts_uploads, issuer_required
from directory.vocab import IssuerAnswer

bp = Blueprint("issuers", __name__, url_prefix="/issuer")

MAX_ROSTER_BYTES = 5 * 1024 * 1024  # about 50,000 graduates
MAX_SHOWN = 500  # report rows listed on the page


@bp.route("/")
@issuer_required
def index():
    """The certifications that cite the organisation's programs, newest first."""
    form = IssuerFilterForm(request.args, meta={"csrf": False})
    valid = form.validate()
    query = services.certifications_query(g.issuer, form.answer.data if valid else "",
                                          form.q.data if valid else "")
    page = db.paginate(query, page=page_asked(), per_page=50, error_out=False)
    args = {k: v for k, v in request.args.items() if k != "page"} if valid else {}
    return render_template("issuers/index.html", issuer=g.issuer, form=form, page=page,
                           args=args, labels=lifecycle.STATUS_LABELS)


def _certification_or_404(cert_id: int):
    cert = services.certification_for(g.issuer, cert_id)
    if cert is None:
        abort(404)
    return cert


def _render_certification(cert, form: AnswerForm, revoke_form: RevokeForm):
    return render_template(
        "issuers/certification.html", issuer=g.issuer, cert=cert, form=form,
        revoke_form=revoke_form, answers=ANSWERS, labels=lifecycle.STATUS_LABELS,
        can_answer=services.can_answer(cert), can_revoke=lifecycle.allowed(cert, "revoke"))


@bp.route("/certifications/<int:cert_id>", methods=["GET", "POST"])
@issuer_required
def certification(cert_id: int):
    """One certification: what it says, and the organisation's answer."""
    cert = _certification_or_404(cert_id)
    form = AnswerForm()
    if form.validate_on_submit():
        answer = IssuerAnswer(form.answer.data)
        try:
            services.answer(g.issuer, current_user, cert, answer, form.reason.data)
        except lifecycle.ReasonRequired as exc:
            form.reason.errors.append(str(exc))
        except lifecycle.IllegalTransition as exc:
            flash(str(exc), "error")
        else:
            flash(f"{cert.practitioner.full_name}, {cert.certificate_number or 'no number'}: "
                  f"{answer}.", "success")
            return redirect(url_for("issuers.index"))
    return _render_certification(cert, form, RevokeForm(formdata=None))


@bp.route("/certifications/<int:cert_id>/revoke", methods=["POST"])
@issuer_required
def revoke(cert_id: int):
    """Revoke a certificate the organisation issued (the practitioner is told why)."""
    cert = _certification_or_404(cert_id)
    revoke_form = RevokeForm()
    if revoke_form.validate_on_submit():
        try:
            services.revoke(g.issuer, current_user, cert,
                            revoke_form.revoke_reason.data)
        except lifecycle.ReasonRequired as exc:
            revoke_form.revoke_reason.errors.append(str(exc))
        except (lifecycle.IllegalTransition, services.ConflictError) as exc:
            db.session.refresh(cert)
            flash(str(exc), "error")
        else:
            flash(f"{cert.practitioner.full_name}, {cert.certificate_number or 'no number'}: "
                  "revoked. The practitioner has been told why.", "success")
            return redirect(url_for("issuers.index"))
    return _render_certification(cert, AnswerForm(formdata=None), revoke_form)


def _render_roster(form: RosterForm, report: roster.RosterReport | None = None):
    return render_template("issuers/roster.html", issuer=g.issuer, form=form, report=report,
                           columns=roster.COLUMNS, outcomes=roster.OUTCOMES,
                           max_shown=MAX_SHOWN, max_mb=MAX_ROSTER_BYTES // (1024 * 1024))


@bp.route("/roster", methods=["GET", "POST"])
@issuer_required
@accepts_uploads
def roster_upload():
    """Send a roster of graduates: every row checked, then the matching submissions
    confirmed (or, with "only check", the report of what would be)."""
    form = RosterForm()
    if not form.validate_on_submit():
        return _render_roster(form)
    data = form.file.data.stream.read(MAX_ROSTER_BYTES + 1)
    if len(data) > MAX_ROSTER_BYTES:
        form.file.errors.append(f"That file is larger than {MAX_ROSTER_BYTES // (1024 * 1024)} "
                                "MB: send it in parts.")
        return _render_roster(form)
    if form.dry_run.data:
        report = roster.check_roster(data, g.issuer)
    else:
        report = roster.upload_roster(data, g.issuer, current_user,
                                      file_name=form.file.data.filename or "")
    return _render_roster(form, report)


@bp.route("/roster/template.csv")
@issuer_required
def roster_template():
    """A roster CSV with the header and one example row."""
    return Response("\ufeff" + roster.template_csv(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="roster-template.csv"'})
