"""Bulk data: importing practitioners from CSV (dry run, all or nothing), exporting the listed
directory as CSV and JSON, the admin pages and the commands."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from directory.bulk import importer
from directory.bulk.columns import NAMES, REQUIRED, template_csv
from directory.credentials.reference import load_reference_data
from directory.extensions import db
from directory.listing import is_listed
from directory.models import (
    AuditEvent,
    Certification,
    PracticeLocation,
    Practitioner,
    TrainingProgram,
    User,
)
from directory.models.base import utcnow
from tests import factories
from tests.s3 import both_stores

ADMIN = "admin@example.com"


def row(n: int = 1, **values) -> dict[str, str]:
    """A correct row for a practitioner in Denver with a KinetaCore certificate."""
    return {
        "email": f"person{n}@example.com", "full_name": f"Person Number{n}",
        "profession": "physiotherapist", "post_nominals": "DPT", "licence_number": f"PT-{n}",
        "licence_country": "US", "licence_region": "Colorado", "bio": "Sports injuries.",
        "phone": "+1 303 555 0100", "public_email": "", "website": "example.com",
        "booking_url": "", "languages": "English; Spanish", "techniques": "trigger_point; deep",
        "conditions": "Neck pain; low_back_pain", "accepting_new_patients": "yes",
        "insurance_notes": "", "clinic_name": "Mile High Physio", "street": "1550 Larimer St",
        "city": "Denver", "region": "CO", "postcode": "80202", "country": "US",
        "wheelchair_accessible": "no", "lat": "", "lng": "", "program": "kinetacore-fdn-1",
        "level": "1", "certificate_number": f"KC-{n}", "completed_on": "2023-05-14",
        "expires_on": "", "hours": "27", "in_person_hours": "27", "supervised_sessions": "",
    } | values


def csv_bytes(*rows: dict[str, str], columns=NAMES) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture
def admin(app):
    """An administrator and the recognised programs."""
    with app.app_context():
        load_reference_data()
        user = factories.make_admin(ADMIN)
        return user.id


def counts() -> dict[str, int]:
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (User, Practitioner, PracticeLocation, Certification)}


def problems(report) -> list[tuple[int, str | None]]:
    return [(e.row, e.column) for e in report.errors]


# --------------------------------------------------------------------------- dry run


def test_dry_run_reports_every_problem_by_row_and_column_and_writes_nothing(app_ctx, admin):
    before = counts()
    data = csv_bytes(
        row(1),
        row(2, email="not-an-address", profession="wizard", completed_on="14/05/2023"),
        row(3, languages="English; Klingon", hours="lots", in_person_hours="30",
            licence_region="Narnia", website="javascript:alert(1)"),
        row(4, full_name="", city=""),
    )
    report = importer.dry_run(data)
    assert report.rows == 4 and not report.ok
    # Row 1 of the spreadsheet is the header: the first practitioner is on row 2.
    assert problems(report) == [
        (3, "email"), (3, "profession"), (3, "completed_on"),
        (4, "licence_region"), (4, "website"), (4, "languages"), (4, "hours"),
        (5, "full_name"), (5, "city"),
    ]
    messages = {(e.row, e.column): e.message for e in report.errors}
    assert messages[(3, "completed_on")] == "Enter a date like 2024-03-31."
    assert messages[(4, "languages")] == "We do not recognise: Klingon."
    assert messages[(5, "full_name")] == "This column needs a value."
    assert report.rows_with_errors == 3
    assert counts() == before


def test_a_correct_file_passes_the_dry_run_without_writing(app_ctx, admin):
    report = importer.dry_run(csv_bytes(row(1), row(2)))
    assert report.ok and report.rows == 2 and report.errors == [] and report.created == 0
    assert counts()["practitioners"] == 0


# --------------------------------------------------------------------------- import


def test_a_valid_file_imports_every_practitioner_listed_and_verified(app_ctx, admin, client):
    data = csv_bytes(row(1), row(2, email="Second@Example.com", full_name="Person Number1",
                                 postcode="", city="Boulder", region="Colorado"))
    admin_user = db.session.get(User, admin)
    report = importer.import_practitioners(data, admin_user, file_name="clinics.csv")
    assert report.ok and report.created == 2

    people = db.session.scalars(select(Practitioner).order_by(Practitioner.id)).all()
    assert [p.user.email for p in people] == ["person1@example.com", "second@example.com"]
    assert [p.slug for p in people] == ["person-number1", "person-number1-2"]
    first = people[0]
    assert (first.profession, first.licence_region, first.website) == (
        "physiotherapist", "US-CO", "https://example.com")
    assert first.languages == ["en", "es"]
    assert first.techniques == ["deep", "trigger_point"]
    assert first.conditions == ["low_back_pain", "neck_pain"]
    assert [(loc.city, loc.geo_precision) for loc in first.locations] == [("Denver", "postcode")]
    assert people[1].locations[0].lat == pytest.approx(40.0, abs=0.1)  # placed by its town
    # Listed once the licence is verified too: an import does not vouch for licences.
    assert not any(is_listed(p) for p in people)
    for p in people:
        factories.verify_licence(p)
    assert all(is_listed(p) for p in people)

    certs = db.session.scalars(select(Certification).order_by(Certification.id)).all()
    assert [(c.status, c.program.key, c.reviewed_by_id) for c in certs] == [
        ("verified", "kinetacore-fdn-1", admin)] * 2
    assert all(c.reviewed_at and c.verified_at and c.public_code for c in certs)
    # Approved as an administrator approves one in the queue: the same audit action and
    # transition, saying it came from this import.
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "certification.approve").order_by(AuditEvent.id)).all()
    assert [(e.subject_id, e.actor_id, e.practitioner_id, e.detail["row"]) for e in events] == [
        (c.id, admin, c.practitioner_id, n) for n, c in enumerate(certs, start=2)]
    assert {(e.detail["source"], e.detail["target"], e.detail["via"]) for e in events} == {
        ("pending", "verified", "import")}
    assert len({e.detail["import_id"] for e in events}) == 1
    summary = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "practitioners.imported"))
    assert summary.detail["practitioners"] == 2 and summary.detail["file"] == "clinics.csv"

    # Patients find them: in the search API and on their public profile pages.
    found = client.get("/api/v1/practitioners?near=80202&radius=100").get_json()
    assert {item["name"] for item in found["items"]} == {"Person Number1"}
    assert len(found["items"]) == 2
    assert client.get(f"/p/{first.slug}").status_code == 200


def test_imported_accounts_have_no_password_until_claimed_with_forgot_password(
        app, admin, client, auth, outbox):
    with app.app_context():
        importer.import_practitioners(csv_bytes(row(1)), db.session.get(User, admin))
    for guess in ("", "!imported:", "password"):
        assert auth.login("person1@example.com", guess).status_code == 200  # refused
    assert outbox.messages() == []  # the import itself sends nothing

    client.post("/account/forgot", data={"email": "person1@example.com"})
    link = outbox.link(outbox.last("person1@example.com"))
    new = "a brand new passphrase 42"
    client.post(link, data={"password": new, "confirm": new})
    response = auth.login("person1@example.com", new)
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")


def test_one_bad_row_means_nothing_is_written(app_ctx, admin):
    before = counts()
    data = csv_bytes(row(1), row(2), row(3, completed_on="2019-01-01", expires_on="2020-01-01"))
    report = importer.import_practitioners(data, db.session.get(User, admin))
    assert not report.ok and report.created == 0
    assert problems(report) == [(4, "expires_on")]
    assert "only current certifications" in report.errors[0].message
    assert counts() == before


def test_duplicate_email_addresses_in_the_file_and_on_the_site(app_ctx, admin):
    factories.make_practitioner("taken@example.com")
    data = csv_bytes(row(1), row(2, email="TAKEN@example.com"), row(3, email="Person1@example.com"))
    report = importer.import_practitioners(data, db.session.get(User, admin))
    messages = {(e.row, e.column): e.message for e in report.errors}
    assert messages == {
        (3, "email"): "An account with this e-mail address already exists.",
        (4, "email"): "This e-mail address is also on row 2.",
    }
    assert counts()["practitioners"] == 1


def test_an_address_taken_during_the_import_writes_nothing(app_ctx, admin, monkeypatch):
    factories.make_practitioner("person2@example.com")
    # As if the account signed up between the check and the write.
    monkeypatch.setattr(importer, "taken_emails", lambda emails: set())
    report = importer.import_practitioners(csv_bytes(row(1), row(2), row(3)),
                                           db.session.get(User, admin))
    assert not report.ok and report.created == 0
    assert report.file_error.startswith("The directory changed while importing")
    assert counts()["practitioners"] == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "certification.approve")) == 0


@pytest.mark.parametrize("program, message", [
    ("made-up-program", "is not a recognised program"),
    ("Weekend needling course", "is not a recognised program"),
    ("Myopain", "is not certainly a recognised program (closest: myopain-"),
    ("", "This column needs a value."),
])
def test_only_recognised_programs_can_be_imported_as_verified(app_ctx, admin, program, message):
    report = importer.dry_run(csv_bytes(row(1, program=program)))
    assert problems(report) == [(2, "program")]
    assert message in report.errors[0].message


def test_a_program_name_that_matches_one_program_without_doubt_is_accepted(app_ctx, admin):
    name = "KinetaCore Functional Dry Needling Level 2"
    report = importer.import_practitioners(csv_bytes(row(1, program=name)),
                                           db.session.get(User, admin))
    assert report.ok
    cert = db.session.scalar(select(Certification))
    assert (cert.program.key, cert.submitted_name) == ("kinetacore-fdn-2", name)


def test_a_retired_program_is_refused(app_ctx, admin):
    program = db.session.scalar(select(TrainingProgram).where(
        TrainingProgram.key == "kinetacore-fdn-1"))
    program.retired_at = utcnow()
    db.session.commit()
    report = importer.dry_run(csv_bytes(row(1)))
    assert problems(report) == [(2, "program")] and "retired" in report.errors[0].message


@pytest.mark.parametrize("values, column, message", [
    ({"completed_on": (date.today() + timedelta(days=3)).isoformat()}, "completed_on",
     "The completion date is in the future."),
    ({"expires_on": "2023-05-01"}, "expires_on",
     "The expiry date must be after the completion date."),
    ({"hours": "10", "in_person_hours": "20"}, "in_person_hours",
     "In-person hours cannot be more than the total hours."),
    ({"level": "12"}, "level", "Enter a level from 1 to 9."),
    ({"hours": "NaN"}, "hours", "Enter a number of hours, like 27 or 27.5."),
    ({"licence_region": "CO", "licence_country": "", "licence_number": ""}, "licence_region",
     "Give licence_country too."),
    ({"licence_country": "", "licence_region": ""}, "licence_country",
     "Give the country that issued the licence."),
    ({"phone": "call me"}, "phone", "Enter a phone number using digits, spaces and + ( ) - only."),
    ({"country": "Atlantis"}, "country",
     "“Atlantis” is not a country: use its two-letter ISO code, such as US."),
    ({"lat": "39.7"}, "lng", "Give both lat and lng, or neither."),
    ({"lat": "91", "lng": "0"}, "lat", "Enter a latitude from -90 to 90."),
    ({"accepting_new_patients": "maybe"}, "accepting_new_patients", "Write yes or no."),
    ({"techniques": "acupressure"}, "techniques", "We do not recognise: acupressure."),
    ({"full_name": "x" * 121}, "full_name", "At most 120 characters (this has 121)."),
    ({"bio": "\x00"}, None, "binary data"),
])
def test_field_rules(app_ctx, admin, values, column, message):
    report = importer.dry_run(csv_bytes(row(1, **values)))
    if column is None:
        assert message in report.file_error
        return
    assert problems(report) == [(2, column)]
    assert message in report.errors[0].message


def test_a_location_that_cannot_be_placed_is_a_warning_and_lat_lng_place_it(app_ctx, admin):
    data = csv_bytes(row(1, city="Nowhere Special", postcode="", region=""),
                     row(2, city="Nowhere Special", postcode="", region="",
                         lat="39.75", lng="-104.99"))
    report = importer.import_practitioners(data, db.session.get(User, admin))
    assert report.ok and [(w.row, w.column) for w in report.warnings] == [(2, "postcode")]
    places = db.session.execute(select(PracticeLocation.lat, PracticeLocation.geo_precision)
                                .order_by(PracticeLocation.id)).all()
    assert [tuple(p) for p in places] == [(None, None), (39.75, "exact")]


def test_a_practitioner_without_a_location_is_allowed(app_ctx, admin):
    data = csv_bytes(row(1, clinic_name="", street="", city="", region="", postcode="",
                         country="", wheelchair_accessible=""))
    assert importer.import_practitioners(data, db.session.get(User, admin)).ok
    assert counts()["practice_locations"] == 0 and counts()["practitioners"] == 1


def test_headers_may_be_written_as_words_in_any_order(app_ctx, admin):
    columns = list(reversed(REQUIRED))
    text = ",".join(c.replace("_", " ").title() for c in columns) + "\r\n"
    text += ",".join(row(1)[c] for c in columns) + "\r\n"
    report = importer.dry_run(text.encode())
    assert report.ok, report.errors


def test_the_template_file_imports(app_ctx, admin):
    assert importer.dry_run(template_csv().encode()).ok


# --------------------------------------------------------------------------- bad files


@pytest.mark.parametrize("data, message", [
    (b"", "The file is empty."),
    (factories.PNG_BYTES, "This is not a CSV file: it contains binary data."),
    (bytes(range(256)) * 40_000, "This is not a CSV file: it contains binary data."),
    ("email,full_name\r\nJosé,x\r\n".encode("latin-1"), "The file is not UTF-8 text (line 2"),
    (b"email,full_name,phone\r\na@example.com,A,1\r\n",
     "Missing required columns: clinic_name, city, country, program, completed_on."),
    (b"email;full_name;program\r\n", "Columns must be separated by commas"),
    (csv_bytes(row(1), columns=[*NAMES, "emial"]), "Unknown column: “emial”."),
    (csv_bytes(row(1), columns=[*NAMES, "email"]), "Repeated column: email."),
    (csv_bytes(), "The file has a header but no rows to import."),
    (csv_bytes() + b'a@example.com,"unfinished\r\n', "Row 2 could not be read as CSV"),
    (b"junk " * 2_000_000, "The first row is not a header of column names"),
    (b"junk, " * 2_000_000, "Unknown columns: “junk”, “junk”"),
])
def test_bad_files_get_a_clear_message(app_ctx, admin, data, message):
    report = importer.dry_run(data)
    assert not report.ok
    assert report.file_error.startswith(message) or message in report.file_error


def test_a_row_with_the_wrong_number_of_values(app_ctx, admin):
    data = csv_bytes(row(1)) + b"only,three,values\r\n"
    report = importer.dry_run(data)
    assert problems(report) == [(3, None)]
    assert report.errors[0].message == (f"This row has 3 values but the header has "
                                        f"{len(NAMES)} columns.")


# --------------------------------------------------------------------------- export


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def verify_imported_licences() -> None:
    """Verify the licences of every practitioner without a check (an import leaves them
    unchecked, so unlisted)."""
    for p in db.session.scalars(select(Practitioner)).all():
        if p.licence is None:
            factories.verify_licence(p)


@pytest.fixture
def directory(app_ctx, admin):
    """Two imported practitioners (listed), one unlisted, one whose account is disabled."""
    data = csv_bytes(
        row(1, phone="+44 20 7946 0000", bio="=HYPERLINK(\"http://evil\")", level="",
            expires_on=(date.today() + timedelta(days=400)).isoformat(),
            lat="51.5", lng="-0.12", country="GB", city="London", postcode="EC1A 1BB",
            region="England", licence_country="GB", licence_region="England"),
        row(2, program="aamt-cert-dn", hours="", in_person_hours="", languages="",
            techniques="", conditions="", website="", accepting_new_patients="no",
            wheelchair_accessible="yes", supervised_sessions="12"))
    assert importer.import_practitioners(data, db.session.get(User, admin)).ok
    verify_imported_licences()
    factories.make_practitioner("unlisted@example.com")  # no certification
    hidden = factories.make_listed_practitioner("disabled@example.com")
    hidden.user.is_active = False
    factories.make_listed_practitioner("demo@example.com", is_demo=True)  # listed, not real
    db.session.commit()
    return data


def test_export_csv_has_only_listed_practitioners_in_the_import_format(directory):
    from directory.bulk.exporter import export_csv

    rows = read_csv("".join(export_csv()))
    assert [r["email"] for r in rows] == ["person1@example.com", "person2@example.com"]
    assert list(rows[0]) == list(NAMES)
    # Spreadsheets would run these as formulas: the export defuses them.
    assert rows[0]["phone"] == "'+44 20 7946 0000"
    assert rows[0]["bio"].startswith("'=HYPERLINK")
    assert (rows[0]["lat"], rows[1]["lat"]) == ("51.5", "")  # only exact points are kept


def test_export_defuses_an_e_mail_address_a_spreadsheet_would_run(app_ctx):
    from directory.bulk.exporter import export_csv

    factories.make_listed_practitioner("=2+5@example.com")
    db.session.commit()
    (exported,) = read_csv("".join(export_csv()))
    assert exported["email"] == "'=2+5@example.com"


def test_export_json_has_every_listed_practitioner_with_locations_and_certifications(directory):
    from directory.bulk.exporter import export_json

    document = json.loads("".join(export_json()))
    assert document["count"] == 2
    first, second = document["practitioners"]
    assert first["email"] == "person1@example.com" and first["phone"] == "+44 20 7946 0000"
    assert first["locations"][0]["city"] == "London"
    assert [c["program"] for c in second["certifications"]] == ["aamt-cert-dn"]
    assert second["certifications"][0]["supervised_sessions"] == 12


def test_an_export_imports_again_into_an_empty_directory(directory, admin):
    from directory.bulk.exporter import export_csv, export_json

    def snapshot():
        return [
            {k: v for k, v in p.items() if k not in ("id", "slug", "listed_until")}
            | {"certifications": [{k: v for k, v in c.items()
                                   if k not in ("public_code", "verified_on")}
                                  for c in p["certifications"]]}
            for p in json.loads("".join(export_json()))["practitioners"]]

    before = snapshot()
    exported = "".join(export_csv()).encode()
    db.session.execute(delete(User).where(User.role == "practitioner"))
    db.session.commit()
    assert counts()["practitioners"] == 0

    report = importer.import_practitioners(exported, db.session.get(User, admin))
    assert report.ok, report.errors
    verify_imported_licences()
    assert snapshot() == before


# --------------------------------------------------------------------------- pages


@pytest.fixture
def as_admin(app, admin, auth):
    assert auth.login(ADMIN).status_code == 302
    return auth.client


def upload(client, data: bytes, name: str = "practitioners.csv"):
    """POST the file as a browser would, encoded in memory (the test client spools big bodies
    to a temporary file it never closes)."""
    fields = {"file": FileStorage(io.BytesIO(data), name)}
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return client.post("/admin/bulk/", input_stream=stream, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}")


def confirm_values(response) -> dict[str, str]:
    page = response.get_data(as_text=True)
    match = re.search(r'name="sha256" type="hidden" value="([0-9a-f]{64})"', page)
    assert match, "no confirmation form on the page"
    return {"sha256": match.group(1)}


def test_the_import_page_documents_every_column(as_admin):
    page = as_admin.get("/admin/bulk/").get_data(as_text=True)
    for name in NAMES:
        assert f"<code>{name}</code>" in page
    assert "Forgot password" in page
    assert "/admin/bulk/" in as_admin.get("/admin/").get_data(as_text=True)


@both_stores
def test_upload_shows_the_dry_run_then_confirm_imports(app, as_admin):
    response = upload(as_admin, csv_bytes(row(1), row(2)))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Every row is correct" in page
    with app.app_context():
        assert counts()["practitioners"] == 0  # the dry run wrote nothing

    assert len(factories.stored_files(app, "imports")) == 2  # the file and its record wait
    response = as_admin.post("/admin/bulk/import", data=confirm_values(response),
                             follow_redirects=True)
    assert "Imported 2 practitioners" in response.get_data(as_text=True)
    with app.app_context():
        assert counts()["practitioners"] == 2
    assert factories.stored_files(app, "imports") == []  # nothing left waiting
    # The waiting file is gone: confirming again imports nothing twice.
    again = as_admin.post("/admin/bulk/import", data={"sha256": "0" * 64},
                          follow_redirects=True)
    assert "no longer waiting to be imported" in again.get_data(as_text=True)
    with app.app_context():
        assert counts()["practitioners"] == 2


@both_stores
def test_a_waiting_file_past_its_hour_is_refused_and_swept(app, monkeypatch):
    from directory.bulk import pending

    with app.test_request_context():
        kept = pending.keep(csv_bytes(row(1)), admin_id=7, name="x.csv")
        other = pending.keep(csv_bytes(row(2)), admin_id=7, name="y.csv")
        monkeypatch.setattr(pending, "MAX_AGE", -60)  # both are now past their time
        assert pending.claim(kept.token, 7) is None
    assert factories.stored_files(app, "imports") == []
    assert other.token != kept.token


@both_stores
def test_a_waiting_file_is_claimed_by_one_import_only(app):
    """Two clicks on "Import" send two requests: only the first gets the file."""
    from directory.bulk import pending

    with app.test_request_context():
        kept = pending.keep(csv_bytes(row(1)), admin_id=7, name="x.csv")
        first = pending.claim(kept.token, 7)
        second = pending.claim(kept.token, 7)
    assert first is not None and first.sha256 == kept.sha256
    assert second is None


def test_upload_with_errors_lists_them_and_offers_no_import(app, as_admin):
    response = upload(as_admin, csv_bytes(row(1), row(2, email="bad", program="nope")))
    page = response.get_data(as_text=True)
    assert "Nothing was written" in page and "Import all rows" not in page
    assert "<tr><td>3</td><td>email</td><td>Enter an e-mail address like name@example.com." \
        in page
    assert "“nope” is not a recognised program" in page


def test_confirm_needs_the_file_this_admin_checked(app, as_admin):
    response = upload(as_admin, csv_bytes(row(1)))
    values = confirm_values(response)
    # Another file checked since (another tab): the first confirmation no longer applies.
    upload(as_admin, csv_bytes(row(5)))
    stale = as_admin.post("/admin/bulk/import", data=values, follow_redirects=True)
    assert "no longer waiting" in stale.get_data(as_text=True)
    # Another administrator cannot import it with the digest alone.
    with app.app_context():
        factories.make_admin("second-admin@example.com")
    other = app.test_client()
    factories.login(other, "second-admin@example.com")
    response = other.post("/admin/bulk/import", data=values, follow_redirects=True)
    assert "no longer waiting" in response.get_data(as_text=True)
    with app.app_context():
        assert counts()["practitioners"] == 0


@pytest.mark.parametrize("data, message", [
    (factories.PNG_BYTES, "This is not a CSV file: it contains binary data."),
    ("email,full_name\r\nJosé,x\r\n".encode("cp1252"), "The file is not UTF-8 text (line 2"),
    (b"", "That file is empty."),
    (b"x" * (10 * 1024 * 1024 + 1), "That file is larger than 10 MB."),
])
def test_bad_uploads_get_a_message_on_the_page(as_admin, data, message):
    response = upload(as_admin, data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_upload_without_a_file(as_admin):
    response = as_admin.post("/admin/bulk/", data={})
    assert "Choose the CSV file to check." in response.get_data(as_text=True)


def test_export_and_template_downloads(directory, as_admin):
    response = as_admin.get("/admin/bulk/export.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert [r["email"] for r in read_csv(response.get_data(as_text=True))] == [
        "person1@example.com", "person2@example.com"]
    document = as_admin.get("/admin/bulk/export.json").get_json()
    assert document["count"] == 2
    assert as_admin.get("/admin/bulk/export.xml").status_code == 404
    template = as_admin.get("/admin/bulk/template.csv").get_data(as_text=True)
    assert read_csv(template)[0]["email"] == "ann.lee@example.com"


# --------------------------------------------------------------------------- commands


def test_import_command_dry_run_and_import(app, admin, runner, tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(csv_bytes(row(1), row(2)))
    bad.write_bytes(csv_bytes(row(1), row(2, email="")))

    result = runner.invoke(args=["import", "practitioners", str(bad), "--dry-run"])
    assert result.exit_code == 1
    assert "error: row 3, email: This column needs a value." in result.output
    assert "1 error(s) in 1 of 2 row(s). Nothing was written." in result.output

    result = runner.invoke(args=["import", "practitioners", str(good), "--dry-run"])
    assert result.exit_code == 0 and "all 2 row(s) can be imported" in result.output

    result = runner.invoke(args=["import", "practitioners", str(good)])
    assert result.exit_code == 2 and "--admin" in result.output
    result = runner.invoke(args=["import", "practitioners", str(good), "--admin",
                                 "nobody@example.com"])
    assert result.exit_code == 1 and "is not an active administrator" in result.output
    with app.app_context():
        assert counts()["practitioners"] == 0

    result = runner.invoke(args=["import", "practitioners", str(good), "--admin", ADMIN])
    assert result.exit_code == 0, result.output
    assert "Imported 2 practitioner(s)" in result.output
    with app.app_context():
        assert counts()["practitioners"] == 2


def test_export_command(app, admin, runner, tmp_path, directory):
    target = tmp_path / "out.json"
    result = runner.invoke(args=["export", "practitioners", "--format", "json",
                                 "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["count"] == 2
    result = runner.invoke(args=["export", "practitioners"])
    assert [r["email"] for r in read_csv(result.output)] == [
        "person1@example.com", "person2@example.com"]


def test_an_imported_certification_is_approved_as_in_the_queue(app_ctx, admin):
    """The import and the review queue share one definition of "approve": the same columns
    written, the same audit action and transition."""
    from directory.credentials import lifecycle

    reviewer = db.session.get(User, admin)
    queued = factories.make_certification(factories.make_practitioner(), admin=reviewer)
    lifecycle.apply(queued, "approve", reviewer)
    db.session.commit()
    report = importer.import_practitioners(csv_bytes(row(1, languages="English, Spanish")),
                                           reviewer)
    assert report.ok
    imported = db.session.scalar(select(Certification).where(Certification.id != queued.id))

    def decision(cert):
        return (cert.status, cert.reviewed_by_id, cert.reason, cert.revoked_at,
                cert.verified_at is not None, cert.reviewed_at == cert.verified_at)

    assert decision(imported) == decision(queued) == ("verified", admin, "", None, True, True)
    actions = db.session.execute(select(AuditEvent.action, AuditEvent.detail).where(
        AuditEvent.subject_type == "certifications").order_by(AuditEvent.id)).all()
    assert [(a, d["source"], d["target"]) for a, d in actions] == [
        ("certification.approve", "pending", "verified")] * 2
    assert imported.practitioner.languages == ["en", "es"]  # commas, as the form takes them


# The same value typed in a form and in an import file: refused by both, with one message
# (directory/field_rules.py). The form field, when it has another name, is given second.
FUTURE = (date.today() + timedelta(days=3)).isoformat()
SHARED_RULES = [
    ("full_name", "x" * 121, "profile", None),
    ("bio", "x" * 5001, "profile", None),
    ("phone", "call me", "profile", None),
    ("public_email", "clinic@", "profile", None),
    ("website", "javascript:alert(1)", "profile", None),
    ("booking_url", "http://localhost", "profile", None),
    ("languages", "English; Klingon", "profile", None),
    ("street", "x" * 201, "location", None),
    ("postcode", "8" * 21, "location", None),
    ("level", "12", "certification", None),
    ("hours", "6000", "certification", None),
    ("supervised_sessions", "-3", "certification", None),
    ("certificate_number", "9" * 81, "certification", None),
    ("program", "x" * 201, "certification", "program_name"),
    ("completed_on", FUTURE, "certification", None),
]


def _form_error(app, kind: str, field: str, value: str) -> list[str]:
    from werkzeug.datastructures import MultiDict

    from directory.certifications.forms import CertificationForm
    from directory.profiles.forms import LocationForm, ProfileForm

    good = {
        "profile": {"full_name": "Ann Lee", "profession": "physiotherapist"},
        "location": {"clinic_name": "Lee Physio", "city": "Denver", "country": "US"},
        "certification": {"program_name": "KinetaCore FDN 1", "completed_on": "2023-05-14",
                          "hours": "27", "in_person_hours": "27"},
    }[kind]
    with app.test_request_context():
        form = {"profile": ProfileForm, "location": LocationForm,
                "certification": CertificationForm}[kind]
        kwargs = {"evidence_required": False} if kind == "certification" else {}
        form = form(formdata=MultiDict(good | {field: value}), meta={"csrf": False}, **kwargs)
        assert not form.validate()
        return form.errors.get(field, [])


@pytest.mark.parametrize(("column", "value", "form", "form_field"), SHARED_RULES,
                         ids=[rule[0] for rule in SHARED_RULES])
def test_the_forms_and_the_import_share_each_rule(app, admin, column, value, form, form_field):
    with app.app_context():
        report = importer.dry_run(csv_bytes(row(1, **{column: value})))
    assert problems(report) == [(2, column)]
    assert _form_error(app, form, form_field or column, value) == [report.errors[0].message]


@pytest.mark.parametrize("typed", ["English; Spanish", "English, Spanish", "es;en,"])
def test_a_list_of_languages_reads_the_same_in_the_form_and_the_import(app, admin, typed):
    from werkzeug.datastructures import MultiDict

    from directory.profiles.forms import ProfileForm

    with app.test_request_context():
        form = ProfileForm(formdata=MultiDict({"full_name": "Ann Lee", "languages": typed,
                                               "licence_country": "",
                                               "profession": "physiotherapist"}),
                           meta={"csrf": False})
        assert form.validate(), form.errors
        assert form.language_codes() == ["en", "es"]
    with app.app_context():
        reviewer = db.session.get(User, admin)
        assert importer.import_practitioners(csv_bytes(row(1, languages=typed)), reviewer).ok
        assert db.session.scalar(select(Practitioner)).languages == ["en", "es"]
