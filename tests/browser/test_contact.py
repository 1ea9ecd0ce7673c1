"""A practitioner gives fees and insurers; a patient narrows the search by them, reads them on
the profile and sends the practitioner a message without seeing their e-mail address."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import log_in

pytestmark = pytest.mark.browser


def test_fees_insurers_and_an_enquiry_through_the_profile(contexts, live_server, people):
    practitioner = contexts.new_page()
    log_in(practitioner, people.manual.email)
    practitioner.goto("/profile/edit")
    practitioner.get_by_label("First visit fee").fill("120")
    practitioner.get_by_label("Follow-up visit fee").fill("95.50")
    practitioner.get_by_label("Currency").select_option("USD")
    practitioner.get_by_label("Aetna").check()
    practitioner.get_by_label("Medicare", exact=True).check()
    practitioner.get_by_role("button", name="Save profile").click()
    expect(practitioner.get_by_text("Your profile has been saved.")).to_be_visible()

    patient = contexts.new_page()
    patient.goto("/")
    patient.get_by_label("Postcode or place").fill("80203")
    patient.locator("summary", has_text="Filters").click()
    patient.get_by_label("Insurance accepted").select_option(label="Aetna (United States)")
    patient.get_by_label("First visit fee").select_option("150")
    patient.get_by_role("button", name="Search", exact=True).click()
    results = patient.locator("#results-list")
    expect(results.get_by_role("link", name=people.manual.name)).to_be_visible()
    expect(results.get_by_role("link", name=people.electrical.name)).to_have_count(0)
    results.get_by_role("link", name=people.manual.name).click()

    fees = patient.locator("#fees")
    expect(fees).to_contain_text(re.compile(r"First visit\s*\$120\b"))
    expect(fees).to_contain_text(re.compile(r"Follow-up visit\s*\$95\.50"))
    expect(fees.get_by_role("listitem").filter(has_text="Aetna")).to_be_visible()
    expect(patient.locator("body")).not_to_contain_text(people.manual.email)
    # A visitor who only reads gets no cookie (so caches keep serving them the shared page);
    # starting on the message form fetches their form token.
    assert [c["name"] for c in patient.context.cookies()] == []

    # A message without words is refused beside the field, and what was typed stays.
    form = patient.locator("#send-message")
    form.get_by_label("Your name").fill("Dana Patient")
    form.get_by_label("Your e-mail address").fill("dana@example.net")
    form.get_by_role("button", name="Send message").click()
    expect(patient.get_by_text("Write your message.").last).to_be_visible()
    expect(patient.get_by_label("Your name")).to_have_value("Dana Patient")
    patient.get_by_label("Your message").fill("Do you see patients on Saturdays?")
    patient.get_by_role("button", name="Send message").click()
    expect(patient.get_by_text(re.compile(
        rf"Your message has been sent to {people.manual.name}"))).to_be_visible()

    received = live_server.messages(people.manual.email)[-1]
    assert received["Reply-To"] == "dana@example.net"
    assert "Do you see patients on Saturdays?" in received.get_payload(decode=True).decode()
    copy = live_server.messages("dana@example.net")[-1]
    assert people.manual.email not in copy.as_string()
