"""Demo data: practitioners near the large cities of the six countries we serve, and an admin.

Every demo profile is flagged is_demo and shown with a "Demo data" badge.
"""

from __future__ import annotations

import io
import random
import secrets
from datetime import date, time, timedelta
from pathlib import Path

from sqlalchemy import func, select

from directory import geo, practice, vocab
from directory.accounts.passwords import hash_password
from directory.accounts.services import create_admin, unique_slug
from directory.credentials import evidence, lifecycle
from directory.credentials.reference import load_reference_data
from directory.credentials.services import new_public_code
from directory.extensions import db
from directory.hours import time_zone_at
from directory.licences import services as licence_services
from directory.models import (
    Certification,
    Licence,
    OpeningHours,
    PracticeLocation,
    Practitioner,
    TrainingProgram,
    User,
    record,
)
from directory.models.base import utcnow
from directory.vocab import (
    CertStatus,
    GeoPrecision,
    LicenceMethod,
    LicenceStatus,
    Permitted,
    TagKind,
)

DEMO_ADMIN_EMAIL = "demo-admin@example.com"

# Demo practitioners go to every place of at least this population (from the embedded GeoNames
# gazetteer), so a search near any large city of the six countries finds some.
MIN_POPULATION = {"US": 150_000, "AU": 50_000, "GB": 100_000, "CA": 80_000, "NZ": 40_000,
                  "IE": 30_000}
SEPARATE_KM = 8.0  # a suburb this close to a city already served shares its practitioners


def demo_places() -> list[tuple[str, str, str, str, float, float, int]]:
    """(city, region, postcode, country, lat, lng, practitioners) for the demo."""
    chosen: list[geo.PlaceRow] = []
    for row in geo.gazetteer().largest_places(min(MIN_POPULATION.values())):
        if row.country not in MIN_POPULATION or row.population < MIN_POPULATION[row.country]:
            continue
        if any(geo.haversine_km(row.lat, row.lng, c.lat, c.lng) < SEPARATE_KM for c in chosen):
            continue
        chosen.append(row)
    return [(row.name, row.region, row.code, row.country, row.lat, row.lng,
             1 + (row.population >= 1_000_000) + (row.population >= 3_000_000))
            for row in chosen]


FIRST = ["Alex", "Sam", "Jordan", "Priya", "Mei", "Liam", "Aroha", "Siobhan", "Mateo", "Amara",
         "Noah", "Chloe", "Hiroshi", "Fatima", "Ethan", "Isla", "Ravi", "Grace", "Tomás", "Zoe"]
LAST = ["Nguyen", "Smith", "O'Brien", "Patel", "García", "Walker", "Ngata", "Murphy", "Chen",
        "Okafor", "Taylor", "Martin", "Kowalski", "Haddad", "Brown", "Singh", "Tremblay", "Wilson"]
CLINICS = ["Move Well", "Active Recovery", "Peak Motion", "Harbour", "Northside", "City Sports",
           "Riverside", "Elm Street", "Summit", "Core"]

# The professions of demo practitioners in each country, with weights near a real directory's
# share of dry-needling practitioners there. A profession whose rule forbids dry needling where
# the practice is (credentials.rules) is never drawn there.
PROFESSION_WEIGHTS = {
    "US": {"physiotherapist": 70, "chiropractor": 14, "medical_doctor": 8,
           "athletic_trainer": 5, "acupuncturist": 3},
    "AU": {"physiotherapist": 55, "myotherapist": 30, "chiropractor": 10, "medical_doctor": 5},
    "GB": {"physiotherapist": 86, "medical_doctor": 8, "chiropractor": 6},
    "CA": {"physiotherapist": 82, "chiropractor": 8, "medical_doctor": 5, "acupuncturist": 5},
    "NZ": {"physiotherapist": 90, "medical_doctor": 10},
    "IE": {"physiotherapist": 92, "medical_doctor": 8},
}
POST_NOMINALS = {"chiropractor": "DC", "myotherapist": "BHSc (Myotherapy)",
                 "athletic_trainer": "ATC", "acupuncturist": "LAc", "occupational_therapist": "OT"}
PHYSIO_POST_NOMINALS = {"US": "PT, DPT", "CA": "PT", "GB": "MCSP", "IE": "MISCP",
                        "AU": "APAM", "NZ": "MNZSP"}
CLINIC_KINDS = {"physiotherapist": "Physio & Sports Clinic", "chiropractor": "Chiropractic",
                "medical_doctor": "Medical & Pain Clinic", "myotherapist": "Myotherapy",
                "athletic_trainer": "Sports Performance", "acupuncturist": "Acupuncture"}


def demo_profession(rng: random.Random, region: str | None, country: str) -> str:
    """A profession drawn by the country's weights, among those its rules do not forbid."""
    from directory.credentials.rules import rule_for

    weights = {profession: weight for profession, weight in PROFESSION_WEIGHTS[country].items()
               if (rule := rule_for(region, country, profession)) is None
               or rule.permitted != Permitted.NO}
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def post_nominals(profession: str, country: str) -> str:
    """Letters a demo practitioner of this profession would use there."""
    if profession == "physiotherapist":
        return PHYSIO_POST_NOMINALS[country]
    if profession == "medical_doctor":
        return "MD" if country in ("US", "CA") else "MBBS"
    return POST_NOMINALS.get(profession, "")


def admin_login(instance_path: str) -> tuple[str | None, str | None]:
    """The demo admin's e-mail and password, as written to instance/demo-admin.txt."""
    path = Path(instance_path) / "demo-admin.txt"
    if not path.exists():
        return None, None
    email, _, password = path.read_text().strip().partition(" ")
    return email, password


def seed(instance_path: str | None = None) -> int:
    """Create the demo admin and practitioners when there are no accounts yet; return how many."""
    from flask import current_app

    if db.session.scalar(select(func.count()).select_from(User)):
        return 0
    password = secrets.token_urlsafe(12)
    admin = create_admin(DEMO_ADMIN_EMAIL, password)
    load_reference_data()
    programs = {p.key: p for p in db.session.scalars(select(TrainingProgram))}
    path = Path(instance_path or current_app.instance_path) / "demo-admin.txt"
    path.write_text(f"{DEMO_ADMIN_EMAIL} {password}\n")
    path.chmod(0o600)

    rng = random.Random(2026)  # noqa: S311 — reproducible demo names, not security
    unusable = hash_password(secrets.token_urlsafe(32))  # demo accounts cannot log in
    count = 0
    made = []
    for city, region, postcode, country, lat, lng, n in demo_places():
        for _ in range(n):
            count += 1
            p = _demo_practitioner(rng, count, unusable, city, region, postcode, country, lat,
                                   lng)
            made.append(p)
            _verified_certification(rng, p, admin, programs, count)
    # A few second certifications wait in the queue, so the admin has something to review.
    for p, (typed, hours) in zip(made[::12], PENDING_SUBMISSIONS, strict=False):
        _pending_certification(rng, p, typed, hours)
    record("demo.seeded", None, practitioners=count)
    db.session.commit()
    return count


# Typed program names (as practitioners write them) and hours, for the demo queue.
PENDING_SUBMISSIONS = [
    ("KinetaCore FDN lvl 2", 27), ("Myopain Seminars DN-2", 27), ("AAMT DN-2", 27),
    ("Kinetacor Funtional Dry Neeedling Level 1", 20), ("Dry needling course", 16),
    ("Integrative Dry Needling Advanced", 27), ("Gunn IMS", 60),
]


def _program_for(p: Practitioner, n: int) -> tuple[str, float]:
    """A recognised program that fits the demo practitioner's country, and their hours."""
    country, region = p.licence_country, p.licence_region
    if country == "US":
        return ("aamt-cert-dn", 54) if n % 2 else ("kinetacore-fdn-2", 54)
    if country == "AU":
        return ("rmit-vu23639", 100) if p.profession == "myotherapist" else (
            "unimelb-phty90053", 36)
    if country == "GB":
        return "aacp-accredited-membership", 300
    if country == "CA":
        if region == "CA-QC":
            return "oppq-qc-attestation", 102
        if region == "CA-NS":
            return "acupuncture-canada-full-sequence", 120
        return "gunn-ims", 80
    return "kinetacore-fdn-1", 27  # NZ and IE: KinetaCore teaches internationally


def _new_cert(p: Practitioner, program: TrainingProgram | None, typed: str, hours: float,
              n: int, completed: date) -> Certification:
    stored = evidence.store(io.BytesIO(demo_certificate_pdf(p.full_name, typed)),
                            "demo-certificate.pdf")
    cert = Certification(
        practitioner=p, program=program, submitted_name=typed,
        match_outcome="chosen" if program else None, certificate_number=f"DEMO-{n:05d}",
        completed_on=completed, hours=hours, in_person_hours=hours,
        status=CertStatus.PENDING, submitted_at=utcnow() - timedelta(days=n % 9 + 1),
        public_code=new_public_code(), evidence_stored_name=stored.stored_name,
        evidence_sha256=stored.sha256, evidence_mime=stored.mime, evidence_size=stored.size,
        evidence_original_name=stored.original_name,
    )
    db.session.add(cert)
    return cert


def _verified_certification(rng: random.Random, p: Practitioner, admin: User,
                            programs: dict[str, TrainingProgram], n: int) -> Certification:
    key, hours = _program_for(p, n)
    program = programs[key]
    today = utcnow().date()
    completed = today - timedelta(days=rng.randint(120, 2000))
    cert = _new_cert(p, program, f"{program.organisation}: {program.name}", hours, n, completed)
    # Most never expire; some expire in a year or two; a few soon, to show the reminders.
    if n % 3 == 0:
        cert.expires_on = today + timedelta(days=rng.randint(365, 900))
    elif n % 17 == 0:
        cert.expires_on = today + timedelta(days=rng.randint(8, 25))
    db.session.flush()
    lifecycle.apply(cert, "approve", admin)
    db.session.flush()
    return cert


def _pending_certification(rng: random.Random, p: Practitioner, typed: str, hours: float
                           ) -> Certification:
    from directory.credentials.services import match_program

    program, score, outcome = match_program(typed)
    cert = _new_cert(p, program, typed, hours, 90000 + p.id, utcnow().date() -
                     timedelta(days=rng.randint(10, 60)))
    cert.match_score, cert.match_outcome = score, outcome
    db.session.flush()
    record("certification.submitted", cert, actor=p.user, match=outcome, score=score)
    return cert


def demo_certificate_pdf(name: str, program: str) -> bytes:
    """A one-page PDF that says it is a demo certificate (valid PDF, made without a library)."""
    def esc(text: str) -> str:
        text = text.encode("latin-1", "replace").decode("latin-1")
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    lines = ["DEMO CERTIFICATE - NOT A REAL CREDENTIAL", f"Awarded to {name}", program]
    text = "BT /F1 14 Tf 60 760 Td 18 TL " + " ".join(f"({esc(t)}) '" for t in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(text)} >>\nstream\n{text}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return out


def _demo_practitioner(rng: random.Random, n: int, password_hash: str, city: str, region: str,
                       postcode: str, country: str, lat: float, lng: float) -> Practitioner:
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    profession = demo_profession(rng, region or None, country)
    user = User(email=f"demo{n}@example.com", password_hash=password_hash,
                email_confirmed_at=utcnow())
    p = Practitioner(
        user=user, slug=unique_slug(name), full_name=name, is_demo=True,
        post_nominals=post_nominals(profession, country), profession=profession,
        licence_number=f"DEMO-{n:04d}", licence_country=country, licence_region=region,
        bio=(f"{name} is a demo {vocab.PROFESSIONS[profession].lower()} in {city}.\n"
             "This profile is demo data for trying the directory; it is not a real practitioner."),
        phone="+1 555 0100" if country in ("US", "CA") else "",
        website="https://example.com/", accepting_new_patients=rng.random() < 0.8,
        insurance_notes="Demo data: no real insurance details.", attested_at=utcnow(),
    )
    # A demo licence "check", marked as such: nothing was looked up on a register.
    checked_on = utcnow().date() - timedelta(days=rng.randint(0, 300))
    p.licence = Licence(
        status=LicenceStatus.VERIFIED, method=LicenceMethod.DEMO,
        source="Demo data: no register was checked", checked_number=p.licence_number,
        checked_jurisdiction=region or country, verified_on=checked_on,
        next_due=licence_services.next_due_for(checked_on, None))
    p.set_codes(TagKind.TECHNIQUE, rng.sample(sorted(vocab.TECHNIQUES), 3))
    p.set_codes(TagKind.CONDITION, rng.sample(sorted(vocab.CONDITIONS), 5))
    p.set_codes(TagKind.LANGUAGE,
                ["en"] + rng.sample(["es", "fr", "zh", "hi", "mi", "ga", "ar"], 1))
    _demo_fees_and_insurers(p, random.Random(f"fees-{n}"), country)  # noqa: S311 — demo data
    # Spread practitioners over the city (about ±6 km), not all on one point.
    p.locations.append(PracticeLocation(
        clinic_name=f"{rng.choice(CLINICS)} {CLINIC_KINDS[profession]} ({city})",
        street=f"{rng.randint(1, 400)} Demo Street", city=city,
        region=vocab.region_name(region), region_code=region or None, postcode=postcode,
        country=country,
        lat=round(lat + rng.uniform(-0.05, 0.05), 5), lng=round(lng + rng.uniform(-0.07, 0.07), 5),
        geo_precision=GeoPrecision.POSTCODE, wheelchair_accessible=rng.random() < 0.6,
    ))
    _demo_hours(p.locations[-1], n)
    db.session.add(p)
    db.session.flush()
    return p


# A typical first-visit fee per country, in whole units of its currency (the follow-up is
# about four fifths of it): round figures near what clinics there charge.
DEMO_FIRST_VISIT = {"US": 120, "AU": 110, "GB": 65, "CA": 110, "NZ": 95, "IE": 70}


def _demo_fees_and_insurers(p: Practitioner, rng: random.Random, country: str) -> None:
    """Fees in the country's currency and a few of its insurers, from a generator of the
    practitioner's own (so the rest of the demo data does not move)."""
    typical = DEMO_FIRST_VISIT.get(country)
    if typical is None:
        return
    first = typical + 5 * rng.randint(-3, 4)
    p.fee_first_visit, p.fee_follow_up = first * 100, round(first * 0.8 / 5) * 500
    p.fee_currency = practice.currency_for(country)
    names = sorted(vocab.INSURERS.get(country, {}))
    p.set_codes(TagKind.INSURANCE, rng.sample(names, min(len(names), rng.randint(2, 4))))


def _week(days: range | tuple[int, ...], *ranges: str) -> list[tuple[int, str, str]]:
    """(weekday, opens, closes) for each day and each "HH:MM-HH:MM" range."""
    pairs = [r.split("-") for r in ranges]
    return [(day, opens, closes) for day in days for opens, closes in pairs]


# Demo opening weeks (weekday 0 is Monday), taken in turn: by appointment or not, and hours.
DEMO_WEEKS: list[tuple[bool, list[tuple[int, str, str]]]] = [
    (False, _week(range(5), "08:00-12:30", "13:30-18:00")),  # a lunch break
    (False, _week(range(5), "09:00-17:00") + _week((5,), "09:00-13:00")),  # Saturdays
    (False, _week((0, 2, 4), "07:30-15:30") + _week((1, 3), "11:00-19:00")),  # late days
    (True, _week((1, 3), "10:00-16:00")),  # by appointment, on set days
    (False, _week(range(6), "08:30-17:30")),
    (True, []),  # by appointment only
]


def _demo_hours(location: PracticeLocation, n: int) -> None:
    """Hours from DEMO_WEEKS in turn, and the time zone of the location's point."""
    location.by_appointment, week = DEMO_WEEKS[n % len(DEMO_WEEKS)]
    location.hours = [OpeningHours(weekday=day, opens=time.fromisoformat(opens),
                                   closes=time.fromisoformat(closes))
                      for day, opens, closes in week]
    location.time_zone = time_zone_at(location.lat, location.lng)
