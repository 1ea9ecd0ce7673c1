"""What patients send through the API: a message to a practitioner (POST .../enquiries) and a
report of wrong information (POST .../reports), with the profile's rules and the API's 400s."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.extensions import db
from directory.models import Enquiry, ListingReport
from tests import factories
from tests.test_api import check, spec  # noqa: F401 — the document fixture

MESSAGE = {"name": "Sam Patient", "email": "sam@example.net",
           "message": "Is there parking near the clinic?"}


@pytest.fixture
def listed(app_ctx):
    return factories.make_listed_practitioner("rua.account@example.com", full_name="Rua Tane")


def test_a_message_is_queued_to_the_practitioner_with_a_copy(client, listed, outbox, app):
    response = client.post(f"/api/v1/practitioners/{listed.id}/enquiries", json=MESSAGE)
    assert response.status_code == 202
    assert response.get_json() == {"status": "sent", "to": "Rua Tane",
                                   "copy_to": "sam@example.net"}
    received = outbox.last("rua.account@example.com")
    assert received["Reply-To"] == "sam@example.net"
    assert "Is there parking" in received.get_payload(decode=True).decode()
    assert "rua.account@example.com" not in outbox.last("sam@example.net").as_string()
    assert db.session.scalars(select(Enquiry.sender_name)).all() == ["Sam Patient"]


@pytest.mark.parametrize(("body", "field", "code"), [
    ("not json", None, "invalid_body"),
    (["a", "list"], None, "invalid_body"),
    ({**MESSAGE, "name": ""}, "name", "invalid_parameter"),
    ({**MESSAGE, "name": 7}, "name", "invalid_parameter"),
    ({**MESSAGE, "email": "nobody"}, "email", "invalid_parameter"),
    ({**MESSAGE, "message": "x" * 3001}, "message", "invalid_parameter"),
    ({**MESSAGE, "message": "see a.com/1, www.b.example and http://c.example"}, "message",
     "invalid_parameter"),
])
def test_a_bad_message_is_a_400_naming_the_field(client, spec, listed, outbox,  # noqa: F811
                                                 body, field, code):
    url = f"/api/v1/practitioners/{listed.id}/enquiries"
    response = (client.post(url, data=body, content_type="text/plain") if isinstance(body, str)
                else client.post(url, json=body))
    assert response.status_code == 400
    check(spec, "Error", response.get_json())
    assert (response.get_json()["error"]["field"], response.get_json()["error"]["code"]) == (
        field, code)
    assert outbox.messages() == []


def test_closed_unlisted_and_limited(client, app, listed, outbox):
    listed.enquiries_enabled = False
    db.session.commit()
    closed = client.post(f"/api/v1/practitioners/{listed.id}/enquiries", json=MESSAGE)
    assert (closed.status_code, closed.get_json()["error"]["code"]) == (409, "enquiries_closed")
    unlisted = factories.make_practitioner(full_name="Not Yet")
    assert client.post(f"/api/v1/practitioners/{unlisted.id}/enquiries",
                       json=MESSAGE).status_code == 404
    listed.enquiries_enabled = True
    db.session.commit()
    app.config["ENQUIRY_LIMITS"] = {"client": 1, "sender": 9, "practitioner": 9}
    url = f"/api/v1/practitioners/{listed.id}/enquiries"
    assert client.post(url, json=MESSAGE).status_code == 202
    limited = client.post(url, json={**MESSAGE, "email": "other@example.net"})
    assert (limited.status_code, limited.get_json()["error"]["code"]) == (429, "rate_limited")
    assert len([m for m in outbox.messages() if m["To"] == "rua.account@example.com"]) == 1


def test_a_report_lands_in_the_queue_and_a_duplicate_is_refused(client, spec,  # noqa: F811
                                                                listed, outbox):
    url = f"/api/v1/practitioners/{listed.id}/reports"
    body = {"kind": "wrong_phone", "details": "The number rings a bakery."}
    response = client.post(url, json=body)
    assert (response.status_code, response.get_json()) == (201, {"status": "received"})
    report = db.session.scalars(select(ListingReport)).one()
    assert (report.kind, report.details, report.status) == (
        "wrong_phone", "The number rings a bakery.", "open")
    assert "bakery" in outbox.last("rua.account@example.com").get_payload(
        decode=True).decode()
    again = client.post(url, json=body)
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "duplicate")
    check(spec, "Error", again.get_json())


@pytest.mark.parametrize(("body", "field"), [
    ({}, "kind"),
    ({"kind": "haunted"}, "kind"),
    ({"kind": "other"}, "details"),
    ({"kind": "closed", "email": "not an address"}, "email"),
    ({"kind": "closed", "details": ["a"]}, "details"),
    ({"kind": "other", "details": "cheap at a.com/1, b.com/2 and c.com/3"}, "details"),
])
def test_a_bad_report_is_a_400_naming_the_field(client, listed, body, field):
    response = client.post(f"/api/v1/practitioners/{listed.id}/reports", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field
    assert db.session.scalars(select(ListingReport)).all() == []


def test_a_duplicate_in_other_letters_case_is_refused_on_both_databases(client, listed, outbox):
    """Accented capitals fold like plain ones (SQLite's lower() alone would miss them)."""
    url = f"/api/v1/practitioners/{listed.id}/reports"
    first = client.post(url, json={"kind": "closed", "details": "Le cabinet a fermé"})
    assert first.status_code == 201
    again = client.post(url, json={"kind": "closed", "details": "LE CABINET A FERMÉ"})
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "duplicate")
    assert len([m for m in outbox.messages() if m["To"] == "rua.account@example.com"]) == 1
