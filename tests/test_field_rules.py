"""One rule, one place (directory/field_rules.py): the forms, the CSV importer and the
automatic checks accept and refuse the same values, with the same message."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import String, inspect

from directory import field_rules
from directory.bulk import columns, importer
from directory.credentials import checks
from directory.credentials.reference import load_reference_data
from directory.extensions import db
from directory.field_rules import LENGTHS, RuleError
from directory.models import Certification, Enquiry, PracticeLocation, Practitioner, User
from tests import factories
from tests.factories import today
from tests.pages import field_error, form_values, page

# --------------------------------------------------------------------------- helpers


def profile_form(**changes) -> dict:
    """A complete, valid profile form (as tests/test_profiles.py posts it)."""
    return {
        "full_name": "Ana Gómez", "post_nominals": "DPT", "profession": "physiotherapist",
        "licence_number": "PT-12345", "licence_country": "US", "licence_region": "CO",
        "bio": "I treat runners.", "phone": "+1 (303) 555-0100",
        "public_email": "ana@clinic.example.com", "website": "https://ana.example.com",
        "booking_url": "https://book.example.com/ana", "languages": "English, Spanish",
        "accepting_new_patients": "y", "insurance_notes": "Most PPO plans.",
    } | changes


def post_profile(client, **changes):
    """Open the edit form, then submit it with these changes."""
    version = form_values(client.get("/profile/edit"))["version"][0]
    return client.post("/profile/edit", data=profile_form(version=version, **changes))


def stored_profile(app, practitioner_id: int) -> SimpleNamespace:
    """The stored profile's text fields and languages."""
    with app.app_context():
        p = db.session.get(Practitioner, practitioner_id)
        row = SimpleNamespace(languages=p.languages, **{
            name: getattr(p, name) for name in LENGTHS if name in inspect(Practitioner).columns})
        db.session.remove()
    return row


def cert_form(**changes) -> dict:
    """A complete, valid certification form with its PDF."""
    return {
        "program": "", "program_name": "KinetaCore FDN 1", "level": "1",
        "certificate_number": "KC-2024-0042",
        "completed_on": (today() - timedelta(days=200)).isoformat(), "expires_on": "",
        "hours": "27", "in_person_hours": "27", "supervised_sessions": "12", "version": "",
        "evidence": (io.BytesIO(factories.pdf_bytes()), "cert.pdf"),
    } | changes


def post_cert(client, **changes):
    return client.post("/certifications/new", data=cert_form(**changes),
                       content_type="multipart/form-data")


def import_messages(**values) -> dict[str, list[str]]:
    """The importer's dry run of the upload page's example row with these values:
    column → messages (inside an app context)."""
    rows = list(csv.DictReader(io.StringIO(columns.template_csv())))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns.NAMES)
    writer.writeheader()
    writer.writerow(rows[0] | values)
    report = importer.dry_run(out.getvalue().encode())
    assert report.file_error is None
    found: dict[str, list[str]] = {}
    for error in report.errors:
        found.setdefault(error.column, []).append(error.message)
    return found


@pytest.fixture
def owner(app, auth) -> SimpleNamespace:
    """A logged-in practitioner (the test client); the shipped programs are loaded."""
    with app.app_context():
        load_reference_data()
        p = factories.make_practitioner("owner@example.com", full_name="Olive Owner",
                                        profession="physiotherapist")
        info = SimpleNamespace(id=p.id, email="owner@example.com")
        db.session.remove()
    assert auth.login(info.email).status_code == 302
    return info


# --------------------------------------------------------------------------- 1. typed lists


@pytest.mark.parametrize("typed", ["English; Spanish", "English, Spanish", "es;en,",
                                   "Spanish ;English; spanish"])
def test_the_profile_form_takes_languages_separated_by_commas_or_semicolons(
        app, client, owner, typed):
    assert post_profile(client, languages=typed).status_code == 302
    assert stored_profile(app, owner.id).languages == ["en", "es"]


def test_the_languages_field_says_both_separators_are_taken(client, owner):
    assert "separated by commas or semicolons" in page(client.get("/profile/edit"))


def test_an_unknown_language_is_named_whatever_the_separator(app, client, owner):
    response = post_profile(client, languages="English; Klingon, Elvish")
    assert response.status_code == 200
    assert field_error(response, "languages") == "We do not recognise: Klingon, Elvish."
    assert stored_profile(app, owner.id).languages == []


# --------------------------------------------------------------------------- 2. lengths

# Fields whose text is not stored as typed in a String column of the same name: free text
# (Text columns), text resolved to a code (a country or region typed by name) and an NPI
# typed with spaces or hyphens (stored as its 10 digits).
NOT_A_TYPED_COLUMN = {"bio", "languages", "techniques", "conditions", "insurance_notes",
                      "profession", "licence_country", "licence_region", "country", "npi", "fee"}


def typed_columns() -> dict[str, int]:
    """Each String column of the practitioner's data named in LENGTHS → its length."""
    found = {"program": Certification.submitted_name.property.columns[0].type.length}
    for model in (User, Practitioner, PracticeLocation, Certification, Enquiry):
        for key, column in inspect(model).columns.items():
            if (key in LENGTHS and key not in NOT_A_TYPED_COLUMN
                    and isinstance(column.type, String)):
                assert key not in found, f"{key} is a column of two models"
                found[key] = column.type.length
    return found


def test_each_length_is_its_model_columns_length():
    found = typed_columns()
    assert {name: LENGTHS[name] for name in found} == found
    assert set(LENGTHS) == set(found) | NOT_A_TYPED_COLUMN


# The longest value each profile field takes, as text that passes the field's other checks.
LONGEST = {
    "full_name": "a" * 120,
    "post_nominals": "a" * 80,
    "licence_number": "a" * 60,
    "bio": "a" * 5000,
    "public_email": "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com",
    "website": "https://example.com/" + "a" * 480,
    "booking_url": "https://example.com/" + "a" * 480,
    "languages": "en," * 100,
    "insurance_notes": "a" * 2000,
}


def test_the_longest_values_are_at_the_limits():
    assert {name: len(value) for name, value in LONGEST.items()} == {
        name: LENGTHS[name] for name in LONGEST}
    # The phone's column takes 40 characters, but a phone number is at most 30 of them
    # (field_rules.PHONE), so no phone reaches the length limit; a region is resolved to its
    # code, so no region's name of 100 characters is known.
    assert "phone" not in LONGEST and "licence_region" not in LONGEST


@pytest.mark.parametrize("field", LONGEST)
def test_the_profile_form_takes_the_longest_value(app, client, owner, field):
    assert post_profile(client, **{field: LONGEST[field]}).status_code == 302
    stored = getattr(stored_profile(app, owner.id), field)
    assert stored == (["en"] if field == "languages" else LONGEST[field])


@pytest.mark.parametrize("field", [*LONGEST, "phone", "licence_region"])
def test_one_character_more_is_refused_by_the_form_and_the_import_alike(
        app, client, owner, field):
    value = LONGEST.get(field, "1" * LENGTHS[field]) + "a"
    limit = LENGTHS[field]
    message = f"At most {limit:,} characters (this has {limit + 1:,})."
    response = post_profile(client, **{field: value})
    assert response.status_code == 200
    assert field_error(response, field) == message
    with app.app_context():
        assert import_messages(**{field: value}) == {field: [message]}


# --------------------------------------------------------------------------- 3. dates


def test_the_certification_form_refuses_a_completion_date_three_days_ahead(app, client, owner):
    response = post_cert(client, completed_on=(today() + timedelta(days=3)).isoformat())
    assert response.status_code == 200
    assert field_error(response, "completed_on") == "The completion date is in the future."
    with app.app_context():
        assert db.session.scalars(db.select(Certification)).all() == []


def test_the_certification_form_takes_tomorrow(app, client, owner):
    # Already tomorrow in Auckland while it is still today on the server (UTC).
    tomorrow = today() + timedelta(days=1)
    assert post_cert(client, completed_on=tomorrow.isoformat()).status_code == 302
    with app.app_context():
        assert [c.completed_on for c in db.session.scalars(db.select(Certification))] == [
            tomorrow]


@pytest.mark.parametrize(("days", "refused"), [(-1, False), (0, False), (1, False),
                                               (2, True), (30, True)])
def test_the_form_the_import_and_the_admin_check_agree_on_the_future(
        app, client, owner, days, refused):
    completed = today() + timedelta(days=days)
    response = post_cert(client, completed_on=completed.isoformat())
    assert (response.status_code == 200) is refused
    check = checks.completed_in_past(Certification(completed_on=completed), today())
    assert check.status == ("fail" if refused else "pass")
    with app.app_context():
        found = import_messages(completed_on=completed.isoformat())
    assert found == ({"completed_on": ["The completion date is in the future."]}
                     if refused else {})


# --------------------------------------------------------------------------- 4. the rules


@pytest.mark.parametrize(("typed", "read"), [
    ("example.com", "https://example.com"),
    ("  example.com/book  ", "https://example.com/book"),
    ("http://example.com", "http://example.com"),
    ("javascript:alert(1)", "javascript:alert(1)"),
    ("", ""),
])
def test_a_web_address_without_a_scheme_is_read_as_https(typed, read):
    assert field_rules.normalise_web_address(typed) == read


@pytest.mark.parametrize(("typed", "message"), [
    ("javascript:alert(1)", field_rules.URL_SCHEME_MESSAGE),
    ("data:text/html,hi", field_rules.URL_SCHEME_MESSAGE),
    ("ftp://files.example.com", field_rules.URL_SCHEME_MESSAGE),
    ("https://localhost", field_rules.URL_MESSAGE),
    ("https://exa mple.com", field_rules.URL_MESSAGE),
    ("http://[::1", field_rules.URL_MESSAGE),
])
def test_a_web_address_is_refused(typed, message):
    with pytest.raises(RuleError) as caught:
        field_rules.web_address(field_rules.normalise_web_address(typed))
    assert str(caught.value) == message


def test_the_scheme_message_is_the_one_a_person_reads():
    assert field_rules.URL_SCHEME_MESSAGE == (
        "Only web addresses starting with http:// or https:// are allowed.")


@pytest.mark.parametrize("typed", ["+1 (303) 555-0100", "020 7946 0958", "+44.20.7946.0958"])
def test_a_phone_number_is_taken_as_typed(typed):
    assert field_rules.phone(typed) == typed


@pytest.mark.parametrize("typed", ["call me", "12345", "1" * 31, "+1 303 555 0100 ext 2"])
def test_a_phone_number_is_refused(typed):
    with pytest.raises(RuleError, match=r"digits, spaces and \+ \( \) - only"):
        field_rules.phone(typed)


@pytest.mark.parametrize(("typed", "ok"), [
    ("ana@clinic.example.com", True), ("ana at example", False), ("clinic@", False),
    ("@example.com", False)])
def test_an_email_address(typed, ok):
    if ok:
        assert field_rules.email(typed) == typed
    else:
        with pytest.raises(RuleError, match="like name@example.com"):
            field_rules.email(typed)


def test_a_list_splits_on_commas_and_semicolons():
    assert field_rules.split_list(" a; b ,, c;") == ["a", "b", "c"]
    assert field_rules.languages("Spanish; en, English") == ["en", "es"]


def test_the_rules_between_a_certifications_fields():
    now = today()
    assert field_rules.certification_problems(
        {"completed_on": now + timedelta(days=2), "expires_on": now,
         "hours": 10, "in_person_hours": 12}, now) == {
        "completed_on": field_rules.FUTURE_COMPLETION,
        "expires_on": field_rules.EXPIRY_ORDER,
        "in_person_hours": field_rules.IN_PERSON_MORE}
    assert field_rules.certification_problems(
        {"completed_on": now + timedelta(days=1), "expires_on": None,
         "hours": 10, "in_person_hours": 10}, now) == {}
