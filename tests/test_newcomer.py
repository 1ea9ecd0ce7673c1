"""Fixes from a newcomer's walk through the site (issue 16): what a browser, a crawler and a
clinic embedding the directory meet first."""

from __future__ import annotations

import re

import pytest
from PIL import Image
from sqlalchemy import select

from directory import field_rules
from directory.extensions import db
from directory.models import Certification, PracticeLocation, Practitioner
from tests import factories
from tests.pages import field_error, form_values

DENVER = (39.7392, -104.9903)


def test_the_api_may_be_read_from_any_site(app, client):
    with app.app_context():
        p = factories.listed_at(*DENVER, "Avery Api")
        practitioner_id = p.id
    for url in ("/api/v1/practitioners?near=80202", f"/api/v1/practitioners/{practitioner_id}",
                "/api/v1/openapi.json", "/api/v1/practitioners?near=80202&radius=x",
                "/api/v1/practitioners/999999"):
        response = client.get(url, headers={"Origin": "https://clinic.example"})
        assert response.headers.get("Access-Control-Allow-Origin") == "*", url
        assert "Access-Control-Allow-Credentials" not in response.headers
    # The site's own pages are not opened to other sites.
    assert "Access-Control-Allow-Origin" not in client.get("/?near=80202").headers


def test_accepting_false_is_no_filter_and_the_document_says_so(app, client):
    with app.app_context():
        factories.listed_at(*DENVER, "Ann Accepting", accepting=True)
        factories.listed_at(*DENVER, "Noel Notaccepting", accepting=False)

    def names(query: str) -> list[str]:
        found = client.get(f"/api/v1/practitioners?near=80202{query}").get_json()
        return sorted(item["name"] for item in found["items"])

    assert names("") == names("&accepting=false") == ["Ann Accepting", "Noel Notaccepting"]
    assert names("&accepting=true") == ["Ann Accepting"]
    document = client.get("/api/v1/openapi.json").get_json()
    accepting = next(p for p in document["paths"]["/practitioners"]["get"]["parameters"]
                     if p["name"] == "accepting")
    assert accepting["description"].endswith("false is the same as leaving it out.")


def test_every_page_has_an_icon(client, tmp_path):
    page = client.get("/about").get_data(as_text=True)
    links = re.findall(r'<link rel="icon" href="([^"]+)"', page)
    assert links == ["/static/favicon.svg", "/favicon.ico"]
    with client.get(links[0]) as svg:
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
        assert svg.get_data(as_text=True).startswith("<svg")
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/vnd.microsoft.icon"
    (tmp_path / "favicon.ico").write_bytes(icon.data)
    with Image.open(tmp_path / "favicon.ico") as image:
        assert image.format == "ICO" and (32, 32) in image.info["sizes"]


def test_robots_keep_crawlers_to_the_public_pages(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "User-agent: *"
    disallowed = {line.split(": ", 1)[1] for line in lines[1:]}
    assert {"/admin/", "/account/", "/dashboard", "/issuer/"} <= disallowed
    assert not any(path in ("/", "/p/", "/verify", "/learn/") for path in disallowed)


# --------------------------------------------------------------------------- text that deceives

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: what follows it shows reversed
BIDI = field_rules.BIDI_MESSAGE


def test_a_name_with_a_text_direction_control_is_refused_and_a_bio_keeps_its_words(
        app, client, auth):
    from tests.test_profiles import post_profile

    with app.app_context():
        practitioner_id = factories.make_practitioner("bidi@example.com").id
    auth.login("bidi@example.com")
    refused = post_profile(client, full_name=f"Ana {RLO}zemóG", bio="Runners.")
    assert refused.status_code == 200
    assert field_error(refused, "full_name") == BIDI
    assert form_values(refused)["full_name"] == [f"Ana {RLO}zemóG"]  # kept, to correct
    saved = post_profile(client, full_name="Ana Gómez", bio=f"Runners {RLO}and\u2067 climbers.")
    assert saved.status_code == 302
    with app.app_context():
        p = db.session.get(Practitioner, practitioner_id)
        assert (p.full_name, p.bio) == ("Ana Gómez", "Runners and climbers.")


def test_a_reason_and_a_file_name_lose_their_text_direction_controls(app, client, auth):
    from tests.test_credentials import post_new

    with app.app_context():
        factories.make_practitioner("files@example.com", profession="physiotherapist")
        admin_email = factories.make_admin().email
    auth.login("files@example.com")
    response = post_new(client, evidence=(factories.pdf_bytes(), f"cert{RLO}fdp.exe.pdf"))
    assert response.status_code == 302
    with app.app_context():
        cert = db.session.scalars(select(Certification)).one()
        assert cert.evidence_original_name == "certfdp.exe.pdf"
        cert_id, version = cert.id, cert.version
    auth.logout()
    auth.login(admin_email)
    decided = client.post(f"/admin/certifications/{cert_id}", data={
        "action": "request_changes", "reason": f"Please send the {RLO}whole\u2066 page.",
        "version": str(version)})
    assert decided.status_code == 302
    with app.app_context():
        assert db.session.get(Certification, cert_id).reason == "Please send the whole page."


def test_the_import_refuses_text_direction_controls_by_row_and_column(app_ctx):
    from directory.bulk import importer
    from directory.credentials.reference import load_reference_data
    from tests.test_bulk import csv_bytes, row

    load_reference_data()
    report = importer.dry_run(csv_bytes(row(1), row(2, full_name=f"Ana {RLO}zemóG",
                                                    clinic_name=f"{RLO}cinilC")))
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (3, "full_name", BIDI), (3, "clinic_name", BIDI)]


# --------------------------------------------------------------------------- codes people can type


@pytest.fixture
def verified_code(app) -> str:
    """The public code of a verified certification issued now."""
    with app.app_context():
        p = factories.make_listed_practitioner(full_name="Cody Code")
        return db.session.scalars(select(Certification.public_code)
                                  .where(Certification.practitioner_id == p.id)).one()


def test_new_codes_are_unambiguous_and_shown_in_groups(client, verified_code):
    assert re.fullmatch(r"[0-9ABCDEFGHJKMNPQRSTVWXYZ]{20}", verified_code)
    response = client.get(f"/verify/{verified_code}")
    assert response.status_code == 200
    grouped = "-".join(verified_code[i:i + 4] for i in range(0, 20, 4))
    assert f"<code>{grouped}</code>" in response.get_data(as_text=True)


def typed_variants(code: str) -> list[str]:
    grouped = "-".join(code[i:i + 4] for i in range(0, 20, 4))
    return [code.lower(), grouped, grouped.lower().replace("-", " "),
            code.replace("0", "O").replace("1", "l"), f" {code} ",
            f"https://directory.example/verify/{grouped}", f"/verify/{code.lower()}?utm=x",
            f"http://127.0.0.1:5000/verify/{code}/"]


def test_a_code_is_found_however_it_is_typed_or_pasted(client, verified_code):
    for typed in typed_variants(verified_code):
        response = client.get("/verify", query_string={"code": typed})
        assert response.status_code == 302, typed
        check = client.get(response.headers["Location"], follow_redirects=True)
        assert check.status_code == 200, typed
        assert check.request.path == f"/verify/{verified_code}", typed
        assert "This certification is verified and current." in check.get_data(as_text=True)
    # The check's own address too, typed in lower case or in groups.
    lower = client.get(f"/verify/{verified_code.lower()}")
    assert lower.status_code == 302 and lower.headers["Location"].endswith(verified_code)


def test_a_code_issued_before_stays_valid_in_any_case(app, client):
    with app.app_context():
        p = factories.make_listed_practitioner(full_name="Olive Oldcode")
        cert = db.session.scalars(select(Certification)
                                  .where(Certification.practitioner_id == p.id)).one()
        cert.public_code = "Xk9_aB3-Qz7LmN2pRt5VwY"  # as token_urlsafe(16) made them
        db.session.commit()
    assert client.get("/verify/Xk9_aB3-Qz7LmN2pRt5VwY").status_code == 200
    typed = client.get("/verify", query_string={"code": "xk9_ab3-qz7lmn2prt5vwy"})
    check = client.get(typed.headers["Location"], follow_redirects=True)
    assert check.status_code == 200
    assert check.request.path == "/verify/Xk9_aB3-Qz7LmN2pRt5VwY"
    assert client.get("/verify/Xk9_aB3-Qz7LmN2pRt5VwZ").status_code == 404


# --------------------------------------------------------------------------- a location not placed


def checklist(response) -> dict[str, bool]:
    """The dashboard's steps: label → done."""
    items = re.findall(r'<li>.*?<span class="visually-hidden">(Done|To do):</span>(.*?)</li>',
                       response.get_data(as_text=True), re.S)
    return {" ".join(re.sub(r"<[^>]+>", " ", label).split()): state == "Done"
            for state, label in items}


def test_a_location_that_could_not_be_placed_stays_visibly_unfinished(app, client, auth):
    from tests.test_profiles import location_form

    step = "Add at least one practice location patients can find on the map"
    with app.app_context():
        factories.make_practitioner("place@example.com", profession="physiotherapist")
    auth.login("place@example.com")
    added = client.post("/profile/locations/new", data=location_form(
        clinic_name="Nowhere Clinic", city="Qzxwvillé", postcode="", region=""))
    assert added.status_code == 302
    with app.app_context():
        location_id = db.session.scalars(select(PracticeLocation.id)).one()
    for _ in range(2):  # not a one-time message: every visit says it
        dashboard = client.get("/dashboard")
        assert checklist(dashboard)[step] is False
        notice = re.search(rf'<p class="notice" id="unplaced-{location_id}">(.*?)</p>',
                           dashboard.get_data(as_text=True), re.S)
        assert notice and "“Nowhere Clinic” is not on the map." in notice.group(1)
        assert f'href="/profile/locations/{location_id}/edit"' in notice.group(1)
        assert "Not on the map" in dashboard.get_data(as_text=True)
    edit = client.get(f"/profile/locations/{location_id}/edit")
    assert 'id="unplaced"' in edit.get_data(as_text=True)

    fixed = client.post(f"/profile/locations/{location_id}/edit", data=location_form(
        clinic_name="Nowhere Clinic", city="Denver", postcode="80202", region="CO"))
    assert fixed.status_code == 302
    dashboard = client.get("/dashboard")
    assert checklist(dashboard)[step] is True
    assert "is not on the map" not in dashboard.get_data(as_text=True)
    assert 'id="unplaced"' not in client.get(
        f"/profile/locations/{location_id}/edit").get_data(as_text=True)


# --------------------------------------------------------------------------- towns with counties

COUNTY_TOWNS = [("Cork, Co. Cork", "IE", "Cork, Munster, Ireland"),
                ("Dublin, Co. Dublin", "IE", "Dublin, Leinster, Ireland"),
                ("Galway, County Galway", "IE", "Galway, Connacht, Ireland"),
                ("Leeds, West Yorkshire", "GB", "Leeds (LS1), England, United Kingdom"),
                ("Oxford, Oxfordshire", "GB", "Oxford, England, United Kingdom"),
                ("Durham, County Durham", "GB", "Durham, England, United Kingdom"),
                ("Barry, Vale of Glamorgan", "GB", "Barry, Wales, United Kingdom")]


@pytest.mark.parametrize(("typed", "country", "label"), COUNTY_TOWNS,
                         ids=[t[0] for t in COUNTY_TOWNS])
def test_a_town_typed_with_its_county_is_found(app, client, typed, country, label):
    from directory import geo

    place = geo.geocode(typed)
    assert (place.label, place.country) == (label, country)
    with app.app_context():
        p = factories.listed_at(place.lat, place.lng, "Cara County")
        practitioner_id = p.id
    page = client.get("/", query_string={"near": typed})
    assert page.status_code == 200
    assert f'id="result-{practitioner_id}"' in page.get_data(as_text=True)
    found = client.get("/api/v1/practitioners", query_string={"near": typed})
    assert found.status_code == 200
    assert found.get_json()["origin"]["label"] == label


def test_a_location_with_its_county_in_the_region_box_is_placed(app, client, auth):
    from tests.test_profiles import location_form

    with app.app_context():
        factories.make_practitioner("cork@example.com", profession="physiotherapist",
                                    licence_country="IE")
    auth.login("cork@example.com")
    response = client.post("/profile/locations/new", data=location_form(
        clinic_name="Lee Physio", street="1 Grand Parade", city="Cork", region="Co. Cork",
        postcode="", country="IE"))
    assert response.status_code == 302
    with app.app_context():
        location = db.session.scalars(select(PracticeLocation)).one()
        assert (location.region, location.region_code) == ("Co. Cork", "IE-M")
        assert location.lat is not None and location.geo_precision == "place"


# --------------------------------------------------------------------------- places we do not cover

COVERED = ("we list practitioners only in the United States, Australia, the United Kingdom, "
           "Canada, New Zealand and Ireland")


@pytest.mark.parametrize(("typed", "country", "town"), [
    ("Zürich", "Switzerland", "Zurich, Montana, United States"),
    ("Kraków", "Poland", "Krakow, Wisconsin, United States"),
    ("Tokyo", "Japan", None)])
def test_a_city_outside_the_six_countries_is_named_not_swapped_for_a_small_town(
        client, typed, country, town):
    answer = client.get("/api/v1/practitioners", query_string={"near": typed})
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["field"] == "near" and COVERED in error["message"]
    assert f"“{typed}” is {'a city ' if town else ''}in {country}" in error["message"]
    if town:  # the small town of that name is offered, not chosen
        assert error["code"] == "ambiguous_place"
        assert [c["label"] for c in error["candidates"]] == [town]
    else:
        assert error["code"] == "unknown_place"
    page = client.get("/", query_string={"near": typed}).get_data(as_text=True)
    assert COVERED in page and 'class="result"' not in page
    # Named with its state, the town is found.
    if town:
        state = town.split(", ")[1]
        found = client.get("/api/v1/practitioners", query_string={"near": f"{typed}, {state}"})
        assert found.status_code == 200 and found.get_json()["origin"]["label"] == town


def test_a_city_of_the_six_countries_that_shares_a_name_abroad_is_still_found(client):
    for typed, label in (("London", "London, England, United Kingdom"),
                         ("Perth", "Perth, Western Australia, Australia"),
                         ("Dublin", "Dublin, Leinster, Ireland")):
        found = client.get("/api/v1/practitioners", query_string={"near": typed})
        assert found.status_code == 200 and found.get_json()["origin"]["label"] == label


# --------------------------------------------------------------------------- impossible postcodes


@pytest.mark.parametrize(("near", "country", "message"), [
    ("T12 AB12", "", "“T12 AB12” is not a valid Eircode: after the routing key (T12) come four "
                     "characters, digits or the letters A, C, D, E, F, H, K, N, P, R, T, V, W, "
                     "X and Y."),
    ("80202", "GB", "“80202” is not a postcode of the United Kingdom. Check the postcode, or "
                    "choose its country."),
    ("SW1A 1AA", "IE", "“SW1A 1AA” is not a postcode of Ireland. Check the postcode, or choose "
                       "its country."),
])
def test_a_postcode_that_cannot_be_one_is_refused_with_a_message(client, near, country,
                                                                 message):
    answer = client.get("/api/v1/practitioners", query_string={"near": near,
                                                               "country": country})
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"] == message
    assert message in page_text(client.get("/", query_string={"near": near,
                                                              "country": country}))


def test_valid_eircodes_and_postcodes_still_resolve(client):
    for near, country, label in (("T12 X2Y7", "", "T12, Cork, Munster, Ireland"),
                                 ("SW1A 1AA", "GB", "SW1A, Westminster Abbey, England, United "
                                                    "Kingdom"),
                                 ("AB12", "", "AB12, Aberdeen, Scotland, United Kingdom")):
        found = client.get("/api/v1/practitioners", query_string={"near": near,
                                                                  "country": country})
        assert found.status_code == 200, near
        assert found.get_json()["origin"]["label"] == label


def page_text(response) -> str:
    import html

    return html.unescape(response.get_data(as_text=True))
