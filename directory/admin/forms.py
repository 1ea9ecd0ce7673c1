"""Administrator forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from directory import field_rules, reports
from directory.credentials import lifecycle
from directory.forms import BaseForm
from directory.models.base import MAX_ID, utcnow

# The administrator's moves of the state machine, as buttons: "request_changes" → "Request changes".
DECISIONS = {t.name: t.name.replace("_", " ").capitalize()
             for t in lifecycle.TRANSITIONS.values() if t.by == "admin"}


class DecisionForm(BaseForm):
    """One decision on a certification; the button pressed names the action."""

    action = SelectField("Decision", choices=DECISIONS,
                         validators=[InputRequired("Choose a decision.")])
    program = SelectField(
        "Recognised program", choices={"": "Not recognised"}, default="",
        description="The registry program this certificate is from; required to approve. "
                    "Correct a suggested match here.")
    reason = TextAreaField(
        "Reason or message to the practitioner", validators=[Length(max=2000)],
        description="Required to reject, request changes or revoke; the practitioner sees it.")
    version = HiddenField()

    def set_programs(self, programs) -> None:
        """The registry programs to choose from."""
        self.program.choices = {"": "Not recognised", **{
            str(p.id): f"{p.organisation} — {p.name}" + (" (retired)" if p.retired_at else "")
            for p in programs}}




def id_in_range(message: str):
    """A number that can be a record's id (a number that is not one already has its message)."""

    def check(form, field):
        if field.data is not None and not 1 <= field.data <= MAX_ID:
            raise ValidationError(message)

    return check


class AuditFilterForm(FlaskForm):
    """Filters for the audit log (a GET form: no CSRF token needed, nothing changes)."""

    practitioner = IntegerField("Practitioner id", validators=[
        Optional(), id_in_range("Enter a practitioner's number.")],
        invalid_value_message="Enter a practitioner's number.")
    admin = StringField("Administrator e-mail contains", validators=[Optional(), Length(max=254)])
    action = StringField("Action starts with", validators=[Optional(), Length(max=64)],
                         description="For example certification. or account.")
    subject_type = SelectField("Record", choices={"": "Any", "certifications": "Certification",
                                                  "practitioners": "Practitioner",
                                                  "users": "Account",
                                                  "practice_locations": "Location",
                                                  "training_programs": "Program",
                                                  "jurisdiction_rules": "Rule",
                                                  "listing_reports": "Report of wrong "
                                                                     "information"},
                               validators=[Optional()])
    subject_id = IntegerField("Record id", validators=[
        Optional(), id_in_range("Enter a record's number.")],
        invalid_value_message="Enter a record's number.")
    date_from = DateField("From", validators=[Optional()],
                          invalid_value_message="Enter a date like 2026-11-22.")
    date_to = DateField("To", validators=[Optional()],
                        invalid_value_message="Enter a date like 2026-11-22.")


class SendAgainForm(BaseForm):
    """The "send again" button of a failed e-mail (only its CSRF token)."""


LICENCE_OUTCOMES = {"verified": "Verified: on the register and in good standing",
                    "failed": "Not verified: not found, or not in good standing"}
OTHER_REGISTER = "other"


class LicenceCheckForm(BaseForm):
    """The outcome of an administrator's licence check on an official register."""

    outcome = SelectField("Outcome", choices=LICENCE_OUTCOMES,
                          validators=[InputRequired("Choose the outcome of the check.")])
    register = SelectField("Register checked",
                           validators=[InputRequired("Choose the register you checked.")])
    register_url = StringField(
        "Web address of the register", filters=[lambda v: v.strip() if v else v],
        validators=[Length(max=300)],
        description="Only for another register: the page where you found (or did not find) "
                    "the licence.")
    checked_on = DateField("Checked on", validators=[InputRequired("Give the day you checked.")])
    register_expires_on = DateField(
        "Registration expires on (if the register says)", validators=[Optional()],
        description="The next check falls due 12 months after this one, or on this day if "
                    "sooner.")
    note = TextAreaField("Note", validators=[Length(max=2000)],
                         description="What you found. Required when the licence is not "
                                     "verified: the practitioner is told.")

    def set_registers(self, registers) -> None:
        """The registers to choose from: those for the licence's place first, then another."""
        self.register.choices = {r.key: f"{r.name} ({r.regulator})" for r in registers} | {
            OTHER_REGISTER: "Another register (give its web address)"}

    def validate_register_url(self, field) -> None:
        """Another register needs its web address."""
        if self.register.data != OTHER_REGISTER:
            return
        if not field.data:
            raise ValidationError("Give the web address of the register you checked.")
        try:
            field.data = field_rules.web_address(field_rules.normalise_web_address(field.data))
        except field_rules.RuleError as exc:
            raise ValidationError(str(exc)) from exc

    def validate_checked_on(self, field) -> None:
        """A check is recorded for today or a day past."""
        if field.data and field.data > utcnow().date():
            raise ValidationError("The check cannot be on a day that has not come yet.")

    def validate_note(self, field) -> None:
        """A failed check says why."""
        if self.outcome.data == "failed" and not (field.data or "").strip():
            raise ValidationError("Say what you found: the practitioner is told.")


class ReportDecisionForm(BaseForm):
    """An administrator's decision on a report of wrong information, with a note."""

    status = RadioField("Decision", choices=dict(reports.DECISIONS),
                        validate_choice=False,  # validate_status says it in the form's words
                        validators=[InputRequired("Choose corrected or dismissed.")])
    resolution = TextAreaField(
        "Note", filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[DataRequired("Say what you found or did."),
                    Length(max=reports.RESOLUTION_MAX_LENGTH,
                           message=f"At most {reports.RESOLUTION_MAX_LENGTH:,} characters.")],
        description="What you found or did (kept in the audit log).")

    def validate_status(self, field) -> None:
        """One of the decisions offered."""
        if field.data not in reports.DECISIONS:
            raise ValidationError("Choose corrected or dismissed.")
