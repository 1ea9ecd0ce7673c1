"""Benchmark the location search at 10,000 to 1,000,000 listed practitioners (SQLite by default).

Practitioners are clustered the way real ones are: 85 % near towns of the six countries, chosen
with a weight of their population (from the embedded GeoNames gazetteer) and spread around the
centre, the rest spread over each country's area. Every one is listed: a confirmed account, a
verified certification, one or two practice locations and some techniques and languages.

It reports p50 and p95 (milliseconds) of
  - the service query (directory.search.search) and
  - the HTTP API (GET /api/v1/practitioners through the WSGI app, in process),
at the centres of the largest cities and at rural points, for 10, 25 and 100 km.
With --load it also serves the database with gunicorn (2 workers) and measures the search page
with wrk from a second process.

    python tools/bench_search.py                         # 10k, 100k and 1M (about 10 minutes)
    python tools/bench_search.py --sizes 10000 --queries 50
    python tools/bench_search.py --sizes 1000000 --load  # adds gunicorn + wrk on the page (3 runs)
    python tools/bench_search.py --sizes 1000000 --no-names --portable-box --rounds 4
                                                         # R*Tree and portable box, A/B
    python tools/bench_search.py --sizes 1000000 --names-only \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench   # by name, PostgreSQL

Practitioners get names drawn from the gazetteer's place names (surnames weighted so that the
commonest is about 0.3 % of everyone, first names from a smaller list), licence numbers and
clinic names, so the name search (directory.search.names) meets realistic word frequencies.
It is measured with full names, surnames alone, a surname with a typo, the beginning of a
surname, a licence number, and a full name within 25 km of a point near where they practise.

Each size is measured after an untimed pass of the same kind, and each wrk run after 5 s of
untimed load on the freshly started server: the figures are for a warmed-up process.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import math
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from directory import create_app  # noqa: E402
from directory.extensions import db  # noqa: E402
from directory.models import (  # noqa: E402
    Certification,
    PracticeLocation,
    Practitioner,
    PractitionerTag,
    TrainingProgram,
    User,
)

GAZETTEER = ROOT / "directory" / "data" / "gazetteer.csv.gz"
# Rough land boxes (lat_min, lat_max, lng_min, lng_max) for the spread-out share.
COUNTRY_BOXES = {
    "US": [(30.0, 48.5, -122.5, -75.0)], "AU": [(-37.5, -27.0, 115.5, 153.0)],
    "GB": [(50.5, 57.5, -4.5, 1.5)], "CA": [(43.0, 53.5, -123.0, -64.0)],
    "NZ": [(-46.0, -35.0, 168.5, 178.0)], "IE": [(51.6, 55.2, -10.0, -6.1)],
}
RURAL_POINTS = [(44.5, -100.3), (38.5, -98.0), (46.9, -110.4), (-31.5, 145.0), (52.6, -1.0),
                (50.5, -105.0), (-44.0, 170.5), (53.0, -8.0), (35.5, -106.0), (-33.6, 138.6)]
RADII = (10, 25, 100)
VERDICTS, VERDICT_WEIGHTS = ("yes", "unclear", "unknown", "no"), (77, 9, 10, 4)
BATCH = 20_000
CLINIC_KINDS = ("Physiotherapy", "Physio", "Chiropractic", "Sports Clinic", "Health Centre",
                "Myotherapy", "Spine and Joint", "Rehab")
NAME_KINDS = ("full name", "surname", "surname with a typo", "first name and the beginning "
              "of the surname", "licence number", "full name within 25 km of where they are")


def towns(count: int = 400) -> list[tuple[str, float, float, int]]:
    """The largest places in the gazetteer: (name, lat, lng, population)."""
    postcodes, places = {}, []
    with gzip.open(GAZETTEER, "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["kind"] == "postcode":
                postcodes[(row["country"], row["code"])] = row
            elif row["kind"] == "place" and row["population"]:
                places.append(row)
    best: dict[tuple[str, str], tuple[str, float, float, int]] = {}
    for row in places:
        base = postcodes.get((row["country"], row["code"]), {})
        lat, lng = row["lat"] or base.get("lat"), row["lng"] or base.get("lng")
        name = row["name"] or base.get("name", "")
        if not lat or not lng:
            continue
        key = (row["country"], name)
        pop = int(row["population"])
        if key not in best or best[key][3] < pop:
            best[key] = (f"{name} ({row['country']})", float(lat), float(lng), pop)
    return sorted(best.values(), key=lambda t: -t[3])[:count]


def point_near(rng: random.Random, lat: float, lng: float, sigma_km: float):
    """A point around (lat, lng): north and east offsets each normal with sigma_km."""
    dlat = rng.gauss(0, sigma_km) / 111.195
    dlng = rng.gauss(0, sigma_km) / (111.195 * max(math.cos(math.radians(lat)), 0.05))
    return max(-89.9, min(89.9, lat + dlat)), ((lng + dlng + 180) % 360) - 180


def name_lists() -> tuple[list[str], list[float], list[str], list[float]]:
    """First names and surnames (with weights) from the gazetteer's place names: single words,
    so that their frequencies, not their meanings, are realistic."""
    seen: dict[str, int] = {}
    with gzip.open(GAZETTEER, "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name = row["name"]
            if row["kind"] == "place" and name and name.isalpha() and 4 <= len(name) <= 12:
                seen[name] = max(seen.get(name, 0), int(row["population"] or 0))
    ordered = sorted(seen, key=lambda w: (-seen[w], w))
    firsts, lasts = ordered[:600], ordered[600:60_600]
    return (firsts, [1 / (r + 20) for r in range(len(firsts))],
            lasts, [1 / (r + 50) for r in range(len(lasts))])


def generate(n: int, seed: int = 7) -> None:
    """Insert n listed practitioners (inside an app context) with Core bulk inserts."""
    from directory.search import names

    rng = random.Random(seed)
    town_list = towns()
    weights = [t[3] for t in town_list]
    firsts, first_weights, lasts, last_weights = name_lists()
    vocabulary: set[str] = set()
    now = datetime.now(UTC)
    admin_id = db.session.execute(insert(User).values(
        email="bench-admin@example.com", password_hash="x", role="admin",  # noqa: S106
        email_confirmed_at=now, is_active=True, created_at=now,
        updated_at=now)).inserted_primary_key[0]
    program_id = db.session.execute(insert(TrainingProgram).values(
        key="bench", organisation="Bench", name="Bench Level 1", level=1, country="US",
        notes="", created_at=now, updated_at=now)).inserted_primary_key[0]
    db.session.commit()
    professions = ["physiotherapist"] * 6 + ["chiropractor"] * 2 + ["medical_doctor",
                                                                     "myotherapist"]
    techniques = ["trigger_point", "superficial", "deep", "ims", "electrical", "functional"]
    start = 0
    while start < n:
        size = min(BATCH, n - start)
        users, practitioners, certs, locations, tags = [], [], [], [], []
        chosen_firsts = rng.choices(firsts, first_weights, k=size)
        chosen_lasts = rng.choices(lasts, last_weights, k=size)
        for i in range(start + 1, start + size + 1):
            full_name = f"{chosen_firsts[i - start - 1]} {chosen_lasts[i - start - 1]}"
            clinic = f"{rng.choice(lasts)} {rng.choice(CLINIC_KINDS)}"
            users.append({"id": i + 1, "email": f"bench{i}@example.com", "password_hash": "x",
                          "role": "practitioner", "email_confirmed_at": now, "is_active": True,
                          "created_at": now, "updated_at": now})
            practitioners.append({
                "id": i, "user_id": i + 1, "slug": f"bench-{i}", "full_name": full_name,
                "post_nominals": "", "profession": rng.choice(professions),
                "licence_number": f"PT{i:07d}", "bio": "",
                "search_words": names.document(full_name, f"PT{i:07d}", None, [clinic]),
                "phone": "", "public_email": "",
                "website": "", "booking_url": "", "accepting_new_patients": rng.random() < .8,
                "insurance_notes": "", "is_demo": False, "version": 1,
                "listed_until": date(9999, 12, 31), "attested_at": now,
                "created_at": now, "updated_at": now})
            # What directory.listing copies onto each location for the search.
            copies = {"practitioner_listed_until": practitioners[-1]["listed_until"],
                      "practitioner_attested_at": now,
                      "practitioner_name": practitioners[-1]["full_name"]}
            certs.append({"practitioner_id": i, "program_id": program_id, "submitted_name": "B",
                          "certificate_number": "", "status": "verified", "reason": "",
                          "reviewed_by_id": admin_id, "reviewed_at": now, "verified_at": now,
                          "submitted_at": now, "public_code": secrets.token_urlsafe(16),
                          "version": 1, "created_at": now, "updated_at": now})
            for _ in range(2 if rng.random() < 0.15 else 1):
                if rng.random() < 0.85:
                    _, tlat, tlng, pop = rng.choices(town_list, weights)[0]
                    lat, lng = point_near(rng, tlat, tlng, 3 + 2 * math.log10(pop))
                    country = "US"
                else:
                    country = rng.choice(list(COUNTRY_BOXES))
                    box = rng.choice(COUNTRY_BOXES[country])
                    lat, lng = rng.uniform(box[0], box[1]), rng.uniform(box[2], box[3])
                # The verdict a location carries (directory.listing keeps it): about as
                # often as in the demo directory; "no" is left out of a default search.
                verdict = rng.choices(VERDICTS, VERDICT_WEIGHTS)[0]
                locations.append({
                    "scope_verdict": verdict,
                    "practitioner_id": i, "clinic_name": clinic, "street": "",
                    "city": "Bench", "region": "", "postcode": "", "country": country,
                    "lat": round(lat, 5), "lng": round(lng, 5), "geo_precision": "postcode",
                    "wheelchair_accessible": rng.random() < 0.5, "created_at": now,
                    "updated_at": now, **copies})
            for code in rng.sample(techniques, 2):
                tags.append({"practitioner_id": i, "kind": "technique", "code": code})
            tags.append({"practitioner_id": i, "kind": "language", "code": "en"})
        for row in practitioners:
            vocabulary.update(names._vocabulary_words(row["search_words"]))  # noqa: SLF001
        for table, rows in ((User, users), (Practitioner, practitioners),
                            (Certification, certs), (PracticeLocation, locations),
                            (PractitionerTag, tags)):
            db.session.execute(insert(table), rows)
        db.session.commit()
        start += size
    names.add_to_vocabulary(db.session.connection(), vocabulary)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # The ids above were given explicitly: move the sequences past them for later inserts.
        for table in ("users", "practitioners"):
            db.session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"))
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # As autovacuum would soon: the GIN indexes' pending lists merged (the name search
        # read 1M rows' pending entries on every query before: 84 ms instead of 12).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000


def measure(app, points, radius: float, queries: int, rng: random.Random,
            boxes: tuple = (None,), densities: dict | None = None):
    """Timings of the service query and of the HTTP API for points jittered around `points`:
    {box: ((p50, p95) service, (p50, p95) API, median count)}. With several boxes (R*Tree and
    portable), each point is searched with each box in turn, the first box alternating."""
    from directory.search import search

    timings = {box: ([], [], []) for box in boxes}
    client = app.test_client()
    with app.app_context():
        for box in boxes:
            use_box(app, box, densities)
            search(*points[0], radius)  # warm up caches (gazetteer, statements)
            client.get(f"/api/v1/practitioners?near={points[0][0]},{points[0][1]}&unit=km")
        for q in range(queries):
            lat, lng = point_near(rng, *points[q % len(points)], 1.0)
            for box in (boxes if q % 2 == 0 else boxes[::-1]):
                use_box(app, box, densities)
                service, api, counts = timings[box]
                t = time.perf_counter()
                results = search(lat, lng, radius)
                service.append(time.perf_counter() - t)
                counts.append(results.total)
                t = time.perf_counter()
                response = client.get(f"/api/v1/practitioners?near={lat:.5f},{lng:.5f}"
                                      f"&radius={radius}&unit=km")
                api.append(time.perf_counter() - t)
                if response.status_code != 200:
                    raise RuntimeError(response.get_data(as_text=True))
                db.session.remove()
    return {box: (percentiles(service), percentiles(api), statistics.median(counts))
            for box, (service, api, counts) in timings.items()}


def typo(rng: random.Random, word: str) -> str:
    """The word with two neighbouring letters swapped (not the first two)."""
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def name_queries(rng: random.Random, kind: str, n: int) -> tuple[str, tuple | None]:
    """A query of this kind for a random practitioner: (q, a point or None)."""
    row = db.session.execute(text(
        "SELECT p.full_name, p.licence_number, l.lat, l.lng FROM practitioners p "
        "JOIN practice_locations l ON l.practitioner_id = p.id WHERE p.id = :id LIMIT 1"),
        {"id": rng.randint(1, n)}).one()
    first, last = row.full_name.split(" ", 1)
    if kind == "full name":
        return row.full_name, None
    if kind == "surname":
        return last, None
    if kind == "surname with a typo":
        return f"{first} {typo(rng, last)}", None
    if kind.startswith("first name and the beginning"):
        return f"{first} {last[:4]}", None
    if kind == "licence number":
        return row.licence_number, None
    # Near where they practise (a patient who knows the town).
    return row.full_name, point_near(rng, row.lat, row.lng, 5.0)


def measure_names(app, kind: str, queries: int, rng: random.Random, n: int, big):
    """Timings of the service query (parse with its typo look-up, then the search) and of
    the API for name queries of one kind."""
    from directory.search import names, search, search_by_name

    service, api, counts = [], [], []
    client = app.test_client()
    with app.app_context():
        for _ in range(queries):
            q, point = name_queries(rng, kind, n)
            db.session.remove()
            t = time.perf_counter()
            query = names.parse(db.session.connection(), q)
            results = (search_by_name(query) if point is None
                       else search(*point, 25, name=query))
            service.append(time.perf_counter() - t)
            counts.append(results.total)
            db.session.remove()
            where = f"&near={point[0]:.5f},{point[1]:.5f}&radius=25&unit=km" if point else ""
            t = time.perf_counter()
            response = client.get("/api/v1/practitioners", query_string=f"q={q}{where}")
            api.append(time.perf_counter() - t)
            if response.status_code != 200:
                raise RuntimeError(response.get_data(as_text=True))
            db.session.remove()
    return percentiles(service), percentiles(api), statistics.median(counts)


WRK_SCRIPT = """
-- Each request searches 25 km around a point near one of the largest cities.
local cities = {%s}
math.randomseed(42)
request = function()
  local c = cities[math.random(#cities)]
  local lat = c[1] + (math.random() - 0.5) * 0.1
  local lng = c[2] + (math.random() - 0.5) * 0.1
  return wrk.format("GET", string.format("/?near=%%.4f,%%.4f&radius=25&unit=km", lat, lng))
end
"""


def load_test(db_url: str, instance: Path, seconds: int, cities: list[tuple[float, float]],
              warmup: int = 0) -> str:
    """The search page under gunicorn (2 workers) and wrk (64 connections) in another process,
    each request at a different point near one of the largest cities, after `warmup` seconds
    of the same load untimed."""
    port = 18000 + secrets.randbelow(1000)
    # Rate limits off (every wrk request comes from one address) and no request log lines.
    env = dict(os.environ, DIRECTORY_DATABASE_URL=db_url, DIRECTORY_AUTO_UPGRADE="false",
               DIRECTORY_INSTANCE_PATH=str(instance), DIRECTORY_RATELIMIT_ENABLED="false",
               DIRECTORY_REQUEST_LOG="false")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app",
         "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                import urllib.request

                urllib.request.urlopen(f"http://127.0.0.1:{port}/about", timeout=1)  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)
        script = instance / "search.lua"
        script.write_text(WRK_SCRIPT % ", ".join(f"{{{lat}, {lng}}}" for lat, lng in cities))
        command = ["wrk", "-t2", "-c64", "--latency", "-s", str(script),
                   f"http://127.0.0.1:{port}/"]
        if warmup:  # untimed: the new workers fill their caches first
            subprocess.run([*command, f"-d{warmup}s"], capture_output=True, check=True)
        result = subprocess.run([*command, f"-d{seconds}s"], capture_output=True, text=True,
                                check=True)
        return result.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)


def use_box(app, box: str | None, densities: dict | None) -> None:
    """Search with the R*Tree ("rtree") or the portable (lat, lng) box ("portable") from now
    on, each with its own remembered density counts (None: as configured)."""
    if box is None:
        return
    app.config["SEARCH_PORTABLE_BOX"] = box == "portable"
    app.extensions["search_density"] = densities[box]


def _postgresql_count() -> int:
    """How many practitioners a kept PostgreSQL database holds (0: none, or no schema)."""
    try:
        with db.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM practitioners")).scalar_one()
    except Exception:  # noqa: BLE001 — an empty database has no table yet
        return 0


def print_names(app, queries: int, n: int, big) -> None:
    """The name search's rows of the table (after an untimed pass of each kind)."""
    for kind in NAME_KINDS:
        measure_names(app, kind, max(10, queries // 4), random.Random(-n), n, big)
    rng = random.Random(n)
    for kind in NAME_KINDS:
        (sp50, sp95), (ap50, ap95), found = measure_names(app, kind, queries, rng, n, big)
        print(f"| {n:,} | by name: {kind} | - | {found:g} | {sp50:.1f} | {sp95:.1f} "
              f"| {ap50:.1f} | {ap95:.1f} |", flush=True)


def main() -> None:
    """Generate, measure and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--dir", default=None, help="where to keep the databases")
    parser.add_argument("--load", action="store_true", help="also gunicorn + wrk on the page")
    parser.add_argument("--load-seconds", type=int, default=30)
    parser.add_argument("--load-runs", type=int, default=3)
    parser.add_argument("--load-warmup", type=int, default=5,
                        help="seconds of untimed load before each run")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL database to use (emptied) instead of SQLite files")
    parser.add_argument("--names-only", action="store_true",
                        help="only the name search")
    parser.add_argument("--transactional-reads", action="store_true",
                        help="PostgreSQL: read in a transaction on a pre-pinged connection "
                             "(READ_WITHOUT_TRANSACTION off), to compare")
    parser.add_argument("--no-names", action="store_true", help="skip the name search")
    parser.add_argument("--portable-box", action="store_true",
                        help="SQLite: measure each row with the R*Tree and with the portable "
                             "(lat, lng) box (SEARCH_PORTABLE_BOX), the same points in turn")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of each row; the table gives the median of their figures")
    args = parser.parse_args()
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="bench-search-"))
    workdir.mkdir(parents=True, exist_ok=True)
    big = [(t[1], t[2]) for t in towns(10)]
    print(f"cities: {', '.join(t[0] for t in towns(10))}")
    boxes = ("rtree", "portable") if args.portable_box else (None,)
    box_column = "| box " if args.portable_box else ""
    print(f"| N | where | radius km {box_column}| results (median) | service p50 ms "
          "| service p95 ms | API p50 ms | API p95 ms |")
    print("|---|---|---|" + "---|" * (6 if args.portable_box else 5))
    for n in (int(s) for s in args.sizes.split(",")):
        path = workdir / f"search-{n}.sqlite3"
        url = args.database_url or f"sqlite:///{path}"
        instance = workdir / f"instance-{n}"
        instance.mkdir(exist_ok=True)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_UPGRADE": False,
                          "SECRET_KEY": "bench", "TESTING": False, "REQUEST_LOG": False,
                          "RATELIMIT_ENABLED": False,
                          "READ_WITHOUT_TRANSACTION": not args.transactional_reads,
                          "MAIL_OUTBOX": str(instance / "outbox")})
        with app.app_context():
            from flask_migrate import upgrade

            from directory import PACKAGE

            if args.database_url:
                fresh = _postgresql_count() != n
                if fresh:
                    with db.engine.begin() as conn:
                        conn.execute(text("DROP SCHEMA public CASCADE"))
                        conn.execute(text("CREATE SCHEMA public"))
            else:
                fresh = not path.exists() or path.stat().st_size < 100_000
                if fresh:
                    path.unlink(missing_ok=True)
            upgrade(directory=str(PACKAGE / "migrations"))  # a kept database may be older
            if fresh:
                t = time.perf_counter()
                generate(n)
                sys.stderr.write(f"generated {n} in {time.perf_counter() - t:.0f} s\n")
        if not args.no_names:
            print_names(app, args.queries, n, big)
        if args.names_only:
            continue
        # One untimed pass first: a new process fills its caches (statements, the per-cell
        # density counts, the memory-mapped pages), which made the first row's p95 ten times
        # the others'.
        # With --portable-box each box keeps its own per-cell density counts (ring.py's first
        # ring), as a process using only that box would.
        densities = {box: {} for box in boxes}
        for points in (big, RURAL_POINTS):
            for radius in RADII:
                measure(app, points, radius, args.queries, random.Random(-n), boxes, densities)
        rng = random.Random(n)
        for where, points in (("large-city centre", big), ("rural", RURAL_POINTS)):
            for radius in RADII:
                rounds = [measure(app, points, radius, args.queries, rng, boxes, densities)
                          for _ in range(args.rounds)]
                for box in boxes:
                    runs = [found[box] for found in rounds]
                    sp50, sp95, ap50, ap95 = (statistics.median(run[i][j] for run in runs)
                                              for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
                    found = statistics.median(run[2] for run in runs)
                    shown = f"| {box} " if box else ""
                    print(f"| {n:,} | {where} | {radius} {shown}| {found:g} | {sp50:.1f} "
                          f"| {sp95:.1f} | {ap50:.1f} | {ap95:.1f} |", flush=True)
        if args.load:
            # Identical runs on this shared machine differ by up to a third: several runs, and
            # the median with each run's figure.
            print(f"\nwrk on the search page (N = {n:,}, 25 km around the 10 largest cities), "
                  f"{args.load_runs} runs of {args.load_seconds} s, each after "
                  f"{args.load_warmup} s untimed:")
            runs = []
            for _ in range(args.load_runs):
                output = load_test(url, instance, args.load_seconds, big, args.load_warmup)
                rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
                runs.append((rate, output))
            runs.sort(key=lambda run: run[0])
            print(f"requests/s per run: {', '.join(f'{rate:.1f}' for rate, _ in runs)}; "
                  f"median {statistics.median(rate for rate, _ in runs):.1f}")
            print(f"the median run:\n{runs[len(runs) // 2][1]}")
    if not args.dir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
