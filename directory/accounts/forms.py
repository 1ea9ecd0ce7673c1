"""Account forms."""

from __future__ import annotations

from flask_login import current_user
from wtforms import BooleanField, EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from directory import field_rules
from directory.accounts.passwords import MAX_LENGTH, password_problem
from directory.accounts.services import email_taken, normalise_email
from directory.forms import BaseForm, StrippedStringField

EMAIL = [DataRequired("Enter your e-mail address."), field_rules.length("email"),
         field_rules.validator(field_rules.email)]


def strong_password(form, field) -> None:
    """The password rules of passwords.py, as a field error."""
    email = form.email.data if hasattr(form, "email") else getattr(form, "account_email", None)
    problem = password_problem(field.data or "", email)
    if problem:
        raise ValidationError(problem)


class SignupForm(BaseForm):
    """A practitioner's sign-up."""

    full_name = StrippedStringField("Full name", validators=[
        DataRequired("Enter your full name."), field_rules.length("full_name")])
    email = EmailField("E-mail address", validators=EMAIL)
    password = PasswordField("Password", validators=[DataRequired("Choose a password."),
                                                     strong_password],
                             description="At least 12 characters; not a common password.")
    confirm = PasswordField("Repeat password", validators=[
        DataRequired("Repeat your password."),
        EqualTo("password", "The two passwords are not the same.")])
    # No "address taken" error here: sign-up answers alike either way (services.sign_up).
    submit = SubmitField("Create account")


class LoginForm(BaseForm):
    """Log in."""

    email = EmailField("E-mail address", validators=EMAIL)
    password = PasswordField("Password", validators=[DataRequired("Enter your password."),
                                                     Length(max=MAX_LENGTH)])
    remember = BooleanField("Keep me logged in on this device")
    submit = SubmitField("Log in")


class ResendConfirmationForm(BaseForm):
    """Ask for a new confirmation link."""

    submit = SubmitField("Send a new confirmation link")


class ForgotPasswordForm(BaseForm):
    """Ask for a password reset link."""

    email = EmailField("E-mail address", validators=EMAIL)
    submit = SubmitField("Send reset link")


class ResetPasswordForm(BaseForm):
    """Choose a new password from a reset link."""

    account_email: str | None = None  # set by the view: the password may not be the address

    password = PasswordField("New password", validators=[DataRequired("Choose a password."),
                                                         strong_password],
                             description="At least 12 characters; not a common password.")
    confirm = PasswordField("Repeat new password", validators=[
        DataRequired("Repeat your new password."),
        EqualTo("password", "The two passwords are not the same.")])
    submit = SubmitField("Set new password")


class ChangePasswordForm(BaseForm):
    """Change the password while logged in (fields prefixed: it shares a page)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("prefix", "pw")
        super().__init__(*args, **kwargs)

    account_email: str | None = None  # set by the view: the password may not be the address

    current_password = PasswordField("Current password", validators=[
        DataRequired("Enter your current password."), Length(max=MAX_LENGTH)])
    password = PasswordField("New password", validators=[DataRequired("Choose a password."),
                                                         strong_password],
                             description="At least 12 characters; not a common password.")
    confirm = PasswordField("Repeat new password", validators=[
        DataRequired("Repeat your new password."),
        EqualTo("password", "The two passwords are not the same.")])
    submit = SubmitField("Change password")


class ChangeEmailForm(BaseForm):
    """Change the e-mail address while logged in (fields prefixed: it shares a page)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("prefix", "em")
        super().__init__(*args, **kwargs)

    email = EmailField("New e-mail address", validators=EMAIL)
    current_password = PasswordField("Current password", validators=[
        DataRequired("Enter your current password."), Length(max=MAX_LENGTH)])
    submit = SubmitField("Change e-mail address")

    def validate_email(self, field) -> None:
        """The new address must be free (the account's own address gets its own message)."""
        if (field.data and normalise_email(field.data) != current_user.email
                and email_taken(field.data)):
            raise ValidationError("An account with that e-mail address already exists.")
