"""Reports of wrong information: a patient reports a problem from a listed profile, the
practitioner is e-mailed and sees it on the dashboard, an administrator decides it in a queue,
and every step is in the audit log."""

from __future__ import annotations

import hashlib
import hmac
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from directory import create_app, reports
from directory.extensions import db
from directory.models import ListingReport
from tests import factories
from tests.conftest import base_config
from tests.factories import audit_events
from tests.pages import field_error, flashes, form_values, page

REPORT_LINK = "Report a problem with this listing"
WRONG_PHONE = {"kind": "wrong_phone", "details": "The number rings a pizzeria; the clinic's "
               "is +1 303 555 0199.", "email": "pat@example.com"}


@pytest.fixture
def listed(app) -> SimpleNamespace:
    """A listed practitioner with a phone number and a practice location."""
    with app.app_context():
        p = factories.make_listed_practitioner("listed@example.com", full_name="Lena Listed",
                                               phone="+1 303 555 0100")
        factories.make_location(p, clinic_name="Lena's Clinic", street="1 Main Street")
        found = SimpleNamespace(id=p.id, slug=p.slug, email=p.user.email, name=p.full_name)
        db.session.remove()
    return found


@pytest.fixture
def admin(app) -> SimpleNamespace:
    """An administrator, logged in in a browser of its own."""
    with app.app_context():
        user = factories.make_admin("boss@example.com")
        found = SimpleNamespace(id=user.id, email=user.email)
        db.session.remove()
    found.client = factories.login_client(app, found.email)
    return found


def stored_reports(app) -> list[SimpleNamespace]:
    """Every report in the database, oldest first, as plain values."""
    with app.app_context():
        found = [SimpleNamespace(id=r.id, kind=r.kind, details=r.details, status=r.status,
                                 reporter_email=r.reporter_email, client_key=r.client_key,
                                 resolved_by_id=r.resolved_by_id, resolution=r.resolution)
                 for r in db.session.scalars(select(ListingReport).order_by(ListingReport.id))]
        db.session.remove()
    return found


def send_report(client, slug: str, data: dict | None = None, **post):
    return client.post(f"/p/{slug}/report", data=WRONG_PHONE if data is None else data, **post)


# ------------------------------------------------------------------------------ the patient


def test_a_patient_reports_a_wrong_phone_number_and_it_reaches_everyone(app, client, listed,
                                                                         admin, outbox):
    profile = page(client.get(f"/p/{listed.slug}"))
    assert f'href="/p/{listed.slug}/report"' in profile and REPORT_LINK in profile
    form = page(client.get(f"/p/{listed.slug}/report"))
    assert "The phone number is wrong" in form and "Lena Listed" in form

    response = send_report(client, listed.slug)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/p/{listed.slug}"
    shown = client.get(response.headers["Location"])
    assert any("Thank you: your report has been sent" in m for m in flashes(shown))

    [report] = stored_reports(app)
    assert (report.kind, report.status) == ("wrong_phone", "open")
    assert report.details == WRONG_PHONE["details"]
    assert report.reporter_email == "pat@example.com"
    [event] = audit_events(app, "report.submitted")
    assert (event.subject_type, event.subject_id) == ("listing_reports", report.id)
    assert event.practitioner_id == listed.id and event.actor_id is None
    assert event.detail == {"kind": "wrong_phone"}

    # The practitioner's e-mail: what was reported and where to correct it, never who.
    message = outbox.last(to=listed.email)
    assert "A patient reported a problem with your listing" in message["Subject"]
    body = message.get_payload(decode=True).decode()
    assert "The phone number is wrong" in body and "+1 303 555 0199" in body
    assert "http://127.0.0.1:5000/profile/edit" in body
    assert "pat@example.com" not in body

    # The administrators' queue.
    assert "Reports (1 open)" in page(admin.client.get("/admin/"))
    queue = page(admin.client.get("/admin/reports"))
    assert "Lena Listed" in queue and "The phone number is wrong" in queue
    assert f"/admin/reports/{report.id}" in queue


def test_the_client_address_is_stored_only_as_a_keyed_hash(app, client, listed):
    send_report(client, listed.slug, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    [report] = stored_reports(app)
    expected = hmac.new(app.config["SECRET_KEY"].encode(), b"ip:203.0.113.9",
                        hashlib.sha256).hexdigest()
    assert report.client_key == expected and "203.0.113.9" not in report.client_key


LONG_DETAILS = "x" * (reports.DETAILS_MAX_LENGTH + 1)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"details": "Wrong.", "email": "pat@example.com"}, "kind",
     "Choose what is wrong with this listing."),
    ({"kind": "bogus", "details": "Wrong."}, "kind", "Choose what is wrong with this listing."),
    ({"kind": "other", "details": "   ", "email": "pat@example.com"}, "details",
     "Tell us what is wrong."),
    ({"kind": "other", "details": LONG_DETAILS}, "details",
     f"At most {reports.DETAILS_MAX_LENGTH:,} characters."),
    ({"kind": "wrong_phone", "details": "It is 555 0199.", "email": "pat at example"}, "email",
     "Enter an e-mail address like name@example.com."),
    ({"kind": "wrong_phone", "email": "p" * 250 + "@example.com"}, "email",
     "At most 254 characters (this has 262)."),
], ids=["no-kind", "forged-kind", "other-without-details", "details-too-long", "bad-email",
        "email-too-long"])
def test_a_bad_report_gets_a_field_message_and_keeps_what_was_typed(app, client, listed,
                                                                    outbox, data, field,
                                                                    message):
    response = send_report(client, listed.slug, data)
    assert response.status_code == 200
    assert field_error(response, field) == message
    assert "Please correct 1 field" in page(response)  # the summary above the form
    kept = form_values(response)
    for name, value in data.items():
        if name == "kind":
            assert kept["kind"] == ([value] if value in reports.REPORT_KINDS else [])
        elif name == "details" and value.strip():
            assert kept[name] == [value]
        elif name == "email":
            assert kept[name] == [value]
    assert stored_reports(app) == []
    assert outbox.messages() == []


def test_an_unlisted_profile_cannot_be_reported_not_even_by_its_owner_or_an_admin(app, client,
                                                                                  admin):
    with app.app_context():
        owner = factories.make_practitioner("owner@example.com")
        slug = owner.slug
        db.session.remove()
    assert client.get(f"/p/{slug}/report").status_code == 404
    assert send_report(client, slug).status_code == 404
    assert client.get("/p/nobody-here/report").status_code == 404
    assert admin.client.get(f"/p/{slug}/report").status_code == 404
    owner_client = factories.login_client(app, "owner@example.com")
    assert owner_client.get(f"/p/{slug}/report").status_code == 404
    assert REPORT_LINK not in page(owner_client.get(f"/p/{slug}"))  # its own preview
    assert stored_reports(app) == []


def test_the_same_open_report_twice_is_refused_politely(app, client, listed, outbox):
    send_report(client, listed.slug)
    someone_else = app.test_client()
    response = send_report(someone_else, listed.slug,
                           WRONG_PHONE | {"details": WRONG_PHONE["details"].upper()},
                           environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 302
    assert any("this problem has already been reported" in m
               for m in flashes(someone_else.get(response.headers["Location"])))
    assert len(stored_reports(app)) == 1
    assert len([m for m in outbox.messages() if m["To"] == listed.email]) == 1
    # Other words about the same listing are another report.
    assert send_report(someone_else, listed.slug, {"kind": "wrong_phone"}).status_code == 302
    assert len(stored_reports(app)) == 2


# ------------------------------------------------------------------------ the administrator


def open_report(app, client, listed) -> int:
    send_report(client, listed.slug)
    return stored_reports(app)[-1].id


def test_an_admin_marks_a_report_corrected_and_it_leaves_the_open_queue(app, client, listed,
                                                                         admin):
    report_id = open_report(app, client, listed)
    review = page(admin.client.get(f"/admin/reports/{report_id}"))
    # The report beside the listing's current details.
    assert "+1 303 555 0100" in review and "Lena's Clinic" in review
    assert WRONG_PHONE["details"] in review and "pat@example.com" in review

    response = admin.client.post(f"/admin/reports/{report_id}", data={
        "status": "corrected", "resolution": "Phoned the clinic; the practitioner fixed it."})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/reports"
    queue = admin.client.get("/admin/reports")
    assert "Report on Lena Listed corrected." in flashes(queue)
    assert "Nothing here." in page(queue) and f"/admin/reports/{report_id}" not in page(queue)
    assert "Lena Listed" in page(admin.client.get("/admin/reports?status=corrected"))
    assert "Reports (" not in page(admin.client.get("/admin/"))  # no open report left

    [report] = stored_reports(app)
    assert (report.status, report.resolved_by_id) == ("corrected", admin.id)
    [event] = audit_events(app, "report.resolved")
    assert event.actor_id == admin.id and event.subject_id == report_id
    assert event.practitioner_id == listed.id
    assert event.detail == {"status": "corrected",
                            "note": "Phoned the clinic; the practitioner fixed it."}
    decided = page(admin.client.get(f"/admin/reports/{report_id}"))
    assert "boss@example.com" in decided and 'name="resolution"' not in decided


def test_resolving_a_decided_report_again_is_refused(app, client, listed, admin):
    report_id = open_report(app, client, listed)
    url = f"/admin/reports/{report_id}"
    admin.client.post(url, data={"status": "dismissed", "resolution": "The number is right."})
    # A second administrator's page, opened before the first decided.
    response = admin.client.post(url, data={"status": "corrected", "resolution": "Fixed."})
    assert response.status_code == 200
    assert "This report is already dismissed: there is nothing left to decide." in flashes(
        response)
    [report] = stored_reports(app)
    assert (report.status, report.resolution) == ("dismissed", "The number is right.")
    assert len(audit_events(app, "report.resolved")) == 1
    with app.app_context():
        found = db.session.get(ListingReport, report_id)
        user = db.session.get(factories.User, admin.id)
        with pytest.raises(reports.AlreadyResolved):
            reports.resolve_report(found, user, "corrected", "Again.")
        db.session.remove()


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"resolution": "Checked."}, "status", "Choose corrected or dismissed."),
    ({"status": "open", "resolution": "Checked."}, "status", "Choose corrected or dismissed."),
    ({"status": "corrected", "resolution": "  "}, "resolution", "Say what you found or did."),
    ({"status": "corrected", "resolution": "y" * (reports.RESOLUTION_MAX_LENGTH + 1)},
     "resolution", f"At most {reports.RESOLUTION_MAX_LENGTH:,} characters."),
], ids=["no-decision", "forged-decision", "no-note", "note-too-long"])
def test_a_decision_without_what_it_needs_gets_a_field_message(app, client, listed, admin,
                                                               data, field, message):
    report_id = open_report(app, client, listed)
    response = admin.client.post(f"/admin/reports/{report_id}", data=data)
    assert response.status_code == 200
    assert field_error(response, field) == message
    if data.get("resolution", "").strip():
        assert form_values(response)["resolution"] == [data["resolution"]]
    assert stored_reports(app)[0].status == "open"
    assert audit_events(app, "report.resolved") == []


def test_the_queue_shows_open_reports_first_and_newest_first(app, client, listed, admin):
    first = open_report(app, client, listed)
    send_report(client, listed.slug, {"kind": "closed", "details": "Shut in May."})
    second = stored_reports(app)[-1].id
    every = page(admin.client.get("/admin/reports?status=all"))
    assert every.index(f"/admin/reports/{second}") < every.index(f"/admin/reports/{first}")
    admin.client.post(f"/admin/reports/{second}", data={"status": "dismissed",
                                                        "resolution": "Still open."})
    every = page(admin.client.get("/admin/reports?status=all"))
    assert every.index(f"/admin/reports/{first}") < every.index(f"/admin/reports/{second}")
    # An unknown status shows the open ones.
    assert f"/admin/reports/{first}" in page(admin.client.get("/admin/reports?status=nonsense"))


def test_the_audit_log_can_be_filtered_to_reports(app, client, listed, admin):
    report_id = open_report(app, client, listed)
    log = page(admin.client.get(f"/admin/audit?subject_type=listing_reports&subject_id="
                                f"{report_id}"))
    assert "report.submitted" in log and "Report of wrong information" in log


# ------------------------------------------------------------------------- the practitioner


def test_the_practitioner_sees_open_reports_on_the_dashboard(app, client, listed, admin):
    report_id = open_report(app, client, listed)
    mine = factories.login_client(app, listed.email)
    dashboard = page(mine.get("/dashboard"))
    assert "A patient reported a problem with your listing." in dashboard
    assert re.search(r"A patient reported on [^:]+: The phone number is wrong — "
                     + re.escape(WRONG_PHONE["details"]), dashboard)
    assert "pat@example.com" not in dashboard
    admin.client.post(f"/admin/reports/{report_id}", data={"status": "corrected",
                                                           "resolution": "Fixed."})
    assert "The phone number is wrong" not in page(mine.get("/dashboard"))


# ------------------------------------------------------------------------- limits and CSRF


@pytest.fixture
def limited(app, migrated_database, tmp_path):
    """The app with the rate limits on and two reports an hour per client address."""
    limited = create_app(base_config(migrated_database, tmp_path) | {
        "RATELIMIT_ENABLED": True, "RATELIMIT_REPORT": "2 per hour"})
    yield limited
    with limited.app_context():
        db.session.remove()
        db.engine.dispose()


def test_reports_are_limited_per_client_address(app, limited, listed):
    client = limited.test_client()
    assert send_report(client, listed.slug, {}).status_code == 200  # a field message: free
    for kind in ("wrong_phone", "wrong_address"):
        assert send_report(client, listed.slug, {"kind": kind}).status_code == 302
    refused = send_report(client, listed.slug, {"kind": "closed"})
    assert refused.status_code == 429
    assert "Too many requests" in page(refused)
    assert client.get(f"/p/{listed.slug}/report").status_code == 200  # reading is not limited
    elsewhere = limited.test_client()
    assert send_report(elsewhere, listed.slug, {"kind": "closed"},
                       environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 302
    assert [r.kind for r in stored_reports(app)] == ["wrong_phone", "wrong_address", "closed"]


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def test_reporting_and_deciding_need_the_token_from_the_page(app, csrf_app, listed):
    with csrf_app.app_context():
        factories.make_admin("boss@example.com")
    patient = csrf_app.test_client()
    refused = send_report(patient, listed.slug)
    assert refused.status_code == 400
    assert "Your form expired or was sent from elsewhere" in page(refused)
    assert stored_reports(app) == []
    token = _token(patient.get(f"/p/{listed.slug}/report").get_data(as_text=True))
    assert send_report(patient, listed.slug, WRONG_PHONE | {"csrf_token": token}
                       ).status_code == 302
    [report] = stored_reports(app)

    boss = csrf_app.test_client()
    login_token = _token(boss.get("/account/login").get_data(as_text=True))
    assert factories.login(boss, "boss@example.com",
                           form={"csrf_token": login_token}).status_code == 302
    url = f"/admin/reports/{report.id}"
    decision = {"status": "corrected", "resolution": "Fixed."}
    assert boss.post(url, data=decision).status_code == 400
    assert stored_reports(app)[0].status == "open"
    token = _token(boss.get(url).get_data(as_text=True))
    assert boss.post(url, data=decision | {"csrf_token": token}).status_code == 302
    assert stored_reports(app)[0].status == "corrected"
