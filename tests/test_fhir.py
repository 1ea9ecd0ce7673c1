"""The FHIR R4 directory API at /fhir: every answer parsed with fhir.resources' R4B models (the
closest it ships to R4), and what those models do not check: search.mode, the near semantics
(latitude first, km by default, the site's own search), who appears, paging, and the 400 and
404 OperationOutcomes."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner as FhirPractitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.verificationresult import VerificationResult
from sqlalchemy import select

from directory.extensions import db
from directory.fhir import params, resources
from directory.fhir.finders import TYPES
from directory.models import Licence, OpeningHours, PracticeLocation
from directory.models.base import utcnow
from tests.factories import DENVER, listed_at, make_certification, offset

SITE = "http://127.0.0.1:5000"
MODELS = {"Practitioner": FhirPractitioner, "PractitionerRole": PractitionerRole,
          "Location": Location, "Organization": Organization,
          "VerificationResult": VerificationResult}
FHIR_JSON = "application/fhir+json"


@pytest.fixture
def world(app):
    """Searchable practitioners near Denver (one 30 km north), one licensed in New South
    Wales, one at 10° N 20° E; and two who must never appear: one not listed, one listed but
    not confirmed accurate within 12 months (so not searchable)."""
    from datetime import time

    with app.app_context():
        near = listed_at(39.7525, -104.9995, "Ann Marie Lee", npi="1234567893",
                         licence_country="US", licence_region="US-CO",
                         post_nominals="PT, DPT", accessible=True)
        loc = near.locations[0]
        db.session.add_all([OpeningHours(location=loc, weekday=day, opens=time(8),
                                         closes=time(17)) for day in range(5)])
        # Never published: an expired and a pending certification of hers.
        make_certification(near, status="verified", expires_on=utcnow().date()
                           - timedelta(days=1))
        make_certification(near)
        far = listed_at(*offset(*DENVER, km_north=30), "Bob Far", licence_country="US",
                        licence_region="US-CO", accepting=False)
        sydney = listed_at(-33.87, 151.21, "Chloe Sydney", licence_country="AU",
                           licence_region="AU-NSW")
        equator = listed_at(10.0, 20.0, "Dan Equator", licence_country="TD")
        hidden = listed_at(39.75, -104.99, "Hidden Person", listed=False)
        stale = listed_at(39.751, -104.991, "Stale Person",
                          attested_at=utcnow() - timedelta(days=400))
        db.session.commit()
        return {
            "near": near.id, "far": far.id, "sydney": sydney.id, "equator": equator.id,
            "hidden": hidden.id, "stale": stale.id, "near_location": loc.id,
            "hidden_location": hidden.locations[0].id, "stale_location": stale.locations[0].id,
            "licence": db.session.scalar(select(Licence.id).where(
                Licence.practitioner_id == near.id)),
            "hidden_licence": db.session.scalar(select(Licence.id).where(
                Licence.practitioner_id == stale.id)),
            "searchable": {near.id, far.id, sydney.id, equator.id},
        }


def fhir(client, url: str, status: int = 200) -> dict:
    """GET a /fhir address: the status and media type checked, the JSON body."""
    response = client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True)[:500])
    assert response.mimetype == FHIR_JSON, url
    return response.get_json()


def bundle(client, url: str) -> dict:
    """A search: a searchset Bundle whose entries all parse as their type and are matches."""
    body = fhir(client, url)
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    assert body["link"][0]["relation"] == "self"
    for link in body["link"]:
        assert link["url"].startswith(f"{SITE}/fhir/")
    for entry in body.get("entry", []):
        resource = entry["resource"]
        MODELS[resource["resourceType"]].model_validate(resource)
        assert entry["search"]["mode"] == "match"
        assert entry["fullUrl"] == f"{SITE}/fhir/{resource['resourceType']}/{resource['id']}"
        assert params.ID_PATTERN.fullmatch(resource["id"])
    return body


def refused(client, url: str, status: int = 400) -> dict:
    """An OperationOutcome with the status; its one issue."""
    body = fhir(client, url, status)
    OperationOutcome.model_validate(body)
    issue = body["issue"][0]
    assert issue["severity"] == "error"
    return issue


def ids(body: dict) -> list[str]:
    return [e["resource"]["id"] for e in body.get("entry", [])]


def extension(element: dict, url: str) -> dict | None:
    return next((e for e in element.get("extension", []) if e["url"] == url), None)


# ------------------------------------------------------------------------------ metadata

def test_the_capability_statement_documents_what_the_parser_accepts(client):
    body = fhir(client, "/fhir/metadata")
    CapabilityStatement.model_validate(body)
    assert body["fhirVersion"] == "4.0.1" and body["kind"] == "instance"
    assert body["status"] == "active" and "json" in body["format"]
    assert body["implementation"]["url"] == f"{SITE}/fhir"
    assert f"{SITE}/fhir/StructureDefinition/where-valid-iso3166-2" in body["description"]
    rest = body["rest"][0]
    assert rest["mode"] == "server"
    assert [r["type"] for r in rest["resource"]] == list(TYPES)
    for entry in rest["resource"]:
        assert {i["code"] for i in entry["interaction"]} == {"read", "search-type"}
        documented = [p["name"] for p in entry["searchParam"]]
        assert documented == [p.name for p in params.SEARCH_PARAMS[entry["type"]]]
        assert all(p["documentation"] and p["type"] for p in entry["searchParam"])
        # Each documented parameter is accepted (an empty value is refused for itself, not
        # as an unknown parameter); an undocumented one is refused as not supported.
        for name in documented:
            issue = refused(client, f"/fhir/{entry['type']}?{name}=")
            assert issue["code"] == "invalid" and issue["diagnostics"].startswith(name)
        issue = refused(client, f"/fhir/{entry['type']}?address-city=Denver")
        assert issue["code"] == "not-supported" and "address-city" in issue["diagnostics"]
    assert {p["name"] for p in rest["searchParam"]} == {p.name for p in params.RESULT_PARAMS}
    assert fhir(client, "/fhir/metadata?_format=json") == body
    refused(client, "/fhir/metadata?_format=xml")


# --------------------------------------------------------------------------- Practitioner

def test_a_practitioner_with_licence_and_training_qualifications(client, world):
    body = fhir(client, f"/fhir/Practitioner/{world['near']}")
    FhirPractitioner.model_validate(body)
    assert body["id"] == str(world["near"]) and body["meta"]["lastUpdated"]
    assert body["name"][0] == {"use": "official", "text": "Ann Marie Lee", "family": "Lee",
                               "given": ["Ann", "Marie"], "suffix": ["PT", "DPT"]}
    by_type = {i["type"]["coding"][0]["code"]: i for i in body["identifier"]}
    assert by_type["NPI"]["system"] == "http://hl7.org/fhir/sid/us-npi"
    assert by_type["NPI"]["value"] == "1234567893"
    licence_number = by_type["LN"]
    assert licence_number["system"] == f"{SITE}/fhir/NamingSystem/licence-US-CO"
    licence, training = body["qualification"]  # not the expired or the pending one
    scope = extension(licence, resources.NDH_QUALIFICATION)
    assert {"url": "status", "valueCode": "active"} in scope["extension"]
    where = next(e for e in scope["extension"] if e["url"] == "whereValid")
    assert where["valueCodeableConcept"]["coding"] == [{"system": "https://www.usps.com/",
                                                        "code": "CO"}]
    assert licence["code"]["coding"][0]["code"] == "physiotherapist"
    assert training["code"]["coding"][0]["system"] == f"{SITE}/fhir/CodeSystem/training-program"
    assert training["period"]["start"] == "2024-01-15"
    assert training["issuer"]["reference"].startswith("Organization/")
    organisation = fhir(client, f"/fhir/{training['issuer']['reference']}")
    Organization.model_validate(organisation)
    assert organisation["name"] == training["issuer"]["display"] == "Test Organisation"
    status = extension(body, resources.NDH_VERIFICATION_STATUS)
    assert status["valueCodeableConcept"]["coding"][0]["code"] == "complete"


def test_a_licence_outside_the_us_is_valid_in_an_iso_3166_2_region(client, world):
    body = fhir(client, f"/fhir/Practitioner/{world['sydney']}")
    licence = body["qualification"][0]
    scope = extension(licence, resources.NDH_QUALIFICATION)
    assert [e["url"] for e in scope["extension"]] == ["status"]  # no USPS whereValid
    own = extension(licence, f"{SITE}/fhir/StructureDefinition/where-valid-iso3166-2")
    assert own["valueCodeableConcept"]["coding"] == [{"system": "urn:iso:std:iso:3166:-2",
                                                      "code": "AU-NSW"}]
    country_only = fhir(client, f"/fhir/Practitioner/{world['equator']}")["qualification"][0]
    own = extension(country_only, f"{SITE}/fhir/StructureDefinition/where-valid-iso3166-2")
    assert own["valueCodeableConcept"]["coding"][0] == {"system": "urn:iso:std:iso:3166",
                                                        "code": "TD"}


def test_only_searchable_practitioners_appear_anywhere(client, world):
    for who in ("hidden", "stale"):
        issue = refused(client, f"/fhir/Practitioner/{world[who]}", 404)
        assert issue["code"] == "not-found"
        refused(client, f"/fhir/PractitionerRole/{world[f'{who}_location']}", 404)
        refused(client, f"/fhir/Location/{world[f'{who}_location']}", 404)
        assert bundle(client, f"/fhir/VerificationResult?target={world[who]}")["total"] == 0
        assert bundle(client, f"/fhir/PractitionerRole?practitioner={world[who]}")["total"] == 0
    refused(client, f"/fhir/VerificationResult/licence-{world['hidden_licence']}", 404)
    everyone = bundle(client, "/fhir/Practitioner?_count=100")
    assert everyone["total"] == 4
    assert set(ids(everyone)) == {str(i) for i in world["searchable"]}
    locations = bundle(client, "/fhir/Location?_count=100")
    assert locations["total"] == 4
    assert str(world["hidden_location"]) not in ids(locations)
    assert bundle(client, "/fhir/PractitionerRole")["total"] == 4
    near_hidden = bundle(client, "/fhir/Location?near=39.75|-104.99|5")
    assert {e["resource"]["name"] for e in near_hidden["entry"]} == {"Ann Marie Lee Clinic"}


@pytest.mark.parametrize(("query", "found"), [
    ("name=ann", {"near"}), ("name=LEE", {"near"}), ("name=marie%20lee", {"near"}),
    ("name=ee", set()), ("family=lee", {"near"}), ("family=ann", set()),
    ("given=mar", {"near"}), ("given=lee", set()), ("given=bob&family=far", {"far"}),
    ("name=hidden", set()), ("_id=WORLD", {"near", "far"}),
])
def test_practitioner_name_search(client, world, query, found):
    query = query.replace("WORLD", f"{world['near']},{world['far']},{world['hidden']}")
    body = bundle(client, f"/fhir/Practitioner?{query}")
    assert set(ids(body)) == {str(world[who]) for who in found}
    assert body["total"] == len(found)


def test_last_updated(client, world):
    today = utcnow().date()
    for query, total in ((f"ge{today - timedelta(days=1)}", 4), (f"{today}", 4),
                         ("lt2000", 0), (f"gt{today + timedelta(days=1)}", 0),
                         (f"le{today}T23:59:59Z", 4), (f"ne{today.year}", 0),
                         (f"ge{today.year}-{today.month:02d}", 4)):
        assert bundle(client, f"/fhir/Practitioner?_lastUpdated={query}")["total"] == total, \
            query
    assert bundle(client, "/fhir/Practitioner?_lastUpdated=9999")["total"] == 0
    assert bundle(client, f"/fhir/Practitioner?_lastUpdated=ge{today}"
                          f"&_lastUpdated=lt{today}")["total"] == 0
    for kind in TYPES:
        assert bundle(client, f"/fhir/{kind}?_lastUpdated=lt2000")["total"] == 0
        assert bundle(client, f"/fhir/{kind}?_lastUpdated=ge2000")["total"] > 0


# ---------------------------------------------------------------- PractitionerRole, Location

def test_a_practitioner_role(client, world):
    body = bundle(client, f"/fhir/PractitionerRole?practitioner=Practitioner/{world['near']}")
    assert body["total"] == 1
    role = body["entry"][0]["resource"]
    assert role["id"] == str(world["near_location"])
    assert role["practitioner"]["reference"] == f"Practitioner/{world['near']}"
    assert role["location"][0]["reference"] == f"Location/{world['near_location']}"
    assert role["specialty"][0]["coding"][0]["code"] == "dry-needling"
    new_patients = extension(role, resources.NDH_NEW_PATIENTS)
    assert new_patients["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "newpt"
    scope = extension(role, f"{SITE}/fhir/StructureDefinition/dry-needling-scope")
    parts = {e["url"]: e for e in scope["extension"]}
    assert parts["verdict"]["valueCode"] in ("yes", "no", "unclear", "unknown")
    assert parts["jurisdiction"]["valueCodeableConcept"]["coding"][0]["code"] == "US-CO"
    assert fhir(client, f"/fhir/PractitionerRole/{world['near_location']}") == role
    far = bundle(client, f"/fhir/PractitionerRole?practitioner={world['far']}")
    far_role = far["entry"][0]["resource"]
    assert extension(far_role, resources.NDH_NEW_PATIENTS)["extension"][0][
        "valueCodeableConcept"]["coding"][0]["code"] == "nopt"
    by_location = bundle(client, f"/fhir/PractitionerRole?location={world['near_location']}")
    assert ids(by_location) == [role["id"]]
    system = role["specialty"][0]["coding"][0]["system"]
    assert bundle(client, f"/fhir/PractitionerRole?specialty={system}|dry-needling")[
        "total"] == 4
    assert bundle(client, "/fhir/PractitionerRole?specialty=acupuncture")["total"] == 0
    assert bundle(client, "/fhir/PractitionerRole?specialty=http://other|dry-needling")[
        "total"] == 0


def test_a_location(client, world):
    body = fhir(client, f"/fhir/Location/{world['near_location']}")
    Location.model_validate(body)
    assert body["position"] == {"latitude": 39.7525, "longitude": -104.9995}
    assert body["address"]["city"] == "Denver" and body["address"]["country"] == "US"
    assert body["hoursOfOperation"] == [{"daysOfWeek": ["mon", "tue", "wed", "thu", "fri"],
                                         "openingTime": "08:00:00",
                                         "closingTime": "17:00:00"}]
    access = extension(body, resources.NDH_ACCESSIBILITY)
    assert access["valueCodeableConcept"]["text"] == "Wheelchair accessible"


# ------------------------------------------------------------------------------------ near

def test_near_answers_like_the_location_search(client, world):
    lat, lng = DENVER
    body = bundle(client, f"/fhir/Location?near={lat}|{lng}|50|km")
    api = client.get(f"/api/v1/practitioners?lat={lat}&lng={lng}&radius=50&unit=km").get_json()
    assert body["total"] == api["total"] == 2
    assert [e["resource"]["name"] for e in body["entry"]] == [
        i["location"]["name"] for i in api["items"]]
    distances = [e["search"]["extension"][0] for e in body["entry"]]
    assert all(d["url"] == "http://hl7.org/fhir/StructureDefinition/location-distance"
               for d in distances)
    assert [d["valueDistance"]["value"] for d in distances] == [
        i["distance_km"] for i in api["items"]]
    assert distances == sorted(distances, key=lambda d: d["valueDistance"]["value"])
    assert {d["valueDistance"]["code"] for d in distances} == {"km"}


def test_near_is_latitude_first(client, world):
    assert ids(bundle(client, "/fhir/Location?near=10|20|5")) != []
    assert bundle(client, "/fhir/Location?near=20|10|5")["total"] == 0
    # Denver's coordinates swapped: no latitude is -104.99.
    issue = refused(client, f"/fhir/Location?near={DENVER[1]}|{DENVER[0]}|50")
    assert "latitude" in issue["diagnostics"]


@pytest.mark.parametrize(("distance", "found"), [
    ("25", 1), ("35", 2), ("25|km", 1), ("35000|m", 2), ("25000|m", 1), ("20|[mi_i]", 2),
    ("18|[mi_i]", 1), ("", 1),  # left out: the search page's 25 km
])
def test_near_distance_is_in_km_unless_a_unit_says_otherwise(client, world, distance, found):
    query = f"{DENVER[0]}|{DENVER[1]}" + (f"|{distance}" if distance else "")
    assert bundle(client, f"/fhir/Location?near={query}")["total"] == found


# ------------------------------------------------------------------ Organization, results

def test_verification_results_for_licence_and_certification(client, world):
    body = bundle(client, f"/fhir/VerificationResult?target=Practitioner/{world['near']}")
    assert body["total"] == 2
    licence, certification = (e["resource"] for e in body["entry"])
    assert licence["id"] == f"licence-{world['licence']}"
    assert certification["id"].startswith("certification-")
    with client.application.app_context():
        next_due = db.session.get(Licence, world["licence"]).next_due
    assert licence["nextScheduled"] == next_due.isoformat()
    assert licence["status"] == certification["status"] == "validated"
    assert licence["primarySource"][0]["type"][0]["coding"][0]["code"] == "lic-board"
    practitioner = fhir(client, f"/fhir/Practitioner/{world['near']}")
    assert certification["targetLocation"] == ["Practitioner.qualification[1]"]
    assert certification["primarySource"][0]["who"] == practitioner["qualification"][1]["issuer"]
    for resource in (licence, certification):
        assert fhir(client, f"/fhir/VerificationResult/{resource['id']}") == resource
    assert bundle(client, "/fhir/VerificationResult")["total"] == 8  # 4 licences, 4 certificates
    assert ids(bundle(client, f"/fhir/VerificationResult?_id={licence['id']}")) == [
        licence["id"]]
    refused(client, "/fhir/VerificationResult/licence-999999", 404)
    refused(client, "/fhir/VerificationResult/other-1", 404)


def test_training_organisations(client, world):
    body = bundle(client, "/fhir/Organization")
    assert [e["resource"]["name"] for e in body["entry"]] == ["Test Organisation"]
    org = body["entry"][0]["resource"]
    assert ids(bundle(client, "/fhir/Organization?name=organ")) == [org["id"]]
    assert bundle(client, "/fhir/Organization?name=nothing")["total"] == 0
    assert ids(bundle(client, f"/fhir/Organization?_id={org['id']}")) == [org["id"]]
    refused(client, "/fhir/Organization/999999", 404)


# -------------------------------------------------------------------------------- paging

def test_names_match_without_regard_to_accents_or_case(app, client):
    """FHIR's string search ignores case and accents, on both databases (SQLite's lower()
    folds ASCII only): names are folded as the name search folds them."""
    with app.app_context():
        emile = listed_at(*DENVER, "Émile Östberg").id
    for query in ("name=émile", "name=EMILE", "name=Émile", "family=östberg", "family=OST",
                  "given=emi&family=ostberg"):
        body = bundle(client, f"/fhir/Practitioner?{query}")
        assert ids(body) == [str(emile)], query
    assert bundle(client, "/fhir/Practitioner?family=emile")["total"] == 0
    assert ids(bundle(client, "/fhir/Location?name=ostberg%20clinic")) == [
        str(loc) for loc in [bundle(client, "/fhir/Location")["entry"][0]["resource"]["id"]]]


def test_paging_with_count_and_the_next_link(client, world):
    seen = []
    url = "/fhir/Practitioner?_count=1"
    while url:
        body = bundle(client, url)
        assert body["total"] == 4 and len(body["entry"]) == 1
        seen += ids(body)
        following = [link["url"] for link in body["link"] if link["relation"] == "next"]
        assert len(following) <= 1
        url = following[0].removeprefix(SITE) if following else None
    assert len(seen) == 4 and set(seen) == {str(i) for i in world["searchable"]}
    only_total = bundle(client, "/fhir/Practitioner?_count=0")
    assert only_total["total"] == 4 and "entry" not in only_total
    assert [link["relation"] for link in only_total["link"]] == ["self"]  # no endless pages
    huge = "9" * 5000
    assert bundle(client, f"/fhir/Practitioner?_count={huge}")["total"] == 4
    refused(client, f"/fhir/Practitioner?_page={huge}")
    capped = bundle(client, "/fhir/Practitioner?_count=5000")
    self_link = parse_qs(urlsplit(capped["link"][0]["url"]).query)
    assert self_link["_count"] == [str(params.MAX_COUNT)]
    # near pages the site's search the same way.
    first = bundle(client, f"/fhir/Location?near={DENVER[0]}|{DENVER[1]}|50&_count=1")
    assert first["total"] == 2 and len(first["entry"]) == 1
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert "near=" in following
    second = bundle(client, following.removeprefix(SITE))
    assert ids(second) != ids(first) and len(second["entry"]) == 1
    assert not [link for link in second["link"] if link["relation"] == "next"]
    assert "entry" not in bundle(client, "/fhir/Practitioner?_page=9")


# -------------------------------------------------------------------------------- errors

@pytest.mark.parametrize(("url", "parameter", "code"), [
    ("/fhir/Practitioner?foo=1", "foo", "not-supported"),
    ("/fhir/Practitioner?name:exact=Lee", "name", "not-supported"),
    ("/fhir/Practitioner?_count=-1", "_count", "invalid"),
    ("/fhir/Practitioner?_count=ten", "_count", "invalid"),
    ("/fhir/Practitioner?_page=0", "_page", "invalid"),
    ("/fhir/Practitioner?_lastUpdated=2026-13-01", "_lastUpdated", "invalid"),
    ("/fhir/Practitioner?_lastUpdated=yesterday", "_lastUpdated", "invalid"),
    ("/fhir/Practitioner?_lastUpdated=sa2026", "_lastUpdated", "not-supported"),
    ("/fhir/Practitioner?_lastUpdated=2026-02-30", "_lastUpdated", "invalid"),
    ("/fhir/Practitioner?_lastUpdated=0001-01-01T00:00%2B01:00", "_lastUpdated", "invalid"),
    ("/fhir/Practitioner?_lastUpdated=9999-12-31T23:59-01:00", "_lastUpdated", "invalid"),
    ("/fhir/Practitioner?_id=a%00b", "_id", "invalid"),
    ("/fhir/Practitioner?name=a&name=b", "name", "invalid"),
    ("/fhir/Practitioner?_format=xml", "_format", "not-supported"),
    ("/fhir/PractitionerRole?practitioner=Location/1", "practitioner", "invalid"),
    ("/fhir/Location?near=abc", "near", "invalid"),
    ("/fhir/Location?near=39.7", "near", "invalid"),
    ("/fhir/Location?near=95|10|5", "near", "invalid"),
    ("/fhir/Location?near=39.7|-104.9|nan", "near", "invalid"),
    ("/fhir/Location?near=39.7|-104.9|0", "near", "invalid"),
    ("/fhir/Location?near=39.7|-104.9|600", "near", "invalid"),
    ("/fhir/Location?near=39.7|-104.9|5|mi", "near", "not-supported"),
    ("/fhir/Location?near=39.7|-104.9|5&_id=1", "_id", "not-supported"),
    ("/fhir/Practitioner/1?name=x", "name", "not-supported"),
])
def test_bad_parameters_are_a_400_operation_outcome(client, url, parameter, code):
    issue = refused(client, url)
    assert issue["code"] == code
    assert issue["diagnostics"].startswith(f"{parameter}:"), issue["diagnostics"]


@pytest.mark.parametrize(("url", "status"), [
    ("/fhir/Patient", 404), ("/fhir/Patient/1", 404), ("/fhir/Practitioner/999999", 404),
    ("/fhir/Practitioner/abc", 404), ("/fhir/Practitioner/99999999999999999999999", 404),
    ("/fhir/Practitioner/1/_history", 404), ("/fhir", 404), ("/fhir/", 404),
])
def test_unknown_types_ids_and_addresses_are_a_404_operation_outcome(client, url, status):
    issue = refused(client, url, status)
    assert issue["code"] in ("not-found", "not-supported")


def test_other_methods_are_refused_as_fhir(client):
    response = client.post("/fhir/Practitioner", json={"resourceType": "Practitioner"})
    assert response.status_code == 405 and response.mimetype == FHIR_JSON
    OperationOutcome.model_validate(response.get_json())


JUNK = ["%00", "%FF%FE", "x" * 3000, "-1", "99999999999999999999999", "|||", "ge", "1e309",
        "Practitioner/", "%7C", "a,b,,", "lt-0001"]


def test_no_input_is_a_server_error(client, world):
    for kind in TYPES:
        names = [p.name for p in (*params.SEARCH_PARAMS[kind], *params.RESULT_PARAMS)]
        for junk in JUNK:
            for url in (f"/fhir/{kind}/{junk}", f"/fhir/{junk}",
                        *(f"/fhir/{kind}?{name}={junk}" for name in names)):
                response = client.get(url)
                assert response.status_code < 500, url
                assert response.mimetype == FHIR_JSON, url


def test_markup_in_names_is_escaped(client, world):
    with client.application.app_context():
        location = db.session.get(PracticeLocation, world["near_location"])
        location.clinic_name = "<b>Clinic</b> & co"
        db.session.commit()
    response = client.get(f"/fhir/Location/{world['near_location']}")
    assert b"<b>" not in response.data and b"\\u003cb\\u003e" in response.data
    assert response.get_json()["name"] == "<b>Clinic</b> & co"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
