"""Every route, for every role: anonymous, another practitioner, the owner, an administrator,
and the issuer account of the training organisation whose program the owner's certification cites.

The table is checked against the app's URL map, so a new route without a rule fails here.
"""

from __future__ import annotations

import io
from datetime import date
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from directory.extensions import db
from directory.hsds import records as hsds_records
from directory.models import Certification, JurisdictionRule, ListingReport, ScopeChange
from directory.outbox import queue
from directory.profiles.services import change_photo
from tests import factories

ROLES = ("anonymous", "other", "owner", "admin", "issuer")

# Expected outcome per role: "ok" (2xx, or a redirect that is not to the login page),
# "login" (redirect to the login page with next=), "forbidden" (403), "notfound" (404),
# "away" (a page for anonymous people only: logged-in users are redirected to their home).
PUBLIC = dict.fromkeys(ROLES, "ok")
ANON_ONLY = {"anonymous": "ok", "other": "away", "owner": "away", "admin": "away",
             "issuer": "away"}
ANY_USER = {"anonymous": "login", "other": "ok", "owner": "ok", "admin": "ok", "issuer": "ok"}
PRACTITIONER = {"anonymous": "login", "other": "ok", "owner": "ok", "admin": "forbidden",
                "issuer": "forbidden"}
OWN_OBJECT = {"anonymous": "login", "other": "notfound", "owner": "ok", "admin": "forbidden",
              "issuer": "forbidden"}
ADMIN = {"anonymous": "login", "other": "forbidden", "owner": "forbidden", "admin": "ok",
         "issuer": "forbidden"}
EVIDENCE = {"anonymous": "login", "other": "notfound", "owner": "ok", "admin": "ok",
            "issuer": "notfound"}
UNLISTED_PROFILE = {"anonymous": "notfound", "other": "notfound", "owner": "ok", "admin": "ok",
                    "issuer": "notfound"}
# What patients send through the API, without a body: 400 for everyone (no role needed).
JSON_REFUSED = dict.fromkeys(ROLES, "status 400")
# A page about a listed profile only (the scenario's owner is not listed): 404 for everyone.
FOR_LISTED_ONLY = dict.fromkeys(ROLES, "notfound")
ISSUER = {"anonymous": "login", "other": "forbidden", "owner": "forbidden",
          "admin": "forbidden", "issuer": "ok"}

# endpoint → (method, URL template filled from the scenario, expectations)
ROUTES = {
    "public.home": ("GET", "/", PUBLIC),
    "public.about": ("GET", "/about", PUBLIC),
    "public.practitioner": ("GET", "/p/{slug}", UNLISTED_PROFILE),
    "accounts.signup": ("GET", "/account/signup", ANON_ONLY),
    "accounts.signup_sent": ("GET", "/account/signup/sent", ANON_ONLY),
    "accounts.login": ("GET", "/account/login", ANON_ONLY),
    "accounts.confirm": ("GET", "/account/confirm/not-a-token", PUBLIC),
    "accounts.resend_confirmation": ("POST", "/account/confirm/resend", ANY_USER),
    "accounts.logout": ("POST", "/account/logout", ANY_USER),
    "accounts.forgot_password": ("GET", "/account/forgot", PUBLIC),
    "accounts.reset_password": ("GET", "/account/reset/not-a-token", PUBLIC),
    "accounts.settings": ("GET", "/account/settings", ANY_USER),
    "accounts.change_password": ("POST", "/account/settings/password", ANY_USER),
    "accounts.change_email": ("POST", "/account/settings/email", ANY_USER),
    "accounts.confirm_email_change": ("GET", "/account/email/not-a-token", PUBLIC),
    "profiles.dashboard": ("GET", "/dashboard", PRACTITIONER),
    "profiles.edit": ("GET", "/profile/edit", PRACTITIONER),
    "profiles.attest": ("POST", "/profile/attest", PRACTITIONER),
    "profiles.new_location": ("GET", "/profile/locations/new", PRACTITIONER),
    "profiles.edit_location": ("GET", "/profile/locations/{location_id}/edit", OWN_OBJECT),
    "profiles.delete_location": ("POST", "/profile/locations/{location_id}/delete", OWN_OBJECT),
    "profiles.photo": ("GET", "/profile/photo", PRACTITIONER),
    "profiles.delete_photo": ("POST", "/profile/photo/delete", PRACTITIONER),
    # The unlisted owner's photo: like the profile page, hidden from all but owner and admins.
    "public.photo": ("GET", "/photos/{photo_key}-96.jpg", UNLISTED_PROFILE),
    "admin.index": ("GET", "/admin/", ADMIN),
    "admin.queue": ("GET", "/admin/queue", ADMIN),
    "admin.certification": ("GET", "/admin/certifications/{cert_id}", ADMIN),
    "admin.audit": ("GET", "/admin/audit", ADMIN),
    "admin.mail": ("GET", "/admin/mail", ADMIN),
    "admin.enquiries": ("GET", "/admin/enquiries", ADMIN),
    # Messages go to listed practitioners only: the scenario's owner is not listed yet.
    "public.enquiry": ("GET", "/p/{slug}/contact", FOR_LISTED_ONLY),
    # Reports too are about listed profiles only (the owner and admins need not report).
    "public.report": ("GET", "/p/{slug}/report", FOR_LISTED_ONLY),
    "admin.reports_list": ("GET", "/admin/reports", ADMIN),
    "admin.report": ("GET", "/admin/reports/{report_id}", ADMIN),
    "admin.licences": ("GET", "/admin/licences", ADMIN),
    "admin.licence": ("GET", "/admin/licences/{listed_id}", ADMIN),
    "admin.send_mail_again": ("POST", "/admin/mail/{message_id}/send-again", ADMIN),
    "admin.scope_changes_list": ("GET", "/admin/scope-changes", ADMIN),
    "admin.scope_change_reviewed": ("POST", "/admin/scope-changes/{scope_change_id}/reviewed",
                                    ADMIN),
    "bulk.index": ("GET", "/admin/bulk/", ADMIN),
    "bulk.confirm_import": ("POST", "/admin/bulk/import", ADMIN),
    "bulk.template": ("GET", "/admin/bulk/template.csv", ADMIN),
    "bulk.export": ("GET", "/admin/bulk/export.csv", ADMIN),
    "certifications.index": ("GET", "/certifications/", PRACTITIONER),
    "certifications.new": ("GET", "/certifications/new", PRACTITIONER),
    "certifications.edit": ("GET", "/certifications/{cert_id}/edit", OWN_OBJECT),
    "certifications.evidence_file": ("GET", "/certifications/{cert_id}/evidence", EVIDENCE),
    "public.verify": ("GET", "/verify?code=abc", PUBLIC),
    "public.csrf_token": ("GET", "/csrf-token", PUBLIC),
    "public.verify_code": ("GET", "/verify/{public_code}", PUBLIC),
    # Open Badges: the listed practitioner's verified certification, for anyone.
    "public.credential": ("GET", "/verify/{public_code}/credential.jwt", PUBLIC),
    "public.status_list": ("GET", "/credentials/status/1", PUBLIC),
    # A check that changes nothing: an empty paste is refused the same for everyone.
    "public.verify_credential": ("POST", "/verify/credential", dict.fromkeys(ROLES,
                                                                            "status 400")),
    "wellknown.jwks": ("GET", "/.well-known/jwks.json", PUBLIC),
    "wellknown.did": ("GET", "/.well-known/did.json", PUBLIC),
    "registry.programs": ("GET", "/admin/registry/programs", ADMIN),
    "registry.new_program": ("GET", "/admin/registry/programs/new", ADMIN),
    "registry.edit_program": ("GET", "/admin/registry/programs/{program_id}/edit", ADMIN),
    "registry.retire_program": ("POST", "/admin/registry/programs/{program_id}/retire", ADMIN),
    "registry.restore_program": ("POST", "/admin/registry/programs/{program_id}/restore", ADMIN),
    "registry.rules": ("GET", "/admin/registry/rules", ADMIN),
    "registry.new_rule": ("GET", "/admin/registry/rules/new", ADMIN),
    "registry.edit_rule": ("GET", "/admin/registry/rules/{rule_id}/edit", ADMIN),
    "api.practitioners": ("GET", "/api/v1/practitioners?near=80202", PUBLIC),
    "api.practitioner": ("GET", "/api/v1/practitioners/{listed_id}", PUBLIC),
    "api.openapi": ("GET", "/api/v1/openapi.json", PUBLIC),
    "fhir.metadata": ("GET", "/fhir/metadata", PUBLIC),
    "fhir.search": ("GET", "/fhir/Practitioner", PUBLIC),
    "fhir.read": ("GET", "/fhir/Practitioner/{listed_id}", PUBLIC),
    # Anyone may send; a request without a JSON body is refused the same for everyone.
    "api.send_enquiry": ("POST", "/api/v1/practitioners/{listed_id}/enquiries", JSON_REFUSED),
    "api.report_listing": ("POST", "/api/v1/practitioners/{listed_id}/reports", JSON_REFUSED),
    "hsds.index": ("GET", "/hsds/", PUBLIC),
    "hsds.services": ("GET", "/hsds/services", PUBLIC),
    "hsds.service": ("GET", "/hsds/services/{hsds_service_id}", PUBLIC),
    "hsds.service_at_locations": ("GET", "/hsds/service_at_locations?postcode=80202", PUBLIC),
    "hsds.service_at_location": ("GET", "/hsds/service_at_locations/{hsds_sal_id}", PUBLIC),
    "hsds.organizations": ("GET", "/hsds/organizations", PUBLIC),
    "hsds.organization": ("GET", "/hsds/organizations/{hsds_organization_id}", PUBLIC),
    "learn.index": ("GET", "/learn/", PUBLIC),
    "learn.dry_needling": ("GET", "/learn/dry-needling", PUBLIC),
    "learn.techniques": ("GET", "/learn/techniques", PUBLIC),
    "learn.what_to_expect": ("GET", "/learn/what-to-expect", PUBLIC),
    "learn.safety": ("GET", "/learn/safety", PUBLIC),
    "learn.choosing": ("GET", "/learn/choosing-a-practitioner", PUBLIC),
    "ops.healthz": ("GET", "/healthz", PUBLIC),
    "public.favicon": ("GET", "/favicon.ico", PUBLIC),
    "public.robots": ("GET", "/robots.txt", PUBLIC),
    "public.sitemap": ("GET", "/sitemap.xml", PUBLIC),
    "public.sitemap_file": ("GET", "/sitemap-1.xml", PUBLIC),
    "issuers.index": ("GET", "/issuer/", ISSUER),
    "issuers.certification": ("GET", "/issuer/certifications/{cert_id}", ISSUER),
    "issuers.revoke": ("POST", "/issuer/certifications/{cert_id}/revoke", ISSUER),
    "issuers.roster_upload": ("GET", "/issuer/roster", ISSUER),
    "issuers.roster_template": ("GET", "/issuer/roster/template.csv", ISSUER),
    "registry.issuers": ("GET", "/admin/registry/issuers", ADMIN),
    "ops.readyz": ("GET", "/readyz", PUBLIC),
}


def test_every_route_has_a_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    assert endpoints - set(ROUTES) == set(), "routes without an authorization rule"
    assert set(ROUTES) - endpoints == set(), "rules for routes that no longer exist"


def test_every_view_declares_its_access(app):
    for endpoint, view in app.view_functions.items():
        if endpoint != "static":
            assert getattr(view, "access", None) in (
                "public", "anonymous", "user", "practitioner", "admin", "issuer"), endpoint


@pytest.fixture
def scenario(app):
    """An owner with an unlisted profile and a location, another practitioner, an admin, and
    the issuer of the program the owner's certification cites."""
    with app.app_context():
        owner = factories.make_practitioner("owner@example.com")
        # A photo of the unlisted owner: served to the owner and administrators only.
        photo_key = change_photo(owner, owner.user,
                                 io.BytesIO(factories.jpeg_bytes((400, 400)))).photo_key
        location = factories.make_location(owner)
        cert = factories.make_certification(owner)  # pending: the profile stays unlisted
        factories.make_practitioner("other@example.com")
        factories.make_admin("admin@example.com")
        factories.make_issuer("issuer@example.com", organisation=cert.program.organisation)
        listed = factories.make_listed_practitioner("listed@example.com")
        code = db.session.scalars(select(Certification.public_code)
                                  .where(Certification.practitioner_id == listed.id)).one()
        program = factories.make_program("authorization-program")
        rule = JurisdictionRule(jurisdiction="US-CO", profession="physiotherapist",
                                permitted="yes", source_url="https://example.com/rule",
                                reviewed_on=date(2026, 11, 1))
        db.session.add(rule)
        db.session.flush()
        change = ScopeChange(practitioner=listed, rule_id=rule.id, jurisdiction="US-CO",
                             verdict_before="unknown", verdict_after="yes", reason="test")
        db.session.add(change)
        message = queue("owner@example.com", "A message", "confirm", user=owner.user,
                        link="http://127.0.0.1:5000/", hours=72)
        message.status = "failed"
        report = ListingReport(practitioner=listed, kind="wrong_phone", client_key="0" * 64)
        db.session.add(report)
        db.session.commit()
        data = {"slug": owner.slug, "location_id": location.id, "cert_id": cert.id,
                "public_code": code, "listed_id": listed.id, "program_id": program.id,
                "rule_id": rule.id, "message_id": message.id, "scope_change_id": change.id,
                "report_id": report.id}
        data["photo_key"] = photo_key
        hsds_location = factories.make_location(listed, clinic_name="HSDS Clinic")
        data |= {"hsds_service_id": hsds_records.hsds_id("service", listed.id),
                 "hsds_organization_id": hsds_records.hsds_id("organization", listed.id),
                 "hsds_sal_id": hsds_records.hsds_id("service_at_location", hsds_location.id)}
        db.session.remove()
    return data


def outcome(response) -> str:
    """Classify a response into the table's outcomes."""
    if response.status_code == 403:
        return "forbidden"
    if response.status_code == 404:
        return "notfound"
    if response.status_code in (301, 302, 303):
        target = urlsplit(response.headers["Location"])
        if target.path == "/account/login" and "next=" in target.query:
            return "login"
        if target.path in ("/dashboard", "/admin/", "/issuer/") and response.request.path in (
                "/account/signup", "/account/signup/sent", "/account/login"):
            return "away"
        return "ok"
    if 200 <= response.status_code < 300:
        return "ok"
    return f"status {response.status_code}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_route_authorization(client, auth, scenario, endpoint, role):
    method, template, expected = ROUTES[endpoint]
    if role != "anonymous":
        response = auth.login(f"{role}@example.com")
        assert response.status_code == 302, f"{role} could not log in"
    url = template.format(**scenario)
    response = client.open(url, method=method)
    assert outcome(response) == expected[role], f"{method} {url} as {role}"


@pytest.mark.parametrize("url", ["/admin/certifications/99999999999999999999",
                                 "/admin/reports/99999999999999999999",
                                 "/profile/locations/99999999999999999999/edit",
                                 "/api/v1/practitioners/99999999999999999999"])
def test_huge_ids_in_urls_are_not_found(client, auth, scenario, url):
    auth.login("admin@example.com" if url.startswith("/admin") else "owner@example.com")
    assert client.get(url).status_code == 404
