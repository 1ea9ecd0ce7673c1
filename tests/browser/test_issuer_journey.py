"""The issuer's journey, end to end in chromium: an administrator opens an account for a
training organisation in the registry pages; its contact sets a password from the e-mailed
link, confirms one graduate's certificate and revokes another's; the administrator's queue
puts the confirmed submission first. Screenshots in artifacts/screenshots/issuer-*.
"""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from playwright.sync_api import expect

from tests.browser.support import Screenshots, log_in, unique
from tests.factories import PASSWORD, pdf_bytes

pytestmark = pytest.mark.browser

NEW_PASSWORD = "our graduates are verified 2026"


def _graduate(server, reviewer_email: str, name: str, *, approve: bool):
    """A practitioner with a KinetaCore FDN 1 certification, through the app's services."""
    from directory.accounts import services as accounts
    from directory.credentials import services as credentials
    from directory.licences import services as licences
    from directory.vocab import LicenceMethod

    address = f"{unique('graduate')}@example.com"
    number = unique("FDN-")
    with server.services():
        user = accounts.register_practitioner(address, PASSWORD, name)
        accounts.confirm_email(server.newest_link(address).rsplit("/", 1)[1])
        p = user.practitioner
        program = next(x for x in credentials.active_programs() if x.key == "kinetacore-fdn-1")
        cert = credentials.submit(
            p, user, {"completed_on": date(2024, 3, 1), "certificate_number": number},
            program, "", credentials.Upload(io.BytesIO(pdf_bytes(name)), "certificate.pdf"))
        if approve:
            reviewer = accounts.find_user(reviewer_email)
            p.licence_number = "PT-9876"
            p.licence_country = "US"
            licences.record_check(p, verified=True, method=LicenceMethod.REGISTER,
                                  source="Colorado DORA license lookup", actor=reviewer)
            credentials.decide(cert, reviewer, "approve", "", cert.version, program=program)
        return {"email": address, "number": number, "cert_id": cert.id, "slug": p.slug,
                "organisation": program.organisation}


def test_an_issuer_confirms_one_certificate_and_revokes_another(contexts, live_server, people):
    admin_email = people.admin.email
    gina = _graduate(live_server, admin_email, "Gina Graduate", approve=False)
    victor = _graduate(live_server, admin_email, "Victor Verified", approve=True)
    organisation = gina["organisation"]
    issuer_email = f"{unique('registrar')}@kinetacore.example"
    shots = Screenshots("issuer")

    # The administrator opens the organisation's account from the registry pages.
    admin = contexts.new_page()
    log_in(admin, admin_email)
    admin.goto("/admin/registry/programs")
    admin.get_by_role("link", name="Issuer accounts").click()
    admin.get_by_label("E-mail address of the organisation's contact").fill(issuer_email)
    admin.get_by_label("Organisation", exact=True).select_option(organisation)
    admin.get_by_role("button", name="Create the issuer account").click()
    expect(admin.get_by_text(f"Issuer account {issuer_email} created for "
                             f"{organisation}")).to_be_visible()
    shots.take(admin, "account-created")

    # The contact chooses a password from the e-mail and logs in to the organisation's list.
    issuer = contexts.new_page()
    issuer.goto(live_server.newest_link(issuer_email))
    issuer.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    issuer.get_by_label("Repeat new password").fill(NEW_PASSWORD)
    issuer.get_by_role("button", name="Set new password").click()
    expect(issuer.get_by_text("Your password has been changed.")).to_be_visible()
    log_in(issuer, issuer_email, NEW_PASSWORD)
    expect(issuer.get_by_role("heading", level=1)).to_have_text(
        f"Certifications citing {organisation}")
    shots.take(issuer, "list")

    # Gina's certificate: confirmed.
    issuer.get_by_label("Name or certificate number").fill(gina["number"])
    issuer.get_by_role("button", name="Filter").click()
    issuer.get_by_role("link", name="Open Gina Graduate").click()
    expect(issuer.get_by_role("heading", level=1)).to_have_text("Gina Graduate")
    expect(issuer.get_by_text(gina["email"])).to_have_count(0)  # nothing but the facts
    shots.take(issuer, "certification")
    issuer.get_by_role("button", name="Confirm: our graduate, as submitted").click()
    expect(issuer.get_by_text(f"Gina Graduate, {gina['number']}: confirmed.")).to_be_visible()

    # Victor's certificate: revoked, with the reason he is sent.
    issuer.goto(f"/issuer/certifications/{victor['cert_id']}")
    issuer.get_by_role("button", name="Revoke the certificate").click()
    expect(issuer.get_by_text("Give a reason: the practitioner will see it.").first) \
        .to_be_visible()
    issuer.get_by_label("Why the certificate is revoked").fill(
        "The certificate was issued in error.")
    issuer.get_by_role("button", name="Revoke the certificate").click()
    expect(issuer.get_by_text(f"Victor Verified, {victor['number']}: revoked.")).to_be_visible()
    shots.take(issuer, "revoked")
    message = live_server.messages(victor["email"])[-1]
    assert message["Subject"].startswith("Your certification has been revoked")
    assert "The certificate was issued in error." in message.get_payload(decode=True).decode()

    # The administrator's queue puts the confirmed submission first, and says why.
    admin.goto("/admin/queue")
    first = admin.locator("tbody tr").first
    expect(first).to_contain_text("Gina Graduate")
    expect(first.locator(".badge-verified")).to_have_text("confirmed")
    first.get_by_role("link", name=re.compile("Review")).click()
    check = admin.locator("li.check-pass", has_text="Confirmed by issuer")
    expect(check).to_contain_text(f"Confirmed by {organisation} on ")
    shots.take(admin, "queue-check")
