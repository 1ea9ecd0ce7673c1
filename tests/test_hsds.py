"""The Open Referral HSDS 3.0 feed at /hsds: every answer validated against the HSDS JSON
schemas vendored in tests/assets/hsds (offline: $refs between them resolved from the folder),
only searchable practitioners, the search near a postcode equal to the site's, paging, errors."""

from __future__ import annotations

import json
import math
import uuid
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from directory.extensions import db
from directory.hsds import records
from directory.models import Certification, Practitioner
from directory.models.base import utcnow
from directory.models.practitioner import OpeningHours
from tests.factories import DENVER, listed_at, offset

ASSETS = Path(__file__).parent / "assets" / "hsds"
BASE = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"


def _registry() -> Registry:
    """Every vendored schema under the address the HSDS OpenAPI document cites it by, so
    relative $refs ("phone.json") resolve in the folder and nothing is fetched."""
    registry = Registry()
    for path in sorted(ASSETS.rglob("*.json")):
        contents = json.loads(path.read_text())
        uri = BASE + path.relative_to(ASSETS).as_posix()
        registry = registry.with_resource(uri, Resource(contents=contents,
                                                        specification=DRAFT202012))
    return registry.crawl()


REGISTRY = _registry()
FORMATS = jsonschema.FormatChecker()


def validate(schema: dict, payload) -> None:
    """Validate against a schema whose $refs point into the vendored files."""
    jsonschema.Draft202012Validator(schema, registry=REGISTRY,
                                    format_checker=FORMATS).validate(payload)


def object_schema(name: str) -> dict:
    """One HSDS object: schema/<name>.json (its $refs to the other tables resolved)."""
    return {"$ref": BASE + f"{name}.json"}


def page_schema(item: str) -> dict:
    """A list: the OpenAPI document's Page with contents of the compiled list schema, as the
    HSDS OpenAPI document describes /services, /service_at_locations and /organizations."""
    return {"allOf": [{"$ref": BASE + "openapi.json#/components/schemas/Page"}],
            "required": ["total_items", "total_pages", "page_number", "size", "first_page",
                         "last_page", "contents"],
            "properties": {"contents": {"type": "array",
                                        "items": {"$ref": BASE + item}}}}


SERVICE_PAGE = page_schema("compiled/service_list.json")
SAL_PAGE = page_schema("compiled/service_at_location_list.json")
ORGANIZATION_PAGE = page_schema("compiled/organization_list.json")
ROOT = {"$ref": BASE + "openapi.json#/paths/~1/get/responses/200/content/application~1json/"
                       "schema"}


def test_the_vendored_schemas_reject_what_they_should():
    with pytest.raises(jsonschema.ValidationError):
        validate(object_schema("service"), {"id": "not-a-uuid", "name": "x", "status": "active"})
    with pytest.raises(jsonschema.ValidationError):
        validate(object_schema("service"), {"id": str(uuid.uuid4()), "name": "x",
                                            "status": "open"})
    with pytest.raises(jsonschema.ValidationError):  # a nested table, through a $ref
        validate(object_schema("service"), {"id": str(uuid.uuid4()), "name": "x",
                                            "status": "active", "phones": [{"number": "1"}]})
    with pytest.raises(jsonschema.ValidationError):
        validate(SERVICE_PAGE, {"total_items": "many", "contents": []})


@pytest.fixture
def denver(app):
    """Two searchable practitioners near Denver, one 30 km north, one listed but not confirmed
    within a year (not searchable), one not listed at all."""
    with app.app_context():
        near = listed_at(39.7525, -104.9995, "Near Downtown", accessible=True,
                         tags={"language": ["en", "es"]}, phone="+1 303 555 0100",
                         public_email="near@example.com", bio="Dry needling in LoDo.",
                         fee_currency="USD", fee_first_visit=12000, fee_follow_up=9500)
        location = near.locations[0]
        location.street = "1600 Wazee St"
        location.region = "CO"
        location.postcode = "80202"
        db.session.add(OpeningHours(location=location, weekday=0,
                                    opens=_time("09:00"), closes=_time("17:00")))
        second = listed_at(*offset(39.7525, -104.9995, km_east=2), "Second Nearest",
                           phone="+1 303 555 0199", show_phone=False)
        far = listed_at(*offset(*DENVER, km_north=30), "Thirty North")
        stale = listed_at(39.7526, -104.9996, "Stale Confirmation")
        stale.attested_at = utcnow() - timedelta(days=400)
        unlisted = listed_at(39.75, -104.99, "Hidden", listed=False)
        db.session.commit()
        return {"near": near.id, "second": second.id, "far": far.id, "stale": stale.id,
                "unlisted": unlisted.id,
                "near_location": location.id, "stale_location": stale.locations[0].id,
                "unlisted_location": unlisted.locations[0].id}


def _time(text: str):
    from datetime import time
    return time.fromisoformat(text)


def test_root_names_the_version_and_the_openapi_document(client):
    response = client.get("/hsds/")
    assert response.status_code == 200
    body = response.get_json()
    validate(ROOT, body)
    assert body["version"] == "3.0"
    assert body["openapi_url"] == "http://127.0.0.1:5000/api/v1/openapi.json"
    assert body["profile"].startswith("https://")
    assert client.get(body["openapi_url"].removeprefix("http://127.0.0.1:5000")
                      ).status_code == 200


def test_ids_are_uuids_that_read_back():
    made = records.hsds_id("service", 42)
    assert uuid.UUID(made).version == 8
    assert made == records.hsds_id("service", 42)  # stable
    assert records.database_id("service", made) == 42
    assert records.database_id("organization", made) is None  # another kind
    assert records.hsds_id("organization", 42) != made
    assert records.database_id("service", records.hsds_id("language", 42, 1)) is None
    for junk in ("42", "", "x" * 40, str(uuid.uuid4()), "\x00"):
        assert records.database_id("service", junk) is None


def test_services_lists_the_searchable_only(client, denver):
    response = client.get("/hsds/services")
    assert response.status_code == 200
    body = response.get_json()
    validate(SERVICE_PAGE, body)
    ids = [records.database_id("service", s["id"]) for s in body["contents"]]
    assert ids == sorted([denver["near"], denver["second"], denver["far"]])
    assert body["total_items"] == 3 and body["total_pages"] == 1 and body["size"] == 3
    assert body["first_page"] and body["last_page"] and body["page_number"] == 1
    near = body["contents"][0]
    assert near["name"] == "Dry needling — Near Downtown" and near["status"] == "active"
    assert near["organization"]["name"] == "Near Downtown Clinic"
    assert near["organization_id"] == near["organization"]["id"]
    assert near["url"].startswith("http://127.0.0.1:5000/p/")


def test_one_service_fully_nested(client, denver, app):
    service_id = records.hsds_id("service", denver["near"])
    response = client.get(f"/hsds/services/{service_id}")
    assert response.status_code == 200
    body = response.get_json()
    validate(object_schema("service"), body)
    assert body["id"] == service_id
    assert body["email"] == "near@example.com"
    assert body["phones"][0]["number"] == "+1 303 555 0100"
    assert {lang["code"] for lang in body["languages"]} == {"en", "es"}
    assert {(c["option"], c["amount"], c["currency"]) for c in body["cost_options"]} == {
        ("First visit", 120.0, "USD"), ("Follow-up visit", 95.0, "USD")}
    assert body["fees_description"] == "First visit $120; follow-up visit $95."
    assert "/verify/" in body["accreditations"]
    assert "verified on" in body["licenses"]
    with app.app_context():
        p = db.session.get(Practitioner, denver["near"])
        certs = db.session.scalars(select(Certification).where(
            Certification.practitioner_id == p.id, Certification.status == "verified")).all()
        expected = max([p.licence.verified_on, *(c.verified_at.date() for c in certs)])
    assert body["assured_date"] == expected.isoformat()
    sal = body["service_at_locations"][0]
    assert sal["service_id"] == service_id
    location = sal["location"]
    assert location["location_type"] == "physical"
    assert location["name"] == "Near Downtown Clinic"
    assert location["latitude"] == pytest.approx(39.7525)
    address = location["addresses"][0]
    assert (address["address_1"], address["city"], address["postal_code"],
            address["country"]) == ("1600 Wazee St", "Denver", "80202", "US")
    assert location["accessibility"][0]["description"] == "Wheelchair accessible"
    schedule = location["schedules"][0]
    assert (schedule["freq"], schedule["byday"], schedule["opens_at"],
            schedule["closes_at"]) == ("WEEKLY", "MO", "09:00", "17:00")


def test_hidden_contact_details_stay_hidden(client, denver):
    body = client.get(f"/hsds/services/{records.hsds_id('service', denver['second'])}"
                      ).get_json()
    assert "phones" not in body
    assert "555 0199" not in json.dumps(body)


@pytest.mark.parametrize("kind", ["stale", "unlisted"])
def test_unsearchable_practitioners_are_not_found(client, denver, kind):
    for path in (f"/hsds/services/{records.hsds_id('service', denver[kind])}",
                 f"/hsds/organizations/{records.hsds_id('organization', denver[kind])}",
                 "/hsds/service_at_locations/"
                 + records.hsds_id("service_at_location", denver[f"{kind}_location"])):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "not_found"
    for path in ("/hsds/services", "/hsds/organizations", "/hsds/service_at_locations",
                 "/hsds/service_at_locations?postcode=80202&proximity=50000"):
        body = client.get(path).get_json()
        assert str(denver[kind]) not in {str(records.database_id("service", s["id"]))
                                         for s in body["contents"]}
        assert records.hsds_id("service", denver[kind]) not in json.dumps(body), path


@pytest.mark.parametrize("path", ["/hsds/services/42", "/hsds/services/not-an-id",
                                  f"/hsds/services/{uuid.uuid4()}",
                                  f"/hsds/services/{records.hsds_id('organization', 1)}",
                                  "/hsds/organizations/x", "/hsds/service_at_locations/x",
                                  # ids of ours whose number no row can have (past the
                                  # integer column: an error on PostgreSQL if it were asked)
                                  f"/hsds/services/{records.hsds_id('service', 2**40)}",
                                  f"/hsds/organizations/{records.hsds_id('organization', 2**31)}",
                                  "/hsds/service_at_locations/"
                                  f"{records.hsds_id('service_at_location', 2**45)}"])
def test_unknown_ids_are_json_404s(client, denver, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_errors_outside_the_views_are_json_too(client):
    """An unknown address and a refused method under /hsds answer the API's JSON error, as a
    client of the feed reads it, not an HTML page."""
    for method, path, status in (("GET", "/hsds/no-such-thing", 404),
                                 ("POST", "/hsds/services", 405)):
        response = client.open(path, method=method)
        assert response.status_code == status
        assert response.mimetype == "application/json"
        assert response.get_json()["error"]["message"]


def test_near_a_postcode_equals_the_sites_location_search(client, denver):
    for proximity in (1_000, 5_000, 50_000):
        body = client.get(f"/hsds/service_at_locations?postcode=80202&proximity={proximity}"
                          ).get_json()
        validate(SAL_PAGE, body)
        site = client.get(f"/api/v1/practitioners?near=80202&radius={proximity / 1000}"
                          "&unit=km&per_page=100").get_json()
        assert [records.database_id("service", s["service_id"]) for s in body["contents"]] \
            == [item["id"] for item in site["items"]], proximity
        assert body["total_items"] == site["total"]
    near = client.get("/hsds/service_at_locations?postcode=80202&proximity=5000").get_json()
    wide = client.get("/hsds/service_at_locations?postcode=80202&proximity=50000").get_json()
    assert [records.database_id("service", s["service_id"]) for s in wide["contents"]] == [
        denver["near"], denver["second"], denver["far"]]  # nearest first
    assert denver["far"] not in [records.database_id("service", s["service_id"])
                                 for s in near["contents"]]  # the metres limit it


def test_proximity_is_in_metres(client, denver):
    # Second Nearest is about 2 km east of Near Downtown: in at 5 km, out at 1.5 km (both
    # around the 80202 centroid, which is close to Near Downtown).
    def found(metres):
        body = client.get(f"/hsds/service_at_locations?postcode=80202&proximity={metres}"
                          ).get_json()
        return {records.database_id("service", s["service_id"]) for s in body["contents"]}
    assert denver["second"] in found(5000)
    assert denver["second"] not in found(1000)
    assert denver["near"] in found(1000)


def test_service_at_locations_without_a_postcode_and_by_id(client, denver):
    body = client.get("/hsds/service_at_locations?full=true").get_json()
    validate(SAL_PAGE, body)
    assert body["total_items"] == 3
    sal_id = records.hsds_id("service_at_location", denver["near_location"])
    assert sal_id in [s["id"] for s in body["contents"]]
    response = client.get(f"/hsds/service_at_locations/{sal_id}")
    assert response.status_code == 200
    one = response.get_json()
    validate(object_schema("service_at_location"), one)
    validate(object_schema("service"), one["service"])
    assert one["location"]["id"] == records.hsds_id("location", denver["near_location"])


def test_organizations(client, denver):
    body = client.get("/hsds/organizations").get_json()
    validate(ORGANIZATION_PAGE, body)
    assert body["total_items"] == 3
    org_id = records.hsds_id("organization", denver["near"])
    response = client.get(f"/hsds/organizations/{org_id}")
    assert response.status_code == 200
    one = response.get_json()
    validate(object_schema("organization"), one)
    validate({"type": "array", "items": object_schema("service")}, one["services"])
    assert one["services"][0]["organization_id"] == org_id
    assert one["locations"][0]["name"] == "Near Downtown Clinic"
    services = client.get(f"/hsds/services?organization_id={org_id}").get_json()
    assert [s["id"] for s in services["contents"]] == [records.hsds_id("service",
                                                                       denver["near"])]


def test_paging(client, app):
    with app.app_context():
        for i in range(7):
            listed_at(*offset(*DENVER, km_north=i), f"Paged {i}")
    seen = []
    for page in (1, 2, 3):
        body = client.get(f"/hsds/services?page={page}&per_page=3").get_json()
        validate(SERVICE_PAGE, body)
        assert (body["total_items"], body["total_pages"], body["page_number"]) == (7, 3, page)
        assert body["first_page"] == (page == 1) and body["last_page"] == (page == 3)
        assert body["size"] == len(body["contents"]) == (3 if page < 3 else 1)
        seen += [s["id"] for s in body["contents"]]
    assert len(set(seen)) == 7
    past = client.get("/hsds/services?page=4&per_page=3").get_json()
    validate(SERVICE_PAGE, past)
    assert past["contents"] == [] and past["empty"] and past["last_page"]
    # The same paging near a postcode.
    pages = [client.get(f"/hsds/service_at_locations?postcode=80202&proximity=20000&page={n}"
                        "&per_page=4").get_json() for n in (1, 2)]
    assert [p["size"] for p in pages] == [4, 3]
    assert pages[0]["total_items"] == 7 and pages[0]["total_pages"] == 2
    whole = client.get("/hsds/service_at_locations?postcode=80202&proximity=20000"
                       "&per_page=100").get_json()
    assert [s["id"] for p in pages for s in p["contents"]] == [s["id"] for s in
                                                               whole["contents"]]


def test_search_minimal_and_modified_after(client, denver):
    body = client.get("/hsds/services?search=thirty").get_json()
    validate(SERVICE_PAGE, body)
    assert [s["name"] for s in body["contents"]] == ["Dry needling — Thirty North"]
    near = client.get("/hsds/service_at_locations?postcode=80202&proximity=50000"
                      "&search=second").get_json()
    assert [records.database_id("service", s["service_id"]) for s in near["contents"]] == [
        denver["second"]]
    minimal = client.get("/hsds/services?minimal=true").get_json()
    validate(SERVICE_PAGE, minimal)
    assert set(minimal["contents"][0]) == {"id", "name", "status", "last_modified"}
    assert client.get("/hsds/services?modified_after=2000-01-01").get_json()["total_items"] == 3
    future = (utcnow() + timedelta(days=1)).isoformat()
    assert client.get("/hsds/services", query_string={"modified_after": future}
                      ).get_json()["total_items"] == 0
    full = client.get("/hsds/services?full=true").get_json()
    validate(SERVICE_PAGE, full)
    validate({"type": "array", "items": object_schema("service")}, full["contents"])


@pytest.mark.parametrize(("query", "field", "words"), [
    ("/hsds/services?page=0", "page", "between 1"),
    ("/hsds/services?page=two", "page", "whole number"),
    ("/hsds/services?page=99999999999999999999", "page", "between 1"),
    ("/hsds/services?per_page=1000", "per_page", "between 1 and 100"),
    ("/hsds/services?minimal=yes", "minimal", "true or false"),
    ("/hsds/services?modified_after=yesterday", "modified_after", "ISO 8601"),
    ("/hsds/services?modified_after=0001-01-01T00:00:00%2B01:00", "modified_after", "ISO 8601"),
    ("/hsds/services?modified_after=9999-12-31T23:59:59-01:00", "modified_after", "ISO 8601"),
    (f"/hsds/services?organization_id={records.hsds_id('organization', 2**33)}",
     "organization_id", "not the id"),
    ("/hsds/services?organization_id=12", "organization_id", "not the id"),
    ("/hsds/services?taxonomy_id=x", "taxonomy_id", "no taxonomy"),
    ("/hsds/services?format=xml", "format", "json"),
    ("/hsds/services?search=%21%21", "search", ""),
    ("/hsds/service_at_locations?proximity=1000", "proximity", "give postcode"),
    ("/hsds/service_at_locations?postcode=80202&proximity=-5", "proximity", "between 1"),
    ("/hsds/service_at_locations?postcode=80202&proximity=far", "proximity", "metres"),
    ("/hsds/service_at_locations?postcode=80202&proximity=nan", "proximity", "between 1"),
    ("/hsds/service_at_locations?postcode=80202&proximity=600000", "proximity", "500000"),
    ("/hsds/service_at_locations?postcode=ZZ999ZZQ&proximity=1000", "postcode", ""),
    ("/hsds/service_at_locations?postcode=Denver&proximity=1000", "postcode", "not a postcode"),
    ("/hsds/service_at_locations?postcode=80202&organization_id=x", "organization_id",
     "not the id"),
])
def test_bad_parameters_are_json_400s(client, denver, query, field, words):
    response = client.get(query)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.is_json
    refused = response.get_json()["error"]
    assert refused["field"] == field
    assert words in refused["message"] and refused["message"]


def test_junk_is_never_a_server_error(client, denver):
    junk = ["%00", "a%00b", "%FF%FE", "x" * 5000, "-1", "99999999999999999999999", "1e309"]
    names = ["search", "page", "per_page", "organization_id", "modified_after", "minimal",
             "full", "postcode", "proximity", "format", "taxonomy_id"]
    for path in ("/hsds/services", "/hsds/service_at_locations", "/hsds/organizations"):
        for value in junk:
            for name in names:
                extra = "&postcode=80202" if name == "proximity" else ""
                response = client.get(f"{path}?{name}={value}{extra}")
                assert response.status_code in (200, 400), (path, name, value)
                assert response.is_json
    for value in junk:
        for path in ("/hsds/services/", "/hsds/organizations/", "/hsds/service_at_locations/"):
            assert client.get(path + value).status_code == 404


def test_absolute_links_come_from_site_url(client, denver):
    body = client.get("/hsds/services", headers={"Host": "evil.example"}).get_json()
    assert "evil.example" not in json.dumps(body)
    assert math.isfinite(body["total_items"])


# --------------------------------------------------------------------------- the OpenAPI document


@pytest.fixture
def spec(client) -> dict:
    document = client.get("/api/v1/openapi.json").get_json()
    validate_spec(document)
    return document


def test_every_hsds_route_is_in_the_openapi_document(app, spec):
    routes = {rule.rule.removeprefix("/hsds").replace("<service_id>", "{id}")
              .replace("<service_at_location_id>", "{id}").replace("<organization_id>", "{id}")
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("hsds.")}
    described = {path for path, item in spec["paths"].items()
                 if item.get("servers") == [{"url": "http://127.0.0.1:5000/hsds",
                                             "description": "The Open Referral HSDS 3.0 API"}]}
    assert routes == described
    for path in described:
        operation = spec["paths"][path]["get"]
        assert operation["summary"] and "200" in operation["responses"]
        for parameter in operation.get("parameters", []):
            assert parameter["description"], (path, parameter["name"])


def _check(spec: dict, path: str, status: str, payload) -> None:
    """Validate an answer against what the document says of that path and status."""
    schema = (spec["paths"][path]["get"]["responses"][status]["content"]["application/json"]
              ["schema"])
    registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents({"components": spec["components"],
                                               "$schema":
                                               "https://json-schema.org/draft/2020-12/schema"}))
    wrapped = json.loads(json.dumps(schema).replace('"#/components/', '"urn:openapi#/components/'))
    jsonschema.Draft202012Validator({"$schema": "https://json-schema.org/draft/2020-12/schema",
                                     **wrapped}, registry=registry,
                                    format_checker=FORMATS).validate(payload)


def test_the_answers_match_the_openapi_document(client, spec, denver):
    service_id = records.hsds_id("service", denver["near"])
    sal_id = records.hsds_id("service_at_location", denver["near_location"])
    org_id = records.hsds_id("organization", denver["near"])
    for path, url in [("/", "/hsds/"), ("/services", "/hsds/services?full=true"),
                      ("/services", "/hsds/services?minimal=true"),
                      ("/services/{id}", f"/hsds/services/{service_id}"),
                      ("/service_at_locations",
                       "/hsds/service_at_locations?postcode=80202&proximity=9000"),
                      ("/service_at_locations/{id}", f"/hsds/service_at_locations/{sal_id}"),
                      ("/organizations", "/hsds/organizations?full=true"),
                      ("/organizations/{id}", f"/hsds/organizations/{org_id}")]:
        response = client.get(url)
        assert response.status_code == 200, url
        _check(spec, path, "200", response.get_json())
    _check(spec, "/services", "400", client.get("/hsds/services?page=0").get_json())
    _check(spec, "/services/{id}", "404", client.get("/hsds/services/x").get_json())
    _check(spec, "/service_at_locations", "400",
           client.get("/hsds/service_at_locations?proximity=5").get_json())
