"""Public forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp


class VerifyForm(FlaskForm):
    """Look up a credential by its public code (a GET form: it changes nothing)."""

    code = StringField("Credential code", validators=[
        DataRequired("Enter the code printed on the practitioner's profile or certificate."),
        Length(max=64, message="That code is too long: codes are 22 characters."),
        Regexp(r"^[A-Za-z0-9_-]+$", message="Codes use only letters, digits, - and _."),
    ], filters=[lambda v: v.strip() if isinstance(v, str) else v])
