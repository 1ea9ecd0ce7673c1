"""The certification form a practitioner fills in."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import DateField, DecimalField, HiddenField, IntegerField, SelectField, SubmitField
from wtforms.validators import InputRequired, Optional, StopValidation, ValidationError

from directory import field_rules
from directory.credentials.evidence import MAX_BYTES
from directory.field_rules import DATE_MESSAGE, HOURS, HOURS_MESSAGE, LEVEL, SESSIONS, in_range
from directory.forms import BaseForm, StrippedStringField
from directory.models.base import utcnow


def readable(form, field) -> None:
    """A value that could not be read already has its message: skip the range check."""
    if field.process_errors:
        raise StopValidation()


class HoursField(DecimalField):
    """A number of hours: a finite decimal ("NaN" and "Infinity" are not hours)."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        # Without a sent value the data is the stored number (a float): nothing to check.
        if valuelist and self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(HOURS_MESSAGE)


class CertificationForm(BaseForm):
    """Program, dates, hours and evidence of one certification."""

    program = SelectField("Training program", choices={"": "Not in the list — I will type it"},
                          description="Choose your program, or leave this and type its name "
                                      "below.")
    program_name = StrippedStringField(
        "Program name (if not in the list)", validators=[field_rules.length("program")],
        description="As it is written on your certificate, for example "
                    "“KinetaCore Functional Dry Needling Level 1”.")
    level = IntegerField("Level", invalid_value_message=field_rules.LEVEL_MESSAGE,
                         validators=[Optional(), readable, in_range(LEVEL)],
        description="Leave empty if your program has no levels.")
    certificate_number = StrippedStringField("Certificate number",
                                             validators=[field_rules.length("certificate_number")])
    completed_on = DateField("Completion date", validators=[
        InputRequired("Enter the date you completed the program.")],
        invalid_value_message=DATE_MESSAGE)
    expires_on = DateField("Expiry date", validators=[Optional()],
                           invalid_value_message=DATE_MESSAGE,
                           description="Leave empty if the certificate does not expire.")
    hours = HoursField("Total hours", places=1, invalid_value_message=HOURS_MESSAGE,
                       validators=[Optional(), readable, in_range(HOURS)])
    in_person_hours = HoursField("In-person hours", places=1, invalid_value_message=HOURS_MESSAGE,
                                 validators=[Optional(), readable, in_range(HOURS)])
    supervised_sessions = IntegerField("Supervised treatment sessions",
                                       invalid_value_message=field_rules.SESSIONS_MESSAGE,
                                       validators=[Optional(), readable, in_range(SESSIONS)])
    evidence = FileField("Certificate (PDF, PNG or JPEG, up to 10 MB)")
    evidence_max_bytes = MAX_BYTES  # told to the upload script, which checks before sending
    version = HiddenField()
    submit = SubmitField("Submit for verification")

    def __init__(self, *args, programs=(), evidence_required: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.program.choices = {"": "Not in the list — I will type it",
                                **{str(p.id): f"{p.organisation} — {p.name}" for p in programs}}
        self.evidence_required = evidence_required

    def validate_program_name(self, field) -> None:
        """Either a registry program or a typed name."""
        if not self.program.data and not field.data:
            raise ValidationError("Choose a program from the list or type its name.")

    def validate(self, extra_validators=None) -> bool:
        """Each field's checks, then the rules between them (field_rules.certification_problems:
        completion not in the future, expiry after completion, in-person hours within the total),
        each on its field unless that field already has a message."""
        valid = super().validate(extra_validators)
        problems = field_rules.certification_problems(
            {name: self[name].data for name in ("completed_on", "expires_on", "hours",
                                                "in_person_hours") if not self[name].errors},
            utcnow().date())
        for name, message in problems.items():
            self[name].errors = [*self[name].errors, message]
        return valid and not problems

    def validate_evidence(self, field) -> None:
        """A new certification needs its evidence."""
        if self.evidence_required and not getattr(field.data, "filename", None):
            raise ValidationError("Attach your certificate as a PDF, PNG or JPEG.")

    def values(self) -> dict:
        """Plain values for the service."""
        def num(value):
            return float(value) if value is not None else None
        return {
            "level": self.level.data, "certificate_number": self.certificate_number.data,
            "completed_on": self.completed_on.data, "expires_on": self.expires_on.data,
            "hours": num(self.hours.data), "in_person_hours": num(self.in_person_hours.data),
            "supervised_sessions": self.supervised_sessions.data,
        }
