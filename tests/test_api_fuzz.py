"""Fuzzing the JSON API with schemathesis, in process, from the OpenAPI document it serves.

Every generated request — parameters that fit the document (positive) and parameters that break
it (negative) — must get an answer the document describes: never a server error, a documented
status code and content type, and a body that matches the schema given for that status.
A request that fits the document is answered; one that breaks it is refused with a 4xx.
The number of examples is bounded and the run is derandomized, so every run takes about the same
time and tries the same requests.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from directory.extensions import db
from directory.models import Practitioner
from directory.search import names
from tests import factories
from tests.factories import DENVER, listed_at, offset

EXAMPLES = 150
SEARCH = ("/practitioners", "GET")
ONE = ("/practitioners/{practitioner_id}", "GET")
ENQUIRY = ("/practitioners/{practitioner_id}/enquiries", "POST")
REPORT = ("/practitioners/{practitioner_id}/reports", "POST")
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_schema_conformance]
CHECKS = {GenerationMode.POSITIVE: CONFORMANCE,
          GenerationMode.NEGATIVE: [*CONFORMANCE, negative_data_rejection]}
# Places the seeded practitioners are near, and ones that are not places at all; None leaves
# the generated query as it is, often without a place (the documented 400 place_required).
PLACES = ["80202", "Denver, CO", f"{DENVER[0]},{DENVER[1]}", "0,0", "SW1A", "M5V", "3000",
          "Portland", "zzzzqqq", None, None]
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture
def api_schema(app):
    """The document as the app serves it, over listed practitioners near the places the
    generator tends to ask about (Denver, the coordinates 0,0) and one that is not listed."""
    with app.app_context():
        listed_at(*DENVER, "Fuzz Near", tags={"technique": ["electrical"]}, accessible=True)
        listed_at(*offset(*DENVER, km_north=20), "Fuzz North")
        listed_at(0.0, 0.0, "Fuzz Null Island")
        factories.make_practitioner(full_name="Fuzz Unlisted")
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def test_the_document_describes_every_api_route(app, api_schema):
    routes = {rule.rule.removeprefix("/api/v1").replace("<int:practitioner_id>",
                                                         "{practitioner_id}")
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")}
    assert routes - {"/openapi.json"} == {SEARCH[0], ONE[0], ENQUIRY[0], REPORT[0]}


def lacks_a_place(query: dict | None) -> bool:
    """The one rule the document states in words (a query's parameters cannot say it): a search
    gives a place (`near`, or `lat` and `lng` together) or a name (`q`)."""
    query = query or {}
    has_coordinates = query.get("lat") is not None and query.get("lng") is not None
    return (not has_coordinates and not str(query.get("near") or "").strip()
            and not str(query.get("q") or "").strip())


def with_a_place(case, place: str | None):
    """The case with a place to search near, half the time; None: the case as generated."""
    if place is None:
        return case
    query = case.query if case.query is not None else {}
    has_lat, has_lng = query.get("lat") is not None, query.get("lng") is not None
    if has_lat != has_lng:
        query.pop("lat", None)
        query.pop("lng", None)
        has_lat = has_lng = False
    if not has_lat and not str(query.get("near") or "").strip():
        query["near"] = place
    case.query = query
    return case


def refused_for_a_documented_reason(case, body: dict) -> bool:
    """A valid search may still be answered 400 for what only the words of the document say:
    lat without lng (or the reverse), no place at all, a place nobody knows or several match, a
    page past the last one, a radius over 311 miles."""
    error = body["error"]
    query = case.query or {}
    if lacks_a_place(case.query):
        return error["code"] == "place_required" and error["field"] == "near"
    if (query.get("lat") is None) != (query.get("lng") is None):  # "together or not at all"
        return error["field"] in ("lat", "lng") and error["message"].startswith("Give both")
    if error["code"] in ("unknown_place", "ambiguous_place"):
        return True
    if error["field"] == "q":  # no letters or digits, or too many words, as the document says
        return error["message"] in (names.NO_WORDS, names.TOO_MANY_WORDS)
    if error["field"] == "page" and error["message"].startswith(("There is only",
                                                                  "There are only")):
        return True
    radius = float(case.query.get("radius") or 0)
    return error["field"] == "radius" and radius > 311 and "miles" in error["message"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_search_answer_matches_the_document(api_schema, mode):
    strategy = api_schema[SEARCH[0]][SEARCH[1]].as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        strategy = st.builds(with_a_place, strategy, st.sampled_from(PLACES))

    answers = {"with a place": set(), "without": set()}  # "with a place": or a name

    @SETTINGS
    @given(case=strategy)
    def run(case):
        response = case.call_and_validate(checks=CHECKS[mode])
        answers["without" if lacks_a_place(case.query) else "with a place"].add(
            response.status_code)
        if mode is GenerationMode.POSITIVE:
            assert response.status_code in (200, 400), response.text
            if response.status_code == 400:
                assert refused_for_a_documented_reason(case, response.json()), response.text

    run()
    if mode is GenerationMode.POSITIVE:
        # Both sides of the rule were tried: searches with a place or a name answered, and
        # without either refused as the document says.
        assert answers == {"with a place": {200, 400}, "without": {400}}, answers


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_practitioner_answer_matches_the_document(api_schema, mode):
    operation = api_schema[ONE[0]][ONE[1]]

    @SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call_and_validate(checks=CHECKS[mode])
        if mode is GenerationMode.POSITIVE:
            assert response.status_code in (200, 404), response.text

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("route", [ENQUIRY, REPORT], ids=["enquiry", "report"])
def test_every_answer_to_what_patients_send_matches_the_document(app, api_schema, mode, route):
    """Generated messages and reports, to listed practitioners and to ids nobody has: each
    answer is one the document lists, in its shape, and never a server error."""
    app.config["ENQUIRY_LIMITS"] = {"client": 10_000, "sender": 10_000, "practitioner": 10_000}
    operation = api_schema[route[0]][route[1]]
    statuses = set()
    with app.app_context():
        fuzz_near = db.session.scalar(select(Practitioner.id).where(
            Practitioner.full_name == "Fuzz Near"))

    @settings(SETTINGS, max_examples=60)
    @given(case=operation.as_strategy(generation_mode=mode), listed=st.sampled_from(
        [True, False]))
    def run(case, listed):
        if listed and mode is GenerationMode.POSITIVE:  # half to a listed practitioner
            case.path_parameters = {"practitioner_id": fuzz_near}
        response = case.call_and_validate(checks=CHECKS[mode])
        statuses.add(response.status_code)

    run()
    if mode is GenerationMode.POSITIVE:
        accepted = 202 if route is ENQUIRY else 201
        assert accepted in statuses and 404 in statuses, statuses
