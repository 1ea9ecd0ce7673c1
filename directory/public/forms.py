"""Public forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, ValidationError

from directory.credentials import codes


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
