"""Administrator pages for licences: the check queue (first checks and re-checks, oldest need
first) and one practitioner's licence beside its official registers and, for a US licence,
what the loaded NPPES file says of it, with the form that records an outcome."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from directory import listing
from directory.admin.forms import OTHER_REGISTER, LicenceCheckForm
from directory.admin.routes import bp
from directory.extensions import db
from directory.licences import nppes, registers
from directory.licences import services as licence_services
from directory.models import AuditEvent, Practitioner
from directory.models.base import utcnow
from directory.security import admin_required
from directory.vocab import LicenceMethod

QUEUE_PAGE = 50


def _registers_for(p: Practitioner) -> list[registers.Register]:
    return registers.registers_for(p.licence_country, p.licence_region, p.profession)


@bp.route("/licences")
@admin_required
def licences():
    """Licences waiting for a check: lapsed and due re-checks first, oldest first."""
    entries = licence_services.check_queue()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    pages = max((len(entries) + QUEUE_PAGE - 1) // QUEUE_PAGE, 1)
    page = min(page, pages)
    shown = entries[(page - 1) * QUEUE_PAGE:page * QUEUE_PAGE]
    return render_template("admin/licences.html", entries=shown, total=len(entries),
                           page=page, pages=pages, today=utcnow().date())


@bp.route("/licences/<int:practitioner_id>", methods=["GET", "POST"])
@admin_required
def licence(practitioner_id: int):
    """One practitioner's licence: the registers to check it on, and the outcome."""
    p = db.get_or_404(Practitioner, practitioner_id)
    found = _registers_for(p)
    form = LicenceCheckForm()
    form.set_registers(found)
    if request.method == "GET":
        form.checked_on.data = utcnow().date()
        if found:
            form.register.data = found[0].key
    if form.validate_on_submit():
        register = registers.register_by_key(form.register.data)
        if form.register.data == OTHER_REGISTER or register is None:
            source = form.register_url.data
        else:
            source = f"{register.name} ({register.search_url})"
        try:
            licence_services.record_check(
                p, verified=form.outcome.data == "verified", method=LicenceMethod.REGISTER,
                source=source, actor=current_user, note=(form.note.data or "").strip(),
                checked_on=form.checked_on.data,
                register_expires_on=form.register_expires_on.data)
        except licence_services.LicenceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash(f"{p.full_name}: licence "
                  f"{'verified' if form.outcome.data == 'verified' else 'not verified'}.",
                  "success")
            return redirect(url_for("admin.licences"))
    history = db.session.scalars(
        select(AuditEvent).where(AuditEvent.practitioner_id == p.id,
                                 AuditEvent.action.startswith("licence."))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(50)).all()
    return render_template(
        "admin/licence.html", p=p, form=form, registers=found,
        nppes_problem=nppes.cannot_check(p) if p.licence_country == "US" else None,
        nppes=(nppes.match(p) if p.licence_country == "US" and not nppes.cannot_check(p)
               else None),
        history=history, good_until=listing.licence_good_until(p.licence),
        jurisdiction=licence_services.jurisdiction_of(p))
