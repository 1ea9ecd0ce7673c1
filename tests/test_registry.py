"""The registry administrators keep: recognised programs (with aliases, retire/restore) and
jurisdiction rules. Tests read pages, messages, stored values and audit rows."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from sqlalchemy import select

from directory.credentials.reference import load_reference_data
from directory.extensions import db
from directory.models import (
    Certification,
    JurisdictionRule,
    ProgramAlias,
    TrainingProgram,
)
from directory.registry import services
from tests import factories
from tests.factories import audit_events
from tests.pages import field_error, flashes, page

PROGRAMS = "/admin/registry/programs"
RULES = "/admin/registry/rules"

# --------------------------------------------------------------------------- reading pages


def table_row(response, row_id: str) -> str:
    """The text of one table row, tags removed and spaces collapsed."""
    match = re.search(rf'<tr id="{row_id}">(.*?)</tr>', response.get_data(as_text=True), re.S)
    assert match, f"no row {row_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def input_value(response, name: str) -> str:
    """The value an <input> shows."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"',
                      response.get_data(as_text=True))
    return html.unescape(match.group(1)) if match else ""


def textarea(response, name: str) -> str:
    """The text a <textarea> shows."""
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>',
                      response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)).strip() if match else ""


# --------------------------------------------------------------------------- data


def program_form(**changes) -> dict:
    """A complete, valid program form; a change of None leaves that field out of the POST."""
    data = {
        "key": "kinetacore-fdn-3", "organisation": "KinetaCore",
        "organisation_acronym": "KC", "name": "Functional Dry Needling Level 3", "level": "3",
        "country": "US", "hours": "", "in_person_hours": "", "exam": "unknown",
        "website": "https://www.kinetacore.com", "source_url": "", "notes": "",
        "aliases": "FDN 3\nfdn 3\n  Functional   DN 3 \n\nFDN 3\n",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def rule_form(**changes) -> dict:
    """A complete, valid rule form; a change of None leaves that field out of the POST."""
    data = {
        "jurisdiction": "us-wy", "profession": "physiotherapist", "permitted": "yes",
        "min_hours": "", "min_in_person_hours": "", "min_supervised_sessions": "",
        "min_years_licensed": "", "exam_required": "unknown", "referral_required": "no",
        "other_requirements": "", "source_url": "https://example.gov/wy-board",
        "other_sources": "https://example.org/one\n\nhttps://example.org/one\nexample.net/two\n",
        "source_type": "secondary", "source_date": "", "registration_required": "unknown",
        "patient_note": "", "pending_changes": "", "reviewed_on": "2026-11-20",
        "review_due_on": "", "reason": "Read the board's page.",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def login(auth, email: str) -> None:
    """Log in and read the welcome message, so each page shows only its own messages."""
    assert auth.login(email).status_code == 302
    auth.client.get("/about")


@pytest.fixture
def admin(app, auth):
    """A logged-in administrator; returns the admin's id."""
    with app.app_context():
        admin_id = factories.make_admin("registry-admin@example.com").id
    login(auth, "registry-admin@example.com")
    return admin_id


@pytest.fixture
def reference(app):
    """The programs and rules from the repository's data files."""
    with app.app_context():
        load_reference_data()


def make_rule(**fields) -> JurisdictionRule:
    """A jurisdiction rule (inside an app context)."""
    values = {"jurisdiction": "US-CO", "profession": "physiotherapist", "permitted": "yes",
              "source_url": "https://example.com/rule", "reviewed_on": date(2026, 11, 1)} | fields
    rule = JurisdictionRule(**values)
    db.session.add(rule)
    db.session.commit()
    return rule


# --------------------------------------------------------------------------- navigation


def test_admin_home_links_to_the_registry_queue_and_audit_log(client, admin):
    body = page(client.get("/admin/"))
    for href, text in (("/admin/registry/programs", "Programs"),
                       ("/admin/registry/rules", "Jurisdiction rules"),
                       ("/admin/queue", "Verification queue"), ("/admin/audit", "Audit log")):
        assert f'<a href="{href}">{text}</a>' in body


# --------------------------------------------------------------------------- programs


def test_admin_adds_a_program_with_aliases_and_unknown_hours(app, client, admin):
    response = client.post(f"{PROGRAMS}/new", data=program_form(), follow_redirects=True)
    assert response.status_code == 200
    assert flashes(response) == ["Program “Functional Dry Needling Level 3” added."]

    with app.app_context():
        program = db.session.scalars(select(TrainingProgram)).one()
        assert program.key == "kinetacore-fdn-3"
        assert program.hours is None and program.in_person_hours is None  # unknown, never 0
        assert program.exam is None
        assert program.website == "https://www.kinetacore.com"
        assert program.source_url is None
        # Duplicates (also in another case) and blank lines removed, spaces tidied.
        assert [a.alias for a in program.aliases] == ["FDN 3", "Functional DN 3"]
        [event] = audit_events(app, "program.created")
        assert event.actor_id == admin and event.subject_id == program.id
        assert event.subject_type == "training_programs"
        program_id = program.id

    row = table_row(response, f"program-{program_id}")
    assert "KinetaCore (KC)" in row and "Functional Dry Needling Level 3" in row
    assert "United States" in row and "Active" in row and "0 certifications" in row
    assert "FDN 3, Functional DN 3" in row
    assert "unknown unknown unknown" in row  # hours, in-person hours, exam


def test_admin_edits_a_program_and_the_audit_names_the_changes(app, client, admin):
    with app.app_context():
        program = factories.make_program("aamt-dn-9", hours=27.0, level=1,
                                         aliases=[ProgramAlias(alias="AAMT DN9"),
                                                  ProgramAlias(alias="SMI DN9")])
        program_id = program.id
        kept_alias_id = program.aliases[0].id

    form = client.get(f"{PROGRAMS}/{program_id}/edit")
    assert input_value(form, "hours") == "27"  # not 27.0 or 27.00
    assert input_value(form, "in_person_hours") == ""
    assert textarea(form, "aliases") == "AAMT DN9\nSMI DN9"

    response = client.post(f"{PROGRAMS}/{program_id}/edit", data=program_form(
        key="aamt-dn-9", organisation="Test Organisation", organisation_acronym="",
        name="Test Dry Needling Level 1", level="1", hours="27.5", in_person_hours="0",
        exam="yes", website="", aliases="AAMT DN9\nAAMT Dry Needling 9"),
        follow_redirects=True)
    assert flashes(response) == ["Program “Test Dry Needling Level 1” saved."]
    with app.app_context():
        program = db.session.get(TrainingProgram, program_id)
        assert program.hours == 27.5
        assert program.in_person_hours == 0.0  # an explicit 0 stays 0
        assert program.exam is True
        assert program.website is None
        assert [a.alias for a in program.aliases] == ["AAMT DN9", "AAMT Dry Needling 9"]
        assert program.aliases[0].id == kept_alias_id  # replaced as a set: unchanged row kept
        assert db.session.scalars(select(ProgramAlias.alias)).all().count("SMI DN9") == 0
        [event] = audit_events(app, "program.updated")
        assert event.actor_id == admin
        assert event.detail["fields"] == ["exam", "hours", "in_person_hours", "aliases"]
        assert event.detail["before"] == {"exam": None, "hours": 27.0, "in_person_hours": None,
                                          "aliases": ["AAMT DN9", "SMI DN9"]}


def test_emptying_hours_stores_unknown_not_zero(app, client, admin):
    with app.app_context():
        program_id = factories.make_program("p1", hours=27.0, in_person_hours=20.0).id
    response = client.post(f"{PROGRAMS}/{program_id}/edit", data=program_form(
        key="p1", hours="", in_person_hours="  "), follow_redirects=True)
    assert response.status_code == 200
    with app.app_context():
        program = db.session.get(TrainingProgram, program_id)
        assert program.hours is None and program.in_person_hours is None
    assert "unknown unknown" in table_row(response, f"program-{program_id}")


def test_saving_without_changes_still_writes_an_audit_event(app, client, admin):
    with app.app_context():
        program_id = factories.make_program("p1").id
    form = client.get(f"{PROGRAMS}/{program_id}/edit")
    data = program_form(key="p1", organisation="Test Organisation", organisation_acronym="",
                        name="Test Dry Needling Level 1", level="1",
                        hours=input_value(form, "hours"), website="", aliases="")
    client.post(f"{PROGRAMS}/{program_id}/edit", data=data)
    with app.app_context():
        [event] = audit_events(app, "program.updated")
        assert event.detail["fields"] == []


def test_a_taken_key_is_a_field_error_and_nothing_is_saved(app, client, admin):
    with app.app_context():
        factories.make_program("kinetacore-fdn-3")
        other_id = factories.make_program("other-program").id

    response = client.post(f"{PROGRAMS}/new", data=program_form())
    assert response.status_code == 200
    assert field_error(response, "key") == "Another program already has the key “kinetacore-fdn-3”."
    assert "Please correct 1 field" in page(response)

    response = client.post(f"{PROGRAMS}/{other_id}/edit", data=program_form())
    assert field_error(response, "key") == "Another program already has the key “kinetacore-fdn-3”."

    # A program keeps its own key when edited.
    response = client.post(f"{PROGRAMS}/{other_id}/edit", data=program_form(key="other-program"))
    assert response.status_code == 302
    with app.app_context():
        assert len(db.session.scalars(select(TrainingProgram)).all()) == 2
        assert audit_events(app, "program.created") == []
        assert len(audit_events(app, "program.updated")) == 1


def test_the_database_refuses_a_duplicate_key_the_form_did_not_see(app, admin):
    with app.app_context():
        factories.make_program("dup")
        actor = factories.make_admin()
        with pytest.raises(services.DuplicateError, match="already has the key “dup”"):
            services.create_program(actor, {"key": "dup", "organisation": "O", "name": "N",
                                            "country": "US"}, ["A"])
        # Nothing half-written, and the session is usable afterwards.
        assert db.session.scalars(select(TrainingProgram.key)).all() == ["dup"]
        assert audit_events(app, "program.created") == []
        program = factories.make_program("second")
        with pytest.raises(services.DuplicateError):
            services.update_program(program, actor, {"key": "dup", "organisation": "O",
                                                     "name": "N", "country": "US"}, [])
        assert sorted(db.session.scalars(select(TrainingProgram.key))) == ["dup", "second"]
        assert audit_events(app, "program.updated") == []


def test_the_view_shows_the_database_refusal_as_a_field_error(app, client, admin, monkeypatch):
    with app.app_context():
        factories.make_program("kinetacore-fdn-3")
    # Another administrator saved the same key between the form's check and the insert.
    monkeypatch.setattr(services, "program_key_taken", lambda key, exclude_id=None: False)
    response = client.post(f"{PROGRAMS}/new", data=program_form())
    assert response.status_code == 200
    assert field_error(response, "key") == "Another program already has the key “kinetacore-fdn-3”."

    with app.app_context():
        other_id = factories.make_program("other-program", name="Other Program").id
    response = client.post(f"{PROGRAMS}/{other_id}/edit", data=program_form())
    assert response.status_code == 200
    assert field_error(response, "key") == "Another program already has the key “kinetacore-fdn-3”."
    assert "Test Organisation: Other Program" in page(response)  # the saved name, unchanged
    with app.app_context():
        assert db.session.get(TrainingProgram, other_id).key == "other-program"
        assert audit_events(app, "program.created") == audit_events(app, "program.updated") == []


@pytest.mark.parametrize(("field", "value", "message"), [
    ("key", "", "Enter a key."),
    ("key", "Kinetacore FDN", "Use lower-case letters, digits and single hyphens, like "
                              "kinetacore-fdn-1."),
    ("key", "a--b", "Use lower-case letters, digits and single hyphens, like "
                    "kinetacore-fdn-1."),
    ("key", "k" * 81, "Use at most 80 characters."),
    ("organisation", "", "Enter the organisation."),
    ("organisation", "x" * 201, "Field cannot be longer than 200 characters."),
    ("name", " ", "Enter the program's name."),
    ("organisation_acronym", "x" * 41, "Field cannot be longer than 40 characters."),
    ("level", "two", "Enter the level as a whole number."),
    ("level", "0", "Enter a level from 1 to 9."),
    ("level", "99999999999999999999999", "Enter a level from 1 to 9."),
    ("country", "", "Choose the country."),
    ("country", "ZZ", "Choose a country from the list."),
    ("country", "Narnia", "Choose a country from the list."),
    ("hours", "-1", "Hours cannot be negative."),
    ("hours", "twenty", "Enter a number of hours, like 27 or 27.5."),
    ("hours", "NaN", "Enter a number of hours, like 27 or 27.5."),
    ("hours", "Infinity", "Enter a number of hours, like 27 or 27.5."),
    ("hours", "1e9", "Enter at most 5,000 hours."),
    ("in_person_hours", "-0.5", "Hours cannot be negative."),
    ("exam", "maybe", "Choose yes, no or unknown."),
    ("website", "javascript:alert(1)",
     "Only web addresses starting with http:// or https:// are allowed."),
    ("website", "ftp://files.example.com/program.pdf",
     "Only web addresses starting with http:// or https:// are allowed."),
    ("source_url", "data:text/html,<script>alert(1)</script>",
     "Only web addresses starting with http:// or https:// are allowed."),
    ("source_url", "https://localhost", "Enter a web address such as https://example.com."),
    ("aliases", "ok\n" + "a" * 121, "Keep each alias to 120 characters or fewer: "
                                   "“aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…” is longer."),
    ("notes", "x" * 5001, "Field cannot be longer than 5000 characters."),
    ("notes", "nul \x00 byte", "Remove the invisible NUL character from this text."),
])
def test_program_validation_messages(app, client, admin, field, value, message):
    response = client.post(f"{PROGRAMS}/new", data=program_form(**{field: value}))
    assert response.status_code == 200
    assert field_error(response, field) == message
    with app.app_context():
        assert db.session.scalars(select(TrainingProgram)).all() == []
        assert audit_events(app, "program.created") == []


def test_in_person_hours_cannot_exceed_the_total(client, admin):
    response = client.post(f"{PROGRAMS}/new", data=program_form(hours="20",
                                                                 in_person_hours="27"))
    assert field_error(response, "in_person_hours") == (
        "In-person hours cannot be more than the total hours.")


def test_a_bare_domain_is_read_as_https(app, client, admin):
    client.post(f"{PROGRAMS}/new", data=program_form(website="kinetacore.com"))
    with app.app_context():
        assert db.session.scalars(select(TrainingProgram.website)).one() == (
            "https://kinetacore.com")


def test_the_program_list_shows_reference_programs(client, admin, reference):
    body = page(client.get(PROGRAMS))
    assert "KinetaCore" in body and "kinetacore-fdn-1" in body
    assert "24 programs in use" in body


# --------------------------------------------------------------------------- retire / restore


def test_retiring_keeps_the_program_on_certifications_and_hides_it_from_practitioners(
        app, client, auth, admin):
    with app.app_context():
        program = factories.make_program("myopain-dn-9", organisation="Myopain Seminars",
                                         name="Dry Needling Level 9")
        factories.make_program("still-active", organisation="Active Org", name="Active DN 1")
        practitioner = factories.make_practitioner("pract@example.com")
        verified = factories.make_certification(practitioner, program=program,
                                                status="verified")
        pending = factories.make_certification(practitioner, program=program)
        program_id, verified_id, pending_id = program.id, verified.id, pending.id

    assert "Cited by 2 certifications." in page(client.get(f"{PROGRAMS}/{program_id}/edit"))
    response = client.post(f"{PROGRAMS}/{program_id}/retire", follow_redirects=True)
    assert flashes(response) == [
        "Program “Dry Needling Level 9” retired. Certifications that cite it keep it; "
        "practitioners can no longer choose it."]
    assert "Retired" in table_row(response, f"program-{program_id}")
    assert "2 certifications" in table_row(response, f"program-{program_id}")

    with app.app_context():
        program = db.session.get(TrainingProgram, program_id)
        assert program.retired_at is not None
        for cert_id in (verified_id, pending_id):
            cert = db.session.get(Certification, cert_id)
            assert cert.program_id == program_id
        assert db.session.get(Certification, verified_id).status == "verified"
        [event] = audit_events(app, "program.retired")
        assert event.actor_id == admin and event.detail["certifications"] == 2

    # Hidden from the default list, shown with the toggle.
    assert f'id="program-{program_id}"' not in client.get(PROGRAMS).get_data(as_text=True)
    assert f'id="program-{program_id}"' in client.get(f"{PROGRAMS}?retired=1").get_data(
        as_text=True)
    # The admin's review page still names the program.
    assert "Myopain Seminars: Dry Needling Level 9" in page(
        client.get(f"/admin/certifications/{verified_id}"))

    auth.logout()
    login(auth, "pract@example.com")
    new_page = page(client.get("/certifications/new"))
    assert "Active Org — Active DN 1" in new_page
    assert "Myopain Seminars — Dry Needling Level 9" not in new_page
    # A certification that already cites it still shows it, chosen, when edited.
    edit_page = page(client.get(f"/certifications/{pending_id}/edit"))
    assert (f'<option selected value="{program_id}">Myopain Seminars — Dry Needling Level 9'
            in edit_page)

    auth.logout()
    login(auth, "registry-admin@example.com")
    response = client.post(f"{PROGRAMS}/{program_id}/restore", follow_redirects=True)
    assert flashes(response) == [
        "Program “Dry Needling Level 9” restored: practitioners can choose it again."]
    assert "Active" in table_row(response, f"program-{program_id}")
    with app.app_context():
        assert db.session.get(TrainingProgram, program_id).retired_at is None
        [event] = audit_events(app, "program.restored")
        assert event.actor_id == admin

    auth.logout()
    login(auth, "pract@example.com")
    assert "Myopain Seminars — Dry Needling Level 9" in page(client.get("/certifications/new"))


def test_retiring_twice_changes_nothing_the_second_time(app, client, admin):
    with app.app_context():
        program_id = factories.make_program("p1").id
    client.post(f"{PROGRAMS}/{program_id}/retire", follow_redirects=True)
    with app.app_context():
        first = db.session.get(TrainingProgram, program_id).retired_at
    response = client.post(f"{PROGRAMS}/{program_id}/retire", follow_redirects=True)
    assert flashes(response) == ["Program “Test Dry Needling Level 1” was already retired."]
    response = client.post(f"{PROGRAMS}/{program_id}/restore", follow_redirects=True)
    response = client.post(f"{PROGRAMS}/{program_id}/restore", follow_redirects=True)
    assert flashes(response) == ["Program “Test Dry Needling Level 1” is not retired."]
    with app.app_context():
        assert first is not None
        assert len(audit_events(app, "program.retired")) == 1
        assert len(audit_events(app, "program.restored")) == 1


def test_a_retired_program_is_not_matched_from_a_typed_name(app, client, auth, admin):
    with app.app_context():
        program_id = factories.make_program(
            "kinetacore-fdn-1", organisation="KinetaCore", organisation_acronym="KinetaCore",
            name="Functional Dry Needling Level 1",
            aliases=[ProgramAlias(alias="FDN 1")]).id
    client.post(f"{PROGRAMS}/{program_id}/retire")
    with app.app_context():
        from directory.credentials.services import match_program

        program, _score, outcome = match_program("KinetaCore Functional Dry Needling Level 1")
        assert program is None and outcome == "unrecognised"


# --------------------------------------------------------------------------- rules


def test_the_rules_table_shows_readable_names_and_filters(client, admin, reference):
    body = page(client.get(RULES))
    assert "103 rules" in body
    assert "Colorado, United States" in body and "Wales, United Kingdom" in body

    assert "2 rules" in page(client.get(f"{RULES}?jurisdiction=US-CO"))  # PT and OT
    colorado = client.get(f"{RULES}?jurisdiction=US-CO&profession=physiotherapist")
    assert "1 rule" in page(colorado)
    assert re.search(r'<tr id="rule-\d+">', colorado.get_data(as_text=True))
    row = table_row(colorado, re.search(r'<tr id="(rule-\d+)">',
                                        colorado.get_data(as_text=True)).group(1))
    assert row.startswith("US-CO Colorado, United States Physical therapist / physiotherapist "
                          "permitted 50 40")
    assert "Source" in row and "secondary" in row and "1 Dec 2026" in row
    assert row.endswith("1 Dec 2026 1 Dec 2027")  # reviewed, and due for review in 12 months

    us = page(client.get(f"{RULES}?jurisdiction=us"))
    assert "Colorado, United States" in us and "Ontario" not in us and "Wales" not in us

    any_profession = page(client.get(f"{RULES}?profession=*"))
    assert "1 rule" in any_profession and "Wales, United Kingdom" in any_profession

    chiro = page(client.get(f"{RULES}?jurisdiction=US&profession=chiropractor"))
    assert "14 rules" in chiro and "Texas, United States" in chiro


@pytest.mark.parametrize(("query", "field", "message"), [
    ("jurisdiction=US%25", "jurisdiction", "Use a code such as US or US-CO."),
    ("jurisdiction=" + "U" * 11, "jurisdiction", "Use a code such as US or US-CO."),
    ("jurisdiction=US%00", "jurisdiction", "Use a code such as US or US-CO."),
    ("profession=astronaut", "profession", "Choose a profession from the list."),
])
def test_a_bad_rules_filter_is_a_message_not_an_error(client, admin, reference, query, field,
                                                      message):
    response = client.get(f"{RULES}?{query}")
    assert response.status_code == 200
    assert field_error(response, field).startswith(message)
    assert "0 rules" in page(response)


def test_admin_adds_a_rule(app, client, admin):
    response = client.post(f"{RULES}/new", data=rule_form(min_hours="54",
                                                           min_supervised_sessions="3"),
                           follow_redirects=True)
    assert flashes(response) == [
        "Rule for Wyoming, United States (physical therapist / physiotherapist) added."]
    with app.app_context():
        rule = db.session.scalars(select(JurisdictionRule)).one()
        assert rule.jurisdiction == "US-WY"  # normalised to upper case
        assert rule.min_hours == 54.0 and rule.min_in_person_hours is None
        assert rule.min_supervised_sessions == 3 and rule.min_years_licensed is None
        assert rule.exam_required is None and rule.referral_required is False
        assert rule.other_sources == ["https://example.org/one", "https://example.net/two"]
        assert rule.reviewed_on == date(2026, 11, 20)
        [event] = audit_events(app, "rule.created")
        assert event.actor_id == admin and event.subject_type == "jurisdiction_rules"
        assert event.detail == {"jurisdiction": "US-WY", "profession": "physiotherapist",
                                "permitted": "yes", "reason": "Read the board's page.",
                                "verdicts_changed": 0}
        assert rule.review_due_on == date(2027, 11, 20)  # 12 months after the review
        assert rule.admin_edited_at is not None
        rule_id = rule.id
    row = table_row(response, f"rule-{rule_id}")
    assert row.startswith("US-WY Wyoming, United States")
    assert "permitted 54 — 3 — unknown no" in row


def test_admin_edits_a_rule_and_the_audit_names_the_changes(app, client, admin):
    with app.app_context():
        rule_id = make_rule(min_hours=50.0, other_sources=["https://example.org/a"]).id
    form = client.get(f"{RULES}/{rule_id}/edit")
    assert input_value(form, "jurisdiction") == "US-CO"
    assert input_value(form, "min_hours") == "50"
    assert input_value(form, "reviewed_on") == "2026-11-01"
    assert textarea(form, "other_sources") == "https://example.org/a"
    assert "Colorado, United States: physical therapist / physiotherapist" in page(form)

    response = client.post(f"{RULES}/{rule_id}/edit", data=rule_form(
        jurisdiction="US-CO", permitted="unclear", min_hours="", min_in_person_hours="",
        exam_required="yes", referral_required="unknown", source_url="https://example.com/rule",
        other_sources="", other_requirements="Board approval.", reviewed_on="2026-11-21"),
        follow_redirects=True)
    assert flashes(response) == [
        "Rule for Colorado, United States (physical therapist / physiotherapist) saved."]
    with app.app_context():
        rule = db.session.get(JurisdictionRule, rule_id)
        assert rule.permitted == "unclear" and rule.min_hours is None
        assert rule.exam_required is True and rule.referral_required is None
        assert rule.other_sources == [] and rule.other_requirements == "Board approval."
        [event] = audit_events(app, "rule.updated")
        assert event.actor_id == admin
        assert event.detail["fields"] == ["exam_required", "min_hours", "other_requirements",
                                          "other_sources", "permitted", "review_due_on",
                                          "reviewed_on"]
        assert event.detail["reason"] == "Read the board's page."
        assert event.detail["before"]["min_hours"] == 50.0
        assert event.detail["before"]["reviewed_on"] == "2026-11-01"


def test_one_rule_per_jurisdiction_and_profession(app, client, admin):
    with app.app_context():
        make_rule()
        other_id = make_rule(jurisdiction="US-TX", profession="chiropractor").id

    response = client.post(f"{RULES}/new", data=rule_form(jurisdiction="us-co"))
    assert response.status_code == 200
    assert field_error(response, "jurisdiction") == (
        "Colorado, United States already has a rule for physical therapist / physiotherapist: "
        "edit that one instead.")
    response = client.post(f"{RULES}/{other_id}/edit", data=rule_form(jurisdiction="US-CO"))
    assert "already has a rule" in field_error(response, "jurisdiction")

    # Another profession, or any profession, in the same place is a different rule.
    assert client.post(f"{RULES}/new", data=rule_form(jurisdiction="US-CO",
                                                      profession="*")).status_code == 302
    # A rule keeps its own jurisdiction and profession when edited.
    assert client.post(f"{RULES}/{other_id}/edit", data=rule_form(
        jurisdiction="US-TX", profession="chiropractor")).status_code == 302
    with app.app_context():
        assert len(audit_events(app, "rule.created")) == 1
        assert len(audit_events(app, "rule.updated")) == 1


def test_the_database_refuses_a_duplicate_rule_the_form_did_not_see(app, admin):
    with app.app_context():
        make_rule()
        actor = factories.make_admin()
        with pytest.raises(services.DuplicateError):
            services.create_rule(actor, {"jurisdiction": "US-CO", "profession": "physiotherapist",
                                         "permitted": "no", "source_url": "https://x.org"})
        assert len(db.session.scalars(select(JurisdictionRule)).all()) == 1
        assert audit_events(app, "rule.created") == []


@pytest.mark.parametrize(("value", "message"), [
    ("", "Enter the jurisdiction."),
    ("US-XX", "United States has no region US-XX. Enter a country code such as US or an "
              "ISO 3166-2 code such as US-CO."),
    ("Narnia", "Enter a country code such as US or an ISO 3166-2 code such as US-CO."),
    ("XX", "XX is not a country code. Enter a country code such as US or an ISO 3166-2 code "
           "such as US-CO."),
    ("US-", "Enter a country code such as US or an ISO 3166-2 code such as US-CO."),
    ("Colorado", "Enter a country code such as US or an ISO 3166-2 code such as US-CO."),
    ("CA-CO", "Canada has no region CA-CO. Enter a country code such as US or an ISO 3166-2 "
              "code such as US-CO."),
    ("US-CO-DEN", "Enter a country code such as US or an ISO 3166-2 code such as US-CO."),
    ("U" * 200, "Enter a country code such as US or an ISO 3166-2 code such as US-CO."),
])
def test_an_unknown_jurisdiction_is_refused(app, client, admin, value, message):
    response = client.post(f"{RULES}/new", data=rule_form(jurisdiction=value))
    assert response.status_code == 200
    assert field_error(response, "jurisdiction") == message
    with app.app_context():
        assert db.session.scalars(select(JurisdictionRule)).all() == []


@pytest.mark.parametrize("value", ["GB", "gb-wls", "GB-ENG", "CA-ON", "AU-NSW", "NZ"])
def test_countries_and_their_regions_are_accepted(app, client, admin, value):
    response = client.post(f"{RULES}/new", data=rule_form(jurisdiction=value))
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalars(select(JurisdictionRule.jurisdiction)).one() == value.upper()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("profession", "", "Choose a profession."),
    ("profession", "astronaut", "Choose a profession from the list."),
    ("permitted", "", "Choose whether dry needling is permitted."),
    ("permitted", "sometimes", "Choose yes, no or unclear."),
    ("min_hours", "-10", "Hours cannot be negative."),
    ("min_hours", "fifty", "Enter a number of hours, like 27 or 27.5."),
    ("min_hours", "nan", "Enter a number of hours, like 27 or 27.5."),
    ("min_in_person_hours", "-1", "Hours cannot be negative."),
    ("min_supervised_sessions", "-1", "Sessions cannot be negative."),
    ("min_supervised_sessions", "2.5", "Enter a whole number."),
    ("min_supervised_sessions", "9" * 30, "Enter at most 10,000 sessions."),
    ("min_years_licensed", "-1", "Years cannot be negative."),
    ("min_years_licensed", "a year", "Enter a number of years, like 1 or 0.5."),
    ("min_years_licensed", "61", "Enter at most 60 years."),
    ("exam_required", "perhaps", "Choose yes, no or unknown."),
    ("referral_required", "", "Choose yes, no or unknown."),
    ("source_url", "", "Enter the address of the source."),
    ("source_url", "javascript:alert(document.cookie)",
     "Only web addresses starting with http:// or https:// are allowed."),
    ("source_url", "ftp://example.gov/rules.pdf",
     "Only web addresses starting with http:// or https:// are allowed."),
    ("source_url", "https://example.gov/" + "a" * 500,
     "Field cannot be longer than 500 characters."),
    ("other_sources", "https://ok.example.org\njavascript:alert(1)",
     "“javascript:alert(1)”: Only web addresses starting with http:// or https:// are "
     "allowed."),
    ("other_sources", "ftp://files.example.org/x",
     "“ftp://files.example.org/x”: Only web addresses starting with http:// or https:// are "
     "allowed."),
    ("other_sources", "not a web address",
     "“not a web address”: Enter a web address such as https://example.com."),
    ("other_sources", "https://example.org/" + "a" * 500,
     "“https://example.org/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…”: Keep each address to "
     "500 characters or fewer."),
    ("other_requirements", "x" * 5001, "Field cannot be longer than 5000 characters."),
    ("other_requirements", "a\x00b", "Remove the invisible NUL character from this text."),
    ("reviewed_on", "", "Enter the date the source was reviewed."),
    ("reviewed_on", "22/11/2026", "Enter a date like 2026-11-22."),
    ("reviewed_on", "2026-02-30", "Enter a date like 2026-11-22."),
])
def test_rule_validation_messages(app, client, admin, field, value, message):
    response = client.post(f"{RULES}/new", data=rule_form(**{field: value}))
    assert response.status_code == 200
    assert field_error(response, field) == message
    with app.app_context():
        assert db.session.scalars(select(JurisdictionRule)).all() == []
        assert audit_events(app, "rule.created") == []


def test_the_in_person_minimum_cannot_exceed_the_total(client, admin):
    response = client.post(f"{RULES}/new", data=rule_form(min_hours="20",
                                                          min_in_person_hours="30"))
    assert field_error(response, "min_in_person_hours") == (
        "The in-person minimum cannot be more than the total minimum.")


# --------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(("method", "url"), [
    ("GET", "/admin/registry/programs/abc/edit"),
    ("GET", "/admin/registry/programs/999/edit"),
    ("GET", "/admin/registry/programs/-1/edit"),
    ("GET", "/admin/registry/programs/0/edit"),
    ("GET", "/admin/registry/programs/99999999999999999999/edit"),
    ("GET", "/admin/registry/programs/2147483648/edit"),
    ("POST", "/admin/registry/programs/999/edit"),
    ("POST", "/admin/registry/programs/999/retire"),
    ("POST", "/admin/registry/programs/99999999999999999999/restore"),
    ("POST", "/admin/registry/programs/1.5/retire"),
    ("GET", "/admin/registry/rules/abc/edit"),
    ("GET", "/admin/registry/rules/999/edit"),
    ("POST", "/admin/registry/rules/9223372036854775808/edit"),
])
def test_bad_or_missing_ids_are_404(client, admin, method, url):
    assert client.open(url, method=method).status_code == 404


MALFORMED = [
    {"hours": "1" * 5000},
    {"hours": "1e999999999"},
    {"hours": "1e-999999999"},
    {"hours": "0x1A"},
    {"hours": ["1", "2"]},
    {"level": "9" * 5000},
    {"key": "é" * 100},
    {"key": "k\x00"},
    {"aliases": "\x00"},
    {"aliases": "a\r\nb\rc\n" * 400},
    {"country": "\x00"},
    {"exam": "\x00"},
    {"website": "http://[::1"},
    {"website": "https://exa mple.com"},
    {"website": "x" * 10000},
    {"organisation": "x" * 100000},
]


@pytest.mark.parametrize("changes", MALFORMED)
def test_malformed_program_input_never_fails(app, client, admin, changes):
    with app.app_context():
        program_id = factories.make_program("p1").id
    for url in (f"{PROGRAMS}/new", f"{PROGRAMS}/{program_id}/edit"):
        response = client.post(url, data=program_form(**{"key": "p2", **changes}))
        assert response.status_code in (200, 302), url
    with app.app_context():
        for program in db.session.scalars(select(TrainingProgram)):
            assert program.hours is None or 0 <= program.hours <= 5000


@pytest.mark.parametrize("changes", [
    {"jurisdiction": "\x00"},
    {"jurisdiction": "US-C\x00"},
    {"jurisdiction": "ÜS-CO"},
    {"jurisdiction": "US-CO\n"},
    {"profession": "\x00"},
    {"min_hours": "∞"},
    {"min_supervised_sessions": "1e3"},
    {"min_supervised_sessions": "-" * 5000},
    {"reviewed_on": "0000-01-01"},
    {"reviewed_on": "9999999-01-01"},
    {"reviewed_on": "\x00"},
    {"source_url": "http://[::1"},
    {"other_sources": "http://[::1\nhttps://ok.example.org"},
    {"other_sources": "\x00"},
    {"other_requirements": "x" * 100000},
])
def test_malformed_rule_input_never_fails(app, client, admin, changes):
    with app.app_context():
        rule_id = make_rule(jurisdiction="GB").id
    for url in (f"{RULES}/new", f"{RULES}/{rule_id}/edit"):
        response = client.post(url, data=rule_form(**changes))
        assert response.status_code in (200, 302), url


def test_a_json_body_is_not_a_500(client, admin):
    response = client.post(f"{PROGRAMS}/new", json={"key": 5, "hours": [1], "aliases": {}})
    assert response.status_code == 200
    response = client.post(f"{RULES}/new", json={"jurisdiction": ["US"]})
    assert response.status_code == 200


# --------------------------------------------------------------------------- CSRF


def _tokens(response) -> list[str]:
    return re.findall(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                      response.get_data(as_text=True))


def test_every_registry_form_and_button_carries_a_csrf_token(csrf_app):
    with csrf_app.app_context():
        factories.make_admin("csrf-admin@example.com")
        program_id = factories.make_program("p1").id
        rule_id = make_rule().id
    client = csrf_app.test_client()
    token = _tokens(client.get("/account/login"))[0]
    client.post("/account/login", data={"csrf_token": token, "email": "csrf-admin@example.com",
                                        "password": factories.PASSWORD})

    listing = client.get(PROGRAMS)
    forms = listing.get_data(as_text=True).count('<form method="post"')
    assert forms == len(_tokens(listing)) >= 2  # each retire button is a form with a token
    response = client.post(f"{PROGRAMS}/{program_id}/retire",
                           data={"csrf_token": _tokens(listing)[0]}, follow_redirects=True)
    assert "retired" in flashes(response)[0]
    assert client.post(f"{PROGRAMS}/{program_id}/restore").status_code == 400  # no token

    for url in (f"{PROGRAMS}/new", f"{PROGRAMS}/{program_id}/edit", f"{RULES}/new",
                f"{RULES}/{rule_id}/edit"):
        assert _tokens(client.get(url)), url
    new_form = client.get(f"{RULES}/new")
    response = client.post(f"{RULES}/new", data=rule_form(csrf_token=_tokens(new_form)[0]))
    assert response.status_code == 302


def test_start_up_seeds_only_an_empty_registry_and_never_undoes_admin_edits(app):
    """A seeded program an admin re-keyed must not come back from the data file on restart."""
    from sqlalchemy import func, select

    from directory.credentials.reference import load_reference_data, seed_reference_data
    from directory.extensions import db
    from directory.models import JurisdictionRule, TrainingProgram

    with app.app_context():
        seeded = seed_reference_data()
        assert seeded.programs >= 20 and seeded.rules == 103
        program = db.session.scalar(select(TrainingProgram).where(
            TrainingProgram.key == "aamt-dn-1"))
        program.key = "aamt-dn-1-renamed"
        db.session.delete(db.session.scalar(select(JurisdictionRule).where(
            JurisdictionRule.jurisdiction == "US-CO")))
        db.session.commit()
        count = db.session.scalar(select(func.count()).select_from(TrainingProgram))

        assert seed_reference_data().rules == 0  # what a restart does
        assert db.session.scalar(select(func.count()).select_from(TrainingProgram)) == count
        assert db.session.scalar(select(TrainingProgram).where(
            TrainingProgram.key == "aamt-dn-1")) is None

        # The explicit command adds what the data file has and the database lacks.
        loaded = load_reference_data()
        assert (loaded.programs, loaded.rules, loaded.updated_rules) == (1, 1, 0)
