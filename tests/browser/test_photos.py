"""Profile photos in chromium: a practitioner uploads one on the photo page (a PDF is refused
beside the field first), and a patient sees it on the public profile and beside the name in the
results, each <img> choosing from its srcset and actually loading."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from directory.profiles import photos
from tests.browser.conftest import _practitioner
from tests.browser.support import Screenshots, axe_violations, log_in
from tests.factories import jpeg_bytes, pdf_bytes

pytestmark = pytest.mark.browser


def wait_until_loaded(page: Page, image: Locator) -> None:
    """Wait for the browser to have fetched and decoded the image (it has pixels)."""
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=image.element_handle())


def test_a_practitioner_uploads_a_photo_and_a_patient_sees_it(contexts, live_server, people,
                                                              tmp_path):
    # Far from the other tests' Denver and Atlanta practitioners: their result lists stay theirs.
    person = _practitioner(live_server, people.admin, "Phoebe Portrait", techniques=["deep"],
                           postcode="98101", city="Seattle", region="WA", approve=True)
    certificate, portrait = tmp_path / "certificate.pdf", tmp_path / "portrait.jpg"
    certificate.write_bytes(pdf_bytes())
    portrait.write_bytes(jpeg_bytes((800, 600)))

    page, shots = contexts.new_page(), Screenshots("photo")
    log_in(page, person.email)
    page.get_by_role("link", name="Add a photo").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your photo")

    field = page.get_by_label("Photo (JPEG or PNG")
    field.set_input_files(str(certificate))
    page.get_by_role("button", name="Upload photo").click()
    expect(page.locator("#photo-error")).to_have_text(photos.PDF_NOT_A_PHOTO)
    expect(field).to_have_accessible_description(re.compile(re.escape(photos.PDF_NOT_A_PHOTO)))
    shots.take(page, "refused")

    field.set_input_files(str(portrait))
    page.get_by_role("button", name="Upload photo").click()
    expect(page.get_by_text("Your photo has been saved: patients see it on your profile.")
           ).to_be_visible()
    own = page.get_by_role("img", name="Phoebe Portrait")
    wait_until_loaded(page, own)
    expect(page.get_by_role("button", name="Remove photo")).to_be_visible()
    assert axe_violations(page) == []
    shots.take(page, "uploaded")

    patient = contexts.new_page()
    patient.goto(f"/p/{person.slug}")
    shown = patient.get_by_role("img", name="Phoebe Portrait")
    expect(shown).to_have_attribute(
        "srcset", re.compile(r"-96\.jpg 96w, .+-192\.jpg 192w, .+-384\.jpg 384w$"))
    wait_until_loaded(patient, shown)
    assert shown.evaluate("img => img.currentSrc").endswith(".jpg")
    assert shown.bounding_box()["width"] > 0
    assert axe_violations(patient) == []
    shots.take(patient, "profile")

    patient.goto("/?near=98101")
    thumbnail = patient.locator("#results-list li.result", has_text="Phoebe Portrait") \
        .locator("img.result-photo")
    expect(thumbnail).to_have_count(1)
    wait_until_loaded(patient, thumbnail)
    shots.take(patient, "results")
