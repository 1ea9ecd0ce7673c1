"""The keys that sign Open Badges credentials (ES256, P-256) and the JWKS that publishes them.

BADGE_SIGNING_KEYS (configuration, e.g. DIRECTORY_BADGE_SIGNING_KEYS): PEM keys, a list or one
string holding several PEM blocks, newest first. The first is a private key and signs; the others
(private, or only the public key of a retired private key) stay published so credentials signed
before a rotation still verify. Unset: a private key kept in instance/badge_signing_key.pem,
generated on first use with mode 0o600.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app

ALGORITHM = "ES256"
KEY_FILE = "badge_signing_key.pem"
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.S)


@dataclass(frozen=True)
class Key:
    """One published key: its id (the RFC 7638 thumbprint), public key and private key if held."""

    kid: str
    public: ec.EllipticCurvePublicKey
    private: ec.EllipticCurvePrivateKey | None = None

    def jwk(self) -> dict[str, str]:
        """The public key as a JWK with its kid, use and algorithm."""
        return public_jwk(self.public) | {"kid": self.kid, "use": "sig", "alg": ALGORITHM}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The required members of a P-256 public key's JWK (RFC 7518 §6.2.1)."""
    numbers = public.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big"))}


def thumbprint(public: ec.EllipticCurvePublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): the key's kid."""
    members = json.dumps(public_jwk(public), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(members.encode("ascii")).digest())


def load_pem(pem: str | bytes) -> Key:
    """A Key from one PEM block: a P-256 private key, or a public key alone."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    private = None
    if b"PRIVATE KEY" in data:
        private = serialization.load_pem_private_key(data, password=None)
        public = private.public_key()
    else:
        public = serialization.load_pem_public_key(data)
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
        raise ValueError("Open Badges signing keys must be EC P-256 keys (ES256).")
    return Key(kid=thumbprint(public), public=public, private=private)  # type: ignore[arg-type]


def private_pem(private: ec.EllipticCurvePrivateKey) -> bytes:
    """A private key as unencrypted PKCS#8 PEM."""
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def _configured_pems(setting: Any) -> list[str]:
    blocks = setting if isinstance(setting, list | tuple) else [setting]
    return [match for block in blocks for match in _PEM_BLOCK.findall(str(block))]


def _instance_pem(instance: Path) -> bytes:
    """The key kept in instance/, created (mode 0o600) by whichever process comes first."""
    path = instance / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    pem = private_pem(ec.generate_private_key(ec.SECP256R1()))
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return pem


def published_keys() -> list[Key]:
    """Every published key, the signing key first (loaded once per app)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    keys = app.extensions.get("directory.badge_keys")
    if keys is None:
        pems = _configured_pems(app.config.get("BADGE_SIGNING_KEYS") or [])
        if not pems and app.config.get("PRODUCTION"):
            logging.getLogger(__name__).warning(
                "PRODUCTION is on but BADGE_SIGNING_KEYS is not set: Open Badges are signed "
                "with instance/%s, which every server must share (or set "
                "DIRECTORY_BADGE_SIGNING_KEYS to a P-256 private key PEM).", KEY_FILE)
        keys = ([load_pem(pem) for pem in pems] if pems
                else [load_pem(_instance_pem(Path(app.instance_path)))])
        if keys[0].private is None:
            raise ValueError("The first of BADGE_SIGNING_KEYS must be a private key: it signs.")
        app.extensions["directory.badge_keys"] = keys
    return keys


def signing_key() -> Key:
    """The key that signs new credentials: the newest."""
    return published_keys()[0]


def jwks() -> dict[str, list[dict[str, str]]]:
    """The JSON Web Key Set published at /.well-known/jwks.json."""
    return {"keys": [key.jwk() for key in published_keys()]}
