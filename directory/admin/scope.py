"""Administrator page for verdict changes: practitioners whose dry-needling verdict changed when
a rule was edited or loaded, with the automatic checks of their certifications run again."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from directory.admin.forms import SendAgainForm
from directory.admin.routes import bp, page_asked
from directory.credentials import checks, scope_changes
from directory.credentials.rules import VERDICTS, jurisdiction_label
from directory.extensions import db
from directory.models import Certification, ScopeChange
from directory.security import admin_required
from directory.vocab import CertStatus

PER_PAGE = 50
SHOWN_CHECKS = ("Profession may dry-needle there", "Hours meet the jurisdiction's minimum",
                "Practises where licensed")


@bp.route("/scope-changes")
@admin_required
def scope_changes_list():
    """Open verdict changes, oldest first, a page at a time (a rule of a whole country can
    turn many), each with its certifications' checks run again."""
    page = db.paginate(scope_changes.open_changes_query(), page=page_asked(), per_page=PER_PAGE,
                       error_out=False)
    changes = page.items
    certs: dict[int, list] = {}
    for change in changes:
        if change.practitioner_id in certs:
            continue
        found = db.session.scalars(select(Certification).where(
            Certification.practitioner_id == change.practitioner_id,
            Certification.status.in_([CertStatus.VERIFIED, CertStatus.PENDING]))
            .order_by(Certification.id)).all()
        certs[change.practitioner_id] = [
            (cert, [c for c in checks.run_checks(cert) if c.name in SHOWN_CHECKS])
            for cert in found]
    return render_template("admin/scope_changes.html", changes=changes, page=page, certs=certs,
                           form=SendAgainForm(), verdicts=VERDICTS, label=jurisdiction_label)


@bp.route("/scope-changes/<int:scope_change_id>/reviewed", methods=["POST"])
@admin_required
def scope_change_reviewed(scope_change_id: int):
    """An administrator has looked at the practitioner again."""
    change = db.get_or_404(ScopeChange, scope_change_id)
    if SendAgainForm().validate_on_submit():
        if scope_changes.resolve(change, current_user):
            flash(f"{change.practitioner.full_name}: marked as reviewed.", "success")
        else:
            flash(f"{change.practitioner.full_name}: already reviewed.", "info")
    return redirect(url_for("admin.scope_changes_list"))
