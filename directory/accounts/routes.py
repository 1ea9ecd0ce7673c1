"""Account views: thin — validate the form, call one service, flash, redirect."""

from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_user, logout_user

from directory.accounts import devices, forms, services
from directory.accounts.tokens import TokenError
from directory.extensions import limiter
from directory.ratelimit import (
    anonymous,
    client_address,
    current_account,
    device_key,
    failed_login,
    note_failed_login,
    setting,
    submitted_email,
    submitted_email_at_address,
    trusted_device,
    untrusted_client,
)
from directory.security import anonymous_only, home_for, login_required, public, safe_next

bp = Blueprint("accounts", __name__, url_prefix="/account")


SIGNUP_BROWSER, SIGNUP_EMAIL, SIGNUP_NAME = "signup_browser", "signup_email", "signup_name"


@bp.route("/signup", methods=["GET", "POST"])
# Only a sign-up that went through counts (an account created, or the owner of a taken address
# e-mailed): a form sent back with a typo costs nothing, and keeps what was typed.
@limiter.limit(setting("RATELIMIT_SIGNUP"), methods=["POST"], key_func=client_address,
               deduct_when=lambda response: response.status_code == 302)
@limiter.limit(setting("RATELIMIT_SIGNUP_ACCOUNT"), methods=["POST"], key_func=submitted_email,
               deduct_when=lambda response: response.status_code == 302)
@anonymous_only
def signup():
    """A practitioner creates an account. The answer is the same whether or not the address
    has one (its owner is told by e-mail instead): nobody learns who has an account here."""
    form = forms.SignupForm()
    if form.validate_on_submit():
        # A secret of this browser: the confirmation link logs in only where it is.
        browser = secrets.token_urlsafe(16)
        services.sign_up(form.email.data, form.password.data, form.full_name.data,
                         browser=browser)
        session[SIGNUP_BROWSER] = browser
        session[SIGNUP_EMAIL] = services.normalise_email(form.email.data)
        session[SIGNUP_NAME] = form.full_name.data
        return redirect(url_for("accounts.signup_sent"))
    return render_template("accounts/signup.html", form=form)


@bp.route("/signup/sent")
@anonymous_only
def signup_sent():
    """After sign-up: look in your inbox."""
    email = session.get(SIGNUP_EMAIL)
    if not email:
        return redirect(url_for("accounts.signup"))
    return render_template("accounts/signup_sent.html", email=email,
                           name=session.get(SIGNUP_NAME, ""))


def _log_in(user, remember: bool = False, target: str | None = None):
    """Log this browser in to the user's new session; the answer sets the device cookie."""
    login_user(user, remember=remember)
    response = redirect(target or home_for(user))
    devices.issue(response, user.email)
    return response


@bp.route("/confirm/<token>")
@public
def confirm(token: str):
    """Follow the link in the confirmation e-mail: in the browser that signed up, it also logs
    in (once); elsewhere, log in afterwards."""
    try:
        confirmation = services.confirm_email(token, session.get(SIGNUP_BROWSER))
    except TokenError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.login") if not current_user.is_authenticated
                        else url_for("accounts.settings"))
    user = confirmation.user
    flash(f"Thank you: {user.email} is confirmed.", "success")
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    if confirmation.log_in:
        for key in (SIGNUP_BROWSER, SIGNUP_EMAIL, SIGNUP_NAME):
            session.pop(key, None)
        services.start_session(user)
        return _log_in(user)
    return redirect(url_for("accounts.login"))


@bp.route("/confirm/resend", methods=["POST"])
@limiter.limit(setting("RATELIMIT_CONFIRM_RESEND"), key_func=current_account,
               exempt_when=anonymous)
@login_required
def resend_confirmation():
    """Send another confirmation link to the logged-in account."""
    form = forms.ResendConfirmationForm()
    if form.validate_on_submit():
        if current_user.is_confirmed:
            flash("Your e-mail address is already confirmed.", "info")
        else:
            services.send_confirmation(current_user)
            flash(f"We sent a new confirmation link to {current_user.email}.", "success")
    return redirect(url_for("accounts.settings"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(setting("RATELIMIT_LOGIN"), methods=["POST"], key_func=client_address)
# Failed attempts per e-mail address from browsers without a device cookie for it (untrusted
# clients), counted alike whether or not an account uses it: from this client address, and (a
# higher cap) from anywhere. A browser with one is counted per device cookie instead.
@limiter.limit(setting("RATELIMIT_LOGIN_ACCOUNT"), methods=["POST"],
               key_func=submitted_email_at_address, deduct_when=failed_login,
               exempt_when=trusted_device)
@limiter.limit(setting("RATELIMIT_LOGIN_ACCOUNT_ANYWHERE"), methods=["POST"],
               key_func=submitted_email, deduct_when=failed_login, exempt_when=trusted_device)
@limiter.limit(setting("RATELIMIT_LOGIN_DEVICE"), methods=["POST"], key_func=device_key,
               deduct_when=failed_login, exempt_when=untrusted_client)
@anonymous_only
def login():
    """Log in with e-mail and password."""
    form = forms.LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            note_failed_login()
            form.password.errors.append("That e-mail address and password do not match "
                                        "an account.")
        else:
            flash("You are logged in.", "success")
            return _log_in(user, remember=form.remember.data, target=safe_next(home_for(user)))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out: this session ends on the server, so a copy of its cookies opens nothing (a POST
    with a CSRF token, so no other site can log a person out)."""
    form = forms.ResendConfirmationForm()  # an empty form: only the CSRF token is checked
    if form.validate_on_submit():
        services.end_session(current_user._get_current_object())
        logout_user()
        flash("You are logged out.", "info")
    return redirect(url_for("public.home"))


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(setting("RATELIMIT_RESET_REQUEST"), methods=["POST"], key_func=client_address)
@limiter.limit(setting("RATELIMIT_RESET_ACCOUNT"), methods=["POST"],
               key_func=submitted_email_at_address)
@limiter.limit(setting("RATELIMIT_RESET_ACCOUNT_ANYWHERE"), methods=["POST"],
               key_func=submitted_email)
@public
def forgot_password():
    """Ask for a password reset link."""
    form = forms.ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        flash("If an account uses that address, we have sent it a link to reset the "
              "password. The link works for one hour.", "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(setting("RATELIMIT_RESET_USE"), key_func=client_address)
@public
def reset_password(token: str):
    """Choose a new password from a reset link."""
    try:
        user = services.user_for_reset(token)
    except TokenError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.forgot_password"))
    form = forms.ResetPasswordForm()
    form.account_email = user.email
    if form.validate_on_submit():
        try:
            user = services.reset_password(token, form.password.data)
        except TokenError as exc:
            flash(str(exc), "error")
            return redirect(url_for("accounts.forgot_password"))
        logout_user()
        flash("Your password has been changed. Please log in with it.", "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset.html", form=form, user=user)


@bp.route("/settings")
@login_required
def settings():
    """Account settings: confirmation status, password and e-mail address."""
    return render_template("accounts/settings.html", password_form=forms.ChangePasswordForm(),
                           email_form=forms.ChangeEmailForm(),
                           resend_form=forms.ResendConfirmationForm())


@bp.route("/settings/password", methods=["POST"])
@login_required
def change_password():
    """Change the password."""
    user = current_user._get_current_object()  # the model itself: services record it
    form = forms.ChangePasswordForm()
    form.account_email = user.email
    if form.validate_on_submit():
        try:
            services.change_password(user, form.current_password.data, form.password.data)
        except services.AccountError as exc:
            getattr(form, exc.field).errors.append(str(exc))
        else:
            flash("Your password has been changed. Other devices have been logged out.",
                  "success")
            return redirect(url_for("accounts.settings"))
    return render_template("accounts/settings.html", password_form=form,
                           email_form=forms.ChangeEmailForm(formdata=None),
                           resend_form=forms.ResendConfirmationForm())


@bp.route("/settings/email", methods=["POST"])
@login_required
def change_email():
    """Ask to change the e-mail address."""
    form = forms.ChangeEmailForm()
    if form.validate_on_submit():
        try:
            services.request_email_change(current_user, form.email.data,
                                          form.current_password.data)
        except services.AccountError as exc:
            getattr(form, exc.field).errors.append(str(exc))
        else:
            flash(f"We sent a link to {form.email.data.strip()}. Follow it to finish the change.",
                  "info")
            return redirect(url_for("accounts.settings"))
    return render_template("accounts/settings.html", email_form=form,
                           password_form=forms.ChangePasswordForm(formdata=None),
                           resend_form=forms.ResendConfirmationForm())


@bp.route("/email/<token>")
@public
def confirm_email_change(token: str):
    """Follow the link sent to a new e-mail address."""
    try:
        user = services.confirm_email_change(token)
    except TokenError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Your e-mail address is now {user.email}.", "success")
    return redirect(url_for("accounts.settings") if current_user.is_authenticated
                    else url_for("accounts.login"))
