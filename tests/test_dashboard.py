"""The practitioner dashboard: certifications at a glance, the yearly "still accurate"
confirmation (search visibility and its reminders), and the evidence upload's progress."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from directory import jobs
from directory.dates import format_date
from directory.extensions import db
from directory.models import Certification, Practitioner
from directory.models.base import utcnow
from directory.search import search
from tests import factories
from tests.factories import DENVER, audit_events, listed_at, today
from tests.pages import flashes
from tests.test_credentials import body, cert_form, post_multipart, subject, text
from tests.test_profiles import post_profile

ELEVEN = "Please confirm your details are still accurate"
TWELVE = "Your profile is hidden from search until you confirm your details"


@pytest.fixture
def owner(app, auth) -> SimpleNamespace:
    """A logged-in practitioner with a listed profile (verified, confirmed a year ago less a
    day) at a Denver location."""
    with app.app_context():
        p = listed_at(*DENVER, "Olive Owner", email="owner@example.com",
                      attested_at=utcnow() - timedelta(days=364))
        info = SimpleNamespace(id=p.id, slug=p.slug, user_id=p.user_id,
                               email="owner@example.com")
        db.session.remove()
    assert auth.login(info.email).status_code == 302
    return info


def practitioner(app, practitioner_id: int) -> SimpleNamespace:
    """The stored practitioner's columns."""
    with app.app_context():
        p = db.session.get(Practitioner, practitioner_id)
        row = SimpleNamespace(**{c.key: getattr(p, c.key) for c in Practitioner.__table__.columns})
        db.session.remove()
    return row


def set_attested(app, practitioner_id: int, days_ago: int | None) -> None:
    with app.app_context():
        p = db.session.get(Practitioner, practitioner_id)
        p.attested_at = None if days_ago is None else utcnow() - timedelta(days=days_ago)
        db.session.commit()
        db.session.remove()


def found(app, client, practitioner_id: int) -> dict[str, bool]:
    """Whether the practitioner is in the search service, the search page and the API search."""
    with app.app_context():
        in_service = practitioner_id in [h.practitioner.id for h in search(*DENVER, 25).hits]
        slug = db.session.get(Practitioner, practitioner_id).slug
        db.session.remove()
    page = client.get("/?near=80202&radius=25").get_data(as_text=True)
    api = client.get("/api/v1/practitioners?near=80202&radius=25").get_json()
    return {"service": in_service, "page": f"/p/{slug}" in page,
            "api": practitioner_id in [item["id"] for item in api["items"]]}


# =========================================================================== the dashboard


def test_dashboard_shows_each_certification_with_status_message_and_expiry(app, client, owner):
    with app.app_context():
        p = db.session.get(Practitioner, owner.id)
        soon = today() + timedelta(days=10)
        later = today() + timedelta(days=800)
        factories.make_certification(p, status="verified", expires_on=soon,
                                     submitted_name="Soon Course")
        factories.make_certification(p, status="rejected", program=None,
                                     submitted_name="Rejected Course",
                                     reason="The certificate names someone else.")
        factories.make_certification(p, status="changes_requested", program=None,
                                     submitted_name="Changes Course",
                                     reason="Please upload both pages.\nThe back is missing.",
                                     expires_on=later)
        factories.make_certification(p, status="revoked", program=None,
                                     submitted_name="Revoked Course",
                                     reason="The program withdrew the certificate.")
        factories.make_certification(p, status="pending", program=None,
                                     submitted_name="Pending Course",
                                     reason="an old message, not shown")
        ids = {c.submitted_name: c.id for c in db.session.scalars(select(Certification))}
        db.session.remove()
    response = client.get("/dashboard")
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    rows = {name: text_of_row(raw, cert_id) for name, cert_id in ids.items()}

    assert rows["Soon Course"].startswith("Test Organisation: Test Dry Needling Level 1")
    assert "Verified" in rows["Soon Course"]
    assert f"{format_date(soon)} in 10 days" in rows["Soon Course"]
    assert "Renew or update" in rows["Soon Course"]
    assert f'href="/certifications/{ids["Soon Course"]}/edit"' in raw

    assert ("Rejected Message from the administrator: The certificate names someone else. "
            "Does not expire Submit a new certification") in rows["Rejected Course"]
    assert ("Waiting for changes Message from the administrator: Please upload both pages. "
            f"The back is missing. {format_date(later)} Make the requested changes"
            ) in rows["Changes Course"]
    assert "Please upload both pages.<br>\nThe back is missing." in raw
    assert ("Revoked Message from the administrator: The program withdrew the certificate."
            in rows["Revoked Course"])
    assert "Waiting for review" in rows["Pending Course"]
    assert "old message" not in rows["Pending Course"]
    assert "Edit Pending Course" in rows["Pending Course"]
    # The base verified certification of the listed owner is there too, without an expiry.
    assert len(ids) == 6 and text(response).count("Does not expire") == 4


def text_of_row(raw: str, cert_id: int) -> str:
    """The visible text of one certification's row on the dashboard."""
    match = re.search(rf'<tr id="dashboard-cert-{cert_id}">(.*?)</tr>', raw, re.S)
    assert match, cert_id
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", match.group(1))).strip()


def test_dashboard_messages_are_escaped(app, client, owner):
    with app.app_context():
        factories.make_certification(db.session.get(Practitioner, owner.id), status="rejected",
                                     reason="<script>alert(1)</script>")
        db.session.remove()
    raw = client.get("/dashboard").get_data(as_text=True)
    assert "<script>alert(1)" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw


def test_a_new_practitioner_sees_what_is_missing(app, client, auth):
    with app.app_context():
        factories.make_practitioner("new@example.com")
        db.session.remove()
    auth.login("new@example.com")
    page = text(client.get("/dashboard"))
    # Not asked on the first day whether the details are "still" accurate: saving the profile
    # (a step above) confirms them.
    assert "still accurate" not in page and "You have not confirmed your details" not in page
    assert "To do: Choose your profession" in page
    assert "You have not submitted a certification yet." in page
    assert "Not listed yet" in page


# =========================================================================== attesting


def test_the_attest_button_sets_the_date_writes_the_audit_event_and_shows_it(app, client,
                                                                           owner):
    before = practitioner(app, owner.id).attested_at
    page = client.get("/dashboard")
    assert 'action="/profile/attest"' in page.get_data(as_text=True)
    assert (f"Your details were last confirmed on {format_date(before)}. Please confirm again "
            f"by {format_date(before + timedelta(days=365))}") in text(page)
    with app.app_context():  # reminders already sent for the old confirmation
        p = db.session.get(Practitioner, owner.id)
        p.attest_reminder_11_sent_at = utcnow()
        db.session.commit()
        db.session.remove()

    started = utcnow()
    response = client.post("/profile/attest")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    row = practitioner(app, owner.id)
    assert started <= row.attested_at <= utcnow()
    assert (row.attest_reminder_11_sent_at, row.attest_reminder_12_sent_at) == (None, None)
    [event] = audit_events(app, "profile.attested")
    assert (event.actor_id, event.subject_type, event.subject_id, event.practitioner_id) == (
        owner.user_id, "practitioners", owner.id, owner.id)
    assert event.detail == {"previous": before.isoformat()}

    page = client.get("/dashboard")
    shown = format_date(row.attested_at)
    assert flashes(page) == [f"Thank you: you confirmed your details are accurate on {shown}. "
                             "We will ask again in a year."]
    assert f"Your details were last confirmed on {shown}." in text(page)
    assert "Done: Confirm your details are still accurate (yearly)" in text(page)


def test_a_lapsed_confirmation_is_explained_on_the_dashboard(app, client, owner):
    set_attested(app, owner.id, 400)
    page = text(client.get("/dashboard"))
    assert "Hidden from search" in page
    assert "To do: Confirm your details are still accurate (yearly)" in page
    assert "That was more than a year ago, so your profile is hidden from search" in page


def test_saving_the_profile_counts_as_confirming(app, client, owner):
    set_attested(app, owner.id, 400)
    started = utcnow()
    assert post_profile(client).status_code == 302
    assert practitioner(app, owner.id).attested_at >= started
    # The form's licence (PT-12345, Colorado) is not the one checked: its check is voided.
    assert [e.action for e in audit_events(app)][-2:] == ["profile.updated",
                                                          "licence.unverified"]


# =========================================================================== search


@pytest.mark.parametrize(("days_ago", "shown"), [(364, True), (366, False), (None, False)])
def test_search_shows_only_practitioners_confirmed_within_a_year(app, client, owner, days_ago,
                                                                 shown):
    set_attested(app, owner.id, days_ago)
    assert found(app, client, owner.id) == {"service": shown, "page": shown, "api": shown}
    # The public profile and the API's single record stay (the issue hides from search only).
    assert app.test_client().get(f"/p/{owner.slug}").status_code == 200
    assert client.get(f"/api/v1/practitioners/{owner.id}").status_code == 200


def test_attesting_brings_a_hidden_profile_back_into_search(app, client, owner):
    set_attested(app, owner.id, 366)
    assert found(app, client, owner.id) == {"service": False, "page": False, "api": False}
    assert client.post("/profile/attest").status_code == 302
    assert found(app, client, owner.id) == {"service": True, "page": True, "api": True}


# =========================================================================== reminders


def _sweep(runner) -> str:
    result = runner.invoke(args=["credentials", "sweep"])
    assert result.exit_code == 0, result.output
    return result.output


def _reminders(outbox) -> list[tuple[str, str]]:
    return [(m["To"], subject(m)) for m in outbox.messages()
            if subject(m) in (ELEVEN, TWELVE)]


def test_the_sweep_reminds_at_eleven_months_then_at_twelve_each_once(app, client, runner,
                                                                    owner, outbox):
    set_attested(app, owner.id, 336)
    output = _sweep(runner)
    assert "Expired 0 certification(s); sent 0 reminder(s)." in output
    assert 'Sent 1 yearly "details still accurate" reminder(s).' in output
    assert 'Sent 0 yearly' in _sweep(runner)
    assert _reminders(outbox) == [(owner.email, ELEVEN)]
    message = outbox.messages()[-1]
    attested = practitioner(app, owner.id).attested_at
    assert f"You last confirmed that your profile details are accurate on " \
           f"{format_date(attested)}" in " ".join(body(message).split())
    assert format_date(attested + timedelta(days=365)) in body(message)
    assert re.search(r"https?://\S+/dashboard#attest\s", body(message))
    [event] = audit_events(app, "profile.attest_reminder_sent")
    assert event.detail["months"] == 11 and event.subject_id == owner.id

    with app.test_request_context():  # a month later: hidden, the 12-month reminder, once
        assert jobs.sweep(today() + timedelta(days=30)).attestation_reminders == 1
        assert jobs.sweep(today() + timedelta(days=31)).attestation_reminders == 0
        assert jobs.sweep(today() + timedelta(days=90)).attestation_reminders == 0
    assert _reminders(outbox) == [(owner.email, ELEVEN), (owner.email, TWELVE)]
    assert "your profile is now hidden from search until you confirm" in " ".join(
        body(outbox.messages()[-1]).split())
    row = practitioner(app, owner.id)
    assert row.attest_reminder_11_sent_at and row.attest_reminder_12_sent_at

    # A new confirmation re-arms both reminders for the next year.
    assert client.post("/profile/attest").status_code == 302
    row = practitioner(app, owner.id)
    assert (row.attest_reminder_11_sent_at, row.attest_reminder_12_sent_at) == (None, None)
    with app.test_request_context():
        assert jobs.sweep(today() + timedelta(days=300)).attestation_reminders == 0
        assert jobs.sweep(today() + timedelta(days=336)).attestation_reminders == 1
        assert jobs.sweep(today() + timedelta(days=337)).attestation_reminders == 0
        assert jobs.sweep(today() + timedelta(days=366)).attestation_reminders == 1
        assert jobs.sweep(today() + timedelta(days=367)).attestation_reminders == 0
    assert _reminders(outbox) == [(owner.email, ELEVEN), (owner.email, TWELVE)] * 2


def test_a_long_lapsed_confirmation_gets_one_reminder_not_two(app, runner, owner, outbox):
    set_attested(app, owner.id, 500)
    assert 'Sent 1 yearly' in _sweep(runner)
    assert 'Sent 0 yearly' in _sweep(runner)
    assert _reminders(outbox) == [(owner.email, TWELVE)]
    row = practitioner(app, owner.id)
    assert row.attest_reminder_11_sent_at == row.attest_reminder_12_sent_at is not None


def test_no_reminder_before_eleven_months_never_confirmed_or_inactive(app, runner, outbox):
    with app.app_context():
        recent = factories.make_listed_practitioner(attested_at=utcnow() - timedelta(days=334))
        never = factories.make_listed_practitioner(attested_at=None)
        inactive = factories.make_listed_practitioner(attested_at=utcnow() - timedelta(days=340))
        inactive.user.is_active = False
        db.session.commit()
        db.session.remove()
    assert 'Sent 0 yearly' in _sweep(runner)
    assert _reminders(outbox) == []
    assert recent and never


# =========================================================================== upload feedback


def test_the_certification_form_links_the_upload_script_and_its_status(app, client, owner):
    raw = client.get("/certifications/new").get_data(as_text=True)
    assert '<script src="/static/js/upload.js" defer></script>' in raw
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", raw) is None  # no inline script
    assert "data-upload-form" in raw and 'data-max-bytes="10485760"' in raw
    assert re.search(r'<progress id="upload-progress"[^>]*hidden', raw)
    assert '<p id="upload-status" class="upload-status" role="status" aria-live="polite">' in raw
    script = client.get("/static/js/upload.js")
    try:
        assert script.status_code == 200
        assert "Uploading… " in script.get_data(as_text=True)
    finally:
        script.close()


def test_the_form_works_without_the_script(app, client, owner):
    """A plain multipart POST, as a browser without JavaScript sends it."""
    data = cert_form() | {"evidence": (factories.pdf_bytes(), "certificate.pdf")}
    response = post_multipart(client, "/certifications/new", data)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/certifications/#cert-")
    assert flashes(client.get("/certifications/"))[-1:] == [
        "Thank you. Your certification is waiting for review; we will e-mail you when an "
        "administrator has decided."]
    with app.app_context():
        names = db.session.scalars(select(Certification.submitted_name)
                                   .where(Certification.status == "pending")).all()
        db.session.remove()
    assert names == ["KinetaCore FDN 1"]

    # A refused file comes back as the form with the reason in words, the script still linked.
    data = cert_form() | {"evidence": (b"not a certificate", "notes.txt")}
    response = post_multipart(client, "/certifications/new", data)
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    assert re.search(r'<p class="error" id="evidence-error">\s*\S', raw)
    assert "/static/js/upload.js" in raw
