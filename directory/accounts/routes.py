"""Account views: thin — validate the form, call one service, flash, redirect."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from directory.accounts import forms, services
from directory.accounts.tokens import TokenError
from directory.extensions import limiter
from directory.ratelimit import (
    client_address,
    failed_login,
    note_failed_login,
    setting,
    submitted_email,
    submitted_email_at_address,
)
from directory.security import anonymous_only, home_for, login_required, public, safe_next

bp = Blueprint("accounts", __name__, url_prefix="/account")


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(setting("RATELIMIT_SIGNUP"), methods=["POST"], key_func=client_address)
@anonymous_only
def signup():
    """A practitioner creates an account."""
    form = forms.SignupForm()
    if form.validate_on_submit():
        try:
            user = services.register_practitioner(form.email.data, form.password.data,
                                                  form.full_name.data)
        except services.AccountError as exc:
            form.email.errors.append(str(exc))
        else:
            login_user(user)
            flash(f"Welcome! We sent a confirmation link to {user.email}. "
                  "Follow it to confirm your address.", "success")
            return redirect(url_for("profiles.dashboard"))
    return render_template("accounts/signup.html", form=form)


@bp.route("/confirm/<token>")
@public
def confirm(token: str):
    """Follow the link in the confirmation e-mail."""
    try:
        user = services.confirm_email(token)
    except TokenError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.login") if not current_user.is_authenticated
                        else url_for("accounts.settings"))
    flash(f"Thank you: {user.email} is confirmed.", "success")
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("accounts.login"))


@bp.route("/confirm/resend", methods=["POST"])
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
# Failed attempts per e-mail address, counted alike whether or not an account uses it: from
# this client address, and (a higher cap) from anywhere.
@limiter.limit(setting("RATELIMIT_LOGIN_ACCOUNT"), methods=["POST"],
               key_func=submitted_email_at_address, deduct_when=failed_login)
@limiter.limit(setting("RATELIMIT_LOGIN_ACCOUNT_ANYWHERE"), methods=["POST"],
               key_func=submitted_email, deduct_when=failed_login)
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
            login_user(user, remember=form.remember.data)
            flash("You are logged in.", "success")
            return redirect(safe_next(home_for(user)))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out (a POST with a CSRF token, so no other site can log a person out)."""
    form = forms.ResendConfirmationForm()  # an empty form: only the CSRF token is checked
    if form.validate_on_submit():
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
            # Keep this session (and its remember-me cookie) with the new session version.
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME",
                                                "remember_token") in request.cookies
            login_user(user, remember=remembered)
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
