"""What patients see: listing, the public profile's credentials and verdict, the credential check;
and the administrators' audit log."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from directory.credentials import lifecycle, services
from directory.credentials.reference import load_reference_data
from directory.extensions import db
from directory.licences.services import months_after
from directory.models import Certification, Practitioner, User, record
from tests import factories
from tests.factories import today

# --------------------------------------------------------------------------- reading pages


def plain(fragment: str) -> str:
    """HTML as a reader sees it: SVG and tags dropped, entities decoded, spaces collapsed."""
    fragment = re.sub(r"<svg.*?</svg>", " ", fragment, flags=re.S)
    fragment = re.sub(r"<[^>]+>", " ", fragment)
    text = " ".join(html.unescape(fragment).split())
    return re.sub(r" ([,.:;])", r"\1", text)


def body(response) -> str:
    return response.get_data(as_text=True)


def text(response) -> str:
    return plain(body(response))


def section(response, pattern: str) -> str:
    """The first part of the page matching a regular expression (group 1)."""
    match = re.search(pattern, body(response), flags=re.S)
    assert match, f"{pattern!r} not on the page"
    return match.group(1)


def facts(fragment: str) -> dict[str, str]:
    """A <dl class="facts"> as label → value."""
    return {plain(dt): plain(dd)
            for dt, dd in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", fragment, flags=re.S)}


def credentials_section(response) -> str:
    return section(response, r'<section class="credentials">(.*?)</section>')


def licence_section(response) -> str:
    return section(response, r"<h2>Licence</h2>(.*?)</section>")


def cert_cards(response) -> list[str]:
    return re.findall(r'<li class="cert-card">(.*?)</li>', credentials_section(response),
                      flags=re.S)


def lead(response) -> str:
    """The credential check's one-line answer."""
    return plain(section(response, r'<p class="lead">(.*?)</p>'))


def field_error(response, field: str) -> str:
    return plain(section(response, rf'<p class="error" id="{field}-error">(.*?)</p>'))


def fmt(d: date | datetime) -> str:
    """The site's date format: 22 Nov 2026."""
    return f"{d.day} {d.strftime('%b %Y')}"


# --------------------------------------------------------------------------- helpers


def login_admin(app, auth) -> None:
    with app.app_context():
        email = factories.make_admin().email
    assert auth.login(email).status_code == 302


def anonymous_status(client, slug: str) -> int:
    return client.get(f"/p/{slug}").status_code


# --------------------------------------------------------------------------- 1. listing


def _verified(p, **fields):
    """A verified certification, the licence verified too (the listing needs both; what the
    licence alone does is tests/test_licences.py's)."""
    if p.licence is None:
        factories.verify_licence(p)
    return factories.make_certification(p, status="verified", **fields)


def _deactivate(p):
    _verified(p)
    p.user.is_active = False
    db.session.commit()


def _unconfirm(p):
    _verified(p)
    p.user.email_confirmed_at = None
    db.session.commit()


NOT_LISTED = {
    "no certification": lambda p: None,
    "pending only": lambda p: factories.make_certification(p, status="pending"),
    "rejected": lambda p: factories.make_certification(p, status="rejected",
                                                       reason="Not a dry needling course."),
    "changes requested": lambda p: factories.make_certification(
        p, status="changes_requested", reason="Upload the certificate's second page."),
    "revoked": lambda p: factories.make_certification(p, status="revoked", reason="Fraud."),
    "expired status": lambda p: factories.make_certification(p, status="expired"),
    "verified but expired yesterday": lambda p: _verified(
        p, expires_on=today() - timedelta(days=1)),
    "inactive account": _deactivate,
    "unconfirmed e-mail": _unconfirm,
}


@pytest.mark.parametrize("case", NOT_LISTED)
def test_a_profile_is_hidden_from_patients_unless_every_condition_holds(app, client, auth, case):
    with app.app_context():
        p = factories.make_practitioner(full_name="Dana Hidden")
        NOT_LISTED[case](p)
        slug = p.slug

    response = client.get(f"/p/{slug}")
    assert response.status_code == 404
    assert "Dana Hidden" not in text(response)
    assert "We could not find that page." in text(response)

    # The profile exists: an administrator sees it, marked as not listed.
    login_admin(app, auth)
    response = client.get(f"/p/{slug}")
    assert response.status_code == 200
    assert "Dana Hidden" in text(response)
    assert "This profile is not listed yet" in text(response)


@pytest.mark.parametrize("expires_on", [None, "today", "tomorrow"],
                         ids=["never expires", "expires today", "expires tomorrow"])
def test_a_verified_unexpired_certification_and_a_good_account_list_the_profile(
        app, client, expires_on):
    when = {None: None, "today": today(), "tomorrow": today() + timedelta(days=1)}[expires_on]
    with app.app_context():
        p = factories.make_practitioner(full_name="Lee Listed")
        _verified(p, expires_on=when)
        slug = p.slug

    response = client.get(f"/p/{slug}")
    assert response.status_code == 200
    assert "Lee Listed" in text(response)
    assert "not listed yet" not in text(response)
    [card] = cert_cards(response)
    assert facts(card)["Expires"] == (fmt(when) if when else "Does not expire")


def test_one_good_certification_is_enough_beside_bad_ones(app, client):
    with app.app_context():
        p = factories.make_practitioner()
        factories.make_certification(p, status="revoked", reason="Fraud.")
        factories.make_certification(p, status="pending")
        _verified(p, expires_on=today() - timedelta(days=3))
        _verified(p)
        slug = p.slug
    assert anonymous_status(client, slug) == 200


def test_losing_the_last_good_certification_unlists_at_once(app, client):
    with app.app_context():
        admin = factories.make_admin()
        p = factories.make_practitioner()
        cert_id, admin_id = _verified(p, admin=admin).id, admin.id
        slug = p.slug
    assert anonymous_status(client, slug) == 200

    with app.app_context():
        cert = db.session.get(Certification, cert_id)
        lifecycle.apply(cert, "revoke", db.session.get(User, admin_id), "Certificate forged.")
        db.session.commit()
    assert anonymous_status(client, slug) == 404


def test_an_unknown_slug_is_404(client):
    assert client.get("/p/nobody-here").status_code == 404


# --------------------------------------------------------------------------- 2. profile


@pytest.fixture
def profile(app):
    """A listed physiotherapist with verified, expired and undecided certifications."""
    with app.app_context():
        p = factories.make_practitioner(
            full_name="Alex Morgan", profession="physiotherapist", licence_number="PT-778899",
            licence_country="US", licence_region="US-CO")
        level1 = factories.make_program(
            "l1", organisation="Myopain Seminars", name="Dry Needling Level One", level=1)
        level2 = factories.make_program(
            "l2", organisation="KinetaCore", name="Functional Dry Needling Level 2", level=None)
        shown = [
            _verified(p, program=level1, expires_on=date(2031, 3, 31)),
            _verified(p, program=level2, level=2),
        ]
        shown[0].verified_at = datetime(2026, 2, 3, 9, 30, tzinfo=UTC)
        shown[1].verified_at = datetime(2025, 7, 14, 16, 0, tzinfo=UTC)
        hidden = {}
        for status, reason in [("pending", ""), ("rejected", "Not recognised."),
                               ("changes_requested", "Upload page two."),
                               ("revoked", "Forged."), ("expired", "")]:
            program = factories.make_program(f"hidden-{status}", organisation=f"Org {status}",
                                             name=f"Hidden {status} course")
            hidden[status] = factories.make_certification(p, status=status, program=program,
                                                          reason=reason).public_code
        old = factories.make_program("old", organisation="Old Org", name="Lapsed course")
        hidden["verified, lapsed"] = _verified(
            p, program=old, expires_on=today() - timedelta(days=1)).public_code
        db.session.commit()
        return SimpleNamespace(slug=p.slug, codes=[c.public_code for c in shown], hidden=hidden)


def test_profile_shows_each_verified_certification_with_its_details(client, profile):
    response = client.get(f"/p/{profile.slug}")
    assert response.status_code == 200
    cards = cert_cards(response)
    assert len(cards) == 2  # newest verification first

    first, second = cards
    assert "Dry Needling Level One, Myopain Seminars" in plain(first)
    assert facts(first) == {"Level": "1", "Last verified": "3 Feb 2026", "Expires": "31 Mar 2031"}
    assert "Functional Dry Needling Level 2, KinetaCore" in plain(second)
    assert facts(second) == {"Level": "2", "Last verified": "14 Jul 2025",
                             "Expires": "Does not expire"}
    for card in cards:
        assert '<span class="badge badge-verified">Training verified</span>' in card


def test_profile_hides_certifications_that_are_not_verified_and_current(client, profile):
    response = client.get(f"/p/{profile.slug}")
    page = text(response)
    for status in ("pending", "rejected", "changes_requested", "revoked", "expired"):
        assert f"Hidden {status} course" not in page
        assert f"Org {status}" not in page
    assert "Lapsed course" not in page
    for code in profile.hidden.values():
        assert code not in body(response)


def test_credentials_are_shown_apart_from_the_licence(client, profile):
    response = client.get(f"/p/{profile.slug}")
    licence = licence_section(response)
    credentials = credentials_section(response)
    assert facts(licence) == {"Last verified": fmt(today()),
                              "Next check due": fmt(months_after(today(), 12)),
                              "Number": "PT-778899", "Issued in": "Colorado, United States"}
    assert "Dry Needling" not in plain(licence)
    assert "PT-778899" not in credentials
    assert "Verified dry needling training" in plain(credentials)


def test_each_shown_certification_has_a_qr_code_linking_to_its_check(client, profile):
    response = client.get(f"/p/{profile.slug}")
    cards = cert_cards(response)
    for card, code in zip(cards, profile.codes, strict=True):
        match = re.search(r'<a class="qr" href="([^"]+)"[^>]*>\s*(<svg\b.*?</svg>)\s*</a>',
                          card, flags=re.S)
        assert match, card
        assert match.group(1) == f"/verify/{code}"
        assert "<path" in match.group(2)
        # The link it points to answers.
        assert client.get(match.group(1)).status_code == 200


def test_the_owner_sees_an_empty_state_before_verification(app, client, auth):
    with app.app_context():
        p = factories.make_practitioner()
        factories.make_certification(p, status="pending")
        email, slug = p.user.email, p.slug
    auth.login(email)
    response = client.get(f"/p/{slug}")
    assert response.status_code == 200
    assert "No verified certification yet." in text(response)
    assert cert_cards(response) == []


# --------------------------------------------------------------------------- 3. verdict


@pytest.fixture
def rules(app):
    """The seeded programs and jurisdiction rules."""
    with app.app_context():
        load_reference_data()


def listed_slug(app, **profile) -> str:
    with app.app_context():
        return factories.make_listed_practitioner(**profile).slug


def verdict_panels(response) -> list[tuple[str, str]]:
    """(verdict, text) of each "may they dry-needle here" panel of a profile."""
    return [(verdict, plain(inner)) for verdict, inner in re.findall(
        r'<div class="verdict[^"]*" data-verdict="(\w+)">(.*?)</div>', body(response), re.S)]


@pytest.mark.parametrize(("profession", "region", "country", "verdict", "sentence", "source"), [
    ("physiotherapist", "US-CO", "US", "yes", "In Colorado, physical therapists may dry-needle "
     "after at least 50 hours of training, 40 of them in person.",
     "https://www.pphc.co/resources"),
    ("physiotherapist", "US-CA", "US", "no", "In California, physical therapists may not "
     "dry-needle.", "https://www.pphc.co/resources"),
    ("physiotherapist", "US-PA", "US", "unclear", "In Pennsylvania, it is not yet clear whether "
     "physical therapists may dry-needle: we do not show it as permitted.",
     "https://www.pphc.co/resources"),
    ("myotherapist", "GB-WLS", "GB", "yes", "In Wales, myotherapists may dry-needle once they "
     "hold the registration or licence needed there.",
     "https://gcc-uk.org/gcc-news/news/entry/advice-for-chiropractors-using-acupuncture-in-wales"),
    ("physiotherapist", None, "GB", "yes", "In the United Kingdom, physiotherapists may "
     "dry-needle once they hold the registration or licence needed there.",
     "https://www.aacp.org.uk/page/24/aacp-training-overview"),
    ("chiropractor", "US-TX", "US", "yes", "In Texas, chiropractors may dry-needle after at "
     "least 100 hours of training.", "https://integrative-archives.com/?p=16965"),
], ids=["US-CO physio", "US-CA physio", "US-PA physio", "GB-WLS any profession", "GB physio",
        "US-TX chiropractor"])
def test_without_a_location_the_profile_states_the_rule_of_the_licence_place(
        app, client, rules, profession, region, country, verdict, sentence, source):
    slug = listed_slug(app, profession=profession, licence_region=region,
                       licence_country=country, licence_number="L-1")
    response = client.get(f"/p/{slug}")
    [(shown, words)] = verdict_panels(response)
    assert shown == verdict
    assert words.startswith(sentence), words
    assert f"Source: {source}" in words
    assert "We last reviewed this rule on 1 Dec 2026" in words
    assert f'href="{html.escape(source)}"' in body(response)


def test_a_profession_without_a_rule_is_unknown_never_permitted(app, client, rules):
    slug = listed_slug(app, profession="chiropractor", licence_region="US-CO",
                       licence_country="US", licence_number="DC-1")
    [(verdict, words)] = verdict_panels(client.get(f"/p/{slug}"))
    assert verdict == "unknown"
    assert words.startswith("We have no rule on record for whether chiropractors may "
                            "dry-needle in Colorado.")
    assert "may dry-needle after" not in words and "Source:" not in words


def test_the_most_specific_rule_wins_over_the_any_profession_rule(app, client, rules):
    """A Welsh physiotherapist falls under the Wales rule for every profession, not the GB one."""
    slug = listed_slug(app, profession="physiotherapist", licence_region="GB-WLS",
                       licence_country="GB", licence_number="PH-1")
    [(verdict, words)] = verdict_panels(client.get(f"/p/{slug}"))
    assert verdict == "yes" and words.startswith("In Wales, physiotherapists may dry-needle")
    assert "gcc-uk.org" in words and "aacp.org.uk" not in words


def test_without_rules_loaded_the_verdict_is_unknown(app, client):
    """Without any rules loaded, even Colorado physiotherapists are 'unknown'."""
    slug = listed_slug(app, profession="physiotherapist", licence_region="US-CO",
                       licence_country="US", licence_number="PT-1")
    [(verdict, words)] = verdict_panels(client.get(f"/p/{slug}"))
    assert verdict == "unknown"
    assert words.startswith("We have no rule on record for whether physical therapists may "
                            "dry-needle in Colorado.")


def test_no_verdict_line_without_a_licence_place(app, client, rules):
    slug = listed_slug(app, profession="physiotherapist")
    response = client.get(f"/p/{slug}")
    assert response.status_code == 200
    assert verdict_panels(response) == []


# --------------------------------------------------------------------------- 4. credential check


@pytest.fixture
def certs(app):
    """One certification in each state a code can be in, by name → public code."""
    with app.app_context():
        admin = factories.make_admin()
        p = factories.make_practitioner(full_name="Sam Rivera", profession="physiotherapist")
        factories.verify_licence(p, admin=admin)
        program = factories.make_program("fdn2", organisation="Spinal Manipulation Institute",
                                         name="Functional Dry Needling Level 2", level=2)

        def make(status, **fields):
            return factories.make_certification(p, status=status, program=program, admin=admin,
                                                completed_on=date(2024, 5, 6), **fields)

        made = {
            "verified": make("verified", expires_on=date(2030, 12, 1)),
            "verified forever": make("verified"),
            "revoked": make("revoked", reason="Certificate forged."),
            "expired": make("expired", expires_on=date(2025, 1, 31)),
            "lapsed": make("verified", expires_on=today() - timedelta(days=1)),
            "pending": make("pending"),
            "rejected": make("rejected", reason="Not a recognised course."),
            "changes requested": make("changes_requested", reason="Blurry scan."),
        }
        for cert in made.values():
            if cert.verified_at:
                cert.verified_at = datetime(2025, 2, 10, 12, 0, tzinfo=UTC)
        made["revoked"].revoked_at = datetime(2026, 6, 5, 8, 0, tzinfo=UTC)
        db.session.commit()
        return {name: cert.public_code for name, cert in made.items()}


def test_the_check_page_shows_a_get_form(client):
    response = client.get("/verify")
    assert response.status_code == 200
    assert re.search(r'<form method="get" action="/verify"', body(response))
    assert 'name="code"' in body(response)
    assert '<p class="error"' not in body(response)


@pytest.mark.parametrize(("typed", "expected"), [
    ("AbC_12-xyz", "/verify/AbC_12-xyz"),
    ("  AbC_12-xyz  ", "/verify/AbC_12-xyz"),
])
def test_submitting_a_code_redirects_to_its_check(client, typed, expected):
    response = client.get("/verify", query_string={"code": typed})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == expected


NOT_A_CODE = ("That is not a credential code: codes are 20 letters and digits, like "
              "7K3M-Q9XR-W2D4-HNB8-PC6T.")


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Enter the code printed on the practitioner's profile or certificate."),
    ("   ", "Enter the code printed on the practitioner's profile or certificate."),
    ("abc def", NOT_A_CODE),
    ("abc!def", NOT_A_CODE),
    ("../../etc/passwd", NOT_A_CODE),
    ("<script>x</script>", NOT_A_CODE),
    ("x" * 10_000, "That is too long for a code or a link to one."),
], ids=["empty", "spaces only", "space", "punctuation", "path", "markup", "10,000 characters"])
def test_a_bad_code_gets_a_clear_message(client, typed, message):
    response = client.get("/verify", query_string={"code": typed})
    assert response.status_code == 200
    assert field_error(response, "code") == message
    assert "<script>x" not in body(response)


def test_a_verified_certification_shows_verified_with_its_details(client, certs):
    response = client.get(f"/verify/{certs['verified']}")
    assert response.status_code == 200
    assert lead(response) == "Verified This certification is verified and current."
    details = facts(body(response))
    assert details["Practitioner"] == "Sam Rivera, Physical therapist / physiotherapist"
    assert details["Program"] == "Functional Dry Needling Level 2"
    assert details["Organisation"] == "Spinal Manipulation Institute"
    assert details["Level"] == "2"
    assert details["Completed"] == "6 May 2024"
    assert details["Verified"] == "10 Feb 2025"
    assert details["Expires"] == "1 Dec 2030"
    code = certs["verified"]
    assert details["Code"] == "-".join(code[i:i + 4] for i in range(0, len(code), 4))
    assert "Revoked" not in details


def test_a_verified_certification_that_never_expires_says_so(client, certs):
    response = client.get(f"/verify/{certs['verified forever']}")
    assert lead(response).startswith("Verified")
    assert facts(body(response))["Expires"] == "Does not expire"


def test_the_check_links_to_a_listed_profile(app, client, certs):
    response = client.get(f"/verify/{certs['verified']}")
    with app.app_context():
        slug = db.session.scalar(select(Practitioner.slug))
    assert f'href="/p/{slug}"' in body(response)


def test_a_revoked_certification_shows_revoked_and_when(client, certs):
    response = client.get(f"/verify/{certs['revoked']}")
    assert response.status_code == 200
    assert lead(response) == "Revoked This certification was revoked on 5 Jun 2026."
    assert facts(body(response))["Revoked"] == "5 Jun 2026"
    assert "badge-verified" not in body(response)


@pytest.mark.parametrize(("name", "expired_on"), [
    ("expired", date(2025, 1, 31)),
    ("lapsed", None),
], ids=["status expired", "verified with a past expiry date"])
def test_an_expired_certification_shows_expired(client, certs, name, expired_on):
    expired_on = expired_on or today() - timedelta(days=1)
    response = client.get(f"/verify/{certs[name]}")
    assert response.status_code == 200
    assert lead(response) == (f"Expired This certification was verified but expired on "
                              f"{fmt(expired_on)}.")
    assert "badge-verified" not in body(response)


def test_a_verified_certification_edited_back_to_review_shows_under_review(app, client, certs):
    with app.app_context():
        cert = db.session.scalar(select(Certification).where(
            Certification.public_code == certs["verified"]))
        values = {key: getattr(cert, key) for key in services.CERT_FIELDS} | {"hours": 60.0}
        services.update(cert, cert.practitioner.user, cert.version, values, cert.program, "",
                        None)
        assert cert.status == "pending"

    response = client.get(f"/verify/{certs['verified']}")
    assert response.status_code == 200
    assert lead(response).startswith("Under review")
    assert "not verified at the moment" in lead(response)
    assert "badge-verified" not in body(response)


def test_a_once_verified_certification_that_was_then_rejected_is_not_under_review(
        app, client, certs):
    """Edited after approval, then rejected: it is no longer a verified credential at all."""
    with app.app_context():
        cert = db.session.scalar(select(Certification).where(
            Certification.public_code == certs["verified"]))
        lifecycle.apply(cert, "resubmit", cert.practitioner.user)
        admin = db.session.scalar(select(User).where(User.role == "admin"))
        lifecycle.apply(cert, "reject", admin, "The new certificate is not recognised.")
        db.session.commit()

    response = client.get(f"/verify/{certs['verified']}")
    assert response.status_code == 404
    assert "Under review" not in text(response)
    assert "No verified credential has the code" in text(response)


@pytest.mark.parametrize("name", ["pending", "rejected", "changes requested"])
def test_a_never_verified_certification_is_not_found(client, certs, name):
    response = client.get(f"/verify/{certs[name]}")
    assert response.status_code == 404
    assert f"No verified credential has the code “{certs[name]}”" in text(response)
    assert "Sam Rivera" not in text(response)
    assert "Functional Dry Needling" not in text(response)


@pytest.mark.parametrize("code", ["AAAAAAAAAAAAAAAAAAAAAA", "x" * 10_000, "a%20b", "<b>x"],
                         ids=["unknown", "10,000 characters", "space", "markup"])
def test_an_unknown_code_is_not_found(client, certs, code):
    response = client.get(f"/verify/{code}")
    assert response.status_code == 404
    assert "No verified credential has the code" in text(response)
    assert "<b>x" not in body(response)
    assert "Sam Rivera" not in text(response)


def test_public_codes_are_unguessable(app):
    with app.app_context():
        p = factories.make_practitioner()
        program = factories.make_program()
        submitted = [
            services.submit(p, p.user, {}, program, "",
                            services.Upload(_pdf_stream(), "certificate.pdf"))
            for _ in range(25)
        ]
        codes = [c.public_code for c in submitted]
    assert len(set(codes)) == len(codes)
    for code in codes:  # 100 random bits each, in Crockford's base32 (no I, L, O or U)
        assert re.fullmatch(r"[0-9ABCDEFGHJKMNPQRSTVWXYZ]{20}", code), code
    assert len(set("".join(codes))) > 25  # drawn from the whole alphabet


def _pdf_stream():
    import io

    return io.BytesIO(factories.pdf_bytes())


# --------------------------------------------------------------------------- 5. audit log


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def events(app):
    """Two admins, two practitioners, and events spread over January and February 2026."""
    with app.app_context():
        alice = factories.make_admin("alice.admin@example.com")
        bob = factories.make_admin("bob.admin@example.com")
        p1 = factories.make_practitioner("pat.one@example.com")
        p2 = factories.make_practitioner("pat.two@example.com")
        c1 = factories.make_certification(p1)
        c2 = factories.make_certification(p2)
        spec = [
            # name, action, subject, actor, when
            ("approve c1", "certification.approve", c1, alice, at(10, 10)),
            ("reject c2", "certification.reject", c2, bob, at(20, 23, 59, 59)),
            ("profile p1", "profile.updated", p1, p1.user, at(21, 0)),
            ("signup p2", "account.signed_up", p2.user, p2.user, at(1, 9, month=2)),
            ("revoke c1", "certification.revoke", c1, alice, at(5, 15, month=2)),
            ("reference", "reference.loaded", None, None, at(3, 8)),
            ("note c2", "certifications_note", c2, bob, at(4, 8)),
        ]
        made = {}
        for name, action, subject, actor, when in spec:
            event = record(action, subject, actor=actor, label=name)
            event.at = when
            made[name] = event
        db.session.commit()
        return SimpleNamespace(p1=p1.id, p2=p2.id, c1=c1.id, c2=c2.id, p2_user=p2.user.id)


@pytest.fixture
def admin_client(app, client, auth):
    login_admin(app, auth)
    return client


def audit_rows(response) -> list[dict[str, str]]:
    """The audit table as the admin reads it."""
    assert response.status_code == 200
    tbody = re.search(r"<tbody>(.*?)</tbody>", body(response), flags=re.S)
    if tbody is None:
        return []
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", tbody.group(1), flags=re.S):
        cells = [plain(td) for td in re.findall(r"<td>(.*?)</td>", tr, flags=re.S)]
        rows.append(dict(zip(["when", "who", "action", "record", "practitioner", "detail"],
                             cells, strict=True)))
    return rows


def labels(response) -> list[str]:
    """Each row's event, by the label the fixture gave it, top to bottom."""
    return [re.search(r"label: (.*)$", row["detail"]).group(1) for row in audit_rows(response)]


def audit(client, **filters):
    return client.get("/admin/audit", query_string=filters)


def test_audit_log_is_for_administrators_only(app, client, auth, events):
    response = client.get("/admin/audit")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/account/login"

    with app.app_context():
        email = factories.make_practitioner().user.email
    auth.login(email)
    assert client.get("/admin/audit").status_code == 403


def test_audit_log_lists_events_newest_first(admin_client, events):
    response = audit(admin_client)
    assert labels(response) == ["revoke c1", "signup p2", "profile p1", "reject c2",
                                "approve c1", "note c2", "reference"]
    assert "7 events" in text(response)
    first = audit_rows(response)[0]
    assert first["when"] == "5 Feb 2026 15:00:00"
    assert first["who"] == "alice.admin@example.com"
    assert first["action"] == "certification.revoke"
    assert first["record"] == f"certifications {events.c1}"
    assert first["practitioner"] == str(events.p1)


def test_audit_log_filters_by_practitioner(admin_client, events):
    assert labels(audit(admin_client, practitioner=events.p1)) == [
        "revoke c1", "profile p1", "approve c1"]
    # An account event is filed under the account's practitioner.
    assert labels(audit(admin_client, practitioner=events.p2)) == [
        "signup p2", "reject c2", "note c2"]
    assert labels(audit(admin_client, practitioner=999_999)) == []


def test_the_practitioner_link_in_a_row_filters_by_that_practitioner(admin_client, events):
    response = audit(admin_client)
    link = re.search(rf'<a href="([^"]*practitioner={events.p1})">', body(response)).group(1)
    assert labels(admin_client.get(html.unescape(link))) == ["revoke c1", "profile p1",
                                                              "approve c1"]


@pytest.mark.parametrize(("typed", "expected"), [
    ("alice", ["revoke c1", "approve c1"]),
    ("BOB.ADMIN@example.com", ["reject c2", "note c2"]),
    ("  bob.admin@example.com ", ["reject c2", "note c2"]),
    ("pat.two", []),  # a practitioner, not an administrator
    ("carol", []),
])
def test_audit_log_filters_by_administrator_email(admin_client, events, typed, expected):
    assert labels(audit(admin_client, admin=typed)) == expected


@pytest.mark.parametrize(("typed", "expected"), [
    ("certification.", ["revoke c1", "reject c2", "approve c1"]),
    ("certification.re", ["revoke c1", "reject c2"]),
    ("certification", ["revoke c1", "reject c2", "approve c1", "note c2"]),
    ("account.", ["signup p2"]),
    ("profile_", []),  # "_" is a character here, not a wildcard
    ("%", []),
    ("%approve", []),
    ("nothing.", []),
])
def test_audit_log_filters_by_action_prefix(admin_client, events, typed, expected):
    assert labels(audit(admin_client, action=typed)) == expected


def test_audit_log_filters_by_record(admin_client, events):
    assert labels(audit(admin_client, subject_type="certifications")) == [
        "revoke c1", "reject c2", "approve c1", "note c2"]
    assert labels(audit(admin_client, subject_type="certifications",
                        subject_id=events.c1)) == ["revoke c1", "approve c1"]
    assert labels(audit(admin_client, subject_type="practitioners")) == ["profile p1"]
    assert labels(audit(admin_client, subject_type="users",
                        subject_id=events.p2_user)) == ["signup p2"]
    assert labels(audit(admin_client, subject_type="users", subject_id=events.p2_user + 100)
                  ) == []


@pytest.mark.parametrize(("filters", "expected"), [
    ({"date_from": "2026-01-20", "date_to": "2026-01-20"}, ["reject c2"]),
    ({"date_from": "2026-01-21", "date_to": "2026-01-21"}, ["profile p1"]),
    ({"date_from": "2026-02-01"}, ["revoke c1", "signup p2"]),
    ({"date_to": "2026-01-04"}, ["note c2", "reference"]),
    ({"date_from": "2026-01-05", "date_to": "2026-01-31"},
     ["profile p1", "reject c2", "approve c1"]),
    ({"date_from": "2026-03-01"}, []),
    ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, []),
    ({"date_to": "9999-12-31"}, ["revoke c1", "signup p2", "profile p1", "reject c2",
                                 "approve c1", "note c2", "reference"]),
    ({"date_from": "0001-01-01", "date_to": "2026-01-03"}, ["reference"]),
], ids=["one day, last second", "one day, first second", "from", "to", "range", "future",
        "reversed", "far future", "far past"])
def test_audit_log_filters_by_date(admin_client, events, filters, expected):
    assert labels(audit(admin_client, **filters)) == expected


def test_audit_log_filters_combine(admin_client, events):
    assert labels(audit(admin_client, admin="alice", action="certification.",
                        date_from="2026-02-01")) == ["revoke c1"]
    assert labels(audit(admin_client, practitioner=events.p2, action="certification.")) == [
        "reject c2"]


@pytest.mark.parametrize(("filters", "field", "message"), [
    ({"practitioner": "abc"}, "practitioner", "Enter a practitioner's number."),
    ({"practitioner": "1.5"}, "practitioner", "Enter a practitioner's number."),
    ({"practitioner": "99999999999999999999"}, "practitioner",
     "Enter a practitioner's number."),
    ({"practitioner": "-1"}, "practitioner", "Enter a practitioner's number."),
    ({"subject_id": "abc"}, "subject_id", "Enter a record's number."),
    ({"subject_id": "99999999999999999999"}, "subject_id", "Enter a record's number."),
    ({"date_from": "2026-13-45"}, "date_from", "Enter a date like 2026-11-22."),
    ({"date_to": "2026-13-45"}, "date_to", "Enter a date like 2026-11-22."),
    ({"date_to": "22/11/2026"}, "date_to", "Enter a date like 2026-11-22."),
    ({"date_from": "10000-01-01"}, "date_from", "Enter a date like 2026-11-22."),
    ({"subject_type": "secrets"}, "subject_type", "Not a valid choice."),
    ({"action": "x" * 65}, "action", "Field cannot be longer than 64 characters."),
], ids=["letters", "fraction", "too big", "negative", "record letters", "record too big",
        "bad from date", "bad to date", "day first", "five-digit year", "unknown record type",
        "long action"])
def test_invalid_filters_show_a_field_message(admin_client, events, filters, field, message):
    response = audit(admin_client, **filters)
    assert response.status_code == 200
    assert field_error(response, field) == message
    assert "Please correct 1 field" in text(response)
    assert audit_rows(response) == []
    assert "No events match." in text(response)


@pytest.fixture
def many_events(app):
    """60 certification events for one practitioner, and others around them."""
    with app.app_context():
        admin = factories.make_admin("dee.admin@example.com")
        p = factories.make_practitioner()
        other = factories.make_practitioner()
        cert = factories.make_certification(p)
        start = datetime(2026, 3, 1, tzinfo=UTC)
        for i in range(60):
            event = record("certification.note", cert, actor=admin, n=i)
            event.at = start + timedelta(minutes=i)
            noise = record("profile.updated", other, actor=other.user, n=i)
            noise.at = start + timedelta(minutes=i, seconds=30)
        db.session.commit()
        return p.id


def nav_link(response, label: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)">{label}</a>', body(response))
    return html.unescape(match.group(1)) if match else None


def test_pagination_keeps_the_filters(admin_client, many_events):
    first = audit(admin_client, practitioner=many_events, action="certification.")
    rows = audit_rows(first)
    assert "60 events" in text(first)
    assert len(rows) == 50
    assert [r["detail"] for r in rows[:2]] == ["n: 59", "n: 58"]
    assert "Page 1 of 2" in text(first)
    assert nav_link(first, "Newer") is None

    older = nav_link(first, "Older")
    query = parse_qs(urlsplit(older).query)
    assert query["practitioner"] == [str(many_events)]
    assert query["action"] == ["certification."]
    assert query["page"] == ["2"]

    second = admin_client.get(older)
    rows = audit_rows(second)
    assert [r["detail"] for r in rows] == [f"n: {i}" for i in range(9, -1, -1)]
    assert {r["action"] for r in rows} == {"certification.note"}
    assert "Page 2 of 2" in text(second)
    assert nav_link(second, "Older") is None

    back = admin_client.get(nav_link(second, "Newer"))
    assert [r["detail"] for r in audit_rows(back)] == [r["detail"] for r in audit_rows(first)]


def test_audit_events_from_real_actions_are_found_by_filters(app, admin_client, events):
    """Submit, edit and decide through the services; the log finds each by its filters."""
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "alice.admin@example.com"))
        p = db.session.get(Practitioner, events.p1)
        program = factories.make_program("real")
        cert = services.submit(p, p.user, {}, program, "",
                               services.Upload(_pdf_stream(), "certificate.pdf"))
        lifecycle.apply(cert, "approve", admin)
        db.session.commit()
        cert_id = cert.id

    response = audit(admin_client, subject_type="certifications", subject_id=cert_id)
    actions = [row["action"] for row in audit_rows(response)]
    assert sorted(actions) == ["certification.approve", "certification.submitted"]
    by_alice = audit(admin_client, subject_type="certifications", subject_id=cert_id,
                     admin="alice")
    assert [row["action"] for row in audit_rows(by_alice)] == ["certification.approve"]
    assert "certification.submitted" in [
        row["action"] for row in audit_rows(audit(admin_client, practitioner=events.p1))]
