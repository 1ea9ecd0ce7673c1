"""Licences checked at their official source: the administrator's review and queue, the
listing that needs the licence, the practitioner's NPI, the sweep's lapses and e-mails, and
what the public profile and the API show."""

from __future__ import annotations

import re
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
from sqlalchemy import select

from directory import jobs, listing
from directory.extensions import db
from directory.licences import services as licences
from directory.models import Licence, Practitioner
from directory.vocab import LicenceMethod, LicenceStatus
from tests import factories
from tests.factories import audit_events, today
from tests.test_public_credentials import facts, licence_section, text

DENVER = (39.7392, -104.9903)


def practitioner_in(country="AU", region=None, number="PHY0001234567",
                    profession="physiotherapist", **extra) -> Practitioner:
    """A practitioner with a verified certification and a licence not yet checked."""
    p = factories.make_practitioner(full_name="Robin Register", profession=profession,
                                    licence_number=number, licence_country=country,
                                    licence_region=region, attested_at=factories.utcnow(),
                                    **extra)
    factories.make_certification(p, status="verified")
    factories.make_location(p, lat=-37.8136, lng=144.9631, city="Melbourne", country="AU",
                            postcode="3000", region="Victoria", geo_precision="postcode")
    return p


@pytest.fixture
def admin(app_ctx):
    return factories.make_admin("checker@example.com")


def review(client, practitioner_id, **form):
    data = {"outcome": "verified", "register": "au-ahpra", "register_url": "",
            "checked_on": today().isoformat(), "register_expires_on": "", "note": ""} | form
    return client.post(f"/admin/licences/{practitioner_id}", data=data)


# ------------------------------------------------------------------ the listing needs both

def test_a_verified_certification_alone_does_not_list(app, client):
    with app.app_context():
        p = practitioner_in()
        slug = p.slug
        assert not listing.is_listed(p)
    assert client.get(f"/p/{slug}").status_code == 404
    assert client.get("/api/v1/practitioners?near=Melbourne").get_json()["items"] == []


def test_an_australian_licence_verified_from_the_ahpra_link_lists_the_practitioner(
        app, client, auth, admin):
    with app.app_context():
        p = practitioner_in()
        pid, slug = p.id, p.slug
    auth.login("checker@example.com")
    page = client.get(f"/admin/licences/{pid}")
    assert page.status_code == 200
    # The register's entry for this number, and its search page, one click away.
    assert "https://www.ahpra.gov.au/Registration/Registers-of-Practitioners.aspx?q=" \
           "PHY0001234567" in page.get_data(as_text=True)
    assert "Ahpra" in text(page)
    response = review(client, pid, note="Registered, no conditions.")
    assert response.status_code == 302
    with app.app_context():
        licence = db.session.scalar(select(Licence).where(Licence.practitioner_id == pid))
        assert (licence.status, licence.method, licence.verified_on) == (
            LicenceStatus.VERIFIED, LicenceMethod.REGISTER, today())
        assert licence.next_due == licences.months_after(today(), 12)
        assert "Ahpra" in licence.source and licence.verified_by.email == "checker@example.com"
        [event] = audit_events(app, "licence.verified")
        assert event.detail["number"] == "PHY0001234567"
        assert event.detail["method"] == "register"
    auth.logout()
    profile = client.get(f"/p/{slug}")
    assert profile.status_code == 200
    licence_facts = facts(licence_section(profile))
    assert licence_facts["Last verified"] == factories_date(today())
    assert licence_facts["Next check due"] == factories_date(licences.months_after(today(), 12))
    assert "Licence verified" in text(profile) and "Training verified" in text(profile)
    record = client.get(f"/api/v1/practitioners/{pid}").get_json()
    assert record["licence"]["number"] == "PHY0001234567"
    assert record["licence"]["jurisdiction"] == "AU"
    assert record["licence"]["verification"] | {"source": None} == {
        "status": "verified", "method": "register", "source": None,
        "verified_on": today().isoformat(),
        "next_due": licences.months_after(today(), 12).isoformat(), "grace_until": None}
    assert client.get("/api/v1/practitioners?near=Melbourne").get_json()["items"]


def subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def factories_date(day) -> str:
    from directory.dates import format_date

    return format_date(day)


def test_a_failed_check_keeps_the_practitioner_unlisted_and_tells_them_why(
        app, client, auth, admin, outbox):
    with app.app_context():
        p = practitioner_in()
        pid, email = p.id, p.user.email
    auth.login("checker@example.com")
    assert review(client, pid, outcome="failed",
                  note="No registrant with this number").status_code == 302
    with app.app_context():
        p = db.session.get(Practitioner, pid)
        assert p.licence.status == LicenceStatus.FAILED and not listing.is_listed(p)
    message = outbox.last(email)
    assert "could not verify" in message.get_payload(decode=True).decode()
    assert "No registrant with this number" in message.get_payload(decode=True).decode()


@pytest.mark.parametrize("form, field, message", [
    ({"outcome": "failed", "note": ""}, "note", "Say what you found"),
    ({"checked_on": "2999-01-01"}, "checked_on", "has not come yet"),
    ({"checked_on": "yesterday"}, "checked_on", "Not a valid date value"),
    ({"register": "other", "register_url": ""}, "register_url", "Give the web address"),
    ({"register": "other", "register_url": "javascript:alert(1)"}, "register_url",
     "Only web addresses starting with http"),
    ({"register": "nonsense"}, "register", "Not a valid choice"),
    ({"outcome": "maybe"}, "outcome", "Not a valid choice"),
], ids=["failed without a note", "future", "not a date", "other without address",
        "script address", "unknown register", "unknown outcome"])
def test_a_bad_review_re_renders_with_the_message_and_keeps_what_was_typed(
        app, client, auth, admin, form, field, message):
    with app.app_context():
        pid = practitioner_in().id
    auth.login("checker@example.com")
    response = review(client, pid, note=form.pop("note", "typed note"), **form)
    assert response.status_code == 200
    assert message in text(response)
    assert "typed note" in response.get_data(as_text=True) or field == "note"
    with app.app_context():
        assert db.session.scalar(select(Licence).where(Licence.practitioner_id == pid)) is None
        assert audit_events(app, "licence.verified") == []


def test_another_register_is_recorded_by_its_address(app, client, auth, admin):
    with app.app_context():
        pid = practitioner_in(country="FR", number="12345").id
    auth.login("checker@example.com")
    page = client.get(f"/admin/licences/{pid}")
    assert "We know no register for this profession" in text(page)
    assert review(client, pid, register="other",
                  register_url="annuaire.example.fr/pro").status_code == 302
    with app.app_context():
        licence = db.session.scalar(select(Licence).where(Licence.practitioner_id == pid))
        assert licence.source == "https://annuaire.example.fr/pro"


def test_a_register_expiry_brings_the_next_check_forward(app, client, auth, admin):
    with app.app_context():
        pid = practitioner_in().id
    auth.login("checker@example.com")
    expires = today() + timedelta(days=90)
    assert review(client, pid, register_expires_on=expires.isoformat()).status_code == 302
    with app.app_context():
        p = db.session.get(Practitioner, pid)
        assert p.licence.next_due == expires
        assert p.listed_until == expires  # listed through that day, not beyond


def test_changing_the_licence_number_voids_the_check(app, client, auth):
    with app.app_context():
        p = factories.make_listed_practitioner("owner@example.com", full_name="Owner",
                                               profession="physiotherapist")
        pid = p.id
        data = {"full_name": "Owner", "profession": "physiotherapist",
                "licence_number": "NEW-999", "licence_country": "US", "licence_region": "CO",
                "npi": "", "version": str(p.version)}
    auth.login("owner@example.com")
    assert client.post("/profile/edit", data=data).status_code == 302
    with app.app_context():
        p = db.session.get(Practitioner, pid)
        assert p.licence.status == LicenceStatus.UNVERIFIED
        assert not listing.is_listed(p)
        [event] = audit_events(app, "licence.unverified")
        assert event.detail["fields"] == ["licence_country", "licence_number",
                                          "licence_region"]
    dashboard = client.get("/dashboard")
    assert "Licence not yet checked" in text(dashboard)


def test_saving_the_profile_without_changing_the_licence_keeps_the_check(app, client, auth):
    with app.app_context():
        p = factories.make_listed_practitioner("keep@example.com", full_name="Keeper",
                                               profession="physiotherapist",
                                               licence_country="AU")
        pid = p.id
        data = {"full_name": "Keeper", "profession": "physiotherapist",
                "licence_number": p.licence_number, "licence_country": p.licence_country,
                "licence_region": "", "npi": "", "bio": "New bio", "version": str(p.version)}
    auth.login("keep@example.com")
    assert client.post("/profile/edit", data=data).status_code == 302
    with app.app_context():
        assert db.session.get(Practitioner, pid).licence.status == LicenceStatus.VERIFIED


# ------------------------------------------------------------------------------- the NPI

@pytest.mark.parametrize("npi, country, message", [
    ("1234567898", "US", "its last digit does not match"),
    ("12345", "US", "Enter the 10 digits of your NPI"),
    ("12345678AB", "US", "Enter the 10 digits of your NPI"),
    ("1234567893", "AU", "An NPI is issued only for US licences"),
])
def test_a_bad_npi_gets_a_field_message_and_nothing_is_lost(app, client, auth, npi, country,
                                                            message):
    with app.app_context():
        p = factories.make_practitioner("npi@example.com", full_name="Nia Pi")
        version = p.version
    auth.login("npi@example.com")
    response = client.post("/profile/edit", data={
        "full_name": "Nia Pi", "profession": "physiotherapist", "licence_number": "PT1",
        "licence_country": country, "npi": npi, "bio": "Kept bio", "version": str(version)})
    assert response.status_code == 200
    assert message in text(response)
    assert f'value="{npi}"' in response.get_data(as_text=True)
    assert "Kept bio" in response.get_data(as_text=True)


def test_a_valid_npi_is_saved_as_its_ten_digits(app, client, auth):
    with app.app_context():
        p = factories.make_practitioner("npi2@example.com", full_name="Nia Pi")
        pid, version = p.id, p.version
    auth.login("npi2@example.com")
    response = client.post("/profile/edit", data={
        "full_name": "Nia Pi", "profession": "physiotherapist", "licence_number": "PT1",
        "licence_country": "US", "licence_region": "CO", "npi": "123 456-7893",
        "version": str(version)})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Practitioner, pid).npi == "1234567893"


# ------------------------------------------------------------------------------ the queue

def test_the_queue_shows_lapsed_and_due_licences_first_oldest_first(app, client, auth, admin):
    with app.app_context():
        practitioner_in().full_name = "Never Checked"
        due = factories.make_listed_practitioner(full_name="Due Soon")
        due.licence.next_due = today() + timedelta(days=10)
        lapsed = factories.make_listed_practitioner(full_name="Long Lapsed")
        lapsed.licence.status = LicenceStatus.LAPSED
        lapsed.licence.next_due = today() - timedelta(days=5)
        graced = factories.make_listed_practitioner(full_name="In Grace")
        graced.licence.status = LicenceStatus.UNVERIFIED
        graced.licence.grace_until = today() + timedelta(days=40)
        factories.make_listed_practitioner(full_name="Fine For Months")
        db.session.commit()
    auth.login("checker@example.com")
    page = text(client.get("/admin/licences"))
    order = list(dict.fromkeys(re.findall(r"(Never Checked|Due Soon|Long Lapsed|In Grace|"
                                          r"Fine For Months)", page)))
    assert order == ["Long Lapsed", "Due Soon", "In Grace", "Never Checked"]
    assert "Waiting for a check: 4" in page


def test_only_administrators_see_the_licence_pages(app, client, auth):
    with app.app_context():
        p = factories.make_listed_practitioner("self@example.com")
        pid = p.id
    assert client.get("/admin/licences").status_code in (302, 401, 403)
    auth.login("self@example.com")
    assert client.get("/admin/licences").status_code == 403
    assert client.get(f"/admin/licences/{pid}").status_code == 403
    assert review(client, pid).status_code == 403


# ------------------------------------------------------------------------------ the sweep

def test_the_sweep_lapses_an_overdue_licence_and_tells_the_practitioner_once(app, outbox):
    with app.app_context():
        p = factories.make_listed_practitioner("lapse@example.com")
        p.licence.next_due = today() - timedelta(days=1)
        db.session.commit()
        assert not listing.is_listed(p)  # the rule needs no sweep
        first, second = jobs.sweep(), jobs.sweep()
        assert (first.licences_lapsed, second.licences_lapsed) == (1, 0)
        assert db.session.get(Practitioner, p.id).licence.status == LicenceStatus.LAPSED
    subjects = [subject(m) for m in outbox.messages() if m["To"] == "lapse@example.com"]
    assert subjects == ["Your licence check is overdue — Dry Needling Directory"]


def test_the_sweep_reminds_thirty_days_before_the_next_check_once(app, outbox):
    with app.app_context():
        p = factories.make_listed_practitioner("remind@example.com")
        due = today() + timedelta(days=30)
        p.licence.next_due = due
        db.session.commit()
        assert jobs.sweep(today() - timedelta(days=1)).licence_reminders == 0
        assert jobs.sweep().licence_reminders == 1
        assert jobs.sweep().licence_reminders == 0
    [message] = [m for m in outbox.messages() if m["To"] == "remind@example.com"]
    assert f"by {due.isoformat()}" in subject(message)


def test_a_practitioner_listed_before_licence_checks_is_told_and_stays_listed_in_grace(
        app, client, auth, outbox):
    with app.app_context():
        p = factories.make_listed_practitioner("grace@example.com")
        p.licence.status = LicenceStatus.UNVERIFIED
        p.licence.method = None
        p.licence.grace_until = today() + timedelta(days=60)
        db.session.commit()
        slug, pid = p.slug, p.id
        assert listing.is_listed(p)
        assert jobs.sweep().licence_grace_notices == 1
        assert jobs.sweep().licence_grace_notices == 0
    message = outbox.last("grace@example.com")
    assert "We now check licences" in subject(message)
    profile = client.get(f"/p/{slug}")
    assert profile.status_code == 200
    assert "Licence not yet checked" in text(profile)
    auth.login("grace@example.com")
    dashboard = text(client.get("/dashboard"))
    assert "You stay listed until" in dashboard
    with app.app_context():
        p = db.session.get(Practitioner, pid)
        p.licence.grace_until = today() - timedelta(days=1)
        db.session.commit()
        assert not listing.is_listed(p)


def test_demo_licences_say_they_are_demo_data(app, client):
    from directory import demo

    with app.app_context():
        demo.seed()
        p = db.session.scalar(select(Practitioner).where(Practitioner.is_demo.is_(True)))
        assert p.licence.method == LicenceMethod.DEMO and listing.is_listed(p)
        slug = p.slug
    assert "Demo data: no register was checked" in text(client.get(f"/p/{slug}"))
