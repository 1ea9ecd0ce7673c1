"""Open Badges 3.0 credentials (issue 18): keys and JWKS, the signed VC-JWT of a verified
certification, the Bitstring Status List that revokes it, the check of a pasted credential and
the did:web document. Credentials are checked with PyJWT and the published JWKS alone, and
against 1EdTech's JSON schema (tests/assets/)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import stat
from datetime import date, timedelta
from pathlib import Path

import jsonschema
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from directory.badges import keys, status_list
from directory.credentials import lifecycle
from directory.extensions import db
from directory.models import Certification, StatusListEntry
from directory.models.base import utcnow
from tests import factories

SCHEMA = json.loads((Path(__file__).parent / "assets"
                     / "ob_v3p0_achievementcredential_schema.json").read_text())
SITE = "http://127.0.0.1:5000"


# ------------------------------------------------------------------------------- helpers

def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verified_code(app, **fields) -> str:
    """The public code of a listed practitioner's verified certification (licence LIC-<id>)."""
    with app.app_context():
        p = factories.make_listed_practitioner(**fields)
        return db.session.scalars(select(Certification.public_code)
                                  .where(Certification.practitioner_id == p.id)).one()


def decode_with_jwks(client, token: str) -> dict:
    """What any verifier does: the key named by kid in the site's JWKS, PyJWT, ES256."""
    jwks = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").get_json())
    kid = jwt.get_unverified_header(token)["kid"]  # the JWKS's address, the key's kid as fragment
    assert kid.startswith(f"{SITE}/.well-known/jwks.json#")
    key = next(k for k in jwks.keys if k.key_id == kid.rpartition("#")[2])
    return jwt.decode(token, key.key, algorithms=["ES256"], issuer=SITE,
                      options={"require": ["iss", "jti", "nbf", "sub"]})


def status_bits(client, url: str) -> bytes:
    """The decoded bitstring of a status list credential (signature checked with the JWKS)."""
    response = client.get(url.removeprefix(SITE))
    assert response.status_code == 200
    assert response.mimetype == "application/vc+jwt"
    listed = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").get_json())
    token = response.get_data(as_text=True)
    payload = jwt.decode(token, listed.keys[0].key, algorithms=["ES256"],
                         options={"verify_sub": False})
    assert payload["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = payload["credentialSubject"]
    assert subject["type"] == "BitstringStatusList" and subject["statusPurpose"] == "revocation"
    encoded = subject["encodedList"]
    assert encoded.startswith("u")
    return gzip.decompress(_b64url_decode(encoded[1:]))


def bit(bits: bytes, position: int) -> bool:
    return bool(bits[position // 8] & (0x80 >> (position % 8)))


# ------------------------------------------------------------------------------- keys

def test_jwks_publishes_the_signing_key_under_its_rfc7638_thumbprint(app, client):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    [key] = response.get_json()["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256"
    assert "d" not in key  # never the private part
    members = json.dumps({m: key[m] for m in ("crv", "kty", "x", "y")}, separators=(",", ":"),
                         sort_keys=True)
    thumb = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=")
    assert key["kid"] == thumb.decode()
    path = Path(app.instance_path) / keys.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_rotated_key_stays_published_and_the_newest_signs(app, migrated_database, tmp_path):
    from directory import create_app
    from tests.conftest import base_config

    old, new = (keys.private_pem(ec.generate_private_key(ec.SECP256R1())).decode()
                for _ in range(2))
    code = verified_code(app)
    old_app = create_app(base_config(migrated_database, tmp_path)
                         | {"BADGE_SIGNING_KEYS": old})
    token = old_app.test_client().get(f"/verify/{code}/credential.jwt").get_data(as_text=True)
    # Rotated: one setting holding both PEM blocks, newest first.
    rotated = create_app(base_config(migrated_database, tmp_path)
                         | {"BADGE_SIGNING_KEYS": new + "\n" + old})
    client = rotated.test_client()
    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]]
    with rotated.app_context():
        assert kids == [keys.load_pem(new).kid, keys.load_pem(old).kid]
    newer = client.get(f"/verify/{code}/credential.jwt").get_data(as_text=True)
    assert jwt.get_unverified_header(newer)["kid"].endswith("#" + kids[0])
    assert jwt.get_unverified_header(token)["kid"].endswith("#" + kids[1])
    assert decode_with_jwks(client, token)["jti"] == decode_with_jwks(client, newer)["jti"]
    for each in (old_app, rotated):
        with each.app_context():
            db.engine.dispose()


# ------------------------------------------------------------------------------- the credential

def test_a_verified_certification_downloads_as_a_signed_open_badge(app, client):
    code = verified_code(app)
    page = client.get(f"/verify/{code}").get_data(as_text=True)
    assert f'href="/verify/{code}/credential.jwt"' in page and "Download as Open Badge" in page

    response = client.get(f"/verify/{code}/credential.jwt")
    assert response.status_code == 200
    assert response.mimetype == "application/vc+jwt"
    token = response.get_data(as_text=True)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["typ"] == "vc+jwt" and header["kid"]
    assert set(header) == {"alg", "typ", "kid", "jwk"} and "d" not in header["jwk"]

    vc = decode_with_jwks(client, token)  # nothing but PyJWT and the site's JWKS
    jsonschema.Draft201909Validator(SCHEMA).validate(vc)
    # The schema has teeth: a wrong identity type or a missing achievement name fails it.
    wrong = json.loads(json.dumps(vc))
    wrong["credentialSubject"]["identifier"][0]["identityType"] = "licence"
    del wrong["credentialSubject"]["achievement"]["name"]
    assert len(list(jsonschema.Draft201909Validator(SCHEMA).iter_errors(wrong))) >= 2
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert vc["issuer"] == {"id": SITE, "type": ["Profile"], "name": "Dry Needling Directory",
                            "url": SITE}
    assert vc["iss"] == vc["issuer"]["id"]
    assert vc["jti"] == vc["id"] == f"{SITE}/verify/{code}/credential.jwt"
    subject = vc["credentialSubject"]
    assert vc["sub"] == subject["id"] and subject["id"].startswith(f"{SITE}/p/")
    assert subject["type"] == ["AchievementSubject"]
    achievement = subject["achievement"]
    assert achievement["type"] == ["Achievement"]
    assert achievement["name"] == "Test Dry Needling Level 1"
    assert achievement["creator"]["name"] == "Test Organisation"
    assert achievement["criteria"]["narrative"]
    # The licence number only as a salted hash.
    [identity] = subject["identifier"]
    assert identity["type"] == "IdentityObject" and identity["hashed"] is True
    with app.app_context():
        cert = db.session.scalars(select(Certification).where(
            Certification.public_code == code)).one()
        licence, verified_at = cert.practitioner.licence_number, cert.verified_at
    assert licence not in token
    assert identity["identityHash"] == "sha256$" + hashlib.sha256(
        (licence + identity["salt"]).encode()).hexdigest()
    # Dates: from the verification; no expiry date, no exp.
    assert vc["nbf"] == int(verified_at.replace(microsecond=0).timestamp())
    assert vc["validFrom"].endswith("Z") and "validUntil" not in vc and "exp" not in vc
    # Evidence: the public check, never the uploaded file.
    assert vc["evidence"] == [{"id": f"{SITE}/verify/{code}", "type": ["Evidence"],
                               "name": "Public credential check",
                               "description": "The directory's current record of this "
                                              "certification."}]
    status = vc["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusPurpose"] == "revocation"
    assert status["statusListCredential"] == f"{SITE}/credentials/status/1"
    assert status["statusListIndex"] == "0"


def test_an_expiring_certification_carries_valid_until_and_exp(app, client):
    with app.app_context():
        p = factories.make_practitioner(attested_at=utcnow())
        factories.verify_licence(p)
        expiry = factories.today() + timedelta(days=200)
        code = factories.make_certification(p, status="verified", expires_on=expiry).public_code
    vc = decode_with_jwks(client, client.get(f"/verify/{code}/credential.jwt")
                          .get_data(as_text=True))
    jsonschema.Draft201909Validator(SCHEMA).validate(vc)
    assert vc["validUntil"] == f"{expiry.isoformat()}T23:59:59Z"
    assert vc["exp"] > vc["nbf"]


@pytest.mark.parametrize("status", ["pending", "rejected", "changes_requested", "expired",
                                    "revoked"])
def test_only_a_verified_certification_has_a_credential(app, client, status):
    with app.app_context():
        p = factories.make_practitioner()
        code = factories.make_certification(p, status=status, reason="Because.").public_code
    assert client.get(f"/verify/{code}/credential.jwt").status_code == 404


def test_a_certification_past_its_expiry_day_has_no_credential(app, client):
    with app.app_context():
        p = factories.make_practitioner()
        code = factories.make_certification(
            p, status="verified", expires_on=date.today() - timedelta(days=1)).public_code
    assert client.get(f"/verify/{code}/credential.jwt").status_code == 404
    assert client.get("/verify/NOT-A-CODE/credential.jwt").status_code == 404


# ------------------------------------------------------------------------------- status list

def test_the_status_list_has_131072_entries_and_starts_clear(app, client):
    code = verified_code(app)
    vc = decode_with_jwks(client, client.get(f"/verify/{code}/credential.jwt")
                          .get_data(as_text=True))
    bits = status_bits(client, vc["credentialStatus"]["statusListCredential"])
    assert len(bits) * 8 >= 131_072
    assert not any(bits)
    assert client.get("/credentials/status/2").status_code == 404


@pytest.mark.parametrize("by", ["admin", "issuer"])
def test_revoking_flips_the_credentials_bit(app, client, by):
    code = verified_code(app)
    token = client.get(f"/verify/{code}/credential.jwt").get_data(as_text=True)
    status = decode_with_jwks(client, token)["credentialStatus"]
    position = int(status["statusListIndex"])
    assert not bit(status_bits(client, status["statusListCredential"]), position)
    with app.app_context():
        cert = db.session.scalars(select(Certification).where(
            Certification.public_code == code)).one()
        cert_id, version, program_id = cert.id, cert.version, cert.program_id
        if by == "admin":
            factories.make_admin("revoker@example.com")
        else:
            factories.make_issuer("revoker@example.com")
    assert factories.login(client, "revoker@example.com").status_code == 302
    if by == "admin":
        response = client.post(f"/admin/certifications/{cert_id}", data={
            "action": "revoke", "reason": "Withdrawn by the program.", "version": version,
            "program": program_id})
    else:
        response = client.post(f"/issuer/certifications/{cert_id}/revoke",
                               data={"revoke_reason": "Withdrawn by the program."})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Certification, cert_id).status == "revoked"
    assert bit(status_bits(client, status["statusListCredential"]), position)
    assert client.get(f"/verify/{code}/credential.jwt").status_code == 404


def test_a_rejection_after_an_edit_revokes_the_credential_too(app, client):
    code = verified_code(app)
    status = decode_with_jwks(client, client.get(f"/verify/{code}/credential.jwt")
                              .get_data(as_text=True))["credentialStatus"]
    with app.app_context():
        cert = db.session.scalars(select(Certification).where(
            Certification.public_code == code)).one()
        lifecycle.apply(cert, "resubmit", cert.practitioner.user)  # edited: checked again
        db.session.commit()
        assert not status_list.is_revoked(int(status["statusListIndex"]))  # not yet decided
        lifecycle.apply(cert, "reject", factories.make_admin(), "Not the same certificate.")
        db.session.commit()
    assert bit(status_bits(client, status["statusListCredential"]),
               int(status["statusListIndex"]))


def test_indexes_are_allocated_once_and_never_reused(app, client):
    first, second = verified_code(app), verified_code(app)
    for _ in range(2):
        for code in (first, second):
            assert client.get(f"/verify/{code}/credential.jwt").status_code == 200
    with app.app_context():
        entries = db.session.execute(select(StatusListEntry.certification_id,
                                            StatusListEntry.index)
                                     .order_by(StatusListEntry.index)).all()
        assert [index for _, index in entries] == [0, 1]
        # A deleted certification keeps its index, and its credential counts as revoked.
        db.session.delete(db.session.get(Certification, entries[0][0]))
        db.session.commit()
        assert db.session.scalars(select(StatusListEntry.certification_id)
                                  .order_by(StatusListEntry.index)).all() == [None,
                                                                             entries[1][0]]
        assert status_list.is_revoked(0) and not status_list.is_revoked(1)
    # The next certification gets a new index, not the freed one.
    assert client.get(f"/verify/{verified_code(app)}/credential.jwt").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.max(StatusListEntry.index))) == 2


def test_encoding_follows_the_specification(app):
    encoded = status_list.encode([0, 7, 131_071])
    bits = status_list.decode(encoded)
    assert len(bits) == 16_384 and bits[0] == 0b1000_0001 and bits[-1] == 0b0000_0001
    assert "=" not in encoded and encoded.startswith("u")


# ------------------------------------------------------------------------------- pasted credentials

def test_a_pasted_credential_is_checked(app, client):
    code = verified_code(app)
    token = client.get(f"/verify/{code}/credential.jwt").get_data(as_text=True)
    assert 'name="credential"' in client.get("/verify").get_data(as_text=True)

    page = client.post("/verify/credential", data={"credential": f"  {token}\n"})
    assert page.status_code == 200
    assert "This credential was signed by this directory" in page.get_data(as_text=True)

    header, payload, signature = token.split(".")
    claims = json.loads(_b64url_decode(payload))
    claims["credentialSubject"]["name"] = "Someone Else"
    forged = ".".join([header, base64.urlsafe_b64encode(json.dumps(claims).encode())
                       .rstrip(b"=").decode(), signature])
    text = client.post("/verify/credential", data={"credential": forged}).get_data(as_text=True)
    assert "Signature: it does not match the content" in text

    stranger = ec.generate_private_key(ec.SECP256R1())
    foreign = jwt.encode(claims, stranger, algorithm="ES256",
                         headers={"kid": "someone-else", "typ": "vc+jwt"})
    text = client.post("/verify/credential", data={"credential": foreign}).get_data(as_text=True)
    assert "not signed with any key this directory publishes" in text

    refused = client.post("/verify/credential", data={"credential": "hello"})
    assert refused.status_code == 400
    assert "That is not a credential" in refused.get_data(as_text=True)
    text = client.post("/verify/credential", data={"credential": "a.b.c"}).get_data(as_text=True)
    assert "This is not a VC-JWT credential" in text
    assert client.post("/verify/credential", data={"credential": ""}).status_code == 400


def test_a_pasted_credential_names_revocation_and_dates(app, client):
    code = verified_code(app)
    token = client.get(f"/verify/{code}/credential.jwt").get_data(as_text=True)
    with app.app_context():
        cert = db.session.scalars(select(Certification).where(
            Certification.public_code == code)).one()
        admin = factories.make_admin()
        lifecycle.apply(cert, "revoke", admin, "Withdrawn.")
        db.session.commit()
        from directory.badges import credentials

        later = credentials.verify(token, now=utcnow() + timedelta(days=1))
        assert later.problems == ["Status: the credential has been revoked."]
        early = credentials.verify(token, now=utcnow() - timedelta(days=3650))
        assert any(p.startswith("Dates: not valid before") for p in early.problems)
    text = client.post("/verify/credential", data={"credential": token}).get_data(as_text=True)
    assert "Status: the credential has been revoked." in text


# ------------------------------------------------------------------------------- did:web

def test_the_did_web_document_lists_the_jwks_keys(app, client):
    document = client.get("/.well-known/did.json")
    assert document.status_code == 200 and document.mimetype == "application/did+json"
    did = document.get_json()
    assert did["id"] == "did:web:127.0.0.1%3A5000"
    jwks = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert [m["id"] for m in did["verificationMethod"]] == [f"{did['id']}#{k['kid']}"
                                                            for k in jwks]
    assert did["assertionMethod"] == [m["id"] for m in did["verificationMethod"]]
