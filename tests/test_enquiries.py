"""Enquiries: a patient sends a listed practitioner a message from the profile, without either
seeing the other's address; spam is held off without a CAPTCHA; the words leave with the
e-mail and only metadata stays."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.extensions import db
from directory.models import Enquiry, OutboxMessage
from tests import factories

ACCOUNT = "kiri.account@example.com"


@pytest.fixture
def listed(app_ctx):
    """A listed practitioner whose account address differs from their public e-mail."""
    p = factories.make_listed_practitioner(ACCOUNT, full_name="Kiri Ngata",
                                           public_email="front-desk@clinic.example",
                                           licence_country="NZ")
    factories.make_location(p, lat=-36.85, lng=174.76, country="NZ", city="Auckland",
                            region="", postcode="1010", geo_precision="postcode")
    return p


def send(client, slug, address="127.0.0.1", **fields):
    """Send the form from this client address."""
    data = {"name": "Aroha Patient", "email": "aroha@example.net",
            "message": "Do you have a Saturday appointment next month?"} | fields
    return client.post(f"/p/{slug}/contact", data=data,
                       environ_base={"REMOTE_ADDR": address})


def test_the_profile_carries_the_form_and_never_the_account_address(client, listed):
    page = client.get(f"/p/{listed.slug}").get_data(as_text=True)
    assert "Send Kiri Ngata a message" in page
    assert f'action="/p/{listed.slug}/contact"' in page
    assert "Do not send medical details" in page
    assert ACCOUNT not in page


def test_a_message_reaches_the_practitioner_with_reply_to_the_patient_and_a_copy(
        client, listed, outbox, app):
    response = send(client, listed.slug)
    assert response.status_code == 302
    assert "Your message has been sent to Kiri Ngata" in client.get(
        response.headers["Location"]).get_data(as_text=True)
    to_practitioner = outbox.last(ACCOUNT)
    assert to_practitioner["Reply-To"] == "aroha@example.net"
    assert "Aroha Patient" in to_practitioner["Subject"]
    body = to_practitioner.get_payload(decode=True).decode()
    assert "Do you have a Saturday appointment next month?" in body
    copy = outbox.last("aroha@example.net")
    assert "Kiri Ngata" in copy["Subject"]
    copy_body = copy.get_payload(decode=True).decode()
    assert "Do you have a Saturday appointment" in copy_body
    assert ACCOUNT not in copy_body and ACCOUNT not in str(copy)
    with app.app_context():
        # Delivered: the words are gone from the database; the metadata stays.
        assert {m.body for m in db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind.in_(("enquiry", "enquiry_copy"))))} == {""}
        enquiry = db.session.scalars(select(Enquiry)).one()
        assert (enquiry.sender_name, enquiry.sender_email, enquiry.status,
                enquiry.message_length, enquiry.link_count) == (
            "Aroha Patient", "aroha@example.net", "sent", 46, 0)
        assert len(enquiry.client_key) == 64 and "127.0.0.1" not in enquiry.client_key
    events = factories.audit_events(app, "enquiry.sent")
    assert len(events) == 1 and "Saturday" not in str(events[0].detail)


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": ""}, "Enter your name."),
    ({"name": "N" * 121}, "At most 120 characters (this has 121)."),
    ({"name": "Eve\r\nBcc: all@example.com"}, "Write your name on one line."),
    ({"email": ""}, "Enter the e-mail address the practitioner should reply to."),
    ({"email": "not an address"}, "Enter an e-mail address like name@example.com."),
    ({"message": "   "}, "Write your message."),
    ({"message": "x" * 3001}, "Keep your message to 3,000 characters or fewer."),
    ({"message": "See https://a.example/1 and https://b.example/2 and www.c.example"},
     "Your message holds 3 links; we send at most 2."),
])
def test_bad_input_gets_a_field_message_and_keeps_what_was_typed(client, listed, outbox,
                                                                 fields, message):
    response = send(client, listed.slug, **fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in page
    assert 'class="error"' in page
    # What was typed is still in the form.
    assert "Do you have a Saturday appointment next month?" in page or "message" in fields
    assert 'value="Aroha Patient"' in page or "name" in fields
    assert outbox.messages() == []


def test_the_hidden_field_drops_a_robots_message_quietly(client, listed, outbox, app):
    response = send(client, listed.slug, homepage="https://spam.example")
    assert response.status_code == 302  # the robot is told nothing different
    assert outbox.messages() == []
    with app.app_context():
        assert db.session.scalars(select(Enquiry.status)).all() == ["trapped"]


def test_a_robots_flood_stops_being_recorded_at_the_connections_limit(client, listed, app,
                                                                      outbox):
    app.config["ENQUIRY_LIMITS"] = {"client": 2, "sender": 5, "practitioner": 20}
    for _ in range(4):
        assert send(client, listed.slug, homepage="spam").status_code == 302
    assert db.session.scalars(select(Enquiry.status)).all() == ["trapped", "trapped"]
    assert outbox.messages() == []
    # A person on another connection is not held up by the robot.
    assert send(client, listed.slug, "192.0.2.44").status_code == 302


def test_limits_per_connection_per_reply_address_and_per_practitioner(client, listed, app,
                                                                     outbox):
    app.config["ENQUIRY_LIMITS"] = {"client": 2, "sender": 5, "practitioner": 20}
    assert send(client, listed.slug).status_code == 302
    assert send(client, listed.slug, email="other@example.net").status_code == 302
    refused = send(client, listed.slug, email="third@example.net")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Too many messages have been sent from your connection today" in page
    assert "Do you have a Saturday appointment next month?" in page  # kept
    # Another connection may still write, but not from a reply address already used enough.
    app.config["ENQUIRY_LIMITS"] = {"client": 2, "sender": 1, "practitioner": 20}
    elsewhere = "203.0.113.9"
    assert send(client, listed.slug, elsewhere, email="aroha@example.net").status_code == 429
    assert send(client, listed.slug, elsewhere, email="fourth@example.net").status_code == 302
    # The practitioner receives at most so many a day, from everyone together.
    app.config["ENQUIRY_LIMITS"] = {"client": 99, "sender": 99, "practitioner": 3}
    capped = send(client, listed.slug, "198.51.100.7", email="fifth@example.net")
    assert "as many messages through the directory as we pass on in a day" in capped.get_data(
        as_text=True)
    assert capped.status_code == 429
    assert len([m for m in outbox.messages() if m["To"] == ACCOUNT]) == 3


def test_a_practitioner_who_turns_enquiries_off_gets_none(client, listed, outbox, app):
    listed.enquiries_enabled = False  # the fixture's app context is the requests' too
    db.session.commit()
    page = client.get(f"/p/{listed.slug}").get_data(as_text=True)
    assert "does not take messages through the directory" in page
    assert 'action="/p/' not in page or "/contact" not in page
    assert send(client, listed.slug).status_code == 200
    assert outbox.messages() == []
    with app.app_context():
        assert db.session.scalars(select(Enquiry)).all() == []


def test_an_unlisted_profile_takes_no_message(client, app_ctx, outbox):
    p = factories.make_practitioner(full_name="Not Listed")
    assert send(client, p.slug).status_code == 404
    assert client.get(f"/p/{p.slug}/contact").status_code == 404
    assert outbox.messages() == []


def test_the_practitioner_chooses_to_hide_phone_and_email_and_stop_messages(
        client, auth, listed, app):
    auth.login(ACCOUNT)
    form = client.get("/profile/edit").get_data(as_text=True)
    assert "Show my phone number on my profile" in form
    assert "Let patients send me a message from my profile" in form
    listed.phone = "+64 9 555 0100"
    db.session.commit()
    assert "+64 9 555 0100" in client.get(f"/p/{listed.slug}").get_data(as_text=True)
    # The three boxes unticked.
    response = client.post("/profile/edit", data={
        "full_name": "Kiri Ngata", "profession": "physiotherapist", "phone": "+64 9 555 0100",
        "public_email": "front-desk@clinic.example", "licence_country": "NZ",
        "version": str(listed.version)})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(f"/p/{listed.slug}").get_data(as_text=True)
    assert "+64 9 555 0100" not in page and "front-desk@clinic.example" not in page
    assert "does not take messages through the directory" in page
    api = client.get(f"/api/v1/practitioners/{listed.id}").get_json()
    assert (api["phone"], api["email"], api["enquiry_url"]) == (None, None, None)


def test_administrators_review_the_metadata_only(client, auth, listed, app):
    send(client, listed.slug, message="Please call me back about my appointment")
    with app.app_context():
        factories.make_admin("boss@example.com")
    auth.login("boss@example.com")
    page = client.get("/admin/enquiries").get_data(as_text=True)
    assert "Aroha Patient" in page and "aroha@example.net" in page and "Kiri Ngata" in page
    assert "Please call me back" not in page
