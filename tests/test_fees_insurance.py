"""Fees and insurers: the practitioner enters them, patients see them on the profile and
narrow the search by them, on the page and in the API."""

from __future__ import annotations

import re

import pytest

from directory import field_rules, practice, vocab
from directory.extensions import db
from directory.models import Practitioner
from directory.vocab import TagKind
from tests import factories

SYDNEY = (-33.8688, 151.2093)


def profile_form(client, **fields) -> dict:
    """The profile form as the edit page fills it in, with these fields changed."""
    page = client.get("/profile/edit").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    return {"full_name": "Mia Chen", "profession": "physiotherapist", "version": version,
            "show_phone": "y", "show_public_email": "y", "enquiries_enabled": "y"} | fields


@pytest.fixture
def mia(app_ctx):
    p = factories.listed_at(*SYDNEY, "Mia Chen", email="mia@example.com")
    p.licence_country = "AU"
    p.locations[0].country = "AU"
    db.session.commit()
    return p


def test_fees_are_typed_as_people_write_them():
    assert [field_rules.fee(t) for t in ("95", "95.5", "95.50", "1,200", "")] == [
        9500, 9550, 9550, 120000, None]
    for bad in ("$95", "95.555", "-5", "ninety", "1,20"):
        with pytest.raises(field_rules.RuleError, match="Enter the fee as a number"):
            field_rules.fee(bad)
    with pytest.raises(field_rules.RuleError, match="from 0 to 100,000"):
        field_rules.fee("100001")
    assert field_rules.fee_text(9550) == "95.50" and field_rules.fee_text(9500) == "95"


def test_insurers_are_a_vocabulary_per_country():
    assert vocab.insurer_country("nz_acc") == "NZ"
    assert vocab.insurer_name("au_bupa") == "Bupa"
    assert vocab.insurers()["gb_bupa"] == "Bupa (United Kingdom)"
    # Codes never collide across countries, and each starts with its country.
    codes = [code for names in vocab.INSURERS.values() for code in names]
    assert len(codes) == len(set(codes))
    assert all(vocab.insurer_country(c) in vocab.INSURERS for c in codes)


def test_the_practitioner_enters_fees_and_insurers_and_patients_see_them(client, auth, mia):
    auth.login("mia@example.com")
    form = client.get("/profile/edit").get_data(as_text=True)
    # Their own country's insurers come first, open; the currency is their country's.
    assert form.index("Australia</summary>") < form.index("United States</summary>")
    assert '<option selected value="AUD">' in form
    response = client.post("/profile/edit", data=profile_form(client,
        fee_first_visit="110", fee_follow_up="85.50", fee_currency="AUD",
        insurers=["au_bupa", "au_medibank", "nz_acc"]))
    assert response.status_code == 302
    page = client.get(f"/p/{mia.slug}").get_data(as_text=True)
    assert "<dt>First visit</dt><dd>$110</dd>" in page
    assert "<dt>Follow-up visit</dt><dd>$85.50</dd>" in page
    for name in ("Bupa", "Medibank", "ACC (Accident Compensation Corporation)"):
        assert f"<li>{name}</li>" in page
    record = client.get(f"/api/v1/practitioners/{mia.id}").get_json()
    assert record["fees"] == {"currency": "AUD", "first_visit": 110.0, "follow_up": 85.5}
    assert [i["code"] for i in record["insurance"]] == ["au_bupa", "au_medibank", "nz_acc"]
    assert record["insurance"][0] == {"code": "au_bupa", "name": "Bupa", "country": "AU"}
    # The form shows the saved values again, as typed.
    again = client.get("/profile/edit").get_data(as_text=True)
    assert 'value="85.50"' in again
    assert re.search(r'<input checked[^>]*value="au_bupa"', again)
    assert not re.search(r'<input checked[^>]*value="au_hcf"', again)


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"fee_first_visit": "ninety"}, "fee_first_visit", "Enter the fee as a number"),
    ({"fee_follow_up": "100001", "fee_currency": "AUD"}, "fee_follow_up",
     "Enter a fee from 0 to 100,000."),
    ({"fee_first_visit": "95", "fee_currency": ""}, "fee_currency",
     "Choose the currency of your fees."),
    ({"fee_first_visit": "9" * 13}, "fee_first_visit", "characters"),
    ({"fee_currency": "ZZZ"}, "fee_currency", "Not a valid choice"),
    ({"insurers": ["au_bupa", "made_up"]}, "insurers", "not a valid choice"),
])
def test_bad_fees_and_insurers_get_a_field_message_and_keep_the_form(client, auth, mia,
                                                                     fields, field, message):
    auth.login("mia@example.com")
    response = client.post("/profile/edit", data=profile_form(client, **fields))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="{field}-error"' in page
    assert message.lower() in page.lower()
    assert 'value="Mia Chen"' in page  # what was typed is kept
    with factories_app(client):
        p = db.session.get(Practitioner, mia.id)
        assert (p.fee_first_visit, p.fee_currency, practice.insurers(p)) == (None, None, [])


class factories_app:
    """An app context of the test client's app."""

    def __init__(self, client):
        self.context = client.application.app_context()

    def __enter__(self):
        self.context.push()

    def __exit__(self, *exc):
        db.session.remove()
        self.context.pop()


@pytest.fixture
def sydney(app_ctx):
    """Three practitioners near Sydney: Bupa at $90, Medibank at $150, no fee or insurer."""
    cheap = factories.listed_at(*SYDNEY, "Ava Bupa", tags={TagKind.INSURANCE: ["au_bupa"]},
                                fee_first_visit=9000, fee_currency="AUD")
    dear = factories.listed_at(*factories.offset(*SYDNEY, 2), "Ben Medibank",
                               tags={TagKind.INSURANCE: ["au_medibank"]},
                               fee_first_visit=15000, fee_currency="AUD")
    silent = factories.listed_at(*factories.offset(*SYDNEY, 4), "Cat Silent")
    return cheap, dear, silent


def names(response) -> list[str]:
    return [item["name"] for item in response.get_json()["items"]]


def test_search_narrows_by_insurer_and_by_first_visit_fee(client, sydney):
    near = f"lat={SYDNEY[0]}&lng={SYDNEY[1]}"
    assert names(client.get(f"/api/v1/practitioners?{near}")) == [
        "Ava Bupa", "Ben Medibank", "Cat Silent"]
    assert names(client.get(f"/api/v1/practitioners?{near}&insurance=au_bupa")) == ["Ava Bupa"]
    assert names(client.get(f"/api/v1/practitioners?{near}&max_fee=100")) == ["Ava Bupa"]
    assert names(client.get(f"/api/v1/practitioners?{near}&max_fee=150")) == [
        "Ava Bupa", "Ben Medibank"]
    assert names(client.get(f"/api/v1/practitioners?{near}&max_fee=150&insurance=au_medibank")
                 ) == ["Ben Medibank"]
    # The search page offers the same filters and narrows the same way.
    page = client.get(f"/?{near}&insurance=au_medibank").get_data(as_text=True)
    assert "Ben Medibank" in page and "Ava Bupa" not in page
    assert '<option value="au_bupa">Bupa (Australia)</option>' in page
    assert '<option value="100">Up to 100 (local currency)</option>' in page


@pytest.mark.parametrize(("query", "field"), [
    ("insurance=au_nobody", "insurance"),
    ("max_fee=99", "max_fee"),
    ("max_fee=abc", "max_fee"),
])
def test_the_api_refuses_unknown_filter_values_with_400(client, sydney, query, field):
    response = client.get(f"/api/v1/practitioners?lat={SYDNEY[0]}&lng={SYDNEY[1]}&{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_the_name_search_takes_the_same_filters(client, sydney):
    assert names(client.get("/api/v1/practitioners?q=ava&max_fee=100")) == ["Ava Bupa"]
    assert names(client.get("/api/v1/practitioners?q=ben&max_fee=100")) == []


def test_demo_practitioners_show_local_fees_and_insurers(app, runner, client):
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    with app.app_context():
        demo = db.session.scalars(db.select(Practitioner).where(Practitioner.is_demo)).all()
        by_country = {}
        for p in demo:
            country = p.locations[0].country
            assert p.fee_currency == practice.currency_for(country)
            assert 2 <= len(practice.insurers(p)) <= 4
            assert {vocab.insurer_country(c) for c in practice.insurers(p)} == {country}
            by_country.setdefault(country, p.slug)
    assert {"US", "AU", "GB", "CA", "NZ", "IE"} <= set(by_country)
    page = client.get(f"/p/{by_country['GB']}").get_data(as_text=True)
    assert "<dt>First visit</dt><dd>£" in page
