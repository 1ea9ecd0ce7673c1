"""A practitioner's own profile: the journey, validation, locking, locations, visibility, audit."""

from __future__ import annotations

import secrets
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.extensions import db
from directory.models import Certification, PracticeLocation, Practitioner, User
from directory.models.base import utcnow
from directory.profiles import services
from tests import factories
from tests.conftest import Outbox
from tests.factories import audit_events, login_client
from tests.pages import field_error, flashes, form_values, page

# --------------------------------------------------------------------------- reading pages


def assert_form_keeps(response, posted: dict, skip=()) -> None:
    """Every value the user typed (except the fields in skip) is still in the form."""
    shown = form_values(response)
    for name, value in posted.items():
        if name in skip or name == "version":
            continue
        expected = value if isinstance(value, list) else [value]
        if name in ("techniques", "conditions"):
            assert sorted(shown[name]) == sorted(expected), name
        else:
            assert shown.get(name) == expected, name


# --------------------------------------------------------------------------- data


def profile_form(**changes) -> dict:
    """A complete, valid profile form; a change of None leaves that field out of the POST."""
    data = {
        "full_name": "Ana Gómez",
        "post_nominals": "DPT, OCS",
        "profession": "physiotherapist",
        "licence_number": "PT-12345",
        "licence_country": "US",
        "licence_region": "CO",
        "bio": "I treat runners and climbers.\nEvenings by appointment.",
        "phone": "+1 (303) 555-0100",
        "public_email": "ana@clinic.example.com",
        "website": "https://ana.example.com",
        "booking_url": "https://book.example.com/ana",
        "languages": "English, Spanish",
        "accepting_new_patients": "y",
        # The contact choices as a new profile has them (ticked).
        "show_phone": "y", "show_public_email": "y", "enquiries_enabled": "y",
        "insurance_notes": "Most PPO plans.",
        "techniques": ["trigger_point", "superficial"],
        "conditions": ["neck_pain", "low_back_pain", "sciatica"],
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def location_form(**changes) -> dict:
    """A complete, valid location form; a change of None leaves that field out."""
    data = {"clinic_name": "Mile High Physio", "street": "1600 Glenarm Pl", "city": "Denver",
            "region": "CO", "postcode": "80202", "country": "US", "wheelchair_accessible": "y"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def shown_version(client) -> str:
    """The hidden version field of the edit form, as the browser got it."""
    response = client.get("/profile/edit")
    assert response.status_code == 200
    return form_values(response)["version"][0]


def post_profile(client, **changes):
    """Open the edit form, then submit it with these changes (as one browser tab would)."""
    return client.post("/profile/edit",
                       data=profile_form(version=shown_version(client), **changes))


def profile_row(app, practitioner_id: int) -> dict:
    """The stored profile, fields and tags."""
    with app.app_context():
        p = db.session.get(Practitioner, practitioner_id)
        row = {key: getattr(p, key) for key in services.PROFILE_FIELDS}
        row.update(version=p.version, techniques=p.techniques, conditions=p.conditions,
                   languages=p.languages)
        db.session.remove()
    return row


def location_row(app, location_id: int) -> dict | None:
    """The stored location, or None when it is gone."""
    with app.app_context():
        loc = db.session.get(PracticeLocation, location_id)
        row = None if loc is None else {
            key: getattr(loc, key)
            for key in (*services.LOCATION_FIELDS, "lat", "lng", "geo_precision",
                        "practitioner_id")}
        db.session.remove()
    return row


def location_count(app) -> int:
    with app.app_context():
        count = len(db.session.scalars(select(PracticeLocation.id)).all())
        db.session.remove()
    return count


@pytest.fixture
def owner(app, auth) -> SimpleNamespace:
    """A logged-in practitioner (the test client) with a short profile and one location."""
    with app.app_context():
        p = factories.make_practitioner("owner@example.com", full_name="Olive Owner",
                                        profession="physiotherapist")
        location = factories.make_location(p, clinic_name="Owner Clinic", street="1 Main St",
                                           lat=39.75, lng=-104.99, geo_precision="exact")
        info = SimpleNamespace(id=p.id, user_id=p.user_id, slug=p.slug, email="owner@example.com",
                               location_id=location.id)
        db.session.remove()
    assert auth.login(info.email).status_code == 302
    return info


@pytest.fixture
def other(app) -> SimpleNamespace:
    """Another practitioner with a location, logged in in a second browser."""
    with app.app_context():
        p = factories.make_practitioner("other@example.com", full_name="Otto Other")
        location = factories.make_location(p, clinic_name="Other Clinic")
        info = SimpleNamespace(id=p.id, user_id=p.user_id, slug=p.slug, location_id=location.id)
        db.session.remove()
    info.client = login_client(app, "other@example.com")
    return info


@pytest.fixture
def admin(app) -> SimpleNamespace:
    """An administrator, logged in in a second browser."""
    with app.app_context():
        user = factories.make_admin("admin@example.com")
        info = SimpleNamespace(id=user.id)
        db.session.remove()
    info.client = login_client(app, "admin@example.com")
    return info


# --------------------------------------------------------------------------- 1. the journey


def test_journey_from_sign_up_to_public_profile(app, client, auth, outbox):
    response = client.post("/account/signup", data={
        "full_name": "Ana Gómez", "email": "Ana@Example.com",
        "password": factories.PASSWORD, "confirm": factories.PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/signup/sent"

    response = client.get(Outbox.link(outbox.last("ana@example.com")), follow_redirects=True)
    assert "Thank you: ana@example.com is confirmed." in flashes(response)
    assert response.request.path == "/dashboard"  # the link logged this browser in

    assert auth.logout().status_code == 302
    assert client.get("/dashboard").status_code == 302  # really logged out
    response = auth.login("ana@example.com")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"

    # The region typed as a code...
    response = post_profile(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert "Your profile has been saved." in flashes(client.get("/dashboard"))
    edit_page = client.get("/profile/edit")
    assert form_values(edit_page)["licence_region"] == ["CO"]
    assert form_values(edit_page)["languages"] == ["English, Spanish"]
    # ...and as a name: both are stored as the ISO 3166-2 code.
    response = post_profile(client, licence_region="Colorado")
    assert response.status_code == 302

    with app.app_context():
        p = db.session.scalar(select(Practitioner).join(User)
                              .where(User.email == "ana@example.com"))
        slug, practitioner_id = p.slug, p.id
        db.session.remove()
    assert slug == "ana-gomez"
    stored = profile_row(app, practitioner_id)
    assert stored | {"version": None} == {
        "full_name": "Ana Gómez", "post_nominals": "DPT, OCS", "profession": "physiotherapist",
        "licence_number": "PT-12345", "licence_country": "US", "licence_region": "US-CO",
        "npi": None, "bio": "I treat runners and climbers.\nEvenings by appointment.",
        "phone": "+1 (303) 555-0100", "public_email": "ana@clinic.example.com",
        "website": "https://ana.example.com", "booking_url": "https://book.example.com/ana",
        "accepting_new_patients": True, "insurance_notes": "Most PPO plans.",
        "show_phone": True, "show_public_email": True, "enquiries_enabled": True,
        # No fee given: no currency stored either (the form offers the country's).
        "fee_first_visit": None, "fee_follow_up": None, "fee_currency": None,
        "techniques": ["superficial", "trigger_point"],
        "conditions": ["low_back_pain", "neck_pain", "sciatica"],
        "languages": ["en", "es"], "version": None,
    }

    # The new-location form starts from the licence country.
    assert form_values(client.get("/profile/locations/new"))["country"] == ["US"]
    response = client.post("/profile/locations/new", data=location_form())
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    response = client.post("/profile/locations/new", data=location_form(
        clinic_name="Boulder Needling Studio", street="", city="Boulder", region="Colorado",
        postcode="80302", wheelchair_accessible=None))
    assert "Location “Boulder Needling Studio” added." in flashes(client.get("/dashboard"))

    response = client.get(f"/p/{slug}")
    assert response.status_code == 200
    raw, text_ = response.get_data(as_text=True), page(response)
    assert "This profile is not listed yet" in text_
    for shown in ("Ana Gómez", "DPT, OCS", "Physical therapist / physiotherapist",
                  "PT-12345", "Colorado, United States", "+1 (303) 555-0100",
                  'href="tel:+1(303)555-0100"', 'href="mailto:ana@clinic.example.com"',
                  'href="https://ana.example.com"', 'href="https://book.example.com/ana"',
                  "Accepting new patients", "English, Spanish", "Most PPO plans.",
                  "Trigger point dry needling", "Superficial dry needling",
                  "Neck pain", "Low back pain", "Sciatica",
                  "Mile High Physio", "1600 Glenarm Pl, Denver, CO, 80202, United States",
                  "Boulder Needling Studio", "Boulder, Colorado, 80302, United States"):
        assert shown in text_, shown
    assert "I treat runners and climbers.<br>\nEvenings by appointment." in raw
    assert "Deep dry needling" not in text_
    assert text_.count("Wheelchair accessible") == 1

    dashboard = page(client.get("/dashboard"))
    for shown in ("Mile High Physio", "1600 Glenarm Pl, Denver, CO, 80202, United States",
                  "Boulder Needling Studio", "Boulder, Colorado, 80302, United States"):
        assert shown in dashboard, shown
    with app.app_context():
        ids = db.session.scalars(select(PracticeLocation.id)
                                 .where(PracticeLocation.practitioner_id == practitioner_id)
                                 .order_by(PracticeLocation.id)).all()
        db.session.remove()
    assert len(ids) == 2
    for location_id in ids:
        assert f'href="/profile/locations/{location_id}/edit"' in dashboard
        assert f'action="/profile/locations/{location_id}/delete"' in dashboard


def test_unticking_everything_clears_tags_and_accepting(app, client, owner):
    assert post_profile(client).status_code == 302
    response = post_profile(client, techniques=None, conditions=None, languages="",
                            accepting_new_patients=None)
    assert response.status_code == 302
    stored = profile_row(app, owner.id)
    assert (stored["techniques"], stored["conditions"], stored["languages"]) == ([], [], [])
    assert stored["accepting_new_patients"] is False
    assert "Not accepting new patients" in page(client.get(f"/p/{owner.slug}"))


# --------------------------------------------------------------------------- 2. validation

BAD_PROFILE = {
    "missing name": ({"full_name": ""}, "full_name", "Enter your full name."),
    "name of spaces": ({"full_name": "   "}, "full_name", "Enter your full name."),
    "no profession chosen": ({"profession": ""}, "profession", "Choose your profession."),
    "profession left out": ({"profession": None}, "profession", "Choose your profession."),
    "unknown profession": ({"profession": "astronaut"}, "profession", "Not a valid choice."),
    "unknown region": ({"licence_region": "Narnia"}, "licence_region",
                       "We do not know “Narnia” in United States. Use its name or its code."),
    "region of another country": ({"licence_country": "CA", "licence_region": "Colorado"},
                                  "licence_region",
                                  "We do not know “Colorado” in Canada. "
                                  "Use its name or its code."),
    "region without country": ({"licence_country": "", "licence_number": ""},
                               "licence_region", "Choose the country first."),
    "licence number without country": ({"licence_country": "", "licence_region": ""},
                                       "licence_country",
                                       "Choose the country that issued your licence."),
    "unknown country": ({"licence_country": "ZZ", "licence_region": ""}, "licence_country",
                        "Not a valid choice."),
    "bad phone": ({"phone": "call me"}, "phone",
                  "Enter a phone number using digits, spaces and + ( ) - only."),
    "bad public e-mail": ({"public_email": "ana at example"}, "public_email",
                          "Enter an e-mail address like name@example.com."),
    "unknown language": ({"languages": "English, Klingon"}, "languages",
                         "We do not recognise: Klingon."),
    "unknown technique": ({"techniques": ["trigger_point", "laser_eyes"]}, "techniques",
                          "'laser_eyes' is not a valid choice for this field."),
    "unknown condition": ({"conditions": ["neck_pain", "broken_heart"]}, "conditions",
                          "'broken_heart' is not a valid choice for this field."),
}
SCHEME_ONLY = "Only web addresses starting with http:// or https:// are allowed."
NOT_AN_ADDRESS = "Enter a web address such as https://example.com."
BAD_ADDRESSES = {
    "javascript:alert(1)": SCHEME_ONLY,
    "JavaScript:alert(document.cookie)": SCHEME_ONLY,
    "  javascript:alert(1)": SCHEME_ONLY,
    "javascript://example.com/%0Aalert(1)": SCHEME_ONLY,
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==": SCHEME_ONLY,
    "ftp://files.example.com/cv.pdf": SCHEME_ONLY,
    "not a url": NOT_AN_ADDRESS,
    "https://exa mple.com": NOT_AN_ADDRESS,
    "https://localhost": NOT_AN_ADDRESS,
}
for _field in ("website", "booking_url"):
    for _value, _message in BAD_ADDRESSES.items():
        BAD_PROFILE[f"{_field} {_value!r}"] = ({_field: _value}, _field, _message)


@pytest.mark.parametrize(("changes", "field", "message"), list(BAD_PROFILE.values()),
                         ids=list(BAD_PROFILE))
def test_profile_field_errors_are_shown_in_place(app, client, owner, changes, field, message):
    before = profile_row(app, owner.id)
    posted = profile_form(version=shown_version(client), **changes)
    response = client.post("/profile/edit", data=posted)
    assert response.status_code == 200
    assert message in field_error(response, field)
    assert "Please correct" in page(response)
    assert_form_keeps(response, posted, skip={field})
    assert profile_row(app, owner.id) == before
    assert audit_events(app, "profile.updated") == []


@pytest.mark.parametrize(("typed", "stored"), [
    ("example.com", "https://example.com"),
    ("Example.com/book?me=1", "https://Example.com/book?me=1"),
    ("http://example.com", "http://example.com"),
    ("  https://example.com/a  ", "https://example.com/a"),
])
def test_web_address_without_scheme_becomes_https(app, client, owner, typed, stored):
    response = post_profile(client, website=typed, booking_url=typed)
    assert response.status_code == 302
    row = profile_row(app, owner.id)
    assert (row["website"], row["booking_url"]) == (stored, stored)


@pytest.mark.parametrize(("typed", "code"), [
    ("CO", "US-CO"), ("co", "US-CO"), ("US-CO", "US-CO"), ("Colorado", "US-CO"),
    ("colorado", "US-CO"), ("", None)])
def test_region_as_code_or_name(app, client, owner, typed, code):
    assert post_profile(client, licence_region=typed).status_code == 302
    assert profile_row(app, owner.id)["licence_region"] == code


TEXT_LIMITS = {"full_name": 120, "post_nominals": 80, "licence_number": 60,
               "licence_region": 100, "bio": 5000, "phone": 40, "public_email": 254,
               "website": 500, "booking_url": 500, "languages": 300, "insurance_notes": 2000}


@pytest.mark.parametrize(("field", "limit"), TEXT_LIMITS.items())
def test_ten_thousand_characters_in_a_text_field(app, client, owner, field, limit):
    before = profile_row(app, owner.id)
    posted = profile_form(version=shown_version(client), **{field: "a" * 10_000})
    response = client.post("/profile/edit", data=posted)
    assert response.status_code == 200
    assert f"At most {limit:,} characters (this has " in field_error(response, field)
    assert_form_keeps(response, posted, skip={field})
    assert profile_row(app, owner.id) == before


def test_ten_thousand_characters_everywhere_at_once(app, client, owner):
    before = profile_row(app, owner.id)
    huge = "x" * 10_000
    posted = {name: huge for name in (*TEXT_LIMITS, "profession", "licence_country",
                                      "accepting_new_patients", "version")}
    posted |= {"techniques": [huge, "deep"], "conditions": [huge]}
    response = client.post("/profile/edit", data=posted)
    assert response.status_code == 200
    for field, limit in TEXT_LIMITS.items():
        assert f"At most {limit:,} characters (this has " in field_error(response, field)
    assert "Not a valid choice." in field_error(response, "profession")
    assert "is not a valid choice" in field_error(response, "techniques")
    assert profile_row(app, owner.id) == before


NUL_MESSAGE = "Remove the invisible NUL character from this text."


@pytest.mark.parametrize("field", TEXT_LIMITS)
def test_a_nul_character_in_the_profile_is_a_field_error(app, client, owner, field):
    before = profile_row(app, owner.id)
    posted = profile_form(version=shown_version(client), **{field: "ok\x00ok"})
    response = client.post("/profile/edit", data=posted)
    assert response.status_code == 200
    assert NUL_MESSAGE in field_error(response, field)
    assert profile_row(app, owner.id) == before


def test_an_unknown_country_is_reported_once_not_again_on_the_region(app, client, owner):
    before = profile_row(app, owner.id)
    response = client.post("/profile/edit", data=profile_form(
        version=shown_version(client), licence_country="ZZ", licence_region="CO"))
    assert response.status_code == 200
    assert field_error(response, "licence_country") == "Not a valid choice."
    assert field_error(response, "licence_region") == ""
    assert profile_row(app, owner.id) == before


def test_html_in_the_profile_is_shown_as_text(app, client, owner):
    response = post_profile(
        client, full_name="<b>Olive</b> Owner",
        bio="<script>alert('bio')</script>\n<img src=x onerror=alert(1)>",
        insurance_notes="<script>alert('notes')</script>")
    assert response.status_code == 302
    profile = client.get(f"/p/{owner.slug}")
    raw = profile.get_data(as_text=True)
    assert "<script>alert" not in raw
    assert "<img src=x" not in raw
    assert "<b>Olive</b>" not in raw
    assert "&lt;script&gt;alert(&#39;bio&#39;)&lt;/script&gt;<br>\n&lt;img src=x" in raw
    assert "&lt;script&gt;alert(&#39;notes&#39;)&lt;/script&gt;" in raw
    assert "&lt;b&gt;Olive&lt;/b&gt; Owner" in raw


# --------------------------------------------------------------------------- 3. locking

CONFLICT = "Your profile was changed elsewhere since you opened this page."


def test_second_tab_cannot_silently_overwrite_the_first(app, client, owner):
    version = shown_version(client)  # tab one opens the form
    tab_two = client.post("/profile/edit", data=profile_form(
        version=shown_version(client), full_name="Saved In Tab Two"))
    assert tab_two.status_code == 302
    saved = profile_row(app, owner.id)
    assert saved["version"] == int(version) + 1

    typed = profile_form(version=version, full_name="Typed In Tab One",
                         bio="Written in tab one.", techniques=["deep"], phone="0400 000 000")
    response = client.post("/profile/edit", data=typed)
    assert response.status_code == 200
    assert any(CONFLICT in m and "Your changes are still in the form below" in m
               for m in flashes(response))
    assert_form_keeps(response, typed)
    assert form_values(response)["version"] == [str(saved["version"])]
    assert profile_row(app, owner.id) == saved
    assert len(audit_events(app, "profile.updated")) == 1  # tab two's save only

    # Saving again from the re-rendered form (which now carries the new version) works.
    again = client.post("/profile/edit", data=form_values(response))
    assert again.status_code == 302
    row = profile_row(app, owner.id)
    assert (row["full_name"], row["techniques"]) == ("Typed In Tab One", ["deep"])


@pytest.mark.parametrize("version", ["abc", "1.5", "-1", "0", "99999999999999999999999",
                                     "9" * 10_000, "1; DROP TABLE practitioners"])
def test_a_bad_version_is_a_conflict_never_an_error(app, client, owner, version):
    before = profile_row(app, owner.id)
    response = client.post("/profile/edit", data=profile_form(version=version))
    assert response.status_code == 200
    assert any(CONFLICT in m for m in flashes(response))
    assert form_values(response)["full_name"] == ["Ana Gómez"]
    assert profile_row(app, owner.id) == before


def test_a_save_racing_the_version_check_is_refused_by_the_database(app, owner):
    with app.app_context():
        p = db.session.get(Practitioner, owner.id)
        actor = db.session.get(User, owner.user_id)
        loaded = p.version
        # Another request (its own session) commits between our version check and our UPDATE.
        with Session(db.engine) as other, other.begin():
            other.get(Practitioner, owner.id).full_name = "Elsewhere"
        values = {key: getattr(p, key) for key in services.PROFILE_FIELDS}
        values["full_name"] = "Mine"
        with pytest.raises(services.ConflictError, match="changed elsewhere"):
            services.update_profile(p, actor, loaded, values, techniques=[], conditions=[],
                                    languages=[])
        db.session.remove()
    row = profile_row(app, owner.id)
    assert (row["full_name"], row["version"]) == ("Elsewhere", loaded + 1)
    assert audit_events(app, "profile.updated") == []


# --------------------------------------------------------------------------- 4. locations


def test_add_edit_and_delete_a_location(app, client, owner):
    response = client.post("/profile/locations/new", data=location_form(
        clinic_name="Harbour Physio", street="2 Quay St", city="Sydney", region="NSW",
        postcode="2000", country="AU"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    dashboard = client.get("/dashboard")
    assert "Location “Harbour Physio” added." in flashes(dashboard)
    with app.app_context():
        new_id = db.session.scalar(select(PracticeLocation.id)
                                   .where(PracticeLocation.clinic_name == "Harbour Physio"))
        db.session.remove()
    row = location_row(app, new_id)
    # Geocoded on save from the offline gazetteer: Sydney's 2000 postcode.
    assert abs(row.pop("lat") - -33.87) < 0.05 and abs(row.pop("lng") - 151.21) < 0.05
    assert row == {"clinic_name": "Harbour Physio", "street": "2 Quay St", "city": "Sydney",
                   "region": "NSW", "postcode": "2000", "country": "AU",
                   "wheelchair_accessible": True, "geo_precision": "postcode",
                   "practitioner_id": owner.id}
    assert "Placed on the map at 2000, Sydney, NSW, Australia." in flashes(dashboard)
    assert "2 Quay St, Sydney, NSW, 2000, Australia" in page(dashboard)

    edit_page = client.get(f"/profile/locations/{new_id}/edit")
    assert edit_page.status_code == 200
    assert form_values(edit_page)["clinic_name"] == ["Harbour Physio"]
    assert form_values(edit_page)["country"] == ["AU"]
    assert form_values(edit_page)["wheelchair_accessible"] == ["y"]
    response = client.post(f"/profile/locations/{new_id}/edit", data=location_form(
        clinic_name="Harbour Physio & Pilates", street="2 Quay St", city="Sydney",
        region="NSW", postcode="2000", country="AU", wheelchair_accessible=None))
    assert response.status_code == 302
    assert "Location “Harbour Physio & Pilates” saved." in flashes(client.get("/dashboard"))
    row = location_row(app, new_id)
    assert (row["clinic_name"], row["wheelchair_accessible"]) == ("Harbour Physio & Pilates",
                                                                 False)

    response = client.post(f"/profile/locations/{new_id}/delete")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    dashboard = client.get("/dashboard")
    assert "Location “Harbour Physio & Pilates” removed." in flashes(dashboard)
    assert location_row(app, new_id) is None
    assert f"/profile/locations/{new_id}/edit" not in page(dashboard)
    assert location_row(app, owner.location_id) is not None  # the other one stays


BAD_LOCATION = {
    "missing clinic name": ({"clinic_name": ""}, "clinic_name", "Enter the clinic's name."),
    "missing city": ({"city": "  "}, "city", "Enter the town or city."),
    "no country chosen": ({"country": ""}, "country", "Choose the country."),
    "country left out": ({"country": None}, "country", "Choose the country."),
    "unknown country": ({"country": "ZZ"}, "country", "Not a valid choice."),
    **{f"10,000 characters in {name}": ({name: "a" * 10_000}, name,
                                        f"At most {limit:,} characters (this has ")
       for name, limit in (("clinic_name", 120), ("street", 200), ("city", 100),
                           ("region", 100), ("postcode", 20))},
}


@pytest.mark.parametrize(("changes", "field", "message"), list(BAD_LOCATION.values()),
                         ids=list(BAD_LOCATION))
def test_new_location_errors_are_shown_in_place(app, client, owner, changes, field, message):
    posted = location_form(**changes)
    response = client.post("/profile/locations/new", data=posted)
    assert response.status_code == 200
    assert message in field_error(response, field)
    assert_form_keeps(response, posted, skip={field})
    assert location_count(app) == 1
    assert audit_events(app, "location.added") == []


@pytest.mark.parametrize(("changes", "field", "message"), list(BAD_LOCATION.values()),
                         ids=list(BAD_LOCATION))
def test_edit_location_errors_are_shown_in_place(app, client, owner, changes, field, message):
    before = location_row(app, owner.location_id)
    posted = location_form(**changes)
    response = client.post(f"/profile/locations/{owner.location_id}/edit", data=posted)
    assert response.status_code == 200
    assert message in field_error(response, field)
    assert_form_keeps(response, posted, skip={field})
    assert location_row(app, owner.location_id) == before


@pytest.mark.parametrize("field", ["clinic_name", "street", "city", "region", "postcode"])
def test_a_nul_character_in_a_location_is_a_field_error(app, client, owner, field):
    response = client.post("/profile/locations/new", data=location_form(**{field: "A\x00B"}))
    assert response.status_code == 200
    assert NUL_MESSAGE in field_error(response, field)
    assert location_count(app) == 1


def test_another_practitioner_cannot_touch_your_location(app, owner, other):
    before = location_row(app, owner.location_id)
    path = f"/profile/locations/{owner.location_id}"
    assert other.client.get(f"{path}/edit").status_code == 404
    assert other.client.post(f"{path}/edit",
                             data=location_form(clinic_name="Hijacked")).status_code == 404
    assert other.client.post(f"{path}/delete").status_code == 404
    assert location_row(app, owner.location_id) == before
    # ...while their own location works for them.
    assert other.client.get(f"/profile/locations/{other.location_id}/edit").status_code == 200
    assert audit_events(app, "location.updated") == audit_events(app, "location.deleted") == []


@pytest.mark.parametrize(("method", "suffix"), [("get", "edit"), ("post", "edit"),
                                                ("post", "delete")])
def test_a_missing_location_is_404(app, client, owner, method, suffix):
    response = getattr(client, method)(f"/profile/locations/999999/{suffix}",
                                       data=location_form())
    assert response.status_code == 404
    assert "We could not find that page." in page(response)


@pytest.mark.parametrize(("changes", "placed"), [
    ({"street": "99 Other St"}, True), ({"city": "Aurora"}, True), ({"region": "CO"}, True),
    ({"postcode": "80203"}, True), ({"country": "CA"}, False)])
def test_changing_the_address_geocodes_it_again(app, client, owner, changes, placed):
    from directory import geo

    current = location_row(app, owner.location_id)
    assert (current["lat"], current["lng"]) == (39.75, -104.99)
    posted = location_form(clinic_name="Owner Clinic", street="1 Main St", city="Denver",
                           region="Colorado", postcode="80202", country="US") | changes
    response = client.post(f"/profile/locations/{owner.location_id}/edit", data=posted,
                           follow_redirects=True)
    assert response.status_code == 200
    row = location_row(app, owner.location_id)
    assert all(row[key] == value for key, value in changes.items())
    place = geo.geocode_location(posted["street"], posted["city"], posted["region"],
                                 posted["postcode"], posted["country"])
    assert (place is not None) == placed
    if not placed:  # Denver 80202 in Canada: no such place, so it leaves search
        assert (row["lat"], row["lng"], row["geo_precision"]) == (None, None, None)
        assert "will not appear in search results until it is fixed" in page(response)
    else:
        assert (row["lat"], row["lng"], row["geo_precision"]) == (
            place.lat, place.lng, place.precision)
        assert row["geo_precision"] == "postcode"


def test_renaming_a_location_keeps_its_coordinates(app, client, owner):
    response = client.post(f"/profile/locations/{owner.location_id}/edit", data=location_form(
        clinic_name="Owner Clinic East", street="1 Main St", city="Denver", region="Colorado",
        postcode="80202", country="US", wheelchair_accessible="y"))
    assert response.status_code == 302
    row = location_row(app, owner.location_id)
    assert (row["clinic_name"], row["lat"], row["lng"], row["geo_precision"]) == (
        "Owner Clinic East", 39.75, -104.99, "exact")


def test_delete_is_post_only(app, client, owner):
    response = client.get(f"/profile/locations/{owner.location_id}/delete")
    assert response.status_code == 405
    assert location_row(app, owner.location_id) is not None


# --------------------------------------------------------------------------- 5. visibility

NOT_LISTED = "This profile is not listed yet"


def make_profile(app, *, confirmed=True, active=True, certification=None, expires_on=None,
                 is_demo=False) -> str:
    """A practitioner with a location and, optionally, a certification of this status."""
    with app.app_context():
        user = factories.make_user("shown@example.com", confirmed=confirmed, active=active)
        p = user.practitioner
        p.full_name, p.profession, p.is_demo = "Sam Shown", "chiropractor", is_demo
        factories.make_location(p, clinic_name="Shown Clinic")
        if certification:
            reviewer = factories.make_admin("reviewer@example.com")
            factories.verify_licence(p, admin=reviewer)  # the listing needs the licence too
            now = utcnow()
            db.session.add(Certification(
                practitioner=p, status=certification, reviewed_by=reviewer, reviewed_at=now,
                verified_at=now, submitted_at=now - timedelta(days=2), expires_on=expires_on,
                public_code=secrets.token_urlsafe(12)))
        db.session.commit()
        slug = p.slug
        db.session.remove()
    return slug


def test_unlisted_profile_is_seen_only_by_its_owner_and_admins(app, client, owner, other,
                                                               admin):
    path = f"/p/{owner.slug}"
    assert app.test_client().get(path).status_code == 404
    assert other.client.get(path).status_code == 404

    mine = client.get(path)
    assert mine.status_code == 200
    assert NOT_LISTED in page(mine)
    assert "Olive Owner" in page(mine)

    theirs = admin.client.get(path)
    assert theirs.status_code == 200
    assert f"{NOT_LISTED}: only you (an administrator) can see it." in " ".join(
        page(theirs).split())


def test_unknown_slug_is_404(client):
    assert client.get("/p/no-such-practitioner").status_code == 404


@pytest.mark.parametrize(("account", "expected"), [
    ({"confirmed": False}, 404),
    ({"active": False}, 404),
    ({"confirmed": False, "active": False}, 404),
    ({}, 200),
])
def test_verified_profile_needs_a_confirmed_active_account(app, client, account, expected):
    slug = make_profile(app, certification="verified", **account)
    response = client.get(f"/p/{slug}")
    assert response.status_code == expected
    if expected == 200:
        assert "Sam Shown" in page(response)
        assert "Shown Clinic" in page(response)
        assert NOT_LISTED not in page(response)


@pytest.mark.parametrize(("certification", "expires_in_days", "expected"), [
    ("verified", None, 200),
    ("verified", 1, 200),
    ("verified", 365, 200),
    ("verified", -1, 404),
    ("verified", -400, 404),
    ("revoked", None, 404),
    ("rejected", None, 404),
    ("expired", None, 404),
    ("pending", None, 404),
])
def test_only_an_unexpired_verified_certification_lists_a_profile(
        app, client, certification, expires_in_days, expected):
    expires_on = (None if expires_in_days is None
                  else utcnow().date() + timedelta(days=expires_in_days))
    if certification == "pending":
        slug = make_profile(app)
        with app.app_context():
            p = db.session.scalar(select(Practitioner).where(Practitioner.slug == slug))
            db.session.add(Certification(practitioner=p, status="pending",
                                         submitted_at=utcnow(),
                                         public_code=secrets.token_urlsafe(12)))
            db.session.commit()
            db.session.remove()
    else:
        slug = make_profile(app, certification=certification, expires_on=expires_on)
    assert client.get(f"/p/{slug}").status_code == expected


def test_listed_owner_sees_no_notice_and_a_listed_dashboard(app, auth, client):
    slug = make_profile(app, certification="verified")
    assert auth.login("shown@example.com").status_code == 302
    assert NOT_LISTED not in page(client.get(f"/p/{slug}"))
    assert client.post("/profile/attest").status_code == 302  # in search only once confirmed
    assert "Patients can find your profile." in page(client.get("/dashboard"))


@pytest.mark.parametrize("is_demo", [True, False])
def test_demo_profiles_carry_a_badge(app, client, is_demo):
    slug = make_profile(app, certification="verified", is_demo=is_demo)
    response = client.get(f"/p/{slug}")
    assert response.status_code == 200
    assert ("Demo data — not a real practitioner" in page(response)) is is_demo


# --------------------------------------------------------------------------- 6. authorization

PROFILE_ROUTES = [
    ("get", "/dashboard"),
    ("get", "/profile/edit"),
    ("post", "/profile/edit"),
    ("get", "/profile/locations/new"),
    ("post", "/profile/locations/new"),
    ("get", "/profile/locations/{location_id}/edit"),
    ("post", "/profile/locations/{location_id}/edit"),
    ("post", "/profile/locations/{location_id}/delete"),
]
POST_DATA = {"/profile/edit": profile_form(full_name="Changed"),
             "/profile/locations/new": location_form(clinic_name="Intruder Clinic"),
             "/profile/locations/{location_id}/edit": location_form(clinic_name="Changed")}


@pytest.fixture
def world(app) -> SimpleNamespace:
    """An owner (not logged in) with a location, and their stored state."""
    with app.app_context():
        p = factories.make_practitioner("owner@example.com", full_name="Olive Owner")
        location = factories.make_location(p, clinic_name="Owner Clinic")
        info = SimpleNamespace(id=p.id, location_id=location.id)
        db.session.remove()
    info.profile = profile_row(app, info.id)
    info.location = location_row(app, info.location_id)
    return info


def _request(client, method, template, location_id):
    path = template.format(location_id=location_id)
    data = POST_DATA.get(template) if method == "post" else None
    return path, getattr(client, method)(path, data=data)


def _unchanged(app, world) -> bool:
    return (profile_row(app, world.id) == world.profile
            and location_row(app, world.location_id) == world.location
            and location_count(app) == 1)


@pytest.mark.parametrize(("method", "template"), PROFILE_ROUTES)
def test_anonymous_users_are_sent_to_log_in(app, client, world, method, template):
    path, response = _request(client, method, template, world.location_id)
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/account/login"
    assert parse_qs(target.query)["next"] == [path]
    assert "Please log in to see that page." in flashes(client.get(response.headers["Location"]))
    assert _unchanged(app, world)


@pytest.mark.parametrize("path", ["/dashboard", "/profile/edit", "/profile/locations/new",
                                  "/profile/locations/{location_id}/edit"])
def test_logging_in_returns_to_the_page_asked_for(client, auth, world, path):
    path = path.format(location_id=world.location_id)
    response = auth.login("owner@example.com", next=path)
    assert response.status_code == 302
    assert response.headers["Location"] == path
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(("method", "template"), PROFILE_ROUTES)
def test_admins_do_not_edit_profiles(app, world, admin, method, template):
    _, response = _request(admin.client, method, template, world.location_id)
    assert response.status_code == 403
    assert "You do not have permission to see this page." in page(response)
    assert _unchanged(app, world)


@pytest.mark.parametrize(("method", "template"), PROFILE_ROUTES)
def test_the_owner_may_use_every_profile_route(app, client, auth, world, method, template):
    assert auth.login("owner@example.com").status_code == 302
    if template == "/profile/edit" and method == "post":
        data = profile_form(full_name="Changed", version=shown_version(client))
        response = client.post(template, data=data)
    else:
        _, response = _request(client, method, template, world.location_id)
    if method == "get":
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert response.headers["Location"] == "/dashboard"
        assert not _unchanged(app, world)


# --------------------------------------------------------------------------- 7. audit log


def test_each_change_is_audited_with_its_actor(app, client, owner):
    assert post_profile(client, bio="New bio.").status_code == 302
    assert client.post("/profile/locations/new",
                       data=location_form(clinic_name="Second Clinic")).status_code == 302
    with app.app_context():
        new_id = db.session.scalar(select(PracticeLocation.id)
                                   .where(PracticeLocation.clinic_name == "Second Clinic"))
        db.session.remove()
    assert client.post(f"/profile/locations/{new_id}/edit",
                       data=location_form(clinic_name="Second Clinic",
                                          city="Aurora")).status_code == 302
    assert client.post(f"/profile/locations/{new_id}/delete").status_code == 302

    events = [e for e in audit_events(app) if e.action.startswith(("profile.", "location."))]
    assert [(e.action, e.actor_id, e.subject_type, e.subject_id) for e in events] == [
        ("profile.updated", owner.user_id, "practitioners", owner.id),
        ("location.added", owner.user_id, "practice_locations", new_id),
        ("location.updated", owner.user_id, "practice_locations", new_id),
        ("location.deleted", owner.user_id, "practice_locations", new_id),
    ]
    assert "bio" in events[0].detail["fields"]
    assert "tags" in events[0].detail["fields"]
    assert events[2].detail["fields"] == ["city"]
    assert events[3].detail["city"] == "Aurora"


def test_a_save_without_the_version_field_is_treated_as_stale(app, client, auth):
    """A hand-made request that leaves out the hidden version cannot skip the locking."""
    with app.app_context():
        p = factories.make_practitioner("noversion@example.com", full_name="Old Name")
        pid = p.id
    auth.login("noversion@example.com")
    response = client.post("/profile/edit", data={"full_name": "New Name",
                                                  "profession": "chiropractor"})
    assert "changed elsewhere" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Practitioner, pid).full_name == "Old Name"


def test_public_email_with_surrounding_spaces_is_trimmed(app, client, auth):
    with app.app_context():
        p = factories.make_practitioner("trim@example.com")
        pid, version = p.id, p.version
    auth.login("trim@example.com")
    response = client.post("/profile/edit", data={
        "full_name": "Trim Test", "profession": "chiropractor",
        "public_email": "  ana@example.com ", "version": str(version)})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Practitioner, pid).public_email == "ana@example.com"


def test_languages_typed_with_their_accents_are_understood(app, client, auth):
    """New Zealanders write "Māori" with its macron."""
    with app.app_context():
        factories.make_practitioner("kahu@example.com")
    auth.login("kahu@example.com")
    response = post_profile(client, languages="Māori, English")
    assert response.status_code == 302
    assert form_values(client.get("/profile/edit"))["languages"] == ["English, Maori"]
