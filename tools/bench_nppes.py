"""Benchmark `flask --app wsgi licences load-nppes` on a generated NPPES file of the real size.

    .venv/bin/python tools/bench_nppes.py                 # 9,000,000 rows, SQLite, then deleted
    .venv/bin/python tools/bench_nppes.py --rows 200000 --keep
    .venv/bin/python tools/bench_nppes.py --file /tmp/npidata_pfile_....csv \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_nppes

The file has the real 330 columns (directory.licences.nppes.NPPES_COLUMNS), every field quoted
as CMS writes it, and rows shaped like the real file's: organisations (entity type 2) with their
addresses and authorised official, individuals with one to three taxonomies, licences, other
identifiers and two addresses, and deactivated NPIs carrying only their NPI and date. The shares
follow the real file roughly: about 21% organisations, 3% deactivated NPIs, and of the rest the
individuals the directory serves (physicians 20..., physical and occupational therapists,
chiropractors, athletic trainers, acupuncturists: about 22% of all rows, physicians the most)
beside the many it does not (nurses, nurse practitioners, dentists, students...). Zip codes and
phone numbers starting "20" (Washington DC) are there too, as the loader's shortcut must not be
fooled by them.

The load is timed as a child process running the real command against a fresh database (a
SQLite file in a temporary folder unless --database-url names a database of your own, which is
emptied); its peak memory is the child's maximum resident set (os.wait4). Some practitioners
whose NPI is in the file are created first (--practitioners), so the check pass after the load
has work to do. The free disk space is checked before the file is written.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stdnum import luhn  # noqa: E402

from directory.licences.nppes import NPPES_COLUMNS  # noqa: E402

WIDTH = len(NPPES_COLUMNS)
AT = {name: i for i, name in enumerate(NPPES_COLUMNS)}
FILE_DATE = date(2026, 11, 9)

SERVED = [  # (share of all rows, taxonomy codes, licence prefix, credential)
    (0.165, ["207Q00000X", "207R00000X", "208100000X", "2081P2900X", "207X00000X",
             "207P00000X", "208000000X", "207L00000X", "2084N0400X", "204D00000X"], "MD", "MD"),
    (0.030, ["225100000X", "2251X0800X", "2251S0007X", "2251G0304X"], "PT", "PT, DPT"),
    (0.011, ["111N00000X", "111NS0005X", "111NX0800X"], "DC", "DC"),
    (0.014, ["225X00000X", "225XH1200X", "225XP0200X"], "OT", "OTR/L"),
    (0.003, ["2255A2300X"], "AT", "ATC"),
    (0.004, ["171100000X"], "AC", "LAC"),
]
OTHER_INDIVIDUAL = ["163W00000X", "363L00000X", "363LF0000X", "363A00000X", "122300000X",
                    "1041C0700X", "390200000X", "225200000X", "224Z00000X", "183500000X",
                    "225700000X", "152W00000X", "101YM0800X", "106H00000X", "367500000X"]
ORGANISATION = ["261QP2000X", "332B00000X", "282N00000X", "251E00000X", "3336C0003X",
                "261QM1300X", "193200000X", "174400000X"]
ORG_SHARE, DEACTIVATED_SHARE = 0.21, 0.03

LAST = ["SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS",
        "RODRIGUEZ", "MARTINEZ", "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON",
        "THOMAS", "TAYLOR", "MOORE", "JACKSON", "MARTIN", "LEE", "PEREZ", "THOMPSON", "WHITE",
        "NGUYEN", "O'BRIEN", "VAN DER BERG", "SMITH-JONES", "KIM", "PATEL"]
FIRST = ["JAMES", "MARY", "ROBERT", "PATRICIA", "JOHN", "JENNIFER", "MICHAEL", "LINDA",
         "DAVID", "ELIZABETH", "WILLIAM", "BARBARA", "RICHARD", "SUSAN", "JOSEPH", "JESSICA",
         "THOMAS", "SARAH", "CHRISTOPHER", "KAREN", "ANH", "PRIYA", "JOSE", "MARIA"]
STATES = ["CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI", "NJ", "VA", "WA", "AZ",
          "MA", "TN", "IN", "MO", "MD", "WI", "CO", "MN", "SC", "AL", "DC"]
CITIES = ["SPRINGFIELD", "FRANKLIN", "GREENVILLE", "BRISTOL", "CLINTON", "FAIRVIEW", "SALEM",
          "MADISON", "WASHINGTON", "DENVER"]
STREETS = ["MAIN ST", "OAK AVE", "PARK BLVD", "MAPLE DR", "CEDAR LN", "ELM ST", "WASHINGTON AVE",
           "LAKE RD", "HILL ST", "PINE ST"]


def npi_for(n: int) -> str:
    """The n-th valid NPI from 1000000000 on (nine digits and the Luhn check digit)."""
    base = str(100_000_000 + n)
    return base + luhn.calc_check_digit("80840" + base)


def _date(rng: random.Random) -> str:
    return f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2005, 2026)}"


def _address(r: list[str], rng: random.Random, first_column: int) -> None:
    state = rng.choice(STATES)
    zip5 = f"{rng.randint(200, 205)}{rng.randint(0, 99):02d}" if state == "DC" else \
        f"{rng.randint(10000, 99999)}"
    area = "202" if state == "DC" else str(rng.randint(201, 989))
    r[first_column:first_column + 8] = [
        f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
        rng.choice(["", "", "SUITE 100", "STE 210", "FLOOR 2"]), rng.choice(CITIES), state,
        zip5 + f"{rng.randint(0, 9999):04d}", "US", area + f"{rng.randint(0, 9999999):07d}",
        rng.choice(["", area + f"{rng.randint(0, 9999999):07d}"])]


def _identifiers(r: list[str], rng: random.Random, count: int) -> None:
    for i in range(1, count + 1):
        r[AT[f"Other Provider Identifier_{i}"]] = f"{rng.randint(10**6, 10**9)}"
        r[AT[f"Other Provider Identifier Type Code_{i}"]] = rng.choice(["05", "01", "02"])
        r[AT[f"Other Provider Identifier State_{i}"]] = rng.choice(STATES)
        r[AT[f"Other Provider Identifier Issuer_{i}"]] = rng.choice(["", "BCBS", "MEDICAID"])


def _slots(r: list[str], rng: random.Random, codes: list[str], prefix: str) -> None:
    state = rng.choice(STATES)
    for i, code in enumerate(codes, start=1):
        r[AT[f"Healthcare Provider Taxonomy Code_{i}"]] = code
        r[AT[f"Provider License Number_{i}"]] = f"{prefix}{rng.randint(1, 999999):06d}"
        r[AT[f"Provider License Number State Code_{i}"]] = state
        r[AT[f"Healthcare Provider Primary Taxonomy Switch_{i}"]] = "Y" if i == 1 else "N"


def make_row(n: int, rng: random.Random) -> tuple[list[str], str, dict | None]:
    """Row n of the file: its fields, its kind ('organisation', 'deactivated', 'served',
    'other') and, for a served individual, what a practitioner would type."""
    r = [""] * WIDTH
    r[0] = npi_for(n)
    roll = rng.random()
    if roll < DEACTIVATED_SHARE:
        r[AT["NPI Deactivation Date"]] = _date(rng)
        return r, "deactivated", None
    r[AT["Provider Enumeration Date"]] = _date(rng)
    r[AT["Last Update Date"]] = _date(rng)
    r[AT["Certification Date"]] = rng.choice(["", _date(rng)])
    _address(r, rng, AT["Provider First Line Business Mailing Address"])
    _address(r, rng, AT["Provider First Line Business Practice Location Address"])
    if roll < DEACTIVATED_SHARE + ORG_SHARE:
        r[1] = "2"
        r[AT["Provider Organization Name (Legal Business Name)"]] = \
            f"{rng.choice(LAST)} {rng.choice(['HEALTH', 'MEDICAL GROUP', 'THERAPY'])} LLC"
        r[AT["Authorized Official Last Name"]] = rng.choice(LAST)
        r[AT["Authorized Official First Name"]] = rng.choice(FIRST)
        r[AT["Authorized Official Title or Position"]] = "OWNER"
        r[AT["Authorized Official Telephone Number"]] = f"{rng.randint(201, 989)}5550100"
        r[AT["Is Organization Subpart"]] = "N"
        _slots(r, rng, rng.sample(ORGANISATION, rng.randint(1, 2)), "")
        _identifiers(r, rng, rng.randint(0, 3))
        return r, "organisation", None
    r[1] = "1"
    last, first = rng.choice(LAST), rng.choice(FIRST)
    r[AT["Provider Last Name (Legal Name)"]] = last
    r[AT["Provider First Name"]] = first
    r[AT["Provider Middle Name"]] = rng.choice(["", "A", "B", "LEE", "MARIE"])
    r[AT["Provider Sex Code"]] = rng.choice(["F", "M"])
    r[AT["Is Sole Proprietor"]] = rng.choice(["N", "Y", "X"])
    _identifiers(r, rng, rng.choice([0, 0, 1, 2, 4]))
    left = roll - DEACTIVATED_SHARE - ORG_SHARE
    for share, codes, prefix, credential in SERVED:
        if left < share:
            chosen = rng.sample(codes, rng.randint(1, min(2, len(codes))))
            _slots(r, rng, chosen, prefix)
            r[AT["Provider Credential Text"]] = credential
            typed = {"npi": r[0], "full_name": f"{first.title()} {last.title()}",
                     "code": chosen[0], "licence": r[AT["Provider License Number_1"]],
                     "state": r[AT["Provider License Number State Code_1"]]}
            return r, "served", typed
        left -= share
    _slots(r, rng, rng.sample(OTHER_INDIVIDUAL, rng.randint(1, 3)), "RN")
    r[AT["Provider Credential Text"]] = rng.choice(["RN", "NP", "DDS", "PA-C", ""])
    return r, "other", None


def line_of(fields: list[str]) -> str:
    """A line as CMS writes it: every field quoted (the generated values hold no quote)."""
    return '"' + '","'.join(fields) + '"\n'


def generate(path: Path, rows: int, seed: int, keep_typed: int) -> dict:
    """Write the file, streaming; what it holds."""
    rng = random.Random(seed)
    kinds = {"organisation": 0, "deactivated": 0, "served": 0, "other": 0}
    typed: list[dict] = []
    with path.open("w", encoding="utf-8", newline="", buffering=1 << 20) as fh:
        fh.write(line_of(list(NPPES_COLUMNS)))
        for n in range(rows):
            fields, kind, person = make_row(n, rng)
            kinds[kind] += 1
            if person and len(typed) < keep_typed and rng.random() < 0.01:
                typed.append(person)
            fh.write(line_of(fields))
    return {"kinds": kinds, "typed": typed}


PROFESSION_OF = {"20": "medical_doctor", "2251": "physiotherapist", "111N": "chiropractor",
                 "225X": "occupational_therapist", "2255": "athletic_trainer",
                 "1711": "acupuncturist"}


def seed_practitioners(env: dict, typed: list[dict]) -> None:
    """Practitioners whose NPI, name and licence are those of served rows of the file."""
    os.environ.update(env)
    from directory import create_app
    from directory.extensions import db
    from directory.models import Practitioner, User

    app = create_app()
    with app.app_context():
        for i, person in enumerate(typed):
            profession = next(v for k, v in PROFESSION_OF.items() if person["code"].startswith(k))
            # An account nobody logs in to: "!" is no password hash.
            user = User(email=f"bench{i}@example.com", role="practitioner", is_active=True,
                        password_hash="!")  # noqa: S106
            user.practitioner = Practitioner(
                full_name=person["full_name"], slug=f"bench-{i}", profession=profession,
                licence_number=person["licence"], licence_country="US",
                licence_region=f"US-{person['state']}", npi=person["npi"])
            db.session.add(user)
        db.session.commit()
        db.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=9_000_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="Where the file is written (default: the temporary folder).")
    parser.add_argument("--file", type=Path, help="Time this file instead of generating one.")
    parser.add_argument("--keep", action="store_true", help="Keep the generated file.")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--practitioners", type=int, default=500,
                        help="Practitioners with an NPI of the file, checked after the load.")
    parser.add_argument("--database-url", help="A database of your own (it is emptied); "
                                               "default: a new SQLite file.")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-nppes-"))
    report: dict = {"rows": args.rows}
    typed: list[dict] = []
    if args.file:
        path = args.file
    else:
        path = args.dir / f"npidata_pfile_20050523-{FILE_DATE:%Y%m%d}.csv"
        need = int(args.rows * 1300 * 1.1) + 2 * 10**9  # the file, the database, the spool
        free = shutil.disk_usage(args.dir).free
        if free < need:
            print(f"Not enough free space in {args.dir}: {free / 1e9:.1f} GB free, "
                  f"{need / 1e9:.1f} GB needed.", file=sys.stderr)
            return 1
        print(f"Generating {args.rows:,} rows in {path}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        made = generate(path, args.rows, args.seed, args.practitioners)
        report["generate_seconds"] = round(time.perf_counter() - started, 1)
        report["kinds"] = made["kinds"]
        typed = made["typed"]
    report["file"] = str(path)
    report["file_bytes"] = path.stat().st_size
    report["file_gb"] = round(path.stat().st_size / 1e9, 2)

    env = {"DIRECTORY_INSTANCE_PATH": str(work / "instance"),
           "DIRECTORY_DATABASE_URL": args.database_url or f"sqlite:///{work / 'bench.sqlite3'}",
           "DIRECTORY_AUTO_UPGRADE": "false"}
    child_env = os.environ | env
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi"]
    if args.database_url:  # a database of your own: start from empty
        from sqlalchemy import create_engine, text
        engine = create_engine(args.database_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=child_env, check=True,
                   capture_output=True)
    if typed:
        seed_practitioners(env, typed)
    report["practitioners"] = len(typed)

    command = [*flask, "licences", "load-nppes", str(path), "--quiet"]
    print(f"Timing: {' '.join(command)}", file=sys.stderr, flush=True)
    report["command"] = " ".join(command)
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=child_env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    out, err = child.communicate()
    seconds = time.perf_counter() - started
    # communicate() has reaped the child; its resource use is in the children's total, and
    # the only child before it (db upgrade) is far smaller.
    import resource
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report.update(exit=child.returncode, seconds=round(seconds, 1), peak_mb=round(peak_kb / 1024),
                  output=out.strip().splitlines(), errors=err.strip().splitlines()[-5:])
    print(json.dumps(report, indent=2))
    if not args.file and not args.keep:
        path.unlink()
    shutil.rmtree(work, ignore_errors=True)
    return child.returncode


if __name__ == "__main__":
    raise SystemExit(main())
