"""Plain helpers the tests share: test data made through the models (call those inside an app
context), a test client logged in through the login form, and the audit log and evidence files
read back. One helper per job: a test file imports these rather than keeping its own copy."""

from __future__ import annotations

import io
import math
from datetime import date
from itertools import count
from pathlib import Path
from types import SimpleNamespace

from directory import vocab
from directory.accounts.passwords import hash_password
from directory.credentials import lifecycle
from directory.extensions import db
from directory.models import (
    AuditEvent,
    Certification,
    PracticeLocation,
    Practitioner,
    TrainingProgram,
    User,
)
from directory.models.base import utcnow
from directory.vocab import CertStatus

PASSWORD = "correct horse battery staple"
DENVER = (39.7392, -104.9903)
_seq = count(1)


def today() -> date:
    """The app's idea of today (UTC), read each time it is needed."""
    return utcnow().date()


def make_user(email: str | None = None, *, role: str = "practitioner", confirmed: bool = True,
              active: bool = True, password: str = PASSWORD) -> User:
    """A user; a practitioner gets an empty profile."""
    n = next(_seq)
    user = User(email=email or f"user{n}@example.com", password_hash=hash_password(password),
                role=role, is_active=active, email_confirmed_at=utcnow() if confirmed else None)
    if role == "practitioner":
        user.practitioner = Practitioner(full_name=f"Practitioner {n}", slug=f"practitioner-{n}")
    db.session.add(user)
    db.session.commit()
    return user


def make_admin(email: str | None = None, **kwargs) -> User:
    """An administrator."""
    return make_user(email or f"admin{next(_seq)}@example.com", role="admin", **kwargs)


def make_issuer(email: str | None = None, organisation: str = "Test Organisation",
                **kwargs) -> User:
    """An issuer account answering for one organisation (the test program's by default)."""
    from directory.models import Issuer

    user = make_user(email or f"issuer{next(_seq)}@example.com", role="issuer", **kwargs)
    db.session.add(Issuer(user=user, organisation=organisation))
    db.session.commit()
    return user


def make_practitioner(email: str | None = None, **profile) -> Practitioner:
    """A practitioner account with profile fields set."""
    user = make_user(email)
    p = user.practitioner
    for key, value in profile.items():
        setattr(p, key, value)
    db.session.commit()
    return p


def make_location(practitioner: Practitioner, **fields) -> PracticeLocation:
    """A practice location."""
    values = {"clinic_name": "Test Clinic", "city": "Denver", "country": "US",
              "postcode": "80202", "region": "Colorado"} | fields
    # As saving a location does (profiles.services.geocode): the region's ISO 3166-2 code.
    values.setdefault("region_code", vocab.location_region(values["country"], values["region"]))
    location = PracticeLocation(practitioner=practitioner, **values)
    db.session.add(location)
    db.session.commit()
    return location


def evidence_folder(app) -> Path:
    """Where the app keeps evidence files."""
    return Path(app.config["UPLOAD_FOLDER"]) / "evidence"


def stored_files(app, area: str = "evidence") -> list[str]:
    """The names of the files of an area the app has stored (its local folder or S3)."""
    from directory import storage

    with app.app_context():
        return sorted(entry.key.removeprefix(f"{area}/")
                      for entry in storage.current().list(area))


def stored_bytes(app, key: str) -> bytes:
    """A stored file's content, by its storage key (evidence/<name>, photos/<name>)."""
    from directory import storage

    with app.app_context():
        return storage.current().get(key)


def replace_stored(app, key: str, data: bytes | None) -> None:
    """Change (or with None, delete) a stored file behind the app's back."""
    from directory import storage

    with app.app_context():
        if data is None:
            storage.current().delete(key)
        else:
            storage.current().put(key, data)


def pdf_bytes(text: str = "certificate") -> bytes:
    """A small, valid one-page PDF (pypdf reads it in strict mode) that shows the text."""
    from directory.demo import demo_certificate_pdf

    return demo_certificate_pdf("Test Person", text)


def _image_bytes(kind: str, size: tuple[int, int], **options) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 7):  # some detail, so the data is not one flat run
        draw.line([(x, 0), (size[0] - x, size[1])], fill=(x % 256, 40, 120))
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (40, 30)) -> bytes:
    """A small, valid PNG (Pillow decodes it whole)."""
    return _image_bytes("PNG", size)


def jpeg_bytes(size: tuple[int, int] = (40, 30)) -> bytes:
    """A small, valid JPEG (Pillow decodes it whole)."""
    return _image_bytes("JPEG", size, quality=85)


PNG_BYTES = png_bytes()


def make_program(key: str = "test-program", **fields) -> TrainingProgram:
    """A recognised training program."""
    values = {"organisation": "Test Organisation", "name": "Test Dry Needling Level 1",
              "level": 1, "country": "US", "hours": 27.0} | fields
    program = TrainingProgram(key=key, **values)
    db.session.add(program)
    db.session.commit()
    return program


_TEST_PROGRAM = object()


def test_program() -> TrainingProgram:
    """The recognised program certifications cite unless a test says otherwise."""
    from sqlalchemy import select

    found = db.session.scalar(select(TrainingProgram).where(TrainingProgram.key == "test-program"))
    return found or make_program("test-program")


# The decisions that bring a submitted certification to each status.
_DECISIONS: dict[CertStatus, tuple[str, ...]] = {
    CertStatus.PENDING: (), CertStatus.VERIFIED: ("approve",), CertStatus.REJECTED: ("reject",),
    CertStatus.CHANGES_REQUESTED: ("request_changes",),
    CertStatus.EXPIRED: ("approve", "expire"), CertStatus.REVOKED: ("approve", "revoke"),
}


def make_certification(practitioner: Practitioner, *, status: str = "pending",
                       program: TrainingProgram | None = _TEST_PROGRAM,  # type: ignore[assignment]
                       admin: User | None = None, evidence: bytes | None = None,
                       reason: str = "", **fields) -> Certification:
    """A certification with a stored evidence file; decided ones name the admin who decided.

    It cites a recognised test program unless `program` is given (None: not recognised).
    """
    from directory.credentials import evidence as evidence_store
    from directory.credentials.services import new_public_code

    if program is _TEST_PROGRAM:
        program = test_program()

    stored = evidence_store.store(io.BytesIO(evidence or pdf_bytes()), "certificate.pdf")
    now = utcnow()
    values = {"submitted_name": program.name if program else "Test Dry Needling Level 1",
              "match_outcome": "chosen" if program else None,
              "completed_on": date(2024, 1, 15), "hours": 54.0, "in_person_hours": 54.0,
              "certificate_number": f"CN-{next(_seq)}"} | fields
    cert = Certification(
        practitioner=practitioner, program=program, status=CertStatus.PENDING, submitted_at=now,
        public_code=new_public_code(), evidence_stored_name=stored.stored_name,
        evidence_sha256=stored.sha256, evidence_mime=stored.mime, evidence_size=stored.size,
        evidence_original_name=stored.original_name, **values)
    # Decided through the state machine's own definitions of each decision.
    admin = admin or make_admin() if status != CertStatus.PENDING else None
    for action in _DECISIONS[CertStatus(status)]:
        transition = lifecycle.TRANSITIONS[f"{action}:{cert.status}"]
        for name, value in lifecycle.changes(transition, admin, reason, now).items():
            setattr(cert, name, value)
    db.session.add(cert)
    db.session.commit()
    return cert


def verify_licence(practitioner: Practitioner, *, admin: User | None = None,
                   checked_on: date | None = None) -> Practitioner:
    """The practitioner's licence verified by an administrator on the official register,
    through the service the admin's licence review uses."""
    from directory.licences import services as licences
    from directory.vocab import LicenceMethod

    if not practitioner.licence_number:
        practitioner.licence_number = f"LIC-{practitioner.id}"
    licences.record_check(practitioner, verified=True, method=LicenceMethod.REGISTER,
                          source="Test register (https://register.example/)",
                          actor=admin or make_admin(), checked_on=checked_on)
    return practitioner


def make_listed_practitioner(email: str | None = None, **profile) -> Practitioner:
    """A practitioner with a verified licence, a verified certification and a confirmed,
    active account."""
    p = make_practitioner(email, **{"attested_at": utcnow()} | profile)  # confirmed: in search
    verify_licence(p)
    make_certification(p, status="verified")
    return p


def offset(lat: float, lng: float, km_north: float = 0.0, km_east: float = 0.0):
    """A point the given distances north and east of (lat, lng)."""
    return (lat + km_north / 111.195,
            lng + km_east / (111.195 * math.cos(math.radians(lat))))


def listed_at(lat, lng, name="Practitioner", *, profession="physiotherapist", tags=None,
              accessible=False, accepting=True, listed=True, **extra):
    """A practitioner (listed unless told otherwise) with one location at (lat, lng)."""
    if listed:
        p = make_listed_practitioner(full_name=name, profession=profession,
                                     accepting_new_patients=accepting, **extra)
    else:
        p = make_practitioner(full_name=name, profession=profession, **extra)
    for kind, codes in (tags or {}).items():
        p.set_codes(kind, codes)
    make_location(p, lat=lat, lng=lng, geo_precision="postcode",
                  wheelchair_accessible=accessible, clinic_name=f"{name} Clinic")
    db.session.commit()
    return p


def login(client, email: str, password: str = PASSWORD, *, remember: bool = False,
          form: dict | None = None, **post):
    """Send the login form from this test client (a browser); the response. `form` adds fields
    (next...), `post` goes to client.post (environ_base, headers...)."""
    data = {"email": email, "password": password} | ({"remember": "y"} if remember else {})
    return client.post("/account/login", data=data | (form or {}), **post)


def login_client(app, email: str, password: str = PASSWORD, *, remember: bool = False):
    """A new browser, logged in as this account through the login form."""
    client = app.test_client()
    response = login(client, email, password, remember=remember)
    assert response.status_code == 302, f"{email} could not log in"
    return client


def audit_events(app, action: str | None = None) -> list[SimpleNamespace]:
    """The audit log (only one action's events when given), oldest first, as plain values."""
    from sqlalchemy import select

    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        events = [SimpleNamespace(action=e.action, actor_id=e.actor_id,
                                  subject_type=e.subject_type, subject_id=e.subject_id,
                                  practitioner_id=e.practitioner_id, detail=e.detail)
                  for e in db.session.scalars(query)]
        db.session.remove()
    return events


def reference_data_state() -> tuple[int, int, int]:
    """(programs in the registry, programs the shipped data has, times the reference data was
    loaded), read in the current app context: a database seeded once has (n, n, 1)."""
    from sqlalchemy import func, select

    from directory.credentials.matching import load_programs

    programs = db.session.scalar(select(func.count()).select_from(TrainingProgram))
    loads = db.session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "reference.loaded"))
    return programs, len(load_programs()), loads
