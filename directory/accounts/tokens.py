"""Signed, expiring tokens for e-mail links."""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class TokenError(Exception):
    """A link that is invalid, used, or expired; the message says which for the person."""


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make_token(salt: str, payload: Any) -> str:
    """Sign a payload for one purpose (the salt)."""
    return _serializer(salt).dumps(payload)


def read_token(salt: str, token: str, max_age: int) -> Any:
    """The payload of a token signed for this purpose and younger than max_age seconds."""
    try:
        return _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenError("This link has expired. Please ask for a new one.") from exc
    except BadSignature as exc:
        raise TokenError("This link is not valid. Please ask for a new one.") from exc
