"""Reporting wrong information, end to end in chromium: a patient reports a wrong phone number
from a listed profile, the practitioner is e-mailed and sees it on the dashboard, and an
administrator marks it corrected from the reports queue. Screenshots in
artifacts/screenshots/report-*.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import _practitioner
from tests.browser.support import Screenshots, axe_violations, describe, log_in

pytestmark = pytest.mark.browser

DETAILS = "The number rings a pizzeria. The clinic's number is +1 303 555 0199."


def test_a_patient_reports_a_wrong_phone_number_and_an_admin_marks_it_corrected(
        contexts, live_server, people):
    shots = Screenshots("report")
    # A listed practitioner of this test's own, so no other journey sees its report.
    them = _practitioner(live_server, people.admin, "Renata Reportova",
                         techniques=["trigger_point"], postcode="80204", city="Denver",
                         region="CO", approve=True)

    # The patient, from the profile.
    patient = contexts.new_page()
    patient.goto(f"/p/{them.slug}")
    expect(patient.get_by_role("heading", level=1)).to_contain_text(them.name)
    patient.get_by_role("link", name="Report a problem with this listing").click()
    expect(patient.get_by_role("heading", level=1)).to_have_text(
        "Report a problem with this listing")

    # Sent without choosing what is wrong: the field says so, and the words typed stay.
    patient.get_by_label("Details").fill(DETAILS)
    patient.get_by_role("button", name="Send the report").click()
    expect(patient.locator("#kind-error")).to_have_text("Choose what is wrong with this listing.")
    expect(patient.get_by_role("alert")).to_contain_text("Please correct 1 field")
    expect(patient.get_by_label("Details")).to_have_value(DETAILS)
    shots.take(patient, "form-error")
    violations = axe_violations(patient)
    assert not violations, describe(violations)

    patient.get_by_label("The phone number is wrong").check()
    patient.get_by_role("button", name="Send the report").click()
    expect(patient.get_by_text("Thank you: your report has been sent.")).to_be_visible()
    expect(patient.get_by_role("heading", level=1)).to_contain_text(them.name)

    # The practitioner sees it on the dashboard, to correct the listing.
    owner = contexts.new_page()
    log_in(owner, them.email)
    owner.get_by_role("link", name="My dashboard").click()
    expect(owner.locator("#reports")).to_contain_text(
        f"The phone number is wrong — {DETAILS}")
    violations = axe_violations(owner)
    assert not violations, describe(violations)

    # The administrator: the queue, the report beside the listing, the decision.
    admin = contexts.new_page()
    log_in(admin, people.admin.email)
    admin.get_by_role("link", name=re.compile(r"^Reports \(\d+ open\)$")).click()
    row = admin.get_by_role("row").filter(has_text=them.name)
    expect(row).to_contain_text("The phone number is wrong")
    admin.get_by_role("link", name=f"Review the report on {them.name}").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Report on {them.name} — open")
    expect(admin.get_by_text(DETAILS)).to_be_visible()
    expect(admin.get_by_text("+1 303 555 0100")).to_be_visible()  # the phone listed now
    admin.get_by_label("Corrected: the listing was wrong").check()
    admin.get_by_label("Note").fill("The practitioner has updated the phone number.")
    shots.take(admin, "decision")
    violations = axe_violations(admin)
    assert not violations, describe(violations)
    admin.get_by_role("button", name="Record the decision").click()
    expect(admin.get_by_text(f"Report on {them.name} corrected.")).to_be_visible()
    expect(admin.get_by_role("row").filter(has_text=them.name)).to_have_count(0)

    # Once corrected, the dashboard no longer lists it.
    owner.reload()
    expect(owner.get_by_role("heading", level=1)).to_have_text(f"Hello, {them.name}")
    expect(owner.locator("#reports")).to_have_count(0)

    # The practitioner's e-mail: what was reported, and where to correct it; not who.
    [message] = [m for m in live_server.messages(them.email)
                 if "reported a problem" in m["Subject"]]
    body = message.get_payload(decode=True).decode()
    assert "The phone number is wrong" in body and DETAILS in body
    assert f"{live_server.url}/profile/edit" in body
