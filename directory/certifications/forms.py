"""The certification form a practitioner fills in."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import DateField, DecimalField, HiddenField, IntegerField, SelectField, SubmitField
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from directory.credentials.evidence import MAX_BYTES
from directory.forms import BaseForm, StrippedStringField

DATE_MESSAGE = "Enter a date like 2024-03-31."
HOURS_MESSAGE = "Enter a number of hours, like 27 or 27.5."


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
        "Program name (if not in the list)", validators=[Length(max=200)],
        description="As it is written on your certificate, for example "
                    "“KinetaCore Functional Dry Needling Level 1”.")
    level = IntegerField("Level", invalid_value_message="Enter the level as a whole number.",
                         validators=[
        Optional(), readable, NumberRange(1, 9, "Enter a level from 1 to 9.")],
        description="Leave empty if your program has no levels.")
    certificate_number = StrippedStringField("Certificate number", validators=[Length(max=80)])
    completed_on = DateField("Completion date", validators=[
        InputRequired("Enter the date you completed the program.")],
        invalid_value_message=DATE_MESSAGE)
    expires_on = DateField("Expiry date", validators=[Optional()],
                           invalid_value_message=DATE_MESSAGE,
                           description="Leave empty if the certificate does not expire.")
    hours = HoursField("Total hours", places=1, invalid_value_message=HOURS_MESSAGE, validators=[
        Optional(), readable, NumberRange(0, 5000, "Enter hours from 0 to 5000.")])
    in_person_hours = HoursField("In-person hours", places=1,
                                 invalid_value_message=HOURS_MESSAGE, validators=[
        Optional(), readable, NumberRange(0, 5000, "Enter hours from 0 to 5000.")])
    supervised_sessions = IntegerField("Supervised treatment sessions",
                                       invalid_value_message="Enter a whole number.", validators=[
        Optional(), readable, NumberRange(0, 100000, "Enter a number from 0 to 100,000.")])
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

    def validate_expires_on(self, field) -> None:
        """Expiry comes after completion."""
        if field.data and self.completed_on.data and field.data <= self.completed_on.data:
            raise ValidationError("The expiry date must be after the completion date.")

    def validate_in_person_hours(self, field) -> None:
        """In-person hours are part of the total."""
        if field.data is not None and self.hours.data is not None and field.data > self.hours.data:
            raise ValidationError("In-person hours cannot be more than the total hours.")

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
