"""Administrator pages for the recognised programs and the jurisdiction rules."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from directory.credentials.rules import (
    VERDICTS,
    is_due_for_review,
    jurisdiction_label,
    scope_of,
)
from directory.extensions import db
from directory.issuers import services as issuer_services
from directory.models import JurisdictionRule, TrainingProgram
from directory.models.base import MAX_ID, utcnow
from directory.registry import services
from directory.registry.forms import (
    RULE_PROFESSIONS,
    ConfirmForm,
    IssuerAccountForm,
    ProgramForm,
    RuleFilterForm,
    RuleForm,
)
from directory.security import admin_required

bp = Blueprint("registry", __name__, url_prefix="/admin/registry")



def _get(model: type, record_id: int):
    """A record by id, or 404 (an id out of the column's range is a 404, not a 500)."""
    if not 0 < record_id <= MAX_ID:
        abort(404)
    return db.get_or_404(model, record_id)


# --------------------------------------------------------------------------- programs


@bp.route("/programs")
@admin_required
def programs():
    """The recognised programs, how many certifications cite each; retired ones on request."""
    show_retired = request.args.get("retired") == "1"
    rows = services.list_programs(include_retired=show_retired)
    return render_template("registry/programs.html", rows=rows, show_retired=show_retired,
                           confirm=ConfirmForm())


@bp.route("/programs/new", methods=["GET", "POST"])
@admin_required
def new_program():
    """Add a recognised program."""
    form = ProgramForm()
    if form.validate_on_submit():
        try:
            program = services.create_program(current_user, form.values(), form.alias_list())
        except services.DuplicateError as exc:
            form.key.errors.append(str(exc))
        else:
            flash(f"Program “{program.name}” added.", "success")
            return redirect(url_for("registry.programs"))
    return render_template("registry/program_form.html", form=form, program=None, cited=0,
                           confirm=ConfirmForm())


@bp.route("/programs/<int:program_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_program(program_id: int):
    """Change a program and its aliases."""
    program = _get(TrainingProgram, program_id)
    form = ProgramForm(data=ProgramForm.data_from(program), program_id=program.id)
    if form.validate_on_submit():
        try:
            services.update_program(program, current_user, form.values(), form.alias_list())
        except services.DuplicateError as exc:
            form.key.errors.append(str(exc))
        else:
            flash(f"Program “{program.name}” saved.", "success")
            return redirect(url_for("registry.programs", retired=1 if program.retired_at else None))
    return render_template("registry/program_form.html", form=form, program=program,
                           cited=services.cited_count(program), confirm=ConfirmForm())


@bp.route("/programs/<int:program_id>/retire", methods=["POST"])
@admin_required
def retire_program(program_id: int):
    """Retire a program: practitioners can no longer choose it; certifications keep it."""
    program = _get(TrainingProgram, program_id)
    if ConfirmForm().validate_on_submit():
        if services.retire_program(program, current_user):
            flash(f"Program “{program.name}” retired. Certifications that cite it keep it; "
                  "practitioners can no longer choose it.", "success")
        else:
            flash(f"Program “{program.name}” was already retired.", "info")
    return redirect(url_for("registry.programs", retired=1))


@bp.route("/programs/<int:program_id>/restore", methods=["POST"])
@admin_required
def restore_program(program_id: int):
    """Bring a retired program back into the practitioners' list."""
    program = _get(TrainingProgram, program_id)
    if ConfirmForm().validate_on_submit():
        if services.restore_program(program, current_user):
            flash(f"Program “{program.name}” restored: practitioners can choose it again.",
                  "success")
        else:
            flash(f"Program “{program.name}” is not retired.", "info")
    return redirect(url_for("registry.programs", retired=1))


# --------------------------------------------------------------------------- rules


def _rule_name(rule: JurisdictionRule) -> str:
    """"Colorado, United States (physical therapist / physiotherapist)"."""
    profession = RULE_PROFESSIONS.get(rule.profession, rule.profession).lower()
    return f"{jurisdiction_label(rule.jurisdiction)} ({profession})"


def _changed(n: int) -> str:
    """ " 3 practitioner verdicts changed: they wait under Verdict changes." after a save."""
    if not n:
        return ""
    return (f" {n} practitioner verdict{'' if n == 1 else 's'} changed: they wait under "
            "Verdict changes.")


@bp.route("/rules")
@admin_required
def rules():
    """The jurisdiction rules, filterable by jurisdiction prefix and profession."""
    form = RuleFilterForm(request.args, meta={"csrf": False})
    if form.validate():
        found = services.list_rules(form.jurisdiction.data or "", form.profession.data or "")
    else:
        found = []
    return render_template("registry/rules.html", form=form, rules=found,
                           label=jurisdiction_label, professions=RULE_PROFESSIONS,
                           verdicts=VERDICTS,
                           due=lambda rule: is_due_for_review(rule, utcnow().date()))


@bp.route("/rules/new", methods=["GET", "POST"])
@admin_required
def new_rule():
    """Add a jurisdiction rule."""
    form = RuleForm()
    if form.validate_on_submit():
        try:
            saved = services.create_rule(current_user, form.values(), form.reason.data)
        except services.DuplicateError as exc:
            form.jurisdiction.errors.append(str(exc))
        else:
            rule = saved.rule
            flash(f"Rule for {_rule_name(rule)} added.{_changed(saved.verdicts_changed)}",
                  "success")
            return redirect(url_for("registry.rules", jurisdiction=rule.jurisdiction))
    return render_template("registry/rule_form.html", form=form, rule=None,
                           label=jurisdiction_label, professions=RULE_PROFESSIONS)


@bp.route("/rules/<int:rule_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_rule(rule_id: int):
    """Change a jurisdiction rule."""
    rule = _get(JurisdictionRule, rule_id)
    form = RuleForm(data=RuleForm.data_from(rule), rule_id=rule.id)
    if form.validate_on_submit():
        try:
            saved = services.update_rule(rule, current_user, form.values(), form.reason.data)
        except services.DuplicateError as exc:
            form.jurisdiction.errors.append(str(exc))
        else:
            flash(f"Rule for {_rule_name(rule)} saved.{_changed(saved.verdicts_changed)}",
                  "success")
            return redirect(url_for("registry.rules", jurisdiction=rule.jurisdiction))
    return render_template("registry/rule_form.html", form=form, rule=rule,
                           label=jurisdiction_label, professions=RULE_PROFESSIONS,
                           plain=lambda r: scope_of(r, r.jurisdiction, r.profession).summary)


# --------------------------------------------------------------------------- issuer accounts


@bp.route("/issuers", methods=["GET", "POST"])
@admin_required
def issuers():
    """The issuer accounts of the training organisations, and a new one."""
    form = IssuerAccountForm()
    form.set_organisations(issuer_services.organisations())
    if form.validate_on_submit():
        try:
            issuer = issuer_services.create_issuer(form.email.data, form.organisation.data,
                                                   actor=current_user)
        except issuer_services.IssuerError as exc:
            getattr(form, exc.field).errors.append(str(exc))
        else:
            flash(f"Issuer account {issuer.user.email} created for {issuer.organisation}: "
                  "they have been e-mailed a link to choose their password.", "success")
            return redirect(url_for("registry.issuers"))
    return render_template("registry/issuers.html", form=form,
                           issuers=issuer_services.list_issuers())
