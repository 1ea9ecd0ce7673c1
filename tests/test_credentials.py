"""Certifications: the state machine, submission, evidence, the admin queue and decisions,
automatic checks, concurrency, practitioner edits and the expiry sweep."""

from __future__ import annotations

import hashlib
import html
import io
import re
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from directory import jobs, listing
from directory.credentials import checks, lifecycle, services
from directory.credentials.reference import load_reference_data
from directory.extensions import db
from directory.models import (
    AuditEvent,
    Certification,
    Practitioner,
    TrainingProgram,
    User,
)
from directory.models.base import utcnow
from directory.vocab import CertStatus
from tests import factories
from tests.factories import audit_events, login_client, stored_files, today
from tests.pages import field_error, flashes, form_values
from tests.s3 import both_stores

# --------------------------------------------------------------------------- reading pages


def visible(markup: str) -> str:
    """Text as a reader sees it: tags dropped, entities decoded, white space made one space."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]*>", " ", markup))).strip()


def text(response) -> str:
    """The page's visible text."""
    return visible(response.get_data(as_text=True))


def main_part(response) -> str:
    """The visible text after the status tabs of the queue."""
    return visible(response.get_data(as_text=True).split("</nav>", 2)[2])


def body(message) -> str:
    """The text of an e-mail."""
    return message.get_payload(decode=True).decode()


def subject(message) -> str:
    """An e-mail's subject without the site name."""
    decoded = str(make_header(decode_header(message["Subject"])))
    return decoded.removesuffix(" — Dry Needling Directory")


def post_multipart(client, url: str, data: dict):
    """POST a multipart form encoded in memory (the test client spools big bodies to a
    temporary file it never closes, which filterwarnings=error would report)."""
    fields = {k: FileStorage(io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v
              for k, v in data.items()}
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return client.post(url, input_stream=stream, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}")


# --------------------------------------------------------------------------- data

FIXED_NOW = datetime(2025, 6, 1, 12, 30, tzinfo=UTC)


def cert_form(**changes) -> dict:
    """A complete, valid certification form (without the file)."""
    now = today()
    data = {
        "program": "", "program_name": "KinetaCore FDN 1", "level": "1",
        "certificate_number": "KC-2024-0042",
        "completed_on": (now - timedelta(days=200)).isoformat(),
        "expires_on": (now + timedelta(days=900)).isoformat(),
        "hours": "27", "in_person_hours": "27", "supervised_sessions": "12", "version": "",
    }
    data.update(changes)
    return data


def post_new(client, evidence: tuple[bytes, str] | None = None, **changes):
    """Submit the new-certification form with a PDF (or the given file)."""
    data = cert_form(**changes)
    content, name = evidence if evidence is not None else (factories.pdf_bytes(), "cert.pdf")
    data["evidence"] = (io.BytesIO(content), name)
    return client.post("/certifications/new", data=data, content_type="multipart/form-data")


def assert_form_keeps(response, posted: dict) -> None:
    """Every value the user typed is still in the form."""
    shown = form_values(response)
    for name, value in posted.items():
        if name in ("version", "evidence"):
            continue
        assert shown.get(name) == [value.strip()], name  # text fields are stripped


def cert_row(app, cert_id: int) -> SimpleNamespace:
    """The stored certification's columns."""
    with app.app_context():
        cert = db.session.get(Certification, cert_id)
        row = SimpleNamespace(**{c.key: getattr(cert, c.key)
                                 for c in Certification.__table__.columns})
        row.program_key = cert.program.key if cert.program else None
        db.session.remove()
    return row


def only_cert(app) -> SimpleNamespace:
    """The one certification in the database."""
    with app.app_context():
        ids = db.session.scalars(select(Certification.id)).all()
        db.session.remove()
    assert len(ids) == 1, ids
    return cert_row(app, ids[0])


def cert_count(app) -> int:
    with app.app_context():
        n = len(db.session.scalars(select(Certification.id)).all())
        db.session.remove()
    return n


def make_cert(app, practitioner_id: int, program_key: str | None = None,
              recognised: bool = True, **kwargs) -> int:
    """A certification made by the factory (citing a recognised program unless told not to);
    returns its id."""
    with app.app_context():
        p = db.session.get(Practitioner, practitioner_id)
        program = factories.test_program() if recognised else None
        if program_key:
            program = db.session.scalar(select(TrainingProgram)
                                        .where(TrainingProgram.key == program_key))
        if "admin_id" in kwargs:
            kwargs["admin"] = db.session.get(User, kwargs.pop("admin_id"))
        cert_id = factories.make_certification(p, program=program, **kwargs).id
        db.session.remove()
    return cert_id


def anonymous_status(app, slug: str) -> int:
    """The status a patient (not logged in) gets for a public profile."""
    return app.test_client().get(f"/p/{slug}").status_code


@pytest.fixture
def programs(app) -> dict[str, int]:
    """The shipped programs and rules, loaded; program key → id."""
    with app.app_context():
        load_reference_data()
        ids = {p.key: p.id for p in db.session.scalars(select(TrainingProgram))}
        db.session.remove()
    return ids


@pytest.fixture
def owner(app, auth, programs) -> SimpleNamespace:
    """A logged-in practitioner (the test client): a physiotherapist licensed in Colorado, the
    licence verified (so a verified certification lists the profile)."""
    with app.app_context():
        p = factories.make_practitioner("owner@example.com", full_name="Olive Owner",
                                        profession="physiotherapist", licence_country="US",
                                        licence_region="US-CO")
        factories.verify_licence(p)
        info = SimpleNamespace(id=p.id, user_id=p.user_id, slug=p.slug,
                               email="owner@example.com")
        db.session.remove()
    assert auth.login(info.email).status_code == 302
    return info


@pytest.fixture
def other(app) -> SimpleNamespace:
    """Another practitioner, logged in in a second browser."""
    with app.app_context():
        p = factories.make_practitioner("other@example.com", full_name="Otto Other")
        info = SimpleNamespace(id=p.id, user_id=p.user_id, slug=p.slug)
        db.session.remove()
    info.client = login_client(app, "other@example.com")
    return info


@pytest.fixture
def admin(app) -> SimpleNamespace:
    """An administrator, logged in in a second browser."""
    with app.app_context():
        user = factories.make_admin("admin@example.com")
        info = SimpleNamespace(id=user.id, email="admin@example.com")
        db.session.remove()
    info.client = login_client(app, info.email)
    return info


# =========================================================================== 1. state machine

ACTIONS = sorted({t.name for t in lifecycle.TRANSITIONS.values()})
ILLEGAL = [(status, action) for status in CertStatus for action in ACTIONS
           if f"{action}:{status}" not in lifecycle.TRANSITIONS]


def actor_for(by: str, cert: Certification, admin: User) -> User | None:
    """The right actor for a transition: an admin, the owner, or nobody (the system)."""
    return {"admin": admin, "owner": cert.practitioner.user, "system": None}[by]


def test_transition_table_is_the_documented_one():
    assert {(t.name, t.source, t.target, t.by, t.needs_reason)
            for t in lifecycle.TRANSITIONS.values()} == {
        ("approve", "pending", "verified", "admin", False),
        ("reject", "pending", "rejected", "admin", True),
        ("request_changes", "pending", "changes_requested", "admin", True),
        ("resubmit", "changes_requested", "pending", "owner", False),
        ("resubmit", "verified", "pending", "owner", False),
        ("resubmit", "expired", "pending", "owner", False),
        ("expire", "verified", "expired", "system", False),
        ("revoke", "verified", "revoked", "admin", True),
    }
    assert len(ILLEGAL) == len(CertStatus) * len(ACTIONS) - len(lifecycle.TRANSITIONS)


@pytest.mark.parametrize("key", list(lifecycle.TRANSITIONS))
def test_allowed_transition_records_who_when_and_audit(app_ctx, key):
    transition = lifecycle.TRANSITIONS[key]
    p = factories.make_practitioner()
    first_admin = factories.make_admin()
    cert = factories.make_certification(p, status=transition.source, admin=first_admin,
                                        reason="Earlier message.")
    before = SimpleNamespace(reviewed_by_id=cert.reviewed_by_id, reviewed_at=cert.reviewed_at,
                             verified_at=cert.verified_at, revoked_at=cert.revoked_at,
                             submitted_at=cert.submitted_at)
    deciding_admin = factories.make_admin()
    actor = actor_for(transition.by, cert, deciding_admin)
    reason = "  The scan is cut off.  " if transition.needs_reason else ""

    lifecycle.apply(cert, transition.name, actor, reason, now=FIXED_NOW)
    db.session.commit()
    cert_id, actor_id = cert.id, actor.id if actor else None
    db.session.expire_all()
    cert = db.session.get(Certification, cert_id)

    assert cert.status == transition.target
    if transition.by == "admin":
        assert cert.reviewed_by_id == deciding_admin.id
        assert cert.reviewed_at == FIXED_NOW
        assert cert.reason == reason.strip()
    else:
        assert cert.reviewed_by_id == before.reviewed_by_id
        assert cert.reviewed_at == before.reviewed_at
    assert cert.verified_at == (FIXED_NOW if transition.name == "approve" else before.verified_at)
    assert cert.revoked_at == (FIXED_NOW if transition.name == "revoke" else before.revoked_at)
    if transition.name == "resubmit":
        assert cert.submitted_at == FIXED_NOW
        assert cert.reason == ""  # the old message no longer applies
    else:
        assert cert.submitted_at == before.submitted_at

    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == f"certification.{transition.name}")).all()
    assert len(events) == 1
    event = events[0]
    assert (event.subject_type, event.subject_id) == ("certifications", cert_id)
    assert event.actor_id == actor_id
    assert event.practitioner_id == p.id
    assert event.detail == {"source": transition.source, "target": transition.target,
                            "reason": reason.strip() or None}


def test_transition_and_audit_event_share_one_transaction(app_ctx):
    p = factories.make_practitioner()
    admin = factories.make_admin()
    cert = factories.make_certification(p)
    lifecycle.apply(cert, "reject", admin, "Wrong person on the certificate.")
    db.session.rollback()  # nothing was committed: neither the change nor its record survives
    db.session.expire_all()
    assert db.session.get(Certification, cert.id).status == "pending"
    assert db.session.scalars(select(AuditEvent)).all() == []

    lifecycle.apply(cert, "reject", admin, "Wrong person on the certificate.")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Certification, cert.id).status == "rejected"
    assert [e.action for e in db.session.scalars(select(AuditEvent))] == [
        "certification.reject"]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_illegal_transition_is_refused(app_ctx, status, action):
    p = factories.make_practitioner()
    cert = factories.make_certification(p, status=status)
    by = {"resubmit": "owner", "expire": "system"}.get(action, "admin")
    actor = actor_for(by, cert, factories.make_admin())
    assert not lifecycle.allowed(cert, action)
    with pytest.raises(lifecycle.IllegalTransition):
        lifecycle.apply(cert, action, actor, "A reason.")
    assert cert.status == status
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Certification, cert.id).status == status
    assert db.session.scalars(select(AuditEvent)).all() == []


@pytest.mark.parametrize(("status", "action"), [
    ("pending", "approve"), ("pending", "reject"), ("pending", "request_changes"),
    ("verified", "revoke")])
@pytest.mark.parametrize("who", ["owner", "other practitioner", "nobody"])
def test_only_an_administrator_decides(app_ctx, status, action, who):
    p = factories.make_practitioner()
    cert = factories.make_certification(p, status=status)
    reviewer = cert.reviewed_by_id
    actor = {"owner": p.user, "other practitioner": factories.make_user(),
             "nobody": None}[who]
    with pytest.raises(lifecycle.IllegalTransition, match="Only an administrator"):
        lifecycle.apply(cert, action, actor, "A reason.")
    assert (cert.status, cert.reviewed_by_id) == (status, reviewer)
    db.session.commit()
    assert db.session.scalars(select(AuditEvent)).all() == []


@pytest.mark.parametrize("who", ["other practitioner", "admin", "nobody"])
def test_only_the_owner_resubmits(app_ctx, who):
    p = factories.make_practitioner()
    cert = factories.make_certification(p, status="changes_requested")
    actor = {"other practitioner": factories.make_user(), "admin": factories.make_admin(),
             "nobody": None}[who]
    with pytest.raises(lifecycle.IllegalTransition, match="Only the practitioner"):
        lifecycle.apply(cert, "resubmit", actor)
    assert cert.status == "changes_requested"


@pytest.mark.parametrize("who", ["admin", "owner"])
def test_only_the_date_expires_a_certification(app_ctx, who):
    p = factories.make_practitioner()
    cert = factories.make_certification(p, status="verified")
    actor = factories.make_admin() if who == "admin" else p.user
    with pytest.raises(lifecycle.IllegalTransition, match="expire by date only"):
        lifecycle.apply(cert, "expire", actor)
    assert cert.status == "verified"


def test_a_practitioner_cannot_post_a_decision(app, owner, client):
    cert_id = make_cert(app, owner.id)
    response = client.post(f"/admin/certifications/{cert_id}",
                           data={"action": "approve", "reason": "", "version": "1"})
    assert response.status_code == 403
    assert cert_row(app, cert_id).status == "pending"


@pytest.mark.parametrize(("status", "action"), [
    ("pending", "reject"), ("pending", "request_changes"), ("verified", "revoke")])
@pytest.mark.parametrize("reason", ["", "   \n\t "])
def test_a_reason_is_required(app_ctx, status, action, reason):
    p = factories.make_practitioner()
    cert = factories.make_certification(p, status=status)
    with pytest.raises(lifecycle.ReasonRequired, match="Give a reason"):
        lifecycle.apply(cert, action, factories.make_admin(), reason)
    assert cert.status == status
    db.session.commit()
    assert db.session.scalars(select(AuditEvent)).all() == []


@pytest.mark.parametrize("status", [s for s in CertStatus if s != "pending"])
@pytest.mark.parametrize("missing", ["reviewer", "review date", "both"])
def test_check_constraint_refuses_a_decision_without_a_reviewer(app_ctx, status, missing):
    p = factories.make_practitioner()
    admin = factories.make_admin()
    cert = Certification(practitioner=p, status=status, submitted_at=utcnow(),
                         public_code=services.new_public_code(),
                         reviewed_by=None if missing in ("reviewer", "both") else admin,
                         reviewed_at=None if missing in ("review date", "both") else utcnow())
    db.session.add(cert)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    # The same row with both recorded is accepted, and a pending one needs neither.
    db.session.add(Certification(practitioner_id=p.id, status=status, submitted_at=utcnow(),
                                 public_code=services.new_public_code(),
                                 reviewed_by_id=admin.id, reviewed_at=utcnow()))
    db.session.add(Certification(practitioner_id=p.id, status="pending", submitted_at=utcnow(),
                                 public_code=services.new_public_code()))
    db.session.commit()
    assert len(db.session.scalars(select(Certification)).all()) == 2


# =========================================================================== 2. submission


@both_stores
def test_submit_a_certification(app, client, owner):
    content = factories.pdf_bytes("Olive Owner")
    response = post_new(client, evidence=(content, "My Certificate.pdf"))
    assert response.status_code == 302
    cert = only_cert(app)
    assert response.headers["Location"] == f"/certifications/#cert-{cert.id}"
    assert "Thank you. Your certification is waiting for review; we will e-mail you when an " \
           "administrator has decided." in flashes(client.get(response.headers["Location"]))

    assert cert.status == "pending"
    assert cert.practitioner_id == owner.id
    assert cert.reviewed_by_id is None and cert.reviewed_at is None
    assert cert.submitted_at is not None
    assert (cert.level, cert.certificate_number, cert.hours, cert.in_person_hours,
            cert.supervised_sessions) == (1, "KC-2024-0042", 27.0, 27.0, 12)
    assert cert.completed_on == today() - timedelta(days=200)
    assert cert.expires_on == today() + timedelta(days=900)
    assert len(cert.public_code) >= 20

    # Stored under the app's upload folder, with a random name, and its hash on record.
    assert re.fullmatch(r"[0-9a-f]{32}", cert.evidence_stored_name)
    assert stored_files(app) == [cert.evidence_stored_name]
    assert factories.stored_bytes(app, f"evidence/{cert.evidence_stored_name}") == content
    assert cert.evidence_sha256 == hashlib.sha256(content).hexdigest()
    assert cert.evidence_mime == "application/pdf"
    assert cert.evidence_size == len(content)
    assert cert.evidence_original_name == "My Certificate.pdf"

    [event] = audit_events(app, "certification.submitted")
    assert (event.actor_id, event.subject_id, event.practitioner_id) == (
        owner.user_id, cert.id, owner.id)

    listing_page = text(client.get("/certifications/"))
    assert "Waiting for review" in listing_page
    assert "My Certificate.pdf" in listing_page


def test_two_uploads_get_different_random_names(app, client, owner):
    assert post_new(client, evidence=(factories.pdf_bytes(), "cert.pdf")).status_code == 302
    assert post_new(client, evidence=(factories.pdf_bytes(), "cert.pdf"),
                    certificate_number="KC-2").status_code == 302
    names = stored_files(app)
    assert len(names) == 2
    assert all(re.fullmatch(r"[0-9a-f]{32}", n) for n in names)


def test_submit_with_a_program_chosen_from_the_registry(app, client, owner, admin, programs):
    response = post_new(client, program=str(programs["aamt-cert-dn"]), program_name="")
    assert response.status_code == 302
    cert = only_cert(app)
    assert (cert.program_key, cert.match_outcome, cert.match_score) == (
        "aamt-cert-dn", "chosen", None)
    assert cert.submitted_name.startswith("American Academy of Manipulative Therapy")
    page = text(admin.client.get(f"/admin/certifications/{cert.id}"))
    assert "Certification in Dry Needling (Cert. DN) (chosen from the registry)" in page


@pytest.mark.parametrize(("typed", "key", "outcome", "low", "high"), [
    ("KinetaCore FDN 1", "kinetacore-fdn-1", "matched", 90, 100),
    ("Strucutre and Fucntion DN 2", "sf-dn-2", "suggested", 75, 90),
    ("Bob's Needle Academy level 1", None, "unrecognised", 0, 75),
    ("Dry needling", None, "unrecognised", 0, 0),
])
def test_typed_program_names_are_matched(app, client, owner, admin, typed, key, outcome,
                                         low, high):
    assert post_new(client, program_name=typed).status_code == 302
    cert = only_cert(app)
    assert cert.submitted_name == typed
    assert cert.program_key == key
    assert cert.match_outcome == outcome
    assert low <= cert.match_score <= high
    if outcome == "suggested":
        assert cert.match_score < 90
    if outcome == "unrecognised":
        assert cert.program_id is None
        assert cert.match_score < 75

    page = text(admin.client.get(f"/admin/certifications/{cert.id}"))
    assert f"As typed {typed}" in page
    if key:
        assert f"({outcome}, score {cert.match_score:.0f})" in page
    else:
        assert "Program not recognised" in page
        assert ("(best score" in page) == bool(cert.match_score)


# =========================================================================== 3. uploads

ELEVEN_MB = b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024)


@pytest.mark.parametrize(("content", "name", "message"), [
    (b"These are my notes, not a certificate.\n" * 20, "certificate.pdf",
     "That file is not a PDF, PNG or JPEG (we check the content, not the name)."),
    (b"<html><script>alert(1)</script></html>", "certificate.png",
     "That file is not a PDF, PNG or JPEG"),
    (b"", "certificate.pdf",
     "That file is empty. Choose the PDF, PNG or JPEG of your certificate."),
    (ELEVEN_MB, "certificate.pdf",
     "That file is larger than 10 MB. Upload a smaller scan or photo."),
], ids=["text-as-pdf", "html-as-png", "empty", "11-MB"])
def test_refused_uploads(app, client, owner, content, name, message):
    posted = cert_form(program_name="EIM TDN level one", certificate_number="EIM-77",
                       hours="30.5", in_person_hours="20")
    response = post_multipart(client, "/certifications/new",
                              {**posted, "evidence": (content, name)})
    assert response.status_code == 200
    assert message in field_error(response, "evidence")
    assert_form_keeps(response, posted)
    assert cert_count(app) == 0
    assert stored_files(app) == []


def test_a_png_named_pdf_is_stored_as_png(app, client, owner):
    response = post_new(client, evidence=(factories.PNG_BYTES, "certificate.pdf"))
    assert response.status_code == 302
    cert = only_cert(app)
    assert cert.evidence_mime == "image/png"
    assert cert.evidence_original_name == "certificate.pdf"
    download = client.get(f"/certifications/{cert.id}/evidence")
    assert download.status_code == 200
    assert download.mimetype == "image/png"
    assert download.headers["Content-Disposition"] == "attachment; filename=certificate.png"
    assert download.data == factories.PNG_BYTES


def test_a_new_certification_needs_a_file(app, client, owner):
    posted = cert_form()
    response = client.post("/certifications/new", data=posted,
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert field_error(response, "evidence") == "Attach your certificate as a PDF, PNG or JPEG."
    assert_form_keeps(response, posted)
    assert cert_count(app) == 0


# =========================================================================== 4. form messages

LONG_NAME = "Dry needling " * 770  # 10,010 characters


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"program": "", "program_name": ""}, "program_name",
     "Choose a program from the list or type its name."),
    ({"program_name": "   "}, "program_name",
     "Choose a program from the list or type its name."),
    ({"completed_on": ""}, "completed_on", "Enter the date you completed the program."),
    ({"completed_on": "31/02/2024"}, "completed_on", "Enter a date like 2024-03-31."),
    ({"completed_on": "2024-02-31"}, "completed_on", "Enter a date like 2024-03-31."),
    ({"expires_on": "next year"}, "expires_on", "Enter a date like 2024-03-31."),
    ({"completed_on": "2024-05-01", "expires_on": "2024-04-30"}, "expires_on",
     "The expiry date must be after the completion date."),
    ({"completed_on": "2024-05-01", "expires_on": "2024-05-01"}, "expires_on",
     "The expiry date must be after the completion date."),
    ({"hours": "20", "in_person_hours": "27"}, "in_person_hours",
     "In-person hours cannot be more than the total hours."),
    ({"hours": "-1"}, "hours", "Enter hours from 0 to 5000."),
    ({"in_person_hours": "-0.5"}, "in_person_hours", "Enter hours from 0 to 5000."),
    ({"hours": "5000.5"}, "hours", "Enter hours from 0 to 5000."),
    ({"hours": "twenty"}, "hours", "Enter a number of hours, like 27 or 27.5."),
    ({"hours": "NaN"}, "hours", "Enter a number of hours, like 27 or 27.5."),
    ({"hours": "Infinity"}, "hours", "Enter a number of hours, like 27 or 27.5."),
    ({"in_person_hours": "nan"}, "in_person_hours", "Enter a number of hours, like 27 or 27.5."),
    ({"hours": "sNaN", "in_person_hours": "5"}, "hours",
     "Enter a number of hours, like 27 or 27.5."),
    ({"in_person_hours": "27,5"}, "in_person_hours", "Enter a number of hours, like 27 or 27.5."),
    ({"level": "0"}, "level", "Enter a level from 1 to 9."),
    ({"level": "10"}, "level", "Enter a level from 1 to 9."),
    ({"level": "abc"}, "level", "Enter the level as a whole number."),
    ({"level": "1.5"}, "level", "Enter the level as a whole number."),
    ({"supervised_sessions": "many"}, "supervised_sessions", "Enter a whole number."),
    ({"supervised_sessions": "-3"}, "supervised_sessions",
     "Enter a whole number from 0 to 100,000."),
    ({"program_name": LONG_NAME}, "program_name",
     "At most 200 characters (this has 10,009)."),
    ({"certificate_number": "9" * 81}, "certificate_number",
     "At most 80 characters (this has 81)."),
    ({"program": "999999"}, "program", "Not a valid choice."),
    ({"completed_on": (today() + timedelta(days=3)).isoformat()}, "completed_on",
     "The completion date is in the future."),
], ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None)
def test_form_messages(app, client, owner, changes, field, message):
    posted = cert_form(**changes)
    response = client.post("/certifications/new",
                           data={**posted, "evidence": (io.BytesIO(factories.pdf_bytes()),
                                                        "cert.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert field_error(response, field) == message
    if changes.get("program") != "999999":  # a value not offered cannot be shown selected
        assert_form_keeps(response, posted)
    assert cert_count(app) == 0
    assert stored_files(app) == []
    # A browser cannot keep the chosen file: the page says plainly to attach it again.
    notice = re.search(r'<p class="notice" id="evidence-again">(.*?)</p>',
                       response.get_data(as_text=True), re.S)
    assert notice and html.unescape(re.sub(r"<[^>]+>", "", notice.group(1))) == (
        "Attach your evidence file again. Files are not kept when the form has a mistake: "
        "choose “cert.pdf” once more before you save.")


def test_no_attach_again_notice_when_no_file_was_chosen(app, client, owner):
    response = client.post("/certifications/new", data=cert_form(hours="x"),
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert 'id="evidence-again"' not in response.get_data(as_text=True)


@pytest.mark.parametrize("field", ["completed_on", "program_name", "level", "hours"])
def test_a_file_in_a_text_field_is_ignored_not_an_error(app, client, owner, field):
    posted = cert_form(**{field: (b"not text", "x.txt")})
    posted["evidence"] = (factories.pdf_bytes(), "cert.pdf")
    response = post_multipart(client, "/certifications/new", posted)
    if field in ("completed_on", "program_name"):  # required: as if left empty
        assert response.status_code == 200
        assert field_error(response, field) in ("Enter the date you completed the program.",
                                                "Choose a program from the list or type its "
                                                "name.")
        assert cert_count(app) == 0
    else:  # optional: left empty
        assert response.status_code == 302
        assert getattr(only_cert(app), field) is None


def test_a_file_in_the_decision_reason_gets_a_message_not_an_error(app, owner, admin):
    cert_id = make_cert(app, owner.id)
    response = post_multipart(admin.client, f"/admin/certifications/{cert_id}",
                              {"action": "reject", "reason": (b"x" * 10, "reason.txt"),
                               "version": "1"})
    assert response.status_code == 200
    assert field_error(response, "reason") == "Give a reason: the practitioner will see it."
    assert cert_row(app, cert_id).status == "pending"


# =========================================================================== 5. evidence download


@both_stores
def test_evidence_download_by_owner_and_admin(app, client, owner, admin):
    content = factories.pdf_bytes("download me")
    assert post_new(client, evidence=(content, 'evil"name\r\n.pdf')).status_code == 302
    cert = only_cert(app)
    url = f"/certifications/{cert.id}/evidence"

    response = client.get(url)
    assert response.status_code == 200
    assert response.data == content
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert re.fullmatch(r'attachment; filename="?[\w .-]+\.pdf"?', disposition), disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]

    response = admin.client.get(url)
    assert response.status_code == 200
    assert response.data == content
    assert response.headers["Content-Disposition"].startswith("attachment;")
    response = admin.client.get(url + "?inline=1")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


@both_stores
def test_evidence_is_private(app, client, owner, other):
    cert_id = make_cert(app, owner.id)
    url = f"/certifications/{cert_id}/evidence"
    assert other.client.get(url).status_code == 404
    assert other.client.get(url + "?inline=1").status_code == 404
    assert other.client.get("/certifications/999999/evidence").status_code == 404
    response = app.test_client().get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login")
    assert client.get(url).status_code == 200  # the owner still can


@both_stores
@pytest.mark.parametrize("damage", ["changed", "deleted", "replaced by text"])
def test_a_tampered_evidence_file_is_not_served(app, client, owner, admin, damage):
    cert_id = make_cert(app, owner.id)
    key = f"evidence/{cert_row(app, cert_id).evidence_stored_name}"
    factories.replace_stored(app, key, {"changed": factories.pdf_bytes("a forged certificate"),
                                        "deleted": None,
                                        "replaced by text": b"<script>alert(1)</script>"}[damage])
    url = f"/certifications/{cert_id}/evidence"
    assert client.get(url).status_code == 410
    assert admin.client.get(url + "?inline=1").status_code == 410


# =========================================================================== 6. admin queue


def test_queue_oldest_first_with_counts(app, admin, programs):
    base = utcnow() - timedelta(days=10)
    names = {}
    with app.app_context():
        for name, days, status in [("Carla Third", 5, "pending"), ("Anna First", 1, "pending"),
                                   ("Bert Second", 3, "pending"),
                                   ("Vera Verified", 2, "verified"),
                                   ("Rita Rejected", 4, "rejected"),
                                   ("Rolf Rejected", 6, "rejected")]:
            p = factories.make_practitioner(full_name=name)
            cert = factories.make_certification(p, status=status)
            cert.submitted_at = base + timedelta(days=days)
            names[name] = cert.id
        db.session.commit()
        db.session.remove()

    response = admin.client.get("/admin/queue")
    assert response.status_code == 200
    raw, page = response.get_data(as_text=True), text(response)
    shown = re.findall(r"(Anna First|Bert Second|Carla Third|Vera Verified|Rita Rejected|"
                       r"Rolf Rejected)", main_part(response))
    assert shown == ["Anna First", "Anna First", "Bert Second", "Bert Second",
                     "Carla Third", "Carla Third"]  # name, then the hidden "Review <name>"
    for tab, n in [("Waiting for review", 3), ("Waiting for changes", 0), ("Verified", 1),
                   ("Rejected", 2), ("Expired", 0), ("Revoked", 0)]:
        assert f"{tab} ({n})" in page, tab
    assert re.search(r'href="/admin/queue\?status=pending" aria-current="page"', raw)
    assert len(re.findall(r'aria-current="page"', raw)) == 1
    assert f'href="/admin/certifications/{names["Anna First"]}"' in raw

    response = admin.client.get("/admin/queue?status=rejected")
    assert re.search(r'href="/admin/queue\?status=rejected" aria-current="page"',
                     response.get_data(as_text=True))
    rest = main_part(response)
    assert "Rejected: 2" in rest
    assert "Rita Rejected" in rest and "Rolf Rejected" in rest
    assert rest.index("Rita Rejected") < rest.index("Rolf Rejected")
    assert "Anna First" not in rest and "Vera Verified" not in rest

    for odd in ("bogus", "", "PENDING", "verified'--"):
        response = admin.client.get("/admin/queue", query_string={"status": odd})
        assert response.status_code == 200
        rest = main_part(response)
        assert "Waiting for review: 3" in rest, odd
        assert "Anna First" in rest and "Vera Verified" not in rest


def test_queue_and_detail_are_for_admins_only(app, client, owner):
    cert_id = make_cert(app, owner.id)
    assert client.get("/admin/queue").status_code == 403
    assert client.get(f"/admin/certifications/{cert_id}").status_code == 403
    response = app.test_client().get("/admin/queue")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login")


@pytest.mark.parametrize(("content", "tag"), [
    (None, "iframe"), (factories.PNG_BYTES, "img")], ids=["pdf", "png"])
def test_detail_shows_evidence_and_every_check(app, owner, admin, programs, content, tag):
    cert_id = make_cert(app, owner.id, recognised=False, evidence=content,
                        submitted_name="Mystery course",
                        hours=10.0, in_person_hours=5.0)
    response = admin.client.get(f"/admin/certifications/{cert_id}")
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    # A PDF opens at the box's width without the viewer's thumbnail sidebar.
    fragment = "#navpanes=0&amp;view=FitH" if tag == "iframe" else ""
    assert re.search(rf'<{tag} class="evidence" src="/certifications/{cert_id}/evidence\?'
                     rf'inline=1{fragment}"', raw)
    other_tag = "img" if tag == "iframe" else "iframe"
    assert f'<{other_tag} class="evidence"' not in raw

    with app.app_context():
        expected = [(c.status, c.name) for c in
                    checks.run_checks(db.session.get(Certification, cert_id))]
        db.session.remove()
    shown = re.findall(r'<li class="check-(pass|warn|fail|none)">.*?<strong>(.*?)</strong>',
                       raw, re.S)
    assert [(s, html.unescape(n)) for s, n in shown] == expected
    assert len(expected) == 10
    assert {s for s, _ in expected} == {"pass", "warn", "fail", "none"}  # none: no issuer answer
    # Unrecognised program → fail; program hours unknown → warn; evidence → pass.
    assert ("fail", "Program recognised") in expected
    assert ("warn", "Hours cover the program level") in expected
    assert ("pass", "Evidence attached") in expected
    # No practice location yet: nothing to compare the licence's place with.
    assert ("none", "Practises where licensed") in expected


def test_detail_of_a_missing_certification_is_404(admin):
    assert admin.client.get("/admin/certifications/999999").status_code == 404


# =========================================================================== 7. automatic checks


def _check(cert: Certification, name: str) -> checks.Check:
    found = [c for c in checks.run_checks(cert) if c.name == name]
    assert len(found) == 1, name
    return found[0]


def _program(key: str) -> TrainingProgram:
    return db.session.scalar(select(TrainingProgram).where(TrainingProgram.key == key))


@pytest.fixture
def ref(app_ctx):
    """The shipped programs and rules in an app context."""
    load_reference_data()
    return app_ctx


def _cert(profession="physiotherapist", country="US", region="US-CO", program_key=None,
          **fields) -> Certification:
    p = factories.make_practitioner(profession=profession, licence_country=country,
                                    licence_region=region)
    program = _program(program_key) if program_key else None
    return factories.make_certification(p, program=program, **fields)


@pytest.mark.parametrize(("setup", "status"), [
    ({"program_key": "kinetacore-fdn-1"}, "pass"),
    ({"program_key": "kinetacore-fdn-1", "match_outcome": "matched", "match_score": 96.0},
     "pass"),
    ({"program_key": "kinetacore-fdn-1", "match_outcome": "suggested", "match_score": 81.0},
     "warn"),
    ({"submitted_name": "Bob's Needle Academy", "match_outcome": "unrecognised",
      "match_score": 40.0}, "fail"),
    ({"program_key": "kinetacore-fdn-1", "retired": True}, "warn"),
])
def test_check_program_recognised(ref, setup, status):
    setup = dict(setup)
    retired = setup.pop("retired", False)
    cert = _cert(**setup)
    if retired:
        cert.program.retired_at = utcnow()
        db.session.commit()
    assert _check(cert, "Program recognised").status == status


@pytest.mark.parametrize(("program_key", "hours", "status"), [
    ("kinetacore-fdn-1", 27.0, "pass"),    # program: 27 h
    ("kinetacore-fdn-1", 40.0, "pass"),
    ("kinetacore-fdn-1", 26.5, "fail"),
    ("kinetacore-fdn-1", None, "warn"),
    ("myopain-dn-1", 27.0, "warn"),        # the registry does not know its hours
    (None, 27.0, "warn"),                  # no program
])
def test_check_program_hours(ref, program_key, hours, status):
    cert = _cert(program_key=program_key, hours=hours, in_person_hours=None)
    assert _check(cert, "Hours cover the program level").status == status


@pytest.mark.parametrize(("profession", "region", "country", "fields", "status"), [
    # Colorado, physiotherapist: 50 hours total, 40 in person.
    ("physiotherapist", "US-CO", "US", {"hours": 50.0, "in_person_hours": 40.0}, "pass"),
    ("physiotherapist", "US-CO", "US", {"hours": 49.0, "in_person_hours": 40.0}, "fail"),
    ("physiotherapist", "US-CO", "US", {"hours": 60.0, "in_person_hours": 39.0}, "fail"),
    ("physiotherapist", "US-CO", "US", {"hours": 60.0, "in_person_hours": None}, "warn"),
    # Utah: 54 / 54 hours and 250 supervised sessions.
    ("physiotherapist", "US-UT", "US",
     {"hours": 54.0, "in_person_hours": 54.0, "supervised_sessions": 250}, "pass"),
    ("physiotherapist", "US-UT", "US",
     {"hours": 54.0, "in_person_hours": 54.0, "supervised_sessions": 249}, "fail"),
    ("physiotherapist", "US-UT", "US",
     {"hours": 54.0, "in_person_hours": 54.0, "supervised_sessions": None}, "warn"),
    # No rule on record.
    ("athletic_trainer", "US-CO", "US", {"hours": 100.0, "in_person_hours": 100.0}, "warn"),
    ("physiotherapist", None, "JP", {"hours": 100.0, "in_person_hours": 100.0}, "warn"),
])
def test_check_jurisdiction_hours(ref, profession, region, country, fields, status):
    cert = _cert(profession=profession, region=region, country=country, **fields)
    check = _check(cert, "Hours meet the jurisdiction's minimum")
    assert check.status == status, check.reason


@pytest.mark.parametrize(("profession", "region", "country", "status"), [
    ("physiotherapist", "US-CA", "US", "fail"),
    ("physiotherapist", "US-CO", "US", "pass"),
    ("physiotherapist", "US-PA", "US", "warn"),
    ("physiotherapist", None, "JP", "warn"),
    ("athletic_trainer", "US-CO", "US", "warn"),
    ("physiotherapist", None, None, "warn"),
    (None, "US-CO", "US", "warn"),
    # Wales has one rule for every profession ("*"), more specific than Great Britain's.
    ("acupuncturist", "GB-WLS", "GB", "pass"),
    ("chiropractor", "GB-WLS", "GB", "pass"),
    ("physiotherapist", "GB-WLS", "GB", "pass"),
    ("chiropractor", "GB-ENG", "GB", "warn"),  # no "*" rule for England or GB
])
def test_check_profession_permitted(ref, profession, region, country, status):
    cert = _cert(profession=profession, region=region, country=country)
    check = _check(cert, "Profession may dry-needle there")
    assert check.status == status, check.reason
    if (profession, region) == ("acupuncturist", "GB-WLS"):
        assert "Wales" in check.reason


# A day ahead of UTC is already today somewhere (field_rules.COMPLETION_GRACE).
@pytest.mark.parametrize(("days", "status"), [(2, "fail"), (1, "pass"), (0, "pass"),
                                              (-30, "pass")])
def test_check_completion_date(ref, days, status):
    cert = _cert(completed_on=today() + timedelta(days=days))
    assert _check(cert, "Completion date not in the future").status == status


@pytest.mark.parametrize(("days", "status"), [(-1, "fail"), (0, "pass"), (30, "pass"),
                                              (None, "pass")])
def test_check_not_expired(ref, days, status):
    expires = None if days is None else today() + timedelta(days=days)
    cert = _cert(completed_on=today() - timedelta(days=400), expires_on=expires)
    assert _check(cert, "Not expired").status == status


@pytest.mark.parametrize(("whose", "same_program", "status"), [
    ("another practitioner", True, "fail"),
    ("another practitioner", False, "pass"),
    ("the same practitioner", True, "pass"),
])
def test_check_certificate_number(ref, whose, same_program, status):
    cert = _cert(program_key="kinetacore-fdn-1", certificate_number="KC-12345")
    holder = cert.practitioner if whose == "the same practitioner" else \
        factories.make_practitioner()
    factories.make_certification(
        holder, program=_program("kinetacore-fdn-1" if same_program else "kinetacore-fdn-2"),
        certificate_number="kc-12345")
    check = _check(cert, "Certificate number not used by someone else")
    assert check.status == status, check.reason


def test_check_evidence(ref):
    cert = _cert()
    assert _check(cert, "Evidence attached").status == "pass"
    cert.evidence_stored_name = None
    db.session.commit()
    assert _check(cert, "Evidence attached").status == "fail"


# =========================================================================== 8. decisions


@pytest.mark.parametrize(("source", "action", "reason", "target", "expected_subject"), [
    ("pending", "approve", "", "verified", "Your certification is verified"),
    ("pending", "reject", "The name does not match your licence.", "rejected",
     "Your certification was not verified"),
    ("pending", "request_changes", "Please upload both pages.", "changes_requested",
     "Your certification needs changes"),
    ("verified", "revoke", "The provider withdrew it.", "revoked",
     "Your certification has been revoked"),
])
def test_decision_over_http(app, owner, admin, outbox, source, action, reason, target,
                            expected_subject):
    cert_id = make_cert(app, owner.id, status=source, program_key="kinetacore-fdn-1")
    version = form_values(admin.client.get(f"/admin/certifications/{cert_id}"))["version"][0]
    before = len(outbox.messages())
    response = admin.client.post(f"/admin/certifications/{cert_id}", data={
        "action": action, "reason": reason, "version": version})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/queue"
    assert f"Olive Owner: certification {lifecycle.STATUS_LABELS[target]}." in flashes(
        admin.client.get("/admin/queue"))

    cert = cert_row(app, cert_id)
    assert cert.status == target
    assert cert.reviewed_by_id == admin.id
    assert cert.reason == reason
    assert cert.version == int(version) + 1

    messages = outbox.messages()
    assert len(messages) == before + 1
    mail = outbox.last(owner.email)
    assert subject(mail) == expected_subject
    if reason:
        assert reason in body(mail)
    if target == "verified":
        assert f"/verify/{cert.public_code}" in body(mail)

    [event] = audit_events(app, f"certification.{action}")
    assert (event.actor_id, event.subject_id) == (admin.id, cert_id)
    assert event.detail["target"] == target


@pytest.mark.parametrize(("source", "action"), [
    ("pending", "reject"), ("pending", "request_changes"), ("verified", "revoke")])
def test_decision_without_a_reason_is_sent_back(app, owner, admin, outbox, source, action):
    cert_id = make_cert(app, owner.id, status=source)
    response = admin.client.post(f"/admin/certifications/{cert_id}", data={
        "action": action, "reason": "  ", "version": str(cert_row(app, cert_id).version)})
    assert response.status_code == 200
    assert field_error(response, "reason") == "Give a reason: the practitioner will see it."
    assert cert_row(app, cert_id).status == source
    assert outbox.messages() == []
    assert audit_events(app, f"certification.{action}") == []


def test_an_illegal_decision_over_http_is_refused(app, owner, admin, outbox):
    cert_id = make_cert(app, owner.id, status="rejected")
    response = admin.client.post(f"/admin/certifications/{cert_id}", data={
        "action": "approve", "reason": "", "version": str(cert_row(app, cert_id).version)})
    assert response.status_code == 200
    assert "A certification that is rejected cannot be approved." in flashes(response)
    assert cert_row(app, cert_id).status == "rejected"
    assert outbox.messages() == []


def test_approval_lists_and_revocation_unlists(app, owner, admin, programs):
    cert_id = make_cert(app, owner.id, program_key="kinetacore-fdn-1")
    assert anonymous_status(app, owner.slug) == 404
    response = admin.client.post(f"/admin/certifications/{cert_id}",
                                 data={"action": "approve", "reason": "", "version": "1"})
    assert response.status_code == 302
    response = app.test_client().get(f"/p/{owner.slug}")
    assert response.status_code == 200
    page = text(response)
    assert "Olive Owner" in page
    assert "Training verified Functional Dry Needling Level 1 (FDN 1) , KinetaCore" in page
    assert f'href="/verify/{cert_row(app, cert_id).public_code}"' in response.get_data(
        as_text=True)

    response = admin.client.post(f"/admin/certifications/{cert_id}", data={
        "action": "revoke", "reason": "Licence suspended.", "version": "2"})
    assert response.status_code == 302
    assert anonymous_status(app, owner.slug) == 404


def test_approval_does_not_list_an_unconfirmed_account(app, admin, programs):
    with app.app_context():
        user = factories.make_user("unconfirmed@example.com", confirmed=False)
        slug, pid = user.practitioner.slug, user.practitioner.id
        db.session.remove()
    cert_id = make_cert(app, pid)
    response = admin.client.post(f"/admin/certifications/{cert_id}",
                                 data={"action": "approve", "reason": "", "version": "1"})
    assert response.status_code == 302
    assert cert_row(app, cert_id).status == "verified"
    assert anonymous_status(app, slug) == 404


# =========================================================================== 9. concurrency


def test_second_admin_decision_on_a_stale_page_is_refused(app, owner, admin, outbox):
    cert_id = make_cert(app, owner.id)
    with app.app_context():
        factories.make_admin("second@example.com")
        db.session.remove()
    second = login_client(app, "second@example.com")
    url = f"/admin/certifications/{cert_id}"
    version_1 = form_values(admin.client.get(url))["version"][0]
    version_2 = form_values(second.get(url))["version"][0]
    assert version_1 == version_2

    assert admin.client.post(url, data={"action": "approve", "reason": "",
                                        "version": version_1}).status_code == 302
    response = second.post(url, data={"action": "reject", "reason": "The scan is blurred.",
                                      "version": version_2})
    assert response.status_code == 200
    assert any("another administrator" in m.lower() for m in flashes(response))
    assert form_values(response)["reason"] == ["The scan is blurred."]
    assert form_values(response)["version"] == [str(int(version_1) + 1)]
    assert "Olive Owner — verified" in text(response)
    cert = cert_row(app, cert_id)
    assert (cert.status, cert.reviewed_by_id, cert.reason) == ("verified", admin.id, "")
    assert len(outbox.messages()) == 1  # the approval only
    assert audit_events(app, "certification.reject") == []


def test_decide_with_a_stale_version_raises_conflict(app_ctx):
    p = factories.make_practitioner()
    first, second = factories.make_admin(), factories.make_admin()
    cert = factories.make_certification(p)
    loaded_version = cert.version
    with app_ctx.test_request_context():
        services.decide(cert, first, "approve", "", loaded_version)
        with pytest.raises(services.ConflictError, match="Another administrator"):
            services.decide(cert, second, "reject", "Too late.", loaded_version)
    db.session.expire_all()
    cert = db.session.get(Certification, cert.id)
    assert (cert.status, cert.reviewed_by_id) == ("verified", first.id)


def test_decide_refuses_a_row_changed_underneath(app_ctx):
    """Two processes: the version check in SQL catches what the in-memory check cannot."""
    p = factories.make_practitioner()
    first, second = factories.make_admin(), factories.make_admin()
    cert = factories.make_certification(p)
    cert_id, version = cert.id, cert.version
    db.session.commit()
    assert cert.status == "pending"  # loaded by this "process"
    with db.engine.begin() as conn:  # another process approves meanwhile
        conn.execute(Certification.__table__.update()
                     .where(Certification.__table__.c.id == cert_id)
                     .values(status="verified", reviewed_by_id=first.id, reviewed_at=utcnow(),
                             version=version + 1))
    with app_ctx.test_request_context(), \
            pytest.raises(services.ConflictError, match="Another administrator"):
        services.decide(cert, second, "reject", "Too late.", version)
    db.session.expire_all()
    cert = db.session.get(Certification, cert_id)
    assert (cert.status, cert.reviewed_by_id, cert.version) == ("verified", first.id,
                                                                version + 1)
    assert db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "certification.reject")).all() == []


# =========================================================================== 10. edits


def edit_form(client, cert_id: int, **changes) -> dict:
    """The edit form as the browser shows it, with these changes."""
    response = client.get(f"/certifications/{cert_id}/edit")
    assert response.status_code == 200
    data = {k: v[0] if v else "" for k, v in form_values(response).items()}
    data.update(changes)
    return data


def post_edit(client, cert_id: int, evidence: tuple[bytes, str] | None = None, **changes):
    data = edit_form(client, cert_id, **changes)
    if evidence:
        data["evidence"] = (io.BytesIO(evidence[0]), evidence[1])
    return client.post(f"/certifications/{cert_id}/edit", data=data,
                       content_type="multipart/form-data")


def test_editing_a_verified_certification_sends_it_back(app, client, owner, admin):
    cert_id = make_cert(app, owner.id, status="verified", admin_id=admin.id,
                        program_key="kinetacore-fdn-1")
    assert anonymous_status(app, owner.slug) == 200
    response = post_edit(client, cert_id, certificate_number="KC-NEW-1")
    assert response.status_code == 302
    assert "Saved. Your certification is waiting for review." in flashes(
        client.get(response.headers["Location"]))
    cert = cert_row(app, cert_id)
    assert (cert.status, cert.certificate_number) == ("pending", "KC-NEW-1")
    assert anonymous_status(app, owner.slug) == 404
    [event] = audit_events(app, "certification.resubmit")
    assert event.detail == {"source": "verified", "target": "pending", "reason": None}
    assert event.actor_id == owner.user_id

    response = admin.client.post(f"/admin/certifications/{cert_id}", data={
        "action": "approve", "reason": "", "version": str(cert.version)})
    assert response.status_code == 302
    assert anonymous_status(app, owner.slug) == 200


def test_editing_after_changes_requested_resubmits(app, client, owner, admin):
    cert_id = make_cert(app, owner.id, status="changes_requested", admin_id=admin.id,
                        reason="Upload the page with your name on it.")
    page = text(client.get(f"/certifications/{cert_id}/edit"))
    assert "The administrator asked: Upload the page with your name on it." in page
    response = post_edit(client, cert_id, evidence=(factories.pdf_bytes("page 2"), "p2.pdf"))
    assert response.status_code == 302
    cert = cert_row(app, cert_id)
    assert (cert.status, cert.reason) == ("pending", "")
    assert cert.evidence_original_name == "p2.pdf"
    assert [e.action for e in audit_events(app) if e.action.startswith("certification.")] == [
        "certification.resubmit", "certification.edited"]
    queue = text(admin.client.get("/admin/queue"))
    assert "Waiting for review (1)" in queue and "Waiting for changes (0)" in queue


@pytest.mark.parametrize("status", ["rejected", "revoked"])
def test_a_closed_certification_cannot_be_edited(app, client, owner, status):
    cert_id = make_cert(app, owner.id, status=status, reason="No.")
    before = cert_row(app, cert_id)
    response = client.get(f"/certifications/{cert_id}/edit")
    assert response.status_code == 302
    assert response.headers["Location"] == "/certifications/"
    message = (f"This certification is {status} and cannot be changed. Submit a new one "
               "instead.")
    assert message in flashes(client.get("/certifications/"))
    data = cert_form(certificate_number="CHANGED", version=str(before.version))
    response = client.post(f"/certifications/{cert_id}/edit", data=data,
                           content_type="multipart/form-data")
    assert response.status_code == 302
    after = cert_row(app, cert_id)
    assert (after.status, after.certificate_number, after.version) == (
        status, before.certificate_number, before.version)


def test_another_practitioners_certification_is_404(app, client, owner, other):
    cert_id = make_cert(app, owner.id)
    assert other.client.get(f"/certifications/{cert_id}/edit").status_code == 404
    response = other.client.post(f"/certifications/{cert_id}/edit",
                                 data=cert_form(certificate_number="MINE", version="1"),
                                 content_type="multipart/form-data")
    assert response.status_code == 404
    assert cert_row(app, cert_id).certificate_number != "MINE"


@both_stores
def test_new_evidence_replaces_the_old_file(app, client, owner):
    cert_id = make_cert(app, owner.id)
    old = cert_row(app, cert_id)
    assert stored_files(app) == [old.evidence_stored_name]
    response = post_edit(client, cert_id, evidence=(factories.PNG_BYTES, "photo.png"))
    assert response.status_code == 302
    new = cert_row(app, cert_id)
    assert new.evidence_stored_name != old.evidence_stored_name
    assert stored_files(app) == [new.evidence_stored_name]  # the old file is gone
    assert new.evidence_sha256 == hashlib.sha256(factories.PNG_BYTES).hexdigest()
    assert new.evidence_mime == "image/png"
    assert client.get(f"/certifications/{cert_id}/evidence").data == factories.PNG_BYTES


def test_an_edit_without_a_file_keeps_the_evidence(app, client, owner):
    cert_id = make_cert(app, owner.id)
    old = cert_row(app, cert_id)
    assert post_edit(client, cert_id, hours="60").status_code == 302
    new = cert_row(app, cert_id)
    assert (new.hours, new.evidence_stored_name) == (60.0, old.evidence_stored_name)
    assert stored_files(app) == [old.evidence_stored_name]


@both_stores
def test_a_refused_file_on_edit_keeps_the_old_one(app, client, owner):
    cert_id = make_cert(app, owner.id, status="verified")
    old = cert_row(app, cert_id)
    response = post_edit(client, cert_id, evidence=(b"not a certificate", "x.pdf"),
                         certificate_number="TYPED")
    assert response.status_code == 200
    assert "not a PDF, PNG or JPEG" in field_error(response, "evidence")
    assert form_values(response)["certificate_number"] == ["TYPED"]
    new = cert_row(app, cert_id)
    assert (new.status, new.evidence_stored_name, new.certificate_number) == (
        "verified", old.evidence_stored_name, old.certificate_number)
    assert stored_files(app) == [old.evidence_stored_name]


def test_an_edit_from_a_stale_page_is_refused(app, client, owner):
    cert_id = make_cert(app, owner.id)
    stale = edit_form(client, cert_id, certificate_number="FIRST")
    assert client.post(f"/certifications/{cert_id}/edit", data=stale,
                       content_type="multipart/form-data").status_code == 302
    response = client.post(f"/certifications/{cert_id}/edit",
                           data={**stale, "certificate_number": "SECOND"},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert any("changed since you opened the page" in m for m in flashes(response))
    assert form_values(response)["certificate_number"] == ["SECOND"]
    assert cert_row(app, cert_id).certificate_number == "FIRST"


# =========================================================================== 11. sweep


def _sweep(runner) -> str:
    result = runner.invoke(args=["credentials", "sweep"])
    assert result.exit_code == 0, result.output
    return result.output


def _mails(outbox, subject_start: str) -> list:
    return [m for m in outbox.messages() if subject(m).startswith(subject_start)]


def test_sweep_expires_a_certification_past_its_date(app, runner, owner, outbox):
    cert_id = make_cert(app, owner.id, status="verified",
                        completed_on=today() - timedelta(days=800),
                        expires_on=today() - timedelta(days=1))
    assert "Expired 1 certification(s); sent 0 reminder(s)." in _sweep(runner)
    cert = cert_row(app, cert_id)
    assert cert.status == "expired"
    assert cert.reviewed_by_id is not None  # the approval stays on record
    [event] = audit_events(app, "certification.expire")
    assert event.actor_id is None
    assert event.subject_id == cert_id
    assert event.detail == {"source": "verified", "target": "expired", "reason": None}
    [mail] = _mails(outbox, "Your certification has expired")
    assert mail["To"] == owner.email
    assert "/certifications/" in body(mail)

    assert "Expired 0 certification(s); sent 0 reminder(s)." in _sweep(runner)
    assert len(_mails(outbox, "Your certification has expired")) == 1
    assert len(audit_events(app, "certification.expire")) == 1


@pytest.mark.parametrize(("days", "column", "other_column"), [
    (20, "reminder_30_sent_at", "reminder_7_sent_at"),
    (5, "reminder_7_sent_at", None),
])
def test_sweep_sends_one_reminder(app, runner, owner, outbox, days, column, other_column):
    cert_id = make_cert(app, owner.id, status="verified",
                        expires_on=today() + timedelta(days=days))
    assert "sent 1 reminder(s)" in _sweep(runner)
    assert "sent 0 reminder(s)" in _sweep(runner)
    reminders = _mails(outbox, "Your certification expires in")
    assert len(reminders) == 1
    assert subject(reminders[0]) == f"Your certification expires in {days} days"
    assert reminders[0]["To"] == owner.email
    cert = cert_row(app, cert_id)
    assert cert.status == "verified"
    assert getattr(cert, column) is not None
    if other_column:
        assert getattr(cert, other_column) is None
    assert len(audit_events(app, "certification.reminder_sent")) == 1


def test_sweep_twice_sends_each_mail_once(app, runner, outbox, programs):
    with app.app_context():
        people = [factories.make_practitioner(f"p{i}@example.com") for i in range(4)]
        ids = [p.id for p in people]
        db.session.remove()
    expired = make_cert(app, ids[0], status="verified", completed_on=today() - timedelta(400),
                        expires_on=today() - timedelta(days=1))
    in_20 = make_cert(app, ids[1], status="verified", expires_on=today() + timedelta(days=20))
    in_5 = make_cert(app, ids[2], status="verified", expires_on=today() + timedelta(days=5))
    later = make_cert(app, ids[3], status="verified", expires_on=today() + timedelta(days=90))
    _sweep(runner)
    _sweep(runner)
    messages = outbox.messages()
    assert sorted((m["To"], subject(m)) for m in messages) == [
        ("p0@example.com", "Your certification has expired"),
        ("p1@example.com", "Your certification expires in 20 days"),
        ("p2@example.com", "Your certification expires in 5 days"),
    ]
    assert [cert_row(app, i).status for i in (expired, in_20, in_5, later)] == [
        "expired", "verified", "verified", "verified"]
    untouched = cert_row(app, later)
    assert (untouched.reminder_30_sent_at, untouched.reminder_7_sent_at) == (None, None)


def test_sweep_leaves_unexpired_certifications_alone(app, runner, owner, outbox):
    ids = [make_cert(app, owner.id, status="verified", expires_on=None),
           make_cert(app, owner.id, status="verified",
                     expires_on=today() + timedelta(days=31)),
           make_cert(app, owner.id, status="pending",
                     expires_on=today() - timedelta(days=3),
                     completed_on=today() - timedelta(days=900)),
           make_cert(app, owner.id, status="revoked", expires_on=today() + timedelta(days=5))]
    before = [cert_row(app, i) for i in ids]
    assert "Expired 0 certification(s); sent 0 reminder(s)." in _sweep(runner)
    assert [cert_row(app, i) for i in ids] == before
    assert outbox.messages() == []


def test_a_reminder_at_30_days_then_one_at_7(app_ctx, outbox):
    p = factories.make_practitioner()
    cert = factories.make_certification(p, status="verified",
                                        expires_on=today() + timedelta(days=20))
    with app_ctx.test_request_context():
        assert jobs.sweep().reminders == 1
        assert jobs.sweep(today() + timedelta(days=10)).reminders == 0  # 10 days left
        assert jobs.sweep(today() + timedelta(days=14)).reminders == 1  # 6 days left
        assert jobs.sweep(today() + timedelta(days=16)).reminders == 0
        assert jobs.sweep(today() + timedelta(days=21)).expired == 1
    subjects = [subject(m) for m in outbox.messages()]
    assert subjects == ["Your certification expires in 20 days",
                        "Your certification expires in 6 days",
                        "Your certification has expired"]
    db.session.expire_all()
    assert db.session.get(Certification, cert.id).status == "expired"


def test_listing_hides_a_passed_certification_before_the_sweep(app, owner):
    cert_id = make_cert(app, owner.id, status="verified",
                        completed_on=today() - timedelta(days=800),
                        expires_on=today() - timedelta(days=1))
    assert anonymous_status(app, owner.slug) == 404
    with app.app_context():
        p = db.session.get(Practitioner, owner.id)
        assert not listing.is_listed(p)
        assert listing.shown_certifications(p) == []
        db.session.remove()
    assert cert_row(app, cert_id).status == "verified"  # the sweep has not run yet

    with app.app_context():  # the same certification valid through today is listed
        db.session.get(Certification, cert_id).expires_on = today()
        db.session.commit()
        db.session.remove()
    assert anonymous_status(app, owner.slug) == 200


def test_a_renewed_certificate_gets_reminders_for_its_new_date(app, client, runner, owner,
                                                               admin, outbox):
    cert_id = make_cert(app, owner.id, status="verified", admin_id=admin.id,
                        expires_on=today() + timedelta(days=20))
    _sweep(runner)
    assert len(_mails(outbox, "Your certification expires in")) == 1

    # An edit that keeps the date: no second reminder for the same date.
    assert post_edit(client, cert_id, certificate_number="KC-9").status_code == 302
    assert admin.client.post(f"/admin/certifications/{cert_id}", data={
        "action": "approve", "reason": "", "version": str(cert_row(app, cert_id).version)}
    ).status_code == 302
    _sweep(runner)
    assert len(_mails(outbox, "Your certification expires in")) == 1

    # The renewed certificate's new date: its reminders are due again when it comes near.
    new_date = today() + timedelta(days=25)
    assert post_edit(client, cert_id, expires_on=new_date.isoformat()).status_code == 302
    cert = cert_row(app, cert_id)
    assert (cert.reminder_30_sent_at, cert.reminder_7_sent_at) == (None, None)
    assert admin.client.post(f"/admin/certifications/{cert_id}", data={
        "action": "approve", "reason": "", "version": str(cert.version)}).status_code == 302
    _sweep(runner)
    reminders = _mails(outbox, "Your certification expires in")
    assert [subject(m) for m in reminders] == ["Your certification expires in 20 days",
                                               "Your certification expires in 25 days"]


def test_approving_needs_a_recognised_program_which_the_admin_can_set(app, owner, admin,
                                                                      programs):
    """"Verified" means a recognised program: the admin confirms or corrects it on approval."""
    cert_id = make_cert(app, owner.id, recognised=False, submitted_name="FDN one course")
    response = admin.client.post(f"/admin/certifications/{cert_id}",
                                 data={"action": "approve", "program": "", "version": "1"})
    assert response.status_code == 200
    assert "Choose the recognised program this certificate is from" in text(response)
    assert cert_row(app, cert_id).status == "pending"

    with app.app_context():
        program_id = db.session.scalar(select(TrainingProgram.id).where(
            TrainingProgram.key == "kinetacore-fdn-1"))
    response = admin.client.post(f"/admin/certifications/{cert_id}", data={
        "action": "approve", "program": str(program_id), "version": "1"})
    assert response.status_code == 302
    row = cert_row(app, cert_id)
    assert (row.status, row.program_id, row.match_outcome) == ("verified", program_id,
                                                               "confirmed")
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.subject_id == cert_id, AuditEvent.subject_type == "certifications")))
    assert "certification.program_set" in actions and "certification.approve" in actions
