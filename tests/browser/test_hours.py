"""Opening hours in chromium: a practitioner enters a location's hours (a bad range first, then
fixed); a patient sees the week, an "Open now" or "Closed now" badge and a directions link."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import _practitioner
from tests.browser.support import axe_violations, describe, log_in

pytestmark = pytest.mark.browser

CLOSES_BEFORE_OPENS = "Closing time must be after opening time."


def test_practitioner_enters_hours_and_a_patient_sees_them(page: Page, contexts, live_server,
                                                           people):
    person = _practitioner(live_server, people.admin, "Hugo Hours",
                           techniques=["trigger_point"], postcode="80202", city="Denver",
                           region="CO", approve=True)
    clinic = "Denver Spine Clinic"

    # The practitioner opens the location from the dashboard and types a range backwards.
    log_in(page, person.email)
    page.goto("/dashboard")
    page.get_by_role("link", name=f"Edit {clinic}").click()
    monday = page.get_by_role("group", name="Monday")
    monday.get_by_label("Monday opens", exact=True).fill("09:00")
    monday.get_by_label("Monday closes", exact=True).fill("08:00")
    tuesday = page.get_by_role("group", name="Tuesday")
    tuesday.get_by_label("Tuesday opens", exact=True).fill("08:00")
    tuesday.get_by_label("Tuesday closes", exact=True).fill("12:30")
    tuesday.get_by_label("Tuesday opens again", exact=True).fill("13:30")
    tuesday.get_by_label("Tuesday closes again", exact=True).fill("18:00")
    page.get_by_role("button", name="Save location").click()

    # The message is beside the field (and in the summary), and what was typed is kept.
    closes = page.get_by_label("Monday closes", exact=True)
    expect(closes).to_have_attribute("aria-invalid", "true")
    expect(closes).to_have_accessible_description(CLOSES_BEFORE_OPENS)
    expect(page.get_by_role("alert")).to_contain_text(f"Monday closes: {CLOSES_BEFORE_OPENS}")
    expect(closes).to_have_value("08:00")
    expect(page.get_by_label("Monday opens", exact=True)).to_have_value("09:00")
    expect(page.get_by_label("Tuesday closes again", exact=True)).to_have_value("18:00")
    violations = axe_violations(page)
    assert violations == [], describe(violations)

    closes.fill("17:30")
    page.get_by_role("button", name="Save location").click()
    expect(page.get_by_text(f"Location “{clinic}” saved.")).to_be_visible()

    # A patient (no account) opens the public profile.
    patient = contexts.new_page()
    patient.goto(f"/p/{person.slug}")
    expect(patient.get_by_role("heading", level=1)).to_contain_text(person.name)
    week = patient.get_by_role("table", name=f"Opening hours of {clinic}")
    expect(week.get_by_role("row", name="Monday 09:00–17:30")).to_be_visible()
    expect(week.get_by_role("row", name="Tuesday 08:00–12:30, 13:30–18:00")).to_be_visible()
    expect(week.get_by_role("row", name="Wednesday Closed")).to_be_visible()
    expect(patient.locator(".location-hours .badge")).to_have_text(
        re.compile(r"^(Open now|Closed now)$"))
    directions = patient.get_by_role("link", name=f"Directions to {clinic} (opens in a new tab)")
    expect(directions).to_have_attribute(
        "href", "https://www.google.com/maps/dir/?api=1&destination="
                "1600+Main+Street%2C+Denver%2C+CO%2C+80202%2C+United+States")
    expect(directions).to_have_attribute("target", "_blank")
    expect(directions).to_have_attribute("rel", "noopener")
