"""The JSON API: search, one practitioner, errors, and the OpenAPI document they follow."""

from __future__ import annotations

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource

from directory import create_app
from directory.extensions import db
from directory.models import Practitioner
from tests import factories
from tests.conftest import base_config
from tests.factories import DENVER, listed_at, offset


@pytest.fixture
def spec(client) -> dict:
    document = client.get("/api/v1/openapi.json").get_json()
    validate_spec(document)
    return document


def check(spec: dict, schema_name: str, payload: dict) -> None:
    """Validate a real response against the document's component schema."""
    registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents({"components": spec["components"],
                                               "$schema":
                                               "https://json-schema.org/draft/2020-12/schema"}))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$ref": f"urn:openapi#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema, registry=registry,
                                    format_checker=jsonschema.FormatChecker()).validate(payload)


@pytest.fixture
def denver(app):
    with app.app_context():
        near = listed_at(39.7525, -104.9995, "Near Downtown",
                         tags={"technique": ["electrical"]})
        far = listed_at(*offset(*DENVER, km_north=30), "Thirty North")
        unlisted = listed_at(39.75, -104.99, "Hidden", listed=False)
        return {"near": near.id, "far": far.id, "unlisted": unlisted.id}


def test_search_by_postcode_matches_the_document(client, spec, denver):
    response = client.get("/api/v1/practitioners?near=80202&radius=10&unit=km")
    assert response.status_code == 200
    body = response.get_json()
    check(spec, "SearchResults", body)
    assert body["origin"]["precision"] == "postcode"
    assert body["origin"]["label"].startswith("80202")
    assert body["total"] == 1 and body["page"] == 1 and body["per_page"] == 20
    item = body["items"][0]
    assert item["id"] == denver["near"] and item["name"] == "Near Downtown"
    assert item["distance_km"] < 2
    assert item["location"]["name"] == "Near Downtown Clinic"
    assert item["certifications"][0]["verify_url"].startswith("http://127.0.0.1:5000/verify/")
    assert item["url"].startswith("http://127.0.0.1:5000/p/")  # SITE_URL, not the Host


def test_search_by_coordinates_with_filters(client, spec, denver):
    body = client.get(f"/api/v1/practitioners?near={DENVER[0]},{DENVER[1]}&radius=50&unit=km"
                      "&technique=electrical").get_json()
    check(spec, "SearchResults", body)
    assert body["origin"]["precision"] == "exact"
    assert [i["name"] for i in body["items"]] == ["Near Downtown"]
    wider = client.get(f"/api/v1/practitioners?near={DENVER[0]},{DENVER[1]}&radius=50"
                       "&unit=km").get_json()
    assert [i["name"] for i in wider["items"]] == ["Near Downtown", "Thirty North"]


def test_one_practitioner_and_not_found(client, spec, denver):
    response = client.get(f"/api/v1/practitioners/{denver['near']}")
    assert response.status_code == 200
    check(spec, "Practitioner", response.get_json())
    for missing in (denver["unlisted"], 999999):
        response = client.get(f"/api/v1/practitioners/{missing}")
        assert response.status_code == 404
        check(spec, "Error", response.get_json())
        assert response.get_json()["error"]["code"] == "not_found"


def test_ambiguous_place_lists_candidates(client, spec):
    response = client.get("/api/v1/practitioners?near=Portland")
    assert response.status_code == 400
    body = response.get_json()
    check(spec, "Error", body)
    assert body["error"]["code"] == "ambiguous_place" and body["error"]["field"] == "near"
    labels = [c["label"] for c in body["error"]["candidates"]]
    assert "Portland, Oregon, United States" in labels
    assert "Portland, Maine, United States" in labels


@pytest.mark.parametrize(("query", "field", "code"), [
    ("near=zzzzqqq", "near", "unknown_place"),
    ("", "near", "place_required"),
    ("near=+&country=US", "near", "place_required"),
    ("lat=39.7", "near", "place_required"),
    ("lat=abc&lng=1", "lat", "invalid_parameter"),
    ("near=80202&radius=-1", "radius", "invalid_parameter"),
    ("near=80202&radius=10000", "radius", "invalid_parameter"),
    ("near=200,10", "near", "unknown_place"),
    ("lat=200&lng=10", "lat", "invalid_parameter"),
    ("near=80202&profession=astronaut", "profession", "invalid_parameter"),
    ("near=80202&unit=furlongs", "unit", "invalid_parameter"),
    ("near=80202&per_page=101", "per_page", "invalid_parameter"),
    ("near=80202&page=abc", "page", "invalid_parameter"),
    ("near=" + "9" * 10000, "near", "invalid_parameter"),
    ("near=%27+OR+1%3D1--", "near", "unknown_place"),
    ("near=80202&language=%3Cscript%3E", "language", "invalid_parameter"),
])
def test_bad_input_is_a_400_with_the_field(client, spec, query, field, code):
    response = client.get(f"/api/v1/practitioners?{query}")
    assert response.status_code == 400
    body = response.get_json()
    check(spec, "Error", body)
    assert body["error"]["field"] == field
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_page_beyond_the_results_is_a_400(client, denver):
    response = client.get("/api/v1/practitioners?near=80202&radius=10&page=5")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "page"


def test_demo_practitioners_are_flagged(app, client, spec):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Demo Person", is_demo=True)
    item = client.get("/api/v1/practitioners?near=80202").get_json()["items"][0]
    assert item["demo"] is True


def test_factories_listed_practitioner_is_in_the_api(app, client):
    with app.app_context():
        p = factories.make_listed_practitioner()
        pid = p.id
    assert client.get(f"/api/v1/practitioners/{pid}").status_code == 200


@pytest.mark.parametrize(("query", "field"), [
    ("near=80202&accepting=yes", "accepting"),
    ("near=80202&accessible=", "accessible"),
    ("near=80202&accessible=1", "accessible"),
    ("near=80202&per_page=", "per_page"),
    ("near=80202&radius=+", "radius"),
    ("near=80202&lat=&lng=", "lat"),
])
def test_booleans_and_numbers_are_as_documented(client, spec, query, field):
    response = client.get(f"/api/v1/practitioners?{query}")
    assert response.status_code == 400
    check(spec, "Error", response.get_json())
    assert response.get_json()["error"]["field"] == field
    assert response.get_json()["error"]["message"] in (
        f"Use true or false for {field}.", f"Give a number for {field}, or leave it out.")


def test_boolean_filters_narrow_the_results(client, denver):
    assert len(client.get("/api/v1/practitioners?near=80202&radius=50&unit=km"
                          "&accessible=false").get_json()["items"]) == 2
    assert client.get("/api/v1/practitioners?near=80202&radius=50&unit=km"
                      "&accessible=true").get_json()["items"] == []


def test_the_document_lists_the_languages_the_filter_accepts(client, spec, denver):
    (language,) = (p for p in spec["paths"]["/practitioners"]["get"]["parameters"]
                   if p["name"] == "language")
    codes = language["schema"]["enum"]
    assert {"", "en", "es", "zh"} <= set(codes) and "xyz" not in codes
    for code in ("en", "zh"):
        assert client.get(f"/api/v1/practitioners?near=80202&language={code}").status_code == 200


def test_every_operation_documents_the_rate_limit_answer(app, migrated_database, tmp_path, spec):
    limited = create_app(base_config(migrated_database, tmp_path) | {
        "RATELIMIT_ENABLED": True, "RATELIMIT_API": "1 per minute"})
    client = limited.test_client()
    client.get("/api/v1/openapi.json")
    for path, operation in (("/practitioners", "/api/v1/practitioners?near=80202"),
                            ("/practitioners/{practitioner_id}", "/api/v1/practitioners/1")):
        response = client.get(operation)
        assert response.status_code == 429
        documented = spec["paths"][path]["get"]["responses"]["429"]
        assert "Retry-After" in documented["headers"]
        assert int(response.headers["Retry-After"]) > 0
        check(spec, "Error", response.get_json())
        assert response.get_json()["error"]["code"] == "rate_limited"
    with limited.app_context():
        db.engine.dispose()


def test_markup_in_the_json_is_escaped_but_reads_the_same(app, client, denver):
    name = "<script>alert(1)</script> & Sons"
    with app.app_context():
        db.session.get(Practitioner, denver["near"]).full_name = name
        db.session.commit()
    for url in (f"/api/v1/practitioners/{denver['near']}", "/api/v1/practitioners?near=80202"):
        response = client.get(url)
        assert b"<" not in response.data and b"&" not in response.data
        assert b"\\u003cscript\\u003e" in response.data
        body = response.get_json()
        assert (body.get("name") or body["items"][0]["name"]) == name


def test_the_radius_limit_is_in_the_unit_the_place_decides(client, denver):
    """ "Automatic" means miles for a US ZIP: 400 is too far in miles, and fine in km."""
    miles = client.get("/api/v1/practitioners?near=80202&radius=400")
    assert miles.status_code == 400
    assert miles.get_json()["error"] == {
        "code": "invalid_parameter", "field": "radius",
        "message": "Choose a distance from 1 to 311 miles."}
    km = client.get("/api/v1/practitioners?near=80202&radius=400&unit=km")
    assert km.status_code == 200 and km.get_json()["radius_km"] == 400


@pytest.mark.parametrize("query", ["", "country=US&radius=10", "lng=-104.99", "near=%20"])
def test_a_search_without_a_place_is_the_documented_400(client, spec, query):
    """The document says a search needs near, or lat and lng, or q, and what the answer is
    without."""
    operation = spec["paths"]["/practitioners"]["get"]
    assert "place_required" in operation["description"]
    assert "place_required" in operation["responses"]["400"]["description"]
    for name in ("near", "lat", "lng"):
        (parameter,) = (p for p in operation["parameters"] if p["name"] == name)
        assert "place_required" in parameter["description"], name
    assert "q" in {p["name"] for p in operation["parameters"]}
    assert "place_required" in spec["components"]["schemas"]["Error"]["properties"]["error"][
        "properties"]["code"]["enum"]

    response = client.get(f"/api/v1/practitioners?{query}")
    assert response.status_code == 400
    check(spec, "Error", response.get_json())
    assert response.get_json()["error"] == {
        "code": "place_required", "field": "near",
        "message": 'Give near (a postcode, a place or "lat,lng"), or lat and lng together, '
                   'or q (a name, a clinic or a licence number).'}
