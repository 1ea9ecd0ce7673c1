"""Administrator pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import case, func, select

from directory.admin.forms import DECISIONS, AuditFilterForm, DecisionForm, SendAgainForm
from directory.credentials import checks, lifecycle, scope_changes, services
from directory.credentials.rules import due_for_review_clause, scopes_for
from directory.extensions import db
from directory.forms import submitted_version
from directory.models import (
    AuditEvent,
    Certification,
    JurisdictionRule,
    Practitioner,
    TrainingProgram,
    User,
)
from directory.models.base import utcnow
from directory.models.issuer import confirmed_clause
from directory.security import admin_required
from directory.vocab import CertStatus, EnquiryStatus, OutboxStatus, Role

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@admin_required
def index():
    """The administrators' overview: counts and the latest audit events."""
    counts = {
        "Practitioner accounts": db.session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.PRACTITIONER)),
        "Unconfirmed e-mail addresses": db.session.scalar(
            select(func.count()).select_from(User).where(User.email_confirmed_at.is_(None))),
        "Demo profiles": db.session.scalar(
            select(func.count()).select_from(Practitioner).where(Practitioner.is_demo)),
        "Certifications waiting for review": db.session.scalar(
            select(func.count()).select_from(Certification)
            .where(Certification.status == CertStatus.PENDING)),
        "Verdict changes waiting for review": scope_changes.open_count(),
        "Jurisdiction rules due for review": db.session.scalar(
            select(func.count()).select_from(JurisdictionRule)
            .where(due_for_review_clause(utcnow().date()))),
    }
    events = db.session.scalars(
        select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(20)).all()
    from directory.outbox import counts as mail_counts
    from directory.reports import open_count as open_reports

    return render_template("admin/index.html", counts=counts, events=events,
                           failed_mail=mail_counts()[OutboxStatus.FAILED],
                           open_reports=open_reports())


MAX_PAGE = 1_000_000  # beyond any real list; a larger number would overflow the query's OFFSET


def page_asked() -> int:
    """The page= of the request: 1 when missing or not a number, at most MAX_PAGE."""
    page = request.args.get("page", 1, type=int)
    return min(max(page, 1), MAX_PAGE)


# The queue's tabs: the statuses still waiting on someone first, then every other in its order.
STATUS_TABS = (CertStatus.PENDING, CertStatus.CHANGES_REQUESTED) + tuple(
    s for s in CertStatus if s not in (CertStatus.PENDING, CertStatus.CHANGES_REQUESTED))


@bp.route("/queue")
@admin_required
def queue():
    """Certifications by status, those their issuer confirmed first, then the oldest
    submission first, with a count for each status."""
    status = request.args.get("status", CertStatus.PENDING)
    if status not in STATUS_TABS:
        status = CertStatus.PENDING
    counts = {status: n for status, n in db.session.execute(
        select(Certification.status, func.count()).group_by(Certification.status))}
    # Confirmed by the training organisation first (quick to decide), then the oldest.
    confirmed_first = case((confirmed_clause(), 0), else_=1)
    page = db.paginate(
        select(Certification).where(Certification.status == status)
        .order_by(confirmed_first, Certification.submitted_at.asc(), Certification.id.asc()),
        page=page_asked(), per_page=25, error_out=False)
    return render_template("admin/queue.html", page=page, status=status, counts=counts,
                           tabs=STATUS_TABS, labels=lifecycle.STATUS_LABELS)


@bp.route("/certifications/<int:cert_id>", methods=["GET", "POST"])
@admin_required
def certification(cert_id: int):
    """One certification: evidence beside the automatic checks, and the decision."""
    cert = db.get_or_404(Certification, cert_id)
    form = DecisionForm()
    programs = list(db.session.scalars(select(TrainingProgram).order_by(
        TrainingProgram.organisation, TrainingProgram.level, TrainingProgram.name)))
    form.set_programs(programs)
    if request.method == "GET":
        form.program.data = str(cert.program_id or "")
    if form.validate_on_submit():
        expected = submitted_version(form.version)
        try:
            chosen = db.session.get(TrainingProgram, int(form.program.data)) \
                if form.program.data else None
            services.decide(cert, current_user, form.action.data, form.reason.data, expected,
                            program=chosen)
        except lifecycle.ReasonRequired as exc:
            form.reason.errors.append(str(exc))
        except lifecycle.ProgramRequired as exc:
            db.session.rollback()
            form.program.errors.append(str(exc))
        except (services.ConflictError, lifecycle.IllegalTransition) as exc:
            db.session.rollback()
            db.session.refresh(cert)
            flash(str(exc), "error")
        else:
            flash(f"{cert.practitioner.full_name}: certification "
                  f"{lifecycle.STATUS_LABELS[cert.status]}.", "success")
            return redirect(url_for("admin.queue"))
    form.version.data = str(cert.version)
    actions = [a for a in DECISIONS if lifecycle.allowed(cert, a)]
    if form.errors and not actions:  # sent from a page that was open while someone decided
        flash(f"This certification is {lifecycle.STATUS_LABELS[cert.status]}: there is no "
              "decision left to take on it.", "error")
    return render_template("admin/certification.html", cert=cert, form=form, actions=actions,
                           decisions=DECISIONS, checks=checks.run_checks(cert),
                           labels=lifecycle.STATUS_LABELS, scopes=scopes_for(cert.practitioner))


@bp.route("/audit")
@admin_required
def audit():
    """The audit log, filterable by practitioner, admin, action, record and date."""
    form = AuditFilterForm(request.args, meta={"csrf": False})
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if form.validate():
        f = form.data
        if f["practitioner"]:
            query = query.where(AuditEvent.practitioner_id == f["practitioner"])
        if f["admin"]:
            query = query.join(User, AuditEvent.actor_id == User.id).where(
                User.role == Role.ADMIN, User.email.contains(f["admin"].strip().lower()))
        if f["action"]:
            query = query.where(AuditEvent.action.startswith(f["action"], autoescape=True))
        if f["subject_type"]:
            query = query.where(AuditEvent.subject_type == f["subject_type"])
        if f["subject_id"]:
            query = query.where(AuditEvent.subject_id == f["subject_id"])
        if f["date_from"]:
            query = query.where(AuditEvent.at >= datetime.combine(f["date_from"], time.min, UTC))
        if f["date_to"] and f["date_to"] < date.max:  # the last day has no next day
            query = query.where(AuditEvent.at < datetime.combine(
                f["date_to"] + timedelta(days=1), time.min, UTC))
    else:
        query = query.where(False)
    page = db.paginate(query, page=page_asked(), per_page=50, error_out=False)
    actions = db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("admin/audit.html", form=form, page=page, actions=list(actions),
                           args=args)


@bp.route("/mail")
@admin_required
def mail():
    """Outgoing e-mail: how many wait, are sent or failed; the failed ones and those being
    retried, each with the mail server's last answer."""
    from directory import outbox
    from directory.models import OutboxMessage

    shown = (OutboxStatus.FAILED, OutboxStatus.PENDING)
    page = db.paginate(
        select(OutboxMessage).where(OutboxMessage.status.in_(shown),
                                    (OutboxMessage.status == OutboxStatus.FAILED)
                                    | (OutboxMessage.attempts > 0))
        .order_by(OutboxMessage.status, OutboxMessage.created_at.desc(), OutboxMessage.id.desc()),
        page=page_asked(), per_page=50, error_out=False)
    return render_template("admin/mail.html", page=page, counts=outbox.counts(),
                           form=SendAgainForm(), statuses=OutboxStatus)


@bp.route("/mail/<int:message_id>/send-again", methods=["POST"])
@admin_required
def send_mail_again(message_id: int):
    """Put a failed e-mail back in the queue."""
    from directory import outbox
    from directory.models import OutboxMessage

    message = db.get_or_404(OutboxMessage, message_id)
    if SendAgainForm().validate_on_submit():
        try:
            outbox.send_again(message, current_user)
        except ValueError as exc:
            flash(str(exc), "error")
        else:
            flash(f"The e-mail to {message.to_address} will be sent again in a moment.",
                  "success")
    return redirect(url_for("admin.mail"))


from directory.admin import licences as _licences  # noqa: E402,F401  (its routes join bp)
from directory.admin import listing_reports as _reports  # noqa: E402,F401  (its routes join bp)
from directory.admin import scope as _scope  # noqa: E402,F401  (its routes join bp)


@bp.route("/enquiries")
@admin_required
def enquiries():
    """Messages patients sent from profiles, for abuse review: who, to whom, when, how long and
    how many links — never the words, which leave with the e-mail."""
    from directory import enquiries as enquiry_service

    return render_template("admin/enquiries.html", rows=enquiry_service.recent(),
                           statuses=EnquiryStatus)
