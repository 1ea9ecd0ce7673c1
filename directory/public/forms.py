"""Public forms."""

from __future__ import annotations

import re
import unicodedata

from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, StopValidation, ValidationError

from directory import enquiries, field_rules, reports
from directory.credentials import codes
from directory.forms import BaseForm
from directory.vocab import REPORT_KINDS, ReportKind


class VerifyForm(FlaskForm):
    """Look up a credential by its public code (a GET form: it changes nothing)."""

    code = StringField("Credential code", validators=[
        DataRequired("Enter the code printed on the practitioner's profile or certificate."),
        Length(max=300, message="That is too long for a code or a link to one."),
    ], filters=[lambda v: v.strip() if isinstance(v, str) else v],
        description="The code (like 7K3M-Q9XR-W2D4-HNB8-PC6T, in any case) or the link to "
                    "the check.")

    def validate_code(self, field) -> None:
        """A Crockford code, an older code, or a link holding one."""
        if field.errors:
            return  # too long: said already
        code = codes.typed_code(field.data)
        if codes.canonical(code) is None and not codes.OLD_CODE.match(code):
            raise ValidationError("That is not a credential code: codes are 20 letters and "
                                  "digits, like 7K3M-Q9XR-W2D4-HNB8-PC6T.")

    def lookup_code(self) -> str:
        """The code to look up, in the form its address uses."""
        code = codes.typed_code(self.code.data)
        return codes.canonical(code) or code


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ReportForm(BaseForm):
    """A patient's report that something on a listing is wrong."""

    kind = RadioField("What is wrong?", choices=dict(REPORT_KINDS),
                      validate_choice=False,  # validate_kind says it in the form's words
                      validators=[InputRequired("Choose what is wrong with this listing.")])
    details = TextAreaField(
        "Details", filters=[_strip],
        validators=[Length(max=reports.DETAILS_MAX_LENGTH,
                           message=f"At most {reports.DETAILS_MAX_LENGTH:,} characters.")],
        description="What is wrong, and what is right if you know it (the right phone number, "
                    "say). Required when you choose “Something else”.")
    email = EmailField(
        "Your e-mail address (optional)", filters=[_strip],
        validators=[field_rules.length("email"), field_rules.validator(field_rules.email)],
        description="Only if we may ask you a question about your report. The practitioner "
                    "does not see it.")

    def validate_kind(self, field) -> None:
        """One of the listed problems (a forged value gets a message, not an error)."""
        if field.data not in REPORT_KINDS:
            raise StopValidation("Choose what is wrong with this listing.")

    def validate_details(self, field) -> None:
        """"Something else" needs words; a few links at most, as in a message (the
        practitioner is sent the details)."""
        if self.kind.data == ReportKind.OTHER and not field.data:
            raise ValidationError("Tell us what is wrong.")
        if not field.errors and (problem := enquiries.link_problem(field.data or "")):
            raise ValidationError(problem)


class EnquiryForm(BaseForm):
    """A patient's message to a practitioner (sent through the directory: neither sees the
    other's address until the practitioner replies)."""

    name = StringField("Your name", filters=[_strip], validators=[
        DataRequired("Enter your name."), field_rules.length("sender_name")])
    email = EmailField(
        "Your e-mail address", filters=[_strip],
        validators=[DataRequired("Enter the e-mail address the practitioner should reply to."),
                    field_rules.length("email"), field_rules.validator(field_rules.email)],
        description="The practitioner's reply goes here. We send you a copy of your message.")
    message = TextAreaField(
        "Your message", filters=[_strip],
        validators=[DataRequired("Write your message."),
                    Length(max=enquiries.MAX_MESSAGE,
                           message=f"Keep your message to {enquiries.MAX_MESSAGE:,} characters "
                                   "or fewer.")],
        description="Ask about appointments, fees or whether dry needling suits your problem. "
                    "Do not send medical details (diagnoses, medications, test results): "
                    "e-mail is not a safe place for them. Share them at your appointment.")
    # A field people never see (hidden by the page's style, skipped by keyboard and screen
    # readers): robots that fill in every field give themselves away.
    homepage = StringField("Leave this field empty", filters=[_strip])

    def validate_name(self, field) -> None:
        """A name is one line of text (it goes into the e-mail's subject)."""
        if not field.errors and any(unicodedata.category(ch) == "Cc" for ch in field.data or ""):
            raise ValidationError("Write your name on one line.")

    def validate_message(self, field) -> None:
        """At most a few links (spam carries many)."""
        if not field.errors and (problem := enquiries.link_problem(field.data or "")):
            raise ValidationError(problem)

    def is_trapped(self) -> bool:
        """Whether the hidden field was filled in (by a robot)."""
        return bool(self.homepage.data)


class CredentialForm(BaseForm):
    """Check an Open Badges credential pasted as a VC-JWT."""

    credential = TextAreaField("Open Badge credential", validators=[
        DataRequired("Paste the credential: the text of the .jwt file."),
        Length(max=20000, message="That is too long for a credential from this directory."),
    ], description="The content of a credential.jwt downloaded from a credential check.")

    def validate_credential(self, field) -> None:
        """Three base64url parts separated by dots (spaces and line breaks ignored)."""
        if field.errors:
            return
        if not JWT_SHAPE.fullmatch("".join(field.data.split())):
            raise ValidationError("That is not a credential: an Open Badge from this directory "
                                  "is three parts of letters and digits separated by dots.")


JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
