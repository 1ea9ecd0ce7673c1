"""The issuer's forms: filter its list, answer on a certification, revoke one, send a roster."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from directory.forms import BaseForm, StrippedStringField
from directory.issuers.services import ANSWER_FILTERS
from directory.vocab import IssuerAnswer

REASON_MAX = 2000
# The answer buttons: value → label.
ANSWERS = {IssuerAnswer.CONFIRMED.value: "Confirm: our graduate, as submitted",
           IssuerAnswer.DISPUTED.value: "Dispute"}


class IssuerFilterForm(BaseForm):
    """Which certifications the list shows (a GET form)."""

    answer = SelectField("Your answer", choices=ANSWER_FILTERS, default="",
                         validators=[Optional()])
    q = StrippedStringField("Name or certificate number", validators=[Length(max=200)])


class AnswerForm(BaseForm):
    """Confirm or dispute one certification; the button pressed names the answer."""

    answer = SelectField("Answer", choices=ANSWERS,
                         validators=[InputRequired("Choose confirm or dispute.")])
    reason = TextAreaField(
        "Reason", validators=[Length(max=REASON_MAX)],
        description="Required to dispute: what is wrong (not our graduate, another level, "
                    "other dates…). The directory's administrators read it.")


class RevokeForm(BaseForm):
    """Revoke a certificate the organisation issued."""

    # Not "reason": the answer form on the same page has that field (and its id).
    revoke_reason = TextAreaField(
        "Why the certificate is revoked", validators=[Length(max=REASON_MAX)],
        description="Required. The practitioner receives it by e-mail.")
    submit = SubmitField("Revoke the certificate")


class RosterForm(BaseForm):
    """A roster CSV of the organisation's graduates."""

    file = FileField("Roster (CSV, UTF-8)", validators=[
        FileRequired("Choose the CSV file of your graduates.")])
    dry_run = BooleanField("Only check the file: confirm nothing yet")
    submit = SubmitField("Send the roster")
