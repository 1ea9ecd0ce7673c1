"""Account services: plain values in, models out; each writes change → flush → audit → commit."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import delete, func, select, update
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
from directory.models import Practitioner, User, UserSession, record
from directory.models.base import utcnow
from directory.vocab import Role

log = logging.getLogger(__name__)

CONFIRM, RESET, CHANGE_EMAIL = "confirm-email", "reset-password", "change-email"
# A session's last_seen_at is brought forward at most this often (one UPDATE per browser every
# few minutes, not one per request).
SESSION_TOUCH = timedelta(minutes=5)
# Tries at a free slug when sign-ups with the same name race (each a SAVEPOINT).
SLUG_ATTEMPTS = 5


class AccountError(Exception):
    """A request that cannot be carried out; the message is shown beside the named field."""

    def __init__(self, message: str, field: str = "email") -> None:
        super().__init__(message)
        self.field = field


def normalise_email(email: str) -> str:
    """The one stored and compared form of an address: NFKC, the domain as email_validator
    normalises it (IDNA: `ｅｘａｍｐｌｅ.net` is example.net), lower case, no surrounding spaces.
    Used by sign-up, login, reset, e-mail change, create-admin, the importer and the rate
    limits; text that is no address is only stripped and lower-cased (it matches nothing)."""
    text = unicodedata.normalize("NFKC", email or "").strip()
    try:
        text = validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        pass
    return text.lower()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def _session_lifetime() -> timedelta:
    """A session unused for longer than a remember-me cookie lasts is over."""
    return current_app.config["REMEMBER_COOKIE_DURATION"]


def start_session(user: User) -> None:
    """A new login session for this browser (the caller logs it in with Flask-Login, whose
    session and remember-me cookies then carry the key); this user's long-unused sessions go."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user.id, UserSession.last_seen_at < now - _session_lifetime()))
    db.session.add(UserSession(key_hash=_digest(key), user_id=user.id, created_at=now,
                               last_seen_at=now))
    db.session.commit()
    user.session_key = key


def end_session(user: User) -> None:
    """Log this session out everywhere its cookies were copied to: its row goes."""
    if user.session_key:
        db.session.execute(delete(UserSession).where(
            UserSession.key_hash == _digest(user.session_key)))
        db.session.commit()
    user.session_key = None


def _end_other_sessions(user: User) -> None:
    """Every session of the user but this one ends (all of them when it has none)."""
    query = delete(UserSession).where(UserSession.user_id == user.id)
    if user.session_key:
        query = query.where(UserSession.key_hash != _digest(user.session_key))
    db.session.execute(query)


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader: '<id>.<session key>' of an active account whose session row still
    exists, in one query on the key's unique index."""
    user_id, _, key = str(session_id).partition(".")
    if not user_id.isdigit() or not key:
        return None
    found = db.session.execute(
        select(User, UserSession.id, UserSession.last_seen_at)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.key_hash == _digest(key), User.id == int(user_id))).first()
    if found is None:
        return None
    user, row_id, last_seen = found
    now = utcnow()
    if not user.is_active or last_seen < now - _session_lifetime():
        return None
    if now - last_seen > SESSION_TOUCH:
        # In a transaction of its own: the request's session may hold work not to commit yet.
        with db.engine.begin() as conn:
            conn.execute(update(UserSession).where(UserSession.id == row_id)
                         .values(last_seen_at=now))
    user.session_key = key
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


def register_practitioner(email: str, password: str, full_name: str, *,
                          browser: str | None = None, password_hash: str | None = None) -> User:
    """Create a practitioner account and profile, and queue the confirmation e-mail (whose link
    also logs in the browser holding `browser`, see confirm_email). Raises AccountError when
    the address has an account (also one taken a moment ago)."""
    email = normalise_email(email)
    if email_taken(email):
        raise AccountError("An account with that e-mail address already exists.")
    full_name = full_name.strip()
    slug = unique_slug(full_name)
    user = User(email=email, password_hash=password_hash or hash_password(password),
                role=Role.PRACTITIONER)
    db.session.add(user)
    try:
        db.session.flush()  # only the users row: a clash here is the e-mail address
    except IntegrityError as exc:
        db.session.rollback()
        raise AccountError("An account with that e-mail address already exists.") from exc
    for attempt in range(1, SLUG_ATTEMPTS + 1):
        try:
            # A SAVEPOINT: a clash on the slug (a sign-up with the same name a moment ago)
            # undoes the profile only, and the next free slug is tried.
            with db.session.begin_nested():
                # The details given at sign-up count as the first yearly confirmation.
                db.session.add(Practitioner(user_id=user.id, full_name=full_name, slug=slug,
                                            attested_at=utcnow()))
        except IntegrityError:
            if attempt == SLUG_ATTEMPTS:
                db.session.rollback()
                raise
            slug = unique_slug(full_name)
        else:
            break
    db.session.refresh(user, ["practitioner"])
    record("account.signed_up", user, actor=user)
    queue_confirmation(user, browser=browser)
    db.session.commit()  # the account and its confirmation e-mail together
    return user


def sign_up(email: str, password: str, full_name: str, *, browser: str) -> None:
    """The sign-up form: a new address gets an account and its confirmation link; an address
    with an account gets, instead, a note to its owner. Both do the same work (a password hash,
    a message, an audit event, a commit), so neither the answer nor its time tells them apart."""
    email = normalise_email(email)
    password_hash = hash_password(password)
    if not email_taken(email):
        try:
            register_practitioner(email, password, full_name, browser=browser,
                                  password_hash=password_hash)
            return
        except AccountError:  # taken a moment ago, by a sign-up that raced this one
            pass
    owner = find_user(email)
    if owner is None or not owner.is_active:
        return
    outbox.queue(owner.email, "Someone tried to sign up with your address", "signup_existing",
                 user=owner, login_link=absolute_url("accounts.login"),
                 reset_link=absolute_url("accounts.forgot_password"))
    record("account.signup_refused", owner)
    db.session.commit()


def create_admin(email: str, password: str) -> User:
    """Create an administrator (from the command line only), already confirmed."""
    email = normalise_email(email)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError("Enter an e-mail address like name@example.com.") from exc
    if email_taken(email):
        raise AccountError("An account with that e-mail address already exists.")
    user = User(email=email, password_hash=hash_password(password), role=Role.ADMIN,
                email_confirmed_at=utcnow())
    db.session.add(user)
    db.session.flush()
    record("account.admin_created", user)
    db.session.commit()
    return user


def browser_digest(nonce: str) -> str:
    """What a confirmation link carries of the signing-up browser's secret (the secret itself
    stays in that browser's session)."""
    return _digest(f"signup-browser|{nonce}")[:32]


def queue_confirmation(user: User, *, browser: str | None = None) -> None:
    """Queue the e-mail with a signed, expiring link that confirms the account's address (the
    caller commits)."""
    payload = {"uid": user.id, "email": user.email}
    if browser:
        payload["b"] = browser_digest(browser)
    token = make_token(CONFIRM, payload)
    link = absolute_url("accounts.confirm", token=token)
    hours = current_app.config["CONFIRM_EMAIL_MAX_AGE"] // 3600
    outbox.queue(user.email, "Confirm your e-mail address", "confirm", user=user, link=link,
                 hours=hours)


def send_confirmation(user: User) -> None:
    """Send another confirmation link."""
    queue_confirmation(user)
    db.session.commit()


@dataclass
class Confirmation:
    """A followed confirmation link: whose, and whether it may log that browser in."""

    user: User
    log_in: bool


def confirm_email(token: str, browser: str | None = None) -> Confirmation:
    """Mark the address in a confirmation link as confirmed. The link logs in only the browser
    that signed up (it holds the secret whose digest the link carries), once: while the address
    was not confirmed yet."""
    data = read_token(CONFIRM, token, current_app.config["CONFIRM_EMAIL_MAX_AGE"])
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or user.email != data.get("email"):
        raise TokenError("This link is not valid any more. Please ask for a new one.")
    log_in = False
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
        db.session.flush()
        record("account.email_confirmed", user, actor=user)
        db.session.commit()
        log_in = (user.is_active and bool(browser) and bool(data.get("b"))
                  and secrets.compare_digest(browser_digest(browser), str(data["b"])))
    return Confirmation(user, log_in)


def authenticate(email: str, password: str) -> User | None:
    """The active account for these credentials with a new login session started, or None (the
    same for every failure)."""
    user = find_user(email)
    if user is None:
        verify_password(dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        return None
    if needs_rehash(user.password_hash):  # older method or parameters (or an import's hash)
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    start_session(user)  # commits
    return user


def account_stamp(user: User) -> str:
    """A digest of what a reset or e-mail-change link may be used with: the password hash, the
    address and when it was confirmed. Using a link changes one of them, and so does every
    change of address (back to an earlier one too), so each link works once."""
    confirmed = user.email_confirmed_at.isoformat() if user.email_confirmed_at else ""
    return _digest(f"{user.password_hash}|{user.email}|{confirmed}")[:32]


def reset_token(user: User) -> str:
    """The token of a reset link for this account as it is now."""
    return make_token(RESET, {"uid": user.id, "st": account_stamp(user)})


def request_password_reset(email: str) -> None:
    """E-mail a reset link when the account exists; say nothing either way. Neither case talks
    to the mail server, and both do the same work, so the time taken tells nothing: a token,
    the message rendered and written to the outbox, a commit. For an address without an
    (active) account the row is deleted again before the commit, as the login's dummy hash is
    checked for an unknown address."""
    user = find_user(email)
    known = user is not None and user.is_active
    if not known:
        user = User(id=0, email=normalise_email(email), password_hash="")
    link = absolute_url("accounts.reset_password", token=reset_token(user))
    minutes = current_app.config["RESET_PASSWORD_MAX_AGE"] // 60
    message = outbox.queue(user.email, "Reset your password", "reset", user=user, link=link,
                           minutes=minutes)
    if not known:
        db.session.flush()
        db.session.delete(message)
    db.session.commit()


def user_for_reset(token: str) -> User:
    """The account a reset link belongs to, if the link is still good."""
    data = read_token(RESET, token, current_app.config["RESET_PASSWORD_MAX_AGE"])
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if (user is None or not user.is_active
            or not secrets.compare_digest(account_stamp(user), str(data.get("st")))):
        raise TokenError("This link has already been used or is not valid. Ask for a new one.")
    return user


def reset_password(token: str, new_password: str) -> User:
    """Set a new password from a reset link; the link cannot be used again, and every session
    of the account ends."""
    user = user_for_reset(token)
    user.session_key = None
    _set_password(user, new_password)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()  # the link proved the address works
    db.session.flush()
    record("account.password_reset", user, actor=user)
    db.session.commit()
    return user


def change_password(user: User, current: str, new_password: str) -> None:
    """Change the password after checking the current one; this session stays, the others end."""
    if not verify_password(user.password_hash, current):
        raise AccountError("Your current password is not correct.", "current_password")
    _set_password(user, new_password)
    db.session.flush()
    record("account.password_changed", user, actor=user)
    db.session.commit()


def _set_password(user: User, new_password: str) -> None:
    user.password_hash = hash_password(new_password)
    _end_other_sessions(user)  # every other session and remember-me cookie ends


def request_email_change(user: User, new_email: str, password: str) -> None:
    """Send a link to the new address; the change happens when it is followed."""
    if not verify_password(user.password_hash, password):
        raise AccountError("Your current password is not correct.", "current_password")
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise AccountError("That is already your e-mail address.")
    if email_taken(new_email):
        raise AccountError("An account with that e-mail address already exists.")
    token = make_token(CHANGE_EMAIL, {"uid": user.id, "new": new_email,
                                      "st": account_stamp(user)})
    link = absolute_url("accounts.confirm_email_change", token=token)
    hours = current_app.config["CONFIRM_EMAIL_MAX_AGE"] // 3600
    outbox.queue(new_email, "Confirm your new e-mail address", "change_email", user=user,
                 link=link, new_email=new_email, hours=hours)
    outbox.queue(user.email, "Your e-mail address is being changed", "email_change_notice",
                 user=user, new_email=new_email)
    db.session.commit()


def confirm_email_change(token: str) -> User:
    """Switch the account to the new address in a change link (once: the switch changes the
    account's stamp the link was made for)."""
    data = read_token(CHANGE_EMAIL, token, current_app.config["CONFIRM_EMAIL_MAX_AGE"])
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or not secrets.compare_digest(account_stamp(user), str(data.get("st"))):
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
