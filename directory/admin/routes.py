"""Administrator pages."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from directory.extensions import db
from directory.models import AuditEvent, Certification, Practitioner, User
from directory.security import admin_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@admin_required
def index():
    """The administrators' overview: counts and the latest audit events."""
    counts = {
        "Practitioner accounts": db.session.scalar(
            select(func.count()).select_from(User).where(User.role == "practitioner")),
        "Unconfirmed e-mail addresses": db.session.scalar(
            select(func.count()).select_from(User).where(User.email_confirmed_at.is_(None))),
        "Demo profiles": db.session.scalar(
            select(func.count()).select_from(Practitioner).where(Practitioner.is_demo)),
        "Certifications waiting for review": db.session.scalar(
            select(func.count()).select_from(Certification)
            .where(Certification.status == "pending")),
    }
    events = db.session.scalars(
        select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(20)).all()
    return render_template("admin/index.html", counts=counts, events=events)
