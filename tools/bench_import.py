"""Time the practitioner CSV import: a dry run, then the real all-or-nothing import.

Generates a realistic file (default 100,000 rows): names, professions and licences, languages,
techniques and conditions, one practice location at a real postcode (or town, or with lat/lng)
of the six countries from the embedded gazetteer, and one certification citing a recognised
program by its key or by its name as written on certificates. The database is a new SQLite
file by default (schema by the migrations, reference data loaded), or --database-url (an
existing database is upgraded; the rows use fresh e-mail addresses so it need not be empty).

    python tools/bench_import.py                      # 100,000 rows on SQLite
    python tools/bench_import.py --rows 10000
    python tools/bench_import.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
    python tools/bench_import.py --csv /tmp/p.csv     # keep the generated file
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import random
import secrets
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from directory import create_app, vocab  # noqa: E402
from directory.accounts.passwords import hash_password  # noqa: E402
from directory.bulk import importer  # noqa: E402
from directory.bulk.columns import NAMES  # noqa: E402
from directory.extensions import db  # noqa: E402
from directory.listing import listed_clause  # noqa: E402
from directory.models import Practitioner, User  # noqa: E402
from directory.models.base import utcnow  # noqa: E402

GAZETTEER = ROOT / "directory" / "data" / "gazetteer.csv.gz"
FIRST = ["Alex", "Sam", "Jordan", "Priya", "Mei", "Liam", "Aroha", "Siobhan", "Mateo", "Amara",
         "Noah", "Chloe", "Hiroshi", "Fatima", "Ethan", "Isla", "Ravi", "Grace", "Tomás", "Zoë",
         "Olivia", "Lucas", "Ana", "Kwame", "Sofia", "Jack", "Leilani", "Omar", "Nina", "Ben"]
LAST = ["Nguyen", "Smith", "O'Brien", "Patel", "García", "Walker", "Ngata", "Murphy", "Chen",
        "Okafor", "Taylor", "Martin", "Kowalski", "Haddad", "Brown", "Singh", "Tremblay",
        "Wilson", "Müller", "Rossi", "Kim", "Dubois", "Jones", "Lee", "Cohen", "Fraser"]
CLINICS = ["Move Well", "Active Recovery", "Peak Motion", "Harbour", "Northside", "City Sports",
           "Riverside", "Elm Street", "Summit", "Core"]
# Program keys by country, and names as written on certificates (matched to one program).
PROGRAMS = {"US": ["aamt-cert-dn", "kinetacore-fdn-1", "kinetacore-fdn-2", "myopain-dn-1",
                   "eim-tdn-1", "idn-foundation"],
            "AU": ["unimelb-phty90053", "rmit-vu23639"], "GB": ["aacp-accredited-membership"],
            "CA": ["gunn-ims", "acupuncture-canada-full-sequence"],
            "NZ": ["kinetacore-fdn-1"], "IE": ["kinetacore-fdn-1"]}
TYPED = ["KinetaCore Functional Dry Needling Level 1", "KinetaCore FDN 2",
         "Gunn Intramuscular Stimulation"]
LANGUAGES = ["English", "Spanish", "French", "Mandarin", "Hindi", "Arabic", "Vietnamese", "de",
             "it", "mi"]


def postcodes() -> list[tuple[str, str, str, str, float, float]]:
    """(country, postcode, town, region code, lat, lng) of every postcode in the gazetteer."""
    with gzip.open(GAZETTEER, "rt", encoding="utf-8") as fh:
        return [(r["country"], r["code"], r["name"], r["region"], float(r["lat"]),
                 float(r["lng"]))
                for r in csv.DictReader(fh) if r["kind"] == "postcode" and r["name"]]


def generate(rows: int, seed: int = 11) -> bytes:
    """A CSV file of `rows` correct practitioners in the import format."""
    rng = random.Random(seed)  # noqa: S311 — reproducible test data, not security
    places = postcodes()
    run = secrets.token_hex(3)  # fresh addresses on every run, so a database can be reused
    today = date.today()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=NAMES, lineterminator="\r\n")
    writer.writeheader()
    for n in range(1, rows + 1):
        country, postcode, town, region, lat, lng = rng.choice(places)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        completed = today - timedelta(days=rng.randint(30, 3000))
        how = rng.random()
        row = {
            "email": f"p{n}.{run}@example.com", "full_name": name,
            "profession": rng.choice(["physiotherapist"] * 6 + ["chiropractor",
                                                                 "medical_doctor"]),
            "post_nominals": rng.choice(["DPT", "MCSP", "BPhty", ""]),
            "licence_number": f"L-{n:07d}", "licence_country": country,
            "licence_region": region if rng.random() < 0.7 else "",
            "bio": f"{name} treats sports injuries and chronic pain in {town}.",
            "phone": f"+1 555 {n % 10000:04d}" if rng.random() < 0.6 else "",
            "public_email": "", "website": "example.com" if rng.random() < 0.3 else "",
            "booking_url": "", "languages": "; ".join(rng.sample(LANGUAGES, rng.randint(1, 3))),
            "techniques": "; ".join(rng.sample(sorted(vocab.TECHNIQUES), 3)),
            "conditions": "; ".join(rng.sample(sorted(vocab.CONDITIONS), 4)),
            "accepting_new_patients": rng.choice(["yes", "yes", "no"]),
            "insurance_notes": "", "clinic_name": f"{rng.choice(CLINICS)} Physio ({town})",
            "street": f"{rng.randint(1, 999)} Main Street", "city": town,
            "region": region.split("-", 1)[-1], "postcode": postcode if how < 0.9 else "",
            "country": country, "wheelchair_accessible": rng.choice(["yes", "no"]),
            "lat": f"{lat + rng.uniform(-0.02, 0.02):.5f}" if how >= 0.95 else "",
            "lng": f"{lng + rng.uniform(-0.02, 0.02):.5f}" if how >= 0.95 else "",
            "program": rng.choice(TYPED) if rng.random() < 0.1 else rng.choice(PROGRAMS[country]),
            "level": "", "certificate_number": f"C-{n:07d}",
            "completed_on": completed.isoformat(),
            "expires_on": (today + timedelta(days=rng.randint(30, 1500))).isoformat()
            if rng.random() < 0.3 else "",
            "hours": str(rng.choice([27, 54, 60, 100])), "in_person_hours": "27",
            "supervised_sessions": "",
        }
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


def main() -> None:
    """Generate, then time the dry run and the import; check every row ended up listed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", help="default: a new SQLite file in a temp folder")
    parser.add_argument("--csv", type=Path, help="also write the generated file here")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ["DIRECTORY_INSTANCE_PATH"] = str(folder)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "UPLOAD_FOLDER": str(folder / "uploads"), "AUTO_UPGRADE": True,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    started = time.perf_counter()
    data = generate(args.rows)
    print(f"generated {args.rows:,} rows ({len(data) / 1e6:.1f} MB) in "
          f"{time.perf_counter() - started:.1f} s")
    if args.csv:
        args.csv.write_bytes(data)
    with app.app_context():
        admin = User(email=f"bench-admin-{secrets.token_hex(3)}@example.com",
                     password_hash=hash_password(secrets.token_urlsafe(16)), role="admin",
                     email_confirmed_at=utcnow())
        db.session.add(admin)
        db.session.commit()
        listed_before = db.session.scalar(
            select(func.count()).select_from(Practitioner).where(listed_clause()))

        started = time.perf_counter()
        report = importer.dry_run(data)
        dry = time.perf_counter() - started
        if not report.ok:
            sys.exit("\n".join([report.file_error or ""] + [
                importer.format_error(e) for e in report.errors[:20]]))
        print(f"dry run: {dry:.1f} s ({args.rows / dry:,.0f} rows/s), "
              f"{len(report.warnings)} warnings")

        started = time.perf_counter()
        report = importer.import_practitioners(data, admin, file_name="bench.csv")
        real = time.perf_counter() - started
        if not (report.ok and report.created == args.rows):
            sys.exit(f"import failed: {report.file_error or report.errors[:5]}")
        listed = db.session.scalar(
            select(func.count()).select_from(Practitioner).where(listed_clause()))
        print(f"import:  {real:.1f} s ({args.rows / real:,.0f} rows/s), "
              f"{listed - listed_before:,} newly listed")
        print(f"database: {db.engine.dialect.name}; target: under 120 s for 100,000 rows")


if __name__ == "__main__":
    main()
