"""Open Badges 3.0 credentials (W3C VC Data Model 2.0) for verified certifications, secured as
VC-JWT (VC-JOSE-COSE, ES256), and their verification."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

import jwt
from flask import current_app

from directory import listing
from directory.badges import keys, status_list
from directory.links import absolute_url, site_root
from directory.models import Certification
from directory.models.base import utcnow

CONTEXTS = ["https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
MEDIA_TYPE = "application/vc+jwt"
TYP = "vc+jwt"


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def valid_until(cert: Certification) -> datetime | None:
    """The end of the certification's last shown day (listing.last_shown_day), None without
    an expiry date."""
    if cert.expires_on is None:
        return None
    return datetime.combine(cert.expires_on, time(23, 59, 59), tzinfo=UTC)


def issuable(cert: Certification | None) -> bool:
    """True when the public check shows the certification as verified (and unexpired)."""
    return cert is not None and listing.is_shown(cert) and cert.program is not None


def issuer_profile() -> dict[str, Any]:
    """This directory as an Open Badges issuer Profile."""
    return {"id": site_root(), "type": ["Profile"],
            "name": current_app.config["SITE_NAME"], "url": site_root()}


def identity_hash(value: str, salt: str) -> str:
    """An IdentityHash: "sha256$" + hex SHA-256 of the value followed by the salt."""
    return "sha256$" + hashlib.sha256((value + salt).encode("utf-8")).hexdigest()


def _salt(cert: Certification) -> str:
    """A salt per certification, stable across downloads and unguessable (keyed by SECRET_KEY)."""
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, f"badge-salt:{cert.id}".encode(), hashlib.sha256).hexdigest()[:32]


def achievement(cert: Certification) -> dict[str, Any]:
    """The training program as an Open Badges Achievement, created by its organisation."""
    program = cert.program
    assert program is not None  # noqa: S101 — issuable() checked it
    level = cert.level or program.level
    hours = f", {program.hours:g} hours" if program.hours else ""
    about = absolute_url("public.about")
    return {
        "id": f"{about}#program-{program.key}",
        "type": ["Achievement"],
        "achievementType": "Certification",
        "name": program.name,
        "description": (f"{program.name}{f' (level {level})' if level else ''}: dry needling "
                        f"training by {program.organisation}{hours}."),
        "criteria": {"narrative": (
            f"Completed {program.name} with {program.organisation}; the certificate was checked "
            f"by an administrator of {current_app.config['SITE_NAME']} against the evidence "
            "submitted and the program's recognition, and is current (not expired or "
            "revoked).")},
        "creator": {"id": program.website or f"{about}#organisation-{program.key}",
                    "type": ["Profile"], "name": program.organisation},
    }


def credential(cert: Certification) -> dict[str, Any]:
    """The OpenBadgeCredential of a verified certification (unsigned), with its status entry
    (allocated and committed on first issue)."""
    entry = status_list.entry_for(cert)
    number, position = status_list.place(entry.index)
    list_url = absolute_url("public.status_list", number=number)
    p = cert.practitioner
    subject: dict[str, Any] = {
        "id": absolute_url("public.practitioner", slug=p.slug),
        "type": ["AchievementSubject"],
        "name": p.full_name,
        "achievement": achievement(cert),
    }
    if p.licence_number:
        salt = _salt(cert)
        subject["identifier"] = [{"type": "IdentityObject", "hashed": True,
                                  "identityHash": identity_hash(p.licence_number, salt),
                                  "identityType": "identifier", "salt": salt}]
    assert cert.verified_at is not None  # noqa: S101 — issuable() checked it
    body: dict[str, Any] = {
        "@context": CONTEXTS,
        "id": absolute_url("public.credential", code=cert.public_code),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer_profile(),
        "name": cert.program.name if cert.program else cert.submitted_name,
        "validFrom": _instant(cert.verified_at),
        "credentialSubject": subject,
        "evidence": [{"id": absolute_url("public.verify_code", code=cert.public_code),
                      "type": ["Evidence"], "name": "Public credential check",
                      "description": "The directory's current record of this certification."}],
        "credentialStatus": {"id": f"{list_url}#{position}", "type": "BitstringStatusListEntry",
                             "statusPurpose": "revocation", "statusListIndex": str(position),
                             "statusListCredential": list_url},
    }
    until = valid_until(cert)
    if until is not None:
        body["validUntil"] = _instant(until)
    return body


def status_list_credential(number: int) -> dict[str, Any]:
    """The BitstringStatusListCredential of list `number`, its bits read from the database."""
    url = absolute_url("public.status_list", number=number)
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_profile(),
        "validFrom": _instant(utcnow()),
        "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList",
                              "statusPurpose": "revocation",
                              "encodedList": status_list.encode(
                                  status_list.revoked_positions(number))},
    }


def sign(body: dict[str, Any], now: datetime | None = None) -> str:
    """A credential secured as a VC-JWT: the credential as the payload with the JWT claims OB 3.0
    asks for (iss, jti, nbf, sub; exp when it expires), ES256 with the newest key."""
    now = now or utcnow()
    claims: dict[str, Any] = {"iss": body["issuer"]["id"], "jti": body["id"],
                              "iat": int(now.timestamp())}
    claims["nbf"] = int(datetime.fromisoformat(body["validFrom"]).timestamp())
    subject_id = body["credentialSubject"].get("id")
    if subject_id:
        claims["sub"] = subject_id
    if "validUntil" in body:
        claims["exp"] = int(datetime.fromisoformat(body["validUntil"]).timestamp())
    key = keys.signing_key()
    # kid: a URL that dereferences to the key (OB 3.0 §8.2 asks for a URI): the JWKS, with the
    # key's kid there (its RFC 7638 thumbprint) as the fragment. jwk: the public key itself.
    return jwt.encode(body | claims, key.private, algorithm=keys.ALGORITHM,
                      headers={"kid": key_url(key), "typ": TYP,
                               "jwk": keys.public_jwk(key.public)})


def key_url(key: keys.Key) -> str:
    """The address of a published key: the JWKS, its kid as the fragment."""
    return absolute_url("wellknown.jwks", _anchor=key.kid)


def issue(cert: Certification) -> str:
    """The signed Open Badges credential of a verified certification."""
    return sign(credential(cert))


def signed_status_list(number: int) -> str:
    """The signed status list credential of list `number`."""
    return sign(status_list_credential(number))


# ------------------------------------------------------------------------------- verifying

@dataclass
class Verification:
    """What checking a credential found: its claims (when the signature holds) and each
    problem, named."""

    problems: list[str] = field(default_factory=list)
    claims: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems and self.claims is not None


def verify(token: str, now: datetime | None = None) -> Verification:
    """Check a VC-JWT against this directory: signature (our JWKS), issuer, dates, status bit."""
    result = Verification()
    token = "".join(token.split())
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        result.problems.append("This is not a VC-JWT credential (a signed JSON Web Token).")
        return result
    by_kid = {key.kid: key for key in keys.published_keys()}
    key = by_kid.get(str(header.get("kid", "")).rpartition("#")[2])
    if header.get("alg") != keys.ALGORITHM or key is None:
        result.problems.append("Signature: it was not signed with any key this directory "
                               "publishes.")
        return result
    try:
        claims = jwt.decode(token, key.public, algorithms=[keys.ALGORITHM],
                            options={"verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False, "verify_aud": False})
    except jwt.InvalidSignatureError:
        result.problems.append("Signature: it does not match the content (altered or forged).")
        return result
    except jwt.InvalidTokenError:
        result.problems.append("This is not a VC-JWT credential this directory can read.")
        return result
    result.claims = claims
    if header.get("typ") != TYP:
        result.problems.append(f"Header: typ is not {TYP}.")
    _check_issuer(claims, result)
    _check_dates(claims, now or utcnow(), result)
    _check_status(claims, result)
    return result


def _check_issuer(claims: dict[str, Any], result: Verification) -> None:
    issuer = claims.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if claims.get("iss") != site_root() or issuer_id != site_root():
        result.problems.append(f"Issuer: it names {issuer_id or claims.get('iss')!r}, not "
                               f"this directory ({site_root()}).")
    if "OpenBadgeCredential" not in (claims.get("type") or []):
        result.problems.append("Type: it is not an OpenBadgeCredential.")
    if claims.get("jti") != claims.get("id"):
        result.problems.append("Claims: jti does not match the credential's id.")


def _parse(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _check_dates(claims: dict[str, Any], now: datetime, result: Verification) -> None:
    start, end = _parse(claims.get("validFrom")), _parse(claims.get("validUntil"))
    if start is None:
        result.problems.append("Dates: validFrom is missing or not a date.")
    elif start > now:
        result.problems.append(f"Dates: not valid before {_instant(start)}.")
    if "validUntil" in claims and end is None:
        result.problems.append("Dates: validUntil is not a date.")
    elif end is not None and end < now:
        result.problems.append(f"Dates: expired on {_instant(end)}.")
    if "exp" in claims and int(claims["exp"]) < now.timestamp() and not (end and end < now):
        result.problems.append("Dates: the token's exp has passed.")


def _check_status(claims: dict[str, Any], result: Verification) -> None:
    status = claims.get("credentialStatus")
    if not isinstance(status, dict) or status.get("type") != "BitstringStatusListEntry":
        result.problems.append("Status: the credential has no status list entry.")
        return
    prefix = absolute_url("public.status_list", number=1)[:-1]
    url = str(status.get("statusListCredential", ""))
    try:
        number, position = int(url.removeprefix(prefix)), int(status["statusListIndex"])
    except (KeyError, TypeError, ValueError):
        result.problems.append("Status: its status list is not this directory's.")
        return
    if not url.startswith(prefix) or not 0 <= position < status_list.LIST_SIZE or number < 1:
        result.problems.append("Status: its status list is not this directory's.")
    elif status_list.is_revoked((number - 1) * status_list.LIST_SIZE + position):
        result.problems.append("Status: the credential has been revoked.")


def pretty(claims: dict[str, Any]) -> str:
    """The claims as indented JSON, for showing."""
    return json.dumps(claims, indent=2, ensure_ascii=False)

