"""/.well-known/jwks.json and /.well-known/did.json."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import Blueprint, current_app, jsonify

from directory.badges import keys
from directory.links import site_root
from directory.security import public

bp = Blueprint("wellknown", __name__, url_prefix="/.well-known")


def _cached(response):
    response.cache_control.public, response.cache_control.max_age = True, 3600
    return response


@bp.route("/jwks.json")
@public
def jwks():
    """The public keys that sign this directory's Open Badges credentials (newest first)."""
    response = jsonify(keys.jwks())
    response.mimetype = "application/jwk-set+json"
    return _cached(response)


def did_web() -> str:
    """This site's did:web identifier (host, port encoded, and path from SITE_URL)."""
    site = urlsplit(site_root())
    parts = [quote(site.netloc, safe="")] + [part for part in site.path.split("/") if part]
    return "did:web:" + ":".join(parts)


@bp.route("/did.json")
@public
def did():
    """The did:web document: the same keys as the JWKS, as verification methods."""
    did_id = did_web()
    methods = [{"id": f"{did_id}#{key.kid}", "type": "JsonWebKey2020", "controller": did_id,
                "publicKeyJwk": keys.public_jwk(key.public)} for key in keys.published_keys()]
    document = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
        "id": did_id,
        "alsoKnownAs": [site_root()],
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
    }
    response = current_app.response_class(
        current_app.json.dumps(document), mimetype="application/did+json")
    return _cached(response)
