"""The three journeys of the design, end to end in chromium, through the UI alone.

Only what a journey starts from is prepared beforehand through the app's services (the listed
practitioners a patient finds, the administrator account made by `flask create-admin`); everything
else is clicked and typed. Each journey keeps screenshots at 390 and 1280 px in
artifacts/screenshots/.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import PHONE, Screenshots, log_in, unique
from tests.factories import PASSWORD, pdf_bytes

pytestmark = pytest.mark.browser

FDN1 = "KinetaCore — Functional Dry Needling Level 1 (FDN 1)"


def results_list(page: Page):
    return page.locator("#results-list")


def search(page: Page, near: str) -> None:
    """Type a place into the search form and send it."""
    page.get_by_label("Postcode or place").fill(near)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(r"within \d+ miles of"))).to_be_visible()


def test_patient_searches_narrows_opens_a_profile_and_checks_a_credential(phone: Page, people):
    page, shots = phone, Screenshots("patient")
    wanted, other = people.electrical, people.manual

    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Find a dry needling")
    shots.take(page, "home")

    search(page, "80202")
    expect(results_list(page).get_by_role("link", name=wanted.name)).to_be_visible()
    expect(results_list(page).get_by_role("link", name=other.name)).to_be_visible()
    # The map works without tiles (offline): one marker per listed result, beside the list.
    expect(page.locator("#map .leaflet-marker-icon")).to_have_count(
        results_list(page).locator("li.result").count())
    shots.take(page, "results")

    page.locator("summary", has_text="Filters").click()
    page.get_by_label("Technique").select_option(label="Electrical stimulation through needles")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_label("Technique")).to_have_value("electrical")
    expect(results_list(page).get_by_role("link", name=wanted.name)).to_be_visible()
    expect(results_list(page).get_by_role("link", name=other.name)).to_have_count(0)
    shots.take(page, "filtered")

    results_list(page).get_by_role("link", name=wanted.name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(wanted.name)
    expect(page.get_by_role("listitem").filter(
        has_text="Electrical stimulation through needles")).to_be_visible()
    shots.take(page, "profile")

    page.locator("a.qr").first.click()
    expect(page).to_have_url(re.compile(rf"/verify/{re.escape(wanted.code)}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Credential check")
    expect(page.locator(".verify-result .badge")).to_have_text("Verified")
    expect(page.get_by_text("This certification is verified and current.")).to_be_visible()
    shots.take(page, "verified")


def sign_up(page: Page, name: str, address: str, shots: Screenshots | None = None) -> None:
    """From the home page: the sign-up form, to the page that says to look in the inbox."""
    page.goto("/")
    page.get_by_role("link", name="Practitioner sign-up").click()
    page.get_by_label("Full name").fill(name)
    page.get_by_label("E-mail address").fill(address)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    if shots:
        shots.take(page, "signup")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    expect(page.get_by_text(f"We sent a link to {address}")).to_be_visible()


def confirm(page: Page, live_server, name: str, address: str) -> None:
    """Open the link of the confirmation e-mail in the browser that signed up: confirmed and
    logged in, on the dashboard."""
    page.goto(live_server.newest_link(address))
    expect(page.get_by_text(f"Thank you: {address} is confirmed.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {name}")


def save_short_profile(page: Page) -> None:
    """From the dashboard: profession and licence, saved (which confirms the details too)."""
    page.get_by_role("link", name="Edit profile").click()
    page.get_by_label("Profession").select_option(label="Physical therapist / physiotherapist")
    page.get_by_label("Licence or registration number").fill("PT-1234")
    page.get_by_label("Licence issued in (country)").select_option(label="United States")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile has been saved.")).to_be_visible()


def add_location(page: Page, clinic: str, city: str, region: str, postcode: str) -> None:
    """From the dashboard: add a practice location."""
    page.get_by_role("link", name="Add a location").click()
    page.get_by_label("Clinic name").fill(clinic)
    page.get_by_label("Street address").fill("1550 Larimer Street")
    page.get_by_label("Town or city").fill(city)
    page.get_by_label("State, province or county").fill(region)
    page.get_by_label("Postcode or ZIP").fill(postcode)
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Wheelchair accessible").check()
    page.get_by_role("button", name="Save location").click()
    expect(page.get_by_text(f"Location “{clinic}” added.")).to_be_visible()
    expect(page.get_by_text("Placed on the map at")).to_be_visible()


def fill_certification(page: Page, name: str, *, program: str | None = None,
                       typed: str | None = None) -> None:
    """From the dashboard: open the certification form and fill it in (not sent)."""
    page.get_by_role("link", name="Submit a certification", exact=True).click()
    if program:
        page.get_by_label("Training program").select_option(label=program)
    else:
        page.get_by_label("Program name (if not in the list)").fill(typed or "")
    page.get_by_label("Level").fill("1")
    page.get_by_label("Certificate number").fill("FDN-2024-0042")
    page.get_by_label("Completion date").fill("2024-03-31")
    page.get_by_label("Expiry date").fill(date(date.today().year + 3, 3, 31).isoformat())
    page.get_by_label("Total hours").fill("27")
    page.get_by_label("In-person hours").fill("27")
    page.get_by_label("Supervised treatment sessions").fill("12")
    page.get_by_label("Certificate (PDF, PNG or JPEG, up to 10 MB)").set_input_files(
        {"name": "certificate.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes(name)})


def submit_certification(page: Page) -> None:
    page.get_by_role("button", name="Submit for verification").click()
    expect(page.get_by_text("Your certification is waiting for review")).to_be_visible()
    expect(page.locator("section.cert").first.locator(".badge")).to_have_text(
        "Waiting for review")


def test_practitioner_signs_up_confirms_builds_profile_and_submits_a_certificate(
        phone: Page, live_server):
    page, shots = phone, Screenshots("practitioner")
    name, address = "Jordan Whitfield", f"{unique('jordan')}@example.com"

    sign_up(page, name, address, shots)
    shots.take(page, "check-inbox")

    confirm(page, live_server, name, address)  # the link in the confirmation e-mail
    expect(page.get_by_role("link", name="Confirm your e-mail address")).to_have_count(0)  # done
    shots.take(page, "dashboard")

    page.get_by_role("link", name="Edit profile").click()
    expect(page.get_by_label("Full name")).to_have_value(name)
    page.get_by_label("Post-nominal letters").fill("DPT, OCS")
    page.get_by_label("Profession").select_option(label="Physical therapist / physiotherapist")
    page.get_by_label("Licence or registration number").fill("PT-998877")
    page.get_by_label("Licence issued in (country)").select_option(label="United States")
    page.get_by_label("Licence issued in (state, province or territory)").fill("Colorado")
    page.get_by_label("About you").fill("Orthopaedic physical therapist.\nRunners and climbers.")
    page.get_by_label("Phone", exact=True).fill("+1 303 555 0100")
    page.get_by_label("Public e-mail", exact=True).fill("hello@whitfield-physio.example.com")
    page.get_by_label("Website").fill("whitfield-physio.example.com")
    page.get_by_label("Online booking link").fill("https://whitfield-physio.example.com/book")
    page.get_by_label("Languages spoken").fill("English, Spanish")
    page.get_by_label("Accepting new patients").check()
    page.get_by_label("Insurance and payment").fill("Most PPO plans; self-pay welcome.")
    for label in ("Trigger point dry needling", "Electrical stimulation through needles",
                  "Low back pain", "Neck pain", "Sports injuries"):
        page.get_by_label(label, exact=True).check()
    shots.take(page, "profile-form")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile has been saved.")).to_be_visible()

    add_location(page, "Whitfield Physio", "Denver", "CO", "80202")
    expect(page.get_by_role("cell", name="Whitfield Physio", exact=True)).to_be_visible()
    shots.take(page, "location")

    fill_certification(page, name, program=FDN1)
    shots.take(page, "certification-form")
    submit_certification(page)
    section = page.locator("section.cert").first
    expect(section.get_by_role("heading")).to_contain_text("Functional Dry Needling Level 1")
    expect(section.get_by_role("link", name="certificate.pdf")).to_be_visible()
    shots.take(page, "pending")

    # The dashboard says the same, and that the profile is not listed while it waits.
    page.get_by_role("link", name="My dashboard").click()
    expect(page.get_by_text("Not listed yet")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Functional Dry Needling Level 1")
           ).to_contain_text("Waiting for review")


def test_admin_works_the_queue_and_the_public_side_shows_the_results(contexts, live_server,
                                                                     people):
    shots = Screenshots("admin")
    approved, rejected = "Alma Approvato", "Rory Rejectson"

    # Two practitioners submit through the site (their own browsers).
    for name, postcode, kwargs in ((approved, "02108", {"typed": "Weekend Needling Intensive"}),
                                   (rejected, "02109", {"program": FDN1})):
        them = contexts.new_page()
        address = f"{unique('boston')}@example.com"
        sign_up(them, name, address)
        confirm(them, live_server, name, address)
        save_short_profile(them)
        add_location(them, f"{name} Clinic", "Boston", "MA", postcode)
        fill_certification(them, name, **kwargs)
        submit_certification(them)

    admin = contexts.new_page(PHONE)
    log_in(admin, people.admin.email)
    expect(admin.get_by_role("heading", level=1)).to_have_text("Administration")
    admin.get_by_role("link", name="Verification queue").click()
    queue = admin.locator("table")
    expect(queue.get_by_role("row").filter(has_text=approved)).to_be_visible()
    expect(queue.get_by_role("row").filter(has_text=rejected)).to_be_visible()
    shots.take(admin, "queue")

    # Approve the first: its typed program is not recognised, so the admin chooses it.
    admin.get_by_role("link", name=f"Review {approved}").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"{approved} — waiting for review")
    program = admin.get_by_label("Recognised program")
    expect(program).to_have_value("")
    program.select_option(label=FDN1)
    shots.take(admin, "review")
    # By keyboard: after a resize, chromium may route mouse input to the page's embedded PDF
    # viewer instead of the page (the screenshots resize it), so the click would go nowhere.
    admin.get_by_role("button", name="Approve").press("Enter")
    expect(admin.get_by_text(f"{approved}: certification verified.")).to_be_visible()

    # Reject the second, with a reason.
    admin.get_by_role("link", name=f"Review {rejected}").click()
    rejected_profile = admin.get_by_role("link", name="Profile", exact=True).get_attribute("href")
    admin.get_by_label("Reason or message to the practitioner").fill(
        "The certificate is not legible; please upload a clearer scan.")
    admin.get_by_role("button", name="Reject").click()
    expect(admin.get_by_text(f"{rejected}: certification rejected.")).to_be_visible()
    expect(queue.get_by_role("row").filter(has_text=approved)).to_have_count(0)
    expect(queue.get_by_role("row").filter(has_text=rejected)).to_have_count(0)
    shots.take(admin, "decided")

    # The approved practitioner's licence, checked by the administrator on the official
    # register: listed only with both.
    admin.goto("/admin/")
    admin.get_by_role("link", name="Licence checks").click()
    admin.get_by_role("link", name=f"Check {approved}").click()
    admin.get_by_label("Outcome").select_option("verified")
    admin.get_by_label("Register checked").select_option("other")
    admin.get_by_label("Web address of the register").fill("https://license.example.gov/verify")
    shots.take(admin, "licence-check")
    admin.get_by_role("button", name="Record the check").press("Enter")
    expect(admin.get_by_text(f"{approved}: licence verified.")).to_be_visible()

    # An anonymous visitor: the approved practitioner is found and shown, the rejected is not.
    visitor = contexts.new_page(PHONE)
    visitor.goto("/")
    search(visitor, "02108")
    expect(results_list(visitor).get_by_role("link", name=approved)).to_be_visible()
    expect(results_list(visitor).get_by_role("link", name=rejected)).to_have_count(0)
    shots.take(visitor, "public-results")
    results_list(visitor).get_by_role("link", name=approved).click()
    expect(visitor.get_by_role("heading", level=1)).to_contain_text(approved)
    expect(visitor.locator(".cert-card")).to_contain_text("Functional Dry Needling Level 1")
    expect(visitor.locator(".cert-card .badge-verified")).to_have_text("Training verified")
    shots.take(visitor, "public-profile")
    response = visitor.goto(rejected_profile)
    assert response is not None and response.status == 404
    expect(visitor.get_by_role("heading", level=1)).to_have_text("404")


def test_search_urls_stay_short_and_switching_units_keeps_the_distance(page: Page, people):
    page.goto("/")
    search(page, "80202")
    # Empty fields ("any country", "automatic" unit, no filter) are left out of the URL.
    expect(page).to_have_url(re.compile(r"/\?near=80202&radius=25$"))
    page.get_by_role("link", name="Show km").click()
    expect(page.get_by_role("heading", name=re.compile(r"within 40\.2 km of 80202"))
           ).to_be_visible()
    expect(page.get_by_label("Within", exact=True)).to_have_value("40.2")
    page.locator("summary", has_text="Filters").click()
    page.get_by_label("Accepting new patients").check()
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"/\?near=80202&radius=40\.2&unit=km&accepting=y$"))
    expect(page.get_by_role("heading", name=re.compile(r"within 40\.2 km of 80202"))
           ).to_be_visible()


def test_use_my_location_searches_near_the_browsers_position(page: Page, people):
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 39.7525, "longitude": -104.9995})
    page.goto("/")
    page.get_by_role("button", name="Use my location").click()
    # In miles, as for a typed US ZIP, and named for what it is.
    expect(page.get_by_role("heading", name=re.compile(
        r"within 25 miles of your location \(near 802\d\d"))).to_be_visible()
    expect(results_list(page).get_by_role("link", name=people.electrical.name)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/\?radius=25&lat=39\.75250&lng=-104\.99950$"))


def test_a_patient_finds_a_practitioner_by_name_with_a_typo_alone_or_near_a_place(page, people):
    """Typed with a typo and without a place, the name finds the practitioner anywhere, on the
    list and the map; with a place, only within the distance."""
    page.goto("/")
    page.get_by_label("Name, clinic or licence number").fill("elena voltair")
    page.get_by_role("button", name="Search").click()
    heading = page.get_by_role("heading", name=re.compile("matching “elena voltair”"))
    expect(heading).to_contain_text("1 verified practitioner")
    expect(page.locator("#results-list").get_by_role("link", name=people.electrical.name)
           ).to_be_visible()
    page.locator("#map .leaflet-marker-icon").first.wait_for()
    page.get_by_label("Postcode or place").fill("80202")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name=re.compile("within 25 miles of 80202"))
           ).to_contain_text("matching “elena voltair”")
    page.get_by_label("Postcode or place").fill("SW1A")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", level=2, name=re.compile("No verified practitioners"))
           ).to_be_visible()
