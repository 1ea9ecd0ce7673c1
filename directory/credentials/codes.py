"""Public credential codes: issued in Crockford's base32 (no I, L, O or U; read the same in any
case), shown in groups of four, and read back from whatever a person types or pastes.

A code is 20 characters (100 random bits), stored in canonical form ("7K3MQ9XRW2D4HNB8PC6T")
and shown as "7K3M-Q9XR-W2D4-HNB8-PC6T". Codes issued before were 22 characters of URL-safe
base64, mixed case; they stay valid, and are found in any case.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select

from directory.extensions import db
from directory.models import Certification

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
LENGTH = 20
GROUP = 4
# What people type for a Crockford digit: O for 0, I and L for 1 (Crockford's own reading).
READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
SEPARATORS = re.compile(r"[\s\-–—.]+")
CROCKFORD = re.compile(rf"^[{ALPHABET}]{{{LENGTH}}}$")
OLD_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_code() -> str:
    """A new code: 20 Crockford base32 characters from the system's secure random source."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def grouped(code: str) -> str:
    """A Crockford code in groups of four for people ("7K3M-Q9XR-…"); an old code as it is."""
    if CROCKFORD.match(code):
        return "-".join(code[i:i + GROUP] for i in range(0, LENGTH, GROUP))
    return code


def typed_code(text: str) -> str:
    """The code in what a person typed or pasted: a /verify/… link, the code in groups, in any
    case, with spaces; "" when nothing is left."""
    text = (text or "").strip()
    if "/verify/" in text:
        text = unquote(urlsplit(text).path if "://" in text else text.split("?")[0])
        text = text.split("/verify/", 1)[1].split("/")[0]
    return text.strip()


def canonical(text: str) -> str | None:
    """The Crockford code in a typed text (None when it is not one)."""
    code = SEPARATORS.sub("", text).upper().translate(READ_AS)
    return code if CROCKFORD.match(code) else None


def find(text: str) -> Certification | None:
    """The certification with the code in this text: as a Crockford code (any case, grouped or
    not, O for 0 and I or L for 1), else exactly, else an old code in any case."""
    code = typed_code(text)
    if not code or len(code) > 64:
        return None
    crockford = canonical(code)
    if crockford is not None:
        found = db.session.scalar(select(Certification)
                                  .where(Certification.public_code == crockford))
        if found is not None:
            return found
    found = db.session.scalar(select(Certification).where(Certification.public_code == code))
    if found is None and OLD_CODE.match(code):
        found = db.session.scalars(
            select(Certification)
            .where(func.lower(Certification.public_code) == code.lower())
            .order_by(Certification.id).limit(1)).first()
    return found
