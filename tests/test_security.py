"""The security suite, generated from the app's URL map and form classes where it can be.

- IDOR: another practitioner reaches nobody's evidence, certification or location by id, and the
  attempt changes nothing; ids and a pending certification's public code reveal nothing; an
  issuer reaches no other organisation's certification, nor a practitioner's records.
- Stored XSS: a script in every free-text field of every form is shown back escaped on every page.
- Open redirects: no route sends anyone off the site, whatever next= says.
- Malformed input: every field of every form the site shows gets 100,000 characters, a NUL,
  two values, a file and nothing at all, and every form gets undecodable bodies: the answer is
  never a server error, a refusal writes nothing, and nothing malformed is ever stored.
(Who may use which route is tests/test_authorization.py; CSRF is tests/test_csrf.py.)
"""

from __future__ import annotations

import html
import importlib
import io
import json
import pkgutil
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, PasswordField, StringField
from wtforms.fields.core import UnboundField
from wtforms.validators import Length

import directory
from directory import create_app
from directory.accounts.services import reset_token
from directory.credentials import evidence
from directory.extensions import db
from directory.models import Certification, JurisdictionRule, ListingReport, ScopeChange
from directory.models.base import utcnow
from directory.outbox import queue
from directory.profiles.services import change_photo
from tests import factories
from tests.conftest import base_config
from tests.factories import login_client
from tests.test_authorization import ROUTES

# --------------------------------------------------------------------------- the world


@dataclass
class World:
    slug: str
    owner_id: int
    location_id: int
    cert_id: int  # the owner's verified certification
    pending_id: int  # the owner's pending certification
    verified_code: str
    pending_code: str
    rejected_code: str
    other_location_id: int
    program_id: int
    rule_id: int
    message_id: int  # a failed e-mail in the outbox
    scope_change_id: int  # the owner's verdict, changed by the rule, for an administrator
    reset_token: str
    evidence_file: Path  # the pending certification's evidence file
    foreign_cert_id: int  # the other practitioner's certification from another organisation
    report_id: int  # an open report of wrong information on the owner's listing


@pytest.fixture
def world(app) -> World:
    """A listed owner (a location, a verified and a pending certification), another practitioner
    with records of their own (one certification from another organisation), an administrator,
    the issuer of the owner's program, a program and a rule."""
    with app.app_context():
        owner = factories.make_listed_practitioner(
            "owner@example.com", full_name="Olivia Owner", profession="physiotherapist",
            licence_number="PT-1", licence_country="US", licence_region="US-CO",
            npi="1234567893")
        location = factories.make_location(owner, clinic_name="Owner Clinic", lat=39.7525,
                                           lng=-104.9995, geo_precision="postcode")
        verified = db.session.scalars(select(Certification)
                                      .where(Certification.practitioner_id == owner.id)).one()
        pending = factories.make_certification(owner, certificate_number="OWNER-SECRET-7")
        rejected = factories.make_certification(owner, status="rejected", reason="No.")
        other = factories.make_practitioner("other@example.com", full_name="Oscar Other")
        other_location = factories.make_location(other, clinic_name="Other Clinic")
        factories.make_certification(other)
        foreign = factories.make_certification(
            other, program=factories.make_program("foreign-program",
                                                  organisation="Foreign Organisation"),
            certificate_number="FOREIGN-SECRET-9")
        factories.make_admin("admin@example.com")
        factories.make_issuer("issuer@example.com", organisation=verified.program.organisation)
        rule = JurisdictionRule(jurisdiction="US-CO", profession="physiotherapist",
                                permitted="yes", source_url="https://example.com/rule",
                                reviewed_on=date(2026, 11, 1))
        db.session.add(rule)
        db.session.flush()
        change = ScopeChange(practitioner=owner, rule_id=rule.id, jurisdiction="US-CO",
                             verdict_before="unknown", verdict_after="yes",
                             reason="Read the board's page.")
        db.session.add(change)
        db.session.commit()
        factories.make_user("unconfirmed@example.com", confirmed=False)
        factories.make_program("retired-program", retired_at=utcnow())
        reset_user = factories.make_user("reset@example.com")
        token = reset_token(reset_user)
        message = queue(reset_user.email, "A message", "email_change_notice", user=reset_user,
                        new_email="new@example.com")
        message.status = "failed"
        # A photo, so that its page shows the form that removes it.
        change_photo(owner, owner.user, io.BytesIO(factories.jpeg_bytes((400, 400))))
        report = ListingReport(practitioner=owner, kind="wrong_phone", client_key="0" * 64)
        db.session.add(report)
        db.session.commit()
        found = World(
            slug=owner.slug, owner_id=owner.id, location_id=location.id, cert_id=verified.id,
            pending_id=pending.id, verified_code=verified.public_code,
            pending_code=pending.public_code, rejected_code=rejected.public_code,
            other_location_id=other_location.id, program_id=factories.test_program().id,
            rule_id=rule.id, message_id=message.id, scope_change_id=change.id,
            reset_token=token,
            evidence_file=evidence.path_of(pending.evidence_stored_name),
            foreign_cert_id=foreign.id, report_id=report.id)
        db.session.remove()
    assert found.evidence_file.is_file()
    return found


def browser_as(app, role: str):
    """A test client: anonymous, or logged in as the world's account of this role."""
    return app.test_client() if role == "anonymous" else login_client(app, f"{role}@example.com")


@pytest.fixture
def clients(app, world) -> dict:
    """A client per role: anonymous, the owner, another practitioner, the administrator, the
    issuer."""
    return {role: browser_as(app, role)
            for role in ("anonymous", "owner", "other", "admin", "issuer")}


def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table: to show a refused request wrote nothing."""
    with app.app_context():
        rows = {table.name: sorted((tuple(row) for row in
                                    db.session.execute(select(table)).all()), key=repr)
                for table in db.metadata.sorted_tables}
        db.session.remove()
    return rows


def malformed_value(rows: dict[str, list[tuple]]) -> str | None:
    """A stored text no form should have let through (a NUL, 100,000 characters, or the
    replacement character of undecodable bytes), if any."""
    for table in rows.values():
        for row in table:
            for value in row:
                if isinstance(value, str) and (
                        "\x00" in value or len(value) >= 100_000 or "\ufffd" in value):
                    return value[:60]
    return None


# --------------------------------------------------------------------------- reading forms


@dataclass
class Form:
    method: str
    action: str
    enctype: str
    fields: dict[str, list[str]]  # name → the values a browser would send
    kinds: dict[str, str]  # name → input type, "textarea", "select" or "button"


class _FormsReader(HTMLParser):
    """Every <form> of a page, with the values a browser would send from it."""

    def __init__(self, path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.path = path
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = Form(method=(attrs.get("method") or "get").lower(),
                              action=urlsplit(attrs.get("action") or self.path).path,
                              enctype=attrs.get("enctype") or "", fields={}, kinds={})
            self.forms.append(self._form)
            return
        form, name = self._form, attrs.get("name")
        if form is None or not name:
            if tag == "option" and self._select and "selected" in attrs and form:
                form.fields[self._select].append(attrs.get("value") or "")
            return
        if tag == "input":
            kind = attrs.get("type", "text")
            form.kinds.setdefault(name, kind)
            values = form.fields.setdefault(name, [])
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    values.append(attrs.get("value") or "on")
            elif kind not in ("submit", "file"):
                values.append(attrs.get("value") or "")
        elif tag == "textarea":
            form.kinds[name] = "textarea"
            form.fields[name] = [""]
            self._textarea = name
        elif tag == "select":
            form.kinds[name] = "select"
            form.fields.setdefault(name, [])
            self._select = name
        elif tag == "button" and name not in form.fields:
            form.kinds[name] = "button"  # the first button is the one pressed
            form.fields[name] = [attrs.get("value") or ""]
        elif tag == "option" and self._select and "selected" in attrs:
            form.fields[self._select].append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._form and self._textarea:
            self._form.fields[self._textarea][0] += data


def forms_on(response) -> list[Form]:
    """The forms of a page."""
    reader = _FormsReader(response.request.path)
    reader.feed(response.get_data(as_text=True))
    for form in reader.forms:
        for name, values in form.fields.items():
            if form.kinds.get(name) == "textarea" and values and values[0].startswith("\n"):
                values[0] = values[0][1:]
    return reader.forms


def form_posting_to(response, action: str) -> Form:
    """The page's POST form that sends to action."""
    found = [f for f in forms_on(response) if f.method == "post" and f.action == action]
    assert found, f"no form posting to {action} on {response.request.path}"
    return found[0]


# --------------------------------------------------------------------------- IDOR


def owner_records_routes(app) -> list:
    """Routes that name a practitioner's own record by id (not the admin's or issuer's pages)."""
    return [rule for rule in app.url_map.iter_rules()
            if rule.arguments & {"cert_id", "location_id"}
            and not rule.endpoint.startswith(("admin.", "registry.", "bulk.", "issuers."))]


def test_the_idor_routes_are_found(app):
    endpoints = {rule.endpoint for rule in owner_records_routes(app)}
    assert {"certifications.edit", "certifications.evidence_file", "profiles.edit_location",
            "profiles.delete_location"} <= endpoints


def _owner_form_data(client, path: str) -> dict:
    """What the owner's own edit form would send (so only authorization can stop it)."""
    response = client.get(path)
    if response.status_code != 200:
        return {}
    forms = [f for f in forms_on(response) if f.method == "post" and f.action == path]
    return {name: values for name, values in forms[0].fields.items()} if forms else {}


def test_another_practitioner_reaches_no_record_by_id(app, world, clients):
    ids = {"cert_id": world.pending_id, "location_id": world.location_id}
    attacker, owner = clients["other"], clients["owner"]
    stored = world.evidence_file.read_bytes()
    before = snapshot(app)
    tried = 0
    for rule in owner_records_routes(app):
        path = rule.build({k: ids[k] for k in rule.arguments})[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            data = _owner_form_data(owner, path) if method == "POST" else None
            if data is not None and "evidence" not in data and rule.endpoint.endswith("edit") \
                    and "cert" in rule.rule:
                data["evidence"] = (io.BytesIO(factories.pdf_bytes("forged")), "forged.pdf")
            for query in ("", "?inline=1"):
                response = attacker.open(path + query, method=method, data=data)
                tried += 1
                assert response.status_code == 404, f"{method} {path}{query}"
                body = response.get_data()
                assert b"Owner Clinic" not in body and b"OWNER-SECRET-7" not in body
                assert b"%PDF" not in body
    assert tried >= 10
    assert snapshot(app) == before, "an attempt on someone else's record changed it"
    assert world.evidence_file.read_bytes() == stored
    # The owner still can, so the 404s above are about whose record it is.
    assert owner.get(f"/certifications/{world.pending_id}/evidence").data.startswith(b"%PDF")
    assert owner.get(f"/profile/locations/{world.location_id}/edit").status_code == 200


def test_an_issuer_reaches_no_other_organisations_certification_by_id(app, world, clients):
    issuer = clients["issuer"]
    before = snapshot(app)
    tried = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("issuers.") or "cert_id" not in rule.arguments:
            continue
        path = rule.build({"cert_id": world.foreign_cert_id})[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            data = {"answer": "disputed", "reason": "Not ours.",
                    "revoke_reason": "Withdrawn."} if method == "POST" else None
            response = issuer.open(path, method=method, data=data)
            tried += 1
            assert response.status_code == 404, f"{method} {path}"
            assert b"FOREIGN-SECRET-9" not in response.data and b"Oscar" not in response.data
    # Nor a practitioner's own records, by the practitioners' routes.
    ids = {"cert_id": world.pending_id, "location_id": world.location_id}
    for rule in owner_records_routes(app):
        path = rule.build({k: ids[k] for k in rule.arguments})[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = issuer.open(path, method=method, data={"reason": "x"})
            tried += 1
            assert response.status_code in (403, 404), f"{method} {path}"
            body = response.get_data()
            assert b"Owner Clinic" not in body and b"%PDF" not in body
    assert tried >= 7
    assert snapshot(app) == before, "an issuer's attempt on another record changed it"
    # The issuer's own organisation's certification opens, so the 404s are about whose it is.
    assert issuer.get(f"/issuer/certifications/{world.pending_id}").status_code == 200


def _without(body: str, *secrets) -> str:
    """A page with the given values and the session's CSRF token blanked out."""
    body = re.sub(r'name="csrf_token"[^>]*>', "", body)
    for secret in secrets:
        body = body.replace(str(secret), "SECRET")
    return body


@pytest.mark.parametrize("template", ["/certifications/{id}/edit",
                                      "/certifications/{id}/evidence",
                                      "/profile/locations/{id}/edit"])
def test_someone_elses_id_looks_exactly_like_no_record(app, world, clients, template):
    record = world.location_id if "locations" in template else world.pending_id
    attacker = clients["other"]
    attacker.get("/about")  # shows the "logged in" message, so both pages below are alike
    theirs = attacker.get(template.format(id=record))
    nobody = attacker.get(template.format(id=999_999))
    assert theirs.status_code == nobody.status_code == 404
    assert _without(theirs.get_data(as_text=True), template.format(id=record)) == \
        _without(nobody.get_data(as_text=True), template.format(id=999_999))


@pytest.mark.parametrize("code", ["pending_code", "rejected_code"])
def test_the_code_of_an_unverified_certification_reveals_nothing(world, clients, code):
    anonymous = clients["anonymous"]
    secret = getattr(world, code)
    theirs = anonymous.get(f"/verify/{secret}")
    nobody = anonymous.get("/verify/AAAAAAAAAAAAAAAAAAAAAA")
    assert theirs.status_code == nobody.status_code == 404
    assert _without(theirs.get_data(as_text=True), secret) == \
        _without(nobody.get_data(as_text=True), "AAAAAAAAAAAAAAAAAAAAAA")
    assert "Olivia Owner" not in theirs.get_data(as_text=True)
    # The verified one does show, so the lookup itself works.
    assert "Olivia Owner" in html.unescape(
        anonymous.get(f"/verify/{world.verified_code}").get_data(as_text=True))


# --------------------------------------------------------------------------- stored XSS

PAYLOAD = "<script>alert(1)</script>\"'><img/src=x/onerror=alert(1)>"
SHORT_PAYLOAD = "\"'><img/src=x>"
MARKERS = ("<script>alert(1)", "<img/src=x")


def _import_every_module() -> None:
    for module in pkgutil.walk_packages(directory.__path__, "directory."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)


def form_classes() -> list[type]:
    """Every form class of the app."""
    _import_every_module()
    found, todo = [], [FlaskForm]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("directory."):
            found.append(cls)
    return found


def free_text_fields(form_class: type) -> dict[str, UnboundField]:
    """The fields a person types free text into (not passwords, never shown back)."""
    return {name: value for name in dir(form_class)
            if isinstance(value := getattr(form_class, name), UnboundField)
            and issubclass(value.field_class, StringField)
            and not issubclass(value.field_class, (HiddenField, PasswordField))}


def payloads_for(unbound: UnboundField) -> list[str]:
    """The script, then shaped as a web address: the first the field's own rules let through
    is stored and shown on the site's pages (a length limit gets a shorter one)."""
    limits = [v.max for v in unbound.kwargs.get("validators") or [] if isinstance(v, Length)]
    plain = SHORT_PAYLOAD if limits and 0 < min(limits) < len(PAYLOAD) else PAYLOAD
    return [plain, "https://x.example/" + PAYLOAD]


@dataclass
class Submit:
    """How a person sends a form: as whom, from which page, to where."""

    role: str
    page: str
    action: str | None = None  # None: the page's own address
    prefix: str = ""
    extra: tuple = ()
    method: str = "post"
    extra_for: tuple = ()  # (field, ((name, value), ...)): what that field needs beside it


NEW_PASSWORD = "a long enough passphrase 42"
SUBMIT = {
    "ProfileForm": Submit("owner", "/profile/edit"),
    "LocationForm": Submit("owner", "/profile/locations/{location_id}/edit"),
    "CertificationForm": Submit("owner", "/certifications/{pending_id}/edit", extra_for=(
        ("program_name", (("program", ""),)),)),  # a typed name counts when no program is chosen
    "DecisionForm": Submit("admin", "/admin/certifications/{pending_id}",
                           extra=(("action", "request_changes"),)),
    "ProgramForm": Submit("admin", "/admin/registry/programs/{program_id}/edit"),
    "RuleForm": Submit("admin", "/admin/registry/rules/{rule_id}/edit"),
    "SignupForm": Submit("anonymous", "/account/signup", extra=(
        ("email", "new@example.com"), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD))),
    "LoginForm": Submit("anonymous", "/account/login"),
    "ForgotPasswordForm": Submit("anonymous", "/account/forgot"),
    "ChangeEmailForm": Submit("owner", "/account/settings", action="/account/settings/email",
                              prefix="em-"),
    "SearchForm": Submit("anonymous", "/", method="get", extra=(("near", "80202"),)),
    "VerifyForm": Submit("anonymous", "/verify", method="get"),
    # A pasted Open Badge credential: checked, never kept.
    "CredentialForm": Submit("anonymous", "/verify", action="/verify/credential"),
    "AuditFilterForm": Submit("admin", "/admin/audit", method="get"),
    "RuleFilterForm": Submit("admin", "/admin/registry/rules", method="get"),
    "IssuerFilterForm": Submit("issuer", "/issuer/", method="get"),
    # A dispute keeps its reason (shown to the issuer and beside the evidence to the admin).
    "AnswerForm": Submit("issuer", "/issuer/certifications/{pending_id}",
                         extra=(("answer", "disputed"),)),
    "RevokeForm": Submit("issuer", "/issuer/certifications/{cert_id}",
                         action="/issuer/certifications/{cert_id}/revoke"),
    "IssuerAccountForm": Submit("admin", "/admin/registry/issuers",
                                extra=(("organisation", "Test Organisation"),)),
    # A failed check keeps its note (shown on the admin's page and the owner's dashboard).
    "LicenceCheckForm": Submit("admin", "/admin/licences/{owner_id}",
                               extra=(("outcome", "failed"),), extra_for=(
                                   ("register_url", (("register", "other"),)),)),
    # A patient's report (shown to the owner and the administrators) and its decision.
    "ReportForm": Submit("anonymous", "/p/{slug}/report", extra=(("kind", "other"),)),
    "ReportDecisionForm": Submit("admin", "/admin/reports/{report_id}",
                                 extra=(("status", "corrected"),)),
    # A patient's message to the owner: its sender is shown to administrators; its words are
    # kept by no page (NOT_KEPT).
    "EnquiryForm": Submit("anonymous", "/p/{slug}", action="/p/{slug}/contact", extra=(
        ("name", "Pat"), ("email", "pat@example.net"), ("message", "Hello"))),
}
# Fields whose value, once sent, no page may show: an enquiry's words leave with the e-mail,
# and the hidden field's drops the message.
NOT_KEPT = {("EnquiryForm", "message"), ("EnquiryForm", "homepage")}

# Every page that shows what practitioners and administrators typed, and who sees it.
PAGES = [
    ("anonymous", "/p/{slug}"), ("anonymous", "/?near=80202"),
    ("anonymous", "/verify/{verified_code}"), ("anonymous", "/verify/{pending_code}"),
    ("anonymous", "/api/v1/practitioners?near=80202"),
    ("anonymous", "/api/v1/practitioners/{owner_id}"),
    ("anonymous", "/fhir/Practitioner/{owner_id}"), ("anonymous", "/fhir/Location/{location_id}"),
    ("anonymous", "/fhir/PractitionerRole?practitioner={owner_id}"),
    ("owner", "/dashboard"), ("owner", "/profile/edit"),
    ("owner", "/profile/locations/{location_id}/edit"), ("owner", "/certifications/"),
    ("owner", "/certifications/{pending_id}/edit"), ("owner", "/account/settings"),
    ("admin", "/admin/"), ("admin", "/admin/queue"),
    ("admin", "/admin/queue?status=changes_requested"), ("admin", "/admin/queue?status=verified"),
    ("admin", "/admin/certifications/{cert_id}"), ("admin", "/admin/certifications/{pending_id}"),
    ("admin", "/admin/audit"), ("admin", "/admin/registry/programs"),
    ("admin", "/admin/registry/programs/{program_id}/edit"), ("admin", "/admin/registry/rules"),
    ("admin", "/admin/registry/rules/{rule_id}/edit"),
    ("admin", "/admin/licences"), ("admin", "/admin/licences/{owner_id}"),
    ("admin", "/admin/registry/issuers"), ("admin", "/admin/scope-changes"),
    ("admin", "/admin/reports?status=all"), ("admin", "/admin/reports/{report_id}"),
    ("admin", "/admin/enquiries"),
    ("issuer", "/issuer/"), ("issuer", "/issuer/certifications/{pending_id}"),
    ("issuer", "/issuer/certifications/{cert_id}"),
]

XSS_CASES = sorted((cls.__name__, name) for cls in form_classes()
                   for name in free_text_fields(cls))
UNBOUND = {(cls.__name__, name): field for cls in form_classes()
           for name, field in free_text_fields(cls).items()}


def test_every_form_with_free_text_is_tried():
    forms = {form for form, _ in XSS_CASES}
    assert forms - set(SUBMIT) == set(), "add how to send these forms to SUBMIT"
    assert set(SUBMIT) - forms == set(), "forms in SUBMIT that no longer exist"
    assert ("ProfileForm", "bio") in XSS_CASES and ("DecisionForm", "reason") in XSS_CASES
    assert ("ProgramForm", "aliases") in XSS_CASES and ("LocationForm", "postcode") in XSS_CASES


def readable_text(response) -> str:
    """What a person (or a JSON reader) reads in an answer: entities and escapes decoded."""
    if response.mimetype in ("application/json", "application/fhir+json"):
        strings: list[str] = []

        def walk(value):
            if isinstance(value, str):
                strings.append(value)
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(response.get_json())
        return "\n".join(strings)
    return html.unescape(response.get_data(as_text=True))


def assert_escaped(response, where: str) -> None:
    """No answer carries the payload as live markup."""
    assert response.status_code < 500, where
    raw = response.get_data(as_text=True).lower()
    for marker in MARKERS:
        assert marker not in raw, f"{marker} unescaped in {where}"


def approve(client, world) -> None:
    """The administrator approves the pending certification (choosing its program)."""
    path = f"/admin/certifications/{world.pending_id}"
    form = form_posting_to(client.get(path), path)
    data = form.fields | {"action": "approve", "program": str(world.program_id), "reason": ""}
    assert client.post(path, data=data).status_code == 302


@pytest.mark.parametrize(("form_name", "field"), XSS_CASES)
def test_free_text_is_always_shown_escaped(app, world, clients, form_name, field):
    how = SUBMIT[form_name]
    ids = vars(world)
    client = clients[how.role]
    name = how.prefix + field
    answers, saved = [], False
    for value in payloads_for(UNBOUND[form_name, field]):
        if how.method == "get":
            query = dict(how.extra) | {name: value}
            answers.append((f"{how.page} with {value}", client.get(how.page, query_string=query)))
            break
        page = how.page.format(**ids)
        action = how.action.format(**ids) if how.action else urlsplit(page).path
        form = form_posting_to(client.get(page), action)
        extra = (*how.extra, *dict(how.extra_for).get(field, ()))
        data = form.fields | {how.prefix + k: v for k, v in extra} | {name: value}
        response = client.post(how.action.format(**ids) if how.action else page, data=data)
        answers.append((f"the answer to {value}", response))
        if response.status_code == 302:
            saved = True
            answers.append(("the page after saving", client.get(response.headers["Location"])))
            if form_name == "CertificationForm":
                approve(clients["admin"], world)
            break
    if saved or how.method == "get":
        answers += [(f"{url} as {role}", clients[role].get(url.format(**ids)))
                    for role, url in PAGES]
    for where, response in answers:
        assert_escaped(response, where)
    shown = [where for where, response in answers
             if value.casefold() in readable_text(response).casefold()]
    if (form_name, field) in NOT_KEPT:
        shown = [where for where in shown if not where.startswith("the answer")]
        assert saved and not shown, f"{form_name}.{field} was kept: {shown}"
    elif saved:
        shown = [where for where in shown if not where.startswith("the answer")]
        assert shown, f"{form_name}.{field} was saved but no page shows it"
    else:
        assert shown, f"{form_name}.{field}: the form did not show the refused value back"


# --------------------------------------------------------------------------- open redirects

OFF_SITE = ["https://evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example",
            "javascript:alert(1)", "%2F%2Fevil.example", "/%2F%2Fevil.example/",
            "https:evil.example", "///evil.example", "/\t/evil.example", "\x00//evil.example"]


def stays_on_site(location: str) -> bool:
    """A Location header a browser follows to this site only."""
    parts = urlsplit(location)
    if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost"):
        return False
    return not re.match(r"^\s*[/\\]{2}", location) and "\\" not in location


def test_the_redirect_check_is_strict():
    assert stays_on_site("/dashboard") and stays_on_site("/account/login?next=%2F%2Fevil")
    for target in ("//evil.example", "/\\evil.example", "https://evil.example", "javascript:x"):
        assert not stays_on_site(target)


def hsds_ids(world) -> dict:
    """The /hsds ids of the owner's records, for the routes table's HSDS rows."""
    from directory.hsds.records import hsds_id
    return {"hsds_service_id": hsds_id("service", world.owner_id),
            "hsds_organization_id": hsds_id("organization", world.owner_id),
            "hsds_sal_id": hsds_id("service_at_location", world.location_id)}


@pytest.mark.parametrize("role", ["anonymous", "owner", "admin", "issuer"])
def test_no_route_sends_anyone_off_site(app, world, clients, role):
    client = clients[role]
    ids = {"slug": world.slug, "location_id": world.other_location_id, "cert_id": world.cert_id,
           "public_code": world.verified_code, "listed_id": world.owner_id,
           "program_id": world.program_id, "rule_id": world.rule_id, "message_id": world.message_id,
           "scope_change_id": world.scope_change_id, "report_id": world.report_id,
           "photo_key": f"{world.owner_id}-no-photo", **hsds_ids(world)}
    logout = ("POST", "/account/logout")
    routes = [(method, template.format(**ids)) for method, template, _ in ROUTES.values()]
    for method, url in sorted(set(routes), key=lambda r: r == logout):  # log out last
        for target in OFF_SITE:
            joiner = "&" if "?" in url else "?"
            response = client.open(url + joiner + urlencode({"next": target}), method=method,
                                   data={"next": target} if method == "POST" else None)
            location = response.headers.get("Location")
            response.close()  # a streamed export is finished, not left open
            assert location is None or stays_on_site(location), f"{method} {url} → {location}"


@pytest.mark.parametrize("target", OFF_SITE)
@pytest.mark.parametrize("where", ["query", "form"])
def test_logging_in_never_follows_next_off_site(app, world, target, where):
    client = app.test_client()
    data = {"email": "owner@example.com", "password": factories.PASSWORD}
    if where == "form":
        response = client.post("/account/login", data=data | {"next": target})
    else:
        response = client.post("/account/login", query_string={"next": target}, data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"


def test_logging_in_follows_a_local_next(app, world):
    response = app.test_client().post("/account/login", data={
        "email": "owner@example.com", "password": factories.PASSWORD,
        "next": "/certifications/?x=1"})
    assert response.headers["Location"] == "/certifications/?x=1"


# --------------------------------------------------------------------------- malformed input


def _url_map_app():
    """An app for reading the URL map at collection time (no database is opened)."""
    tmp = Path(tempfile.mkdtemp(prefix="directory-security-"))
    return create_app(base_config(f"sqlite:///{tmp / 'unused.sqlite3'}", tmp))


# The site's forms (the JSON API's POST routes are fuzzed from its document: test_api_fuzz).
POST_ENDPOINTS = sorted({rule.endpoint for rule in _url_map_app().url_map.iter_rules()
                         if "POST" in rule.methods and not rule.endpoint.startswith("api.")})
# Forms a page shows only after a step (the import's confirmation follows a checked upload).
AFTER_A_STEP = {"bulk.confirm_import": Form("post", "/admin/bulk/import", "",
                                            {"sha256": ["0" * 64]}, {"sha256": "hidden"})}
_FOUND_FORMS: dict[str, tuple[str, str, Form]] = {}
GET_FIELDS: set[str] = {"next", "page", "status", "retired", "inline"}  # + every GET form's


def found_forms(app, world) -> dict[str, tuple[str, str, Form]]:
    """Every POST form the site shows on any page to anyone: endpoint → (role, page, form).

    Read once per session: which fields a form has does not change with the data.
    """
    if _FOUND_FORMS:
        return _FOUND_FORMS
    ids = {"slug": world.slug, "location_id": world.location_id,
           "cert_id": world.pending_id, "public_code": world.verified_code,
           "listed_id": world.owner_id, "program_id": world.program_id,
           "rule_id": world.rule_id, "message_id": world.message_id,
           "scope_change_id": world.scope_change_id, "report_id": world.report_id,
           "photo_key": f"{world.owner_id}-no-photo", **hsds_ids(world)}
    pages = [template.format(**ids) for method, template, _ in ROUTES.values()
             if method == "GET"]
    pages += [f"/account/reset/{world.reset_token}", "/admin/registry/programs?retired=1",
              f"/issuer/certifications/{world.cert_id}",  # a verified one can be revoked
              "/verify"]  # the pasted Open Badge check (the table's /verify?code= redirects)
    adapter = app.url_map.bind("localhost")
    for role in ("anonymous", "owner", "admin", "unconfirmed", "issuer"):
        client = browser_as(app, role)
        for page in pages:
            response = client.get(page)
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            for form in forms_on(response):
                if form.method == "post":
                    endpoint = adapter.match(form.action, method="POST")[0]
                    _FOUND_FORMS.setdefault(endpoint, (role, page, form))
                else:
                    GET_FIELDS.update(form.fields)
    return _FOUND_FORMS


def test_every_post_route_has_a_form_on_some_page(app, world):
    found = found_forms(app, world)
    missing = set(POST_ENDPOINTS) - set(found) - set(AFTER_A_STEP)
    assert missing == set(), "POST routes whose form no page shows: add them to AFTER_A_STEP"
    assert {"profiles.edit", "accounts.login", "registry.edit_rule"} <= set(found)


LONG = "x" * 100_000
BAD_UTF8 = b"%FF%FE\xff\xfe\xc3\x28"
ANSWERS = {200, 302, 303, 400, 404, 413}


def _variants(form: Form) -> list[tuple[str, object]]:
    """(what, how to change what the form sends) for every malformed request to this form."""
    fields = [name for name, kind in form.kinds.items() if kind not in ("button", "submit")]
    variants: list[tuple[str, object]] = []
    for name in fields:
        variants += [(f"{name}: 100,000 characters", {name: [LONG]}),
                     (f"{name}: a NUL character", {name: ["a\x00b"]}),
                     (f"{name}: two values", {name: ["a", "b"]}),
                     (f"{name}: missing", {name: None})]
    if fields:
        variants.append(("a file in every field", {
            name: (io.BytesIO(b"<x>\x00\xff"), "x.txt") for name in fields}))
    names = fields or ["x"]
    variants += [
        ("undecodable bytes", (b"&".join(n.encode() + b"=" + BAD_UTF8 for n in names),
                               "application/x-www-form-urlencoded")),
        ("a broken multipart body", (b'--zz\r\nContent-Disposition: form-data; name="'
                                     + names[0].encode() + b'"\r\n\r\nabc',
                                     "multipart/form-data; boundary=zz")),
        ("JSON instead of a form", (json.dumps({n: [1, {"a": None}] for n in names}),
                                    "application/json")),
    ]
    return variants


def _request(form: Form, change) -> dict:
    """The test client's arguments for one malformed request."""
    if isinstance(change, tuple):
        body, content_type = change
        return {"data": body, "content_type": content_type}
    data = {name: list(values) for name, values in form.fields.items()}
    for name, value in change.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return {"data": data}


def _shows_a_problem(response) -> bool:
    body = response.get_data(as_text=True)
    return 'class="error"' in body or "flash-error" in body or "error-summary" in body


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_malformed_input_is_never_a_server_error(app, world, endpoint):
    found = found_forms(app, world) | {k: ("admin", None, v) for k, v in AFTER_A_STEP.items()}
    role, page, form = found[endpoint]
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    ids = {"cert_id": world.pending_id, "location_id": world.location_id,
           "program_id": world.program_id, "rule_id": world.rule_id, "message_id": world.message_id,
           "scope_change_id": world.scope_change_id, "slug": world.slug,
           "report_id": world.report_id, "photo_key": f"{world.owner_id}-no-photo",
           "token": world.reset_token, "practitioner_id": world.owner_id}
    url = rule.build({k: ids[k] for k in rule.arguments})[1]
    client = browser_as(app, role)
    problems = []
    before = snapshot(app)
    for what, change in _variants(form):
        response = client.post(url, **_request(form, change))
        status = response.status_code
        after = snapshot(app)
        if status not in ANSWERS:
            problems.append(f"{what}: {status}")
        elif status in (200, 400, 413) and after != before:
            problems.append(f"{what}: refused ({status}) but the database changed")
        elif status == 200 and not _shows_a_problem(response):
            problems.append(f"{what}: 200 without a message saying what is wrong")
        if (bad := malformed_value(after)) is not None:
            problems.append(f"{what}: stored {bad!r}")
            break
        if status == 302 and page is not None:
            # Saved: the next request starts from the form as it is now (a new version).
            fresh = client.get(page)
            matching = [f for f in forms_on(fresh) if f.method == "post" and f.action == url]
            form = matching[0] if matching else form
        before = after
    assert problems == [], f"POST {url} as {role}"


def test_a_decision_sent_after_the_last_one_says_there_is_none_left(app, world, clients):
    admin = clients["admin"]
    with app.app_context():
        rejected = db.session.scalar(select(Certification.id).where(
            Certification.public_code == world.rejected_code))
    response = admin.post(f"/admin/certifications/{rejected}", data={"reason": "late"})
    assert response.status_code == 200
    assert "This certification is" in html.unescape(response.get_data(as_text=True))
    assert "there is no decision left to take on it." in html.unescape(
        response.get_data(as_text=True))


JUNK = ["%00", "a%00b", "%FF%FE", "x" * 5000, "-1", "99999999999999999999999"]


@pytest.mark.parametrize("role", ["anonymous", "owner", "admin", "issuer"])
def test_junk_in_addresses_and_queries_is_never_a_server_error(app, world, role):
    found_forms(app, world)  # reads the GET forms' fields too
    client = browser_as(app, role)
    failures = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        for junk in JUNK:
            path = None
            for value in (junk, 1, "csv"):  # a URL with what its converters take (int, any())
                try:
                    path = rule.build(dict.fromkeys(rule.arguments, value),
                                      append_unknown=False)[1]
                    break
                except ValueError:
                    continue
            assert path is not None, rule.rule
            path = path.replace("%25", "%")  # send the junk as it is, not escaped again
            query = "&".join(f"{name}={junk}" for name in sorted(GET_FIELDS))
            try:
                response = client.get(f"{path}?{query}")
            except Exception as exc:  # noqa: BLE001 — reported with the others below
                failures.append(f"{path}?… with {junk[:20]!r}: {exc!r}")
                continue
            response.close()
            if response.status_code >= 500:
                failures.append(f"{path}?… with {junk[:20]!r}: {response.status_code}")
    assert failures == [], "\n".join(failures)
