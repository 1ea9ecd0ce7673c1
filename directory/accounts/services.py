"""Account services: plain values in, models out; each writes change → flush → audit → commit."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from directory import outbox
from directory.accounts.passwords import (
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from directory.accounts.tokens import TokenError, make_token, read_token
from directory.extensions import db
from directory.links import absolute_url
from directory.models import Practitioner, User, record
from directory.models.base import utcnow

CONFIRM, RESET, CHANGE_EMAIL = "confirm-email", "reset-password", "change-email"


class AccountError(Exception):
    """A request that cannot be carried out; the message is shown beside the named field."""

    def __init__(self, message: str, field: str = "email") -> None:
        super().__init__(message)
        self.field = field


def normalise_email(email: str) -> str:
    """E-mail addresses are compared and stored lower-case, without surrounding spaces."""
    return email.strip().lower()


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader: '<id>.<session_version>' of an active account."""
    try:
        user_id, version = (int(part) for part in session_id.split("."))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != version:
        return None
    return user


def find_user(email: str) -> User | None:
    """The account with this e-mail address, if any."""
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def email_taken(email: str) -> bool:
    """True when an account already uses this e-mail address."""
    return find_user(email) is not None


def slugify(text: str) -> str:
    """An ASCII, lower-case, hyphenated form of a name."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80] or "practitioner"


def unique_slug(name: str) -> str:
    """A slug for this name that no practitioner has yet."""
    base = slugify(name)
    taken = set(db.session.scalars(
        select(Practitioner.slug).where(
            (Practitioner.slug == base) | Practitioner.slug.like(f"{base}-%")
        )
    ))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def register_practitioner(email: str, password: str, full_name: str) -> User:
    """Create a practitioner account and profile, and send the confirmation e-mail."""
    email = normalise_email(email)
    if email_taken(email):
        raise AccountError("An account with that e-mail address already exists.")
    user = User(email=email, password_hash=hash_password(password), role="practitioner")
    # The details given at sign-up count as the first yearly confirmation.
    user.practitioner = Practitioner(full_name=full_name.strip(), slug=unique_slug(full_name),
                                     attested_at=utcnow())
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as exc:  # the same address (or slug) taken a moment ago
        db.session.rollback()
        raise AccountError("An account with that e-mail address already exists.") from exc
    record("account.signed_up", user, actor=user)
    queue_confirmation(user)
    db.session.commit()  # the account and its confirmation e-mail together
    return user


def create_admin(email: str, password: str) -> User:
    """Create an administrator (from the command line only), already confirmed."""
    email = normalise_email(email)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError("Enter an e-mail address like name@example.com.") from exc
    if email_taken(email):
        raise AccountError("An account with that e-mail address already exists.")
    user = User(email=email, password_hash=hash_password(password), role="admin",
                email_confirmed_at=utcnow())
    db.session.add(user)
    db.session.flush()
    record("account.admin_created", user)
    db.session.commit()
    return user


def queue_confirmation(user: User) -> None:
    """Queue the e-mail with a signed, expiring link that confirms the account's address (the
    caller commits)."""
    token = make_token(CONFIRM, {"uid": user.id, "email": user.email})
    link = absolute_url("accounts.confirm", token=token)
    hours = current_app.config["CONFIRM_EMAIL_MAX_AGE"] // 3600
    outbox.queue(user.email, "Confirm your e-mail address", "confirm", user=user, link=link,
                 hours=hours)


def send_confirmation(user: User) -> None:
    """Send another confirmation link."""
    queue_confirmation(user)
    db.session.commit()


def confirm_email(token: str) -> User:
    """Mark the address in a confirmation link as confirmed."""
    data = read_token(CONFIRM, token, current_app.config["CONFIRM_EMAIL_MAX_AGE"])
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or user.email != data.get("email"):
        raise TokenError("This link is not valid any more. Please ask for a new one.")
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
        db.session.flush()
        record("account.email_confirmed", user, actor=user)
        db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active account for these credentials, or None (the same for every failure)."""
    user = find_user(email)
    if user is None:
        verify_password(dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        return None
    if needs_rehash(user.password_hash):  # older method or parameters (or an import's hash)
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def request_password_reset(email: str) -> None:
    """E-mail a reset link when the account exists; say nothing either way."""
    user = find_user(email)
    if user is None or not user.is_active:
        return
    # The token carries part of the current hash: once the password changes it stops working.
    token = make_token(RESET, {"uid": user.id, "ph": user.password_hash[-16:]})
    link = absolute_url("accounts.reset_password", token=token)
    minutes = current_app.config["RESET_PASSWORD_MAX_AGE"] // 60
    outbox.queue(user.email, "Reset your password", "reset", user=user, link=link,
                 minutes=minutes)
    db.session.commit()


def user_for_reset(token: str) -> User:
    """The account a reset link belongs to, if the link is still good."""
    data = read_token(RESET, token, current_app.config["RESET_PASSWORD_MAX_AGE"])
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or user.password_hash[-16:] != data.get("ph") or not user.is_active:
        raise TokenError("This link has already been used or is not valid. Ask for a new one.")
    return user


def reset_password(token: str, new_password: str) -> User:
    """Set a new password from a reset link; the link cannot be used again."""
    user = user_for_reset(token)
    _set_password(user, new_password)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()  # the link proved the address works
    db.session.flush()
    record("account.password_reset", user, actor=user)
    db.session.commit()
    return user


def change_password(user: User, current: str, new_password: str) -> None:
    """Change the password after checking the current one."""
    if not verify_password(user.password_hash, current):
        raise AccountError("Your current password is not correct.", "current_password")
    _set_password(user, new_password)
    db.session.flush()
    record("account.password_changed", user, actor=user)
    db.session.commit()


def _set_password(user: User, new_password: str) -> None:
    user.password_hash = hash_password(new_password)
    user.session_version += 1  # every other session and remember-me cookie ends


def request_email_change(user: User, new_email: str, password: str) -> None:
    """Send a link to the new address; the change happens when it is followed."""
    if not verify_password(user.password_hash, password):
        raise AccountError("Your current password is not correct.", "current_password")
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise AccountError("That is already your e-mail address.")
    if email_taken(new_email):
        raise AccountError("An account with that e-mail address already exists.")
    token = make_token(CHANGE_EMAIL, {"uid": user.id, "old": user.email, "new": new_email})
    link = absolute_url("accounts.confirm_email_change", token=token)
    hours = current_app.config["CONFIRM_EMAIL_MAX_AGE"] // 3600
    outbox.queue(new_email, "Confirm your new e-mail address", "change_email", user=user,
                 link=link, new_email=new_email, hours=hours)
    outbox.queue(user.email, "Your e-mail address is being changed", "email_change_notice",
                 user=user, new_email=new_email)
    db.session.commit()


def confirm_email_change(token: str) -> User:
    """Switch the account to the new address in a change link."""
    data = read_token(CHANGE_EMAIL, token, current_app.config["CONFIRM_EMAIL_MAX_AGE"])
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or user.email != data.get("old"):
        raise TokenError("This link has already been used or is not valid.")
    new_email = data["new"]
    taken = db.session.scalar(select(func.count()).select_from(User).where(
        User.email == new_email, User.id != user.id))
    if taken:
        raise TokenError("Another account now uses that address.")
    old = user.email
    user.email = new_email
    user.email_confirmed_at = utcnow()
    db.session.flush()
    record("account.email_changed", user, actor=user, old=old, new=new_email)
    db.session.commit()
    return user
