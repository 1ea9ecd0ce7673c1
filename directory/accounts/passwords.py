"""Password rules: length, a list of common passwords, and current hashing."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"
MAX_LENGTH = 128


@cache
def common_passwords() -> frozenset[str]:
    """The 20,000 most common passwords (lower-case), loaded once per process."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why this password is not acceptable, or None when it is."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        return f"Use at least {minimum} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in common_passwords() or lowered.rstrip("0123456789!") in common_passwords():
        return "That password is too common. Choose one that is harder to guess."
    if len(set(password)) < 4:
        return "That password repeats too few characters. Choose one that is harder to guess."
    if email and lowered in (email.lower(), email.lower().split("@")[0]):
        return "Do not use your e-mail address as your password."
    return None


def hash_password(password: str) -> str:
    """A salted hash with the configured method (scrypt by default)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the hash."""
    return check_password_hash(password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """True when a hash was made with another method or other parameters than configured now."""
    current = dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]).split("$", 1)[0]
    return password_hash.split("$", 1)[0] != current


@cache
def dummy_hash(method: str) -> str:
    """A hash to check against when no account exists, so both answers take the same time."""
    return generate_password_hash("not-a-real-password-at-all", method=method)
