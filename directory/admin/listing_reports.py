"""Administrator pages for reports of wrong information: the queue (open first, newest first)
and one report beside the listing's current details, with the decision form."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import case, func, select

from directory import reports
from directory.admin.forms import ReportDecisionForm
from directory.admin.routes import bp, page_asked
from directory.extensions import db
from directory.models import ListingReport
from directory.security import admin_required
from directory.vocab import REPORT_KINDS, ReportStatus

ALL = "all"
# The queue's tabs: what waits for a decision first, then the decided ones, then everything.
REPORT_TABS = (*ReportStatus, ALL)


@bp.route("/reports")
@admin_required
def reports_list():
    """Reports of wrong information by status (open by default), open first, newest first."""
    status = request.args.get("status", ReportStatus.OPEN)
    if status not in REPORT_TABS:
        status = ReportStatus.OPEN
    counts = dict(db.session.execute(
        select(ListingReport.status, func.count()).group_by(ListingReport.status)).all())
    counts[ALL] = sum(counts.values())
    query = select(ListingReport).order_by(
        case((ListingReport.status == ReportStatus.OPEN, 0), else_=1),
        ListingReport.created_at.desc(), ListingReport.id.desc())
    if status != ALL:
        query = query.where(ListingReport.status == status)
    page = db.paginate(query, page=page_asked(), per_page=50, error_out=False)
    return render_template("admin/reports.html", page=page, status=status, counts=counts,
                           tabs=REPORT_TABS, kinds=REPORT_KINDS, labels=reports.STATUS_LABELS)


@bp.route("/reports/<int:report_id>", methods=["GET", "POST"])
@admin_required
def report(report_id: int):
    """One report beside the listing's current details, and the decision on it."""
    found = db.get_or_404(ListingReport, report_id)
    form = ReportDecisionForm()
    if form.validate_on_submit():
        try:
            reports.resolve_report(found, current_user, form.status.data, form.resolution.data)
        except reports.AlreadyResolved as exc:
            flash(str(exc), "error")
        else:
            flash(f"Report on {found.practitioner.full_name} "
                  f"{reports.STATUS_LABELS[found.status]}.", "success")
            return redirect(url_for("admin.reports_list"))
    elif form.is_submitted() and found.status != ReportStatus.OPEN:
        flash(reports.already_resolved_message(found), "error")
    return render_template("admin/report.html", report=found, p=found.practitioner, form=form,
                           kinds=REPORT_KINDS, labels=reports.STATUS_LABELS,
                           decisions=reports.DECISIONS)
