"""The official registers where an administrator checks a licence outside the US.

Reference data in directory/data/registers.json (its sources in directory/data/REGISTERS.md):
per country, optional ISO 3166-2 region and profession, the register's public search page and,
where one exists, a URL template that opens one practitioner's entry. We only link to these
registers; nothing here fetches them (Ahpra, for one, refuses republication by scraping).

The file is read and checked once per process (`all_registers`); `load_registers(path)` reads
and checks any file and raises ValueError naming the first bad entry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlsplit

import pycountry

from directory import vocab

REGISTERS_PATH = Path(__file__).resolve().parent.parent / "data" / "registers.json"
PLACEHOLDER = "{number}"
FIELDS = ("key", "name", "regulator", "country", "region", "professions", "search_url",
          "entry_url_template", "number_hint", "number_pattern", "source", "checked_on")
_KEY = re.compile(r"[a-z0-9][a-z0-9-]*")


def normalise_number(number: str | None) -> str:
    """A registration number as registers write it: no surrounding spaces, letters upper-cased."""
    return (number or "").strip().upper()


@dataclass(frozen=True)
class Register:
    """One official register: where to search it and how to open one practitioner's entry."""

    key: str
    name: str
    regulator: str
    country: str
    region: str | None
    professions: tuple[str, ...]
    search_url: str
    entry_url_template: str | None
    number_hint: str
    number_pattern: str | None
    source: str
    checked_on: date

    @property
    def jurisdiction(self) -> str:
        """The region's ISO 3166-2 code, or the country's alpha-2 code for a national register."""
        return self.region or self.country

    def accepts(self, number: str | None) -> bool:
        """Whether the number (normalised) looks like this register's numbers.

        True for any non-empty number when the register gives no pattern.
        """
        value = normalise_number(number)
        if not value:
            return False
        return self.number_pattern is None or re.fullmatch(self.number_pattern, value) is not None

    def entry_url(self, number: str | None) -> str | None:
        """The URL of the practitioner's entry on the register, the number URL-quoted.

        None when the register has no such link or the number does not match its pattern.
        """
        if self.entry_url_template is None or not self.accepts(number):
            return None
        quoted = quote(normalise_number(number), safe="")
        return self.entry_url_template.replace(PLACEHOLDER, quoted)


def _is_https(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)


def _is_region_of(region: str, country: str) -> bool:
    """Whether `region` is an ISO 3166-2 subdivision of `country` (GB's nations included)."""
    if not region.startswith(f"{country}-"):
        return False
    return vocab.region_name(region) != region


def _problems(row: object) -> list[str]:
    """What is wrong with one entry of the file (empty when nothing is)."""
    if not isinstance(row, dict):
        return ["is not an object"]
    problems = []
    missing = [f for f in FIELDS if f not in row]
    unknown = sorted(set(row) - set(FIELDS))
    if missing:
        problems.append(f"missing field(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    if missing:
        return problems

    for field in ("key", "name", "regulator", "number_hint", "source"):
        if not isinstance(row[field], str) or not row[field].strip():
            problems.append(f"{field} must be a non-empty text")
    if isinstance(row["key"], str) and row["key"] and not _KEY.fullmatch(row["key"]):
        problems.append(f"key {row['key']!r} must be lower-case letters, digits and hyphens")

    country, region = row["country"], row["region"]
    if not isinstance(country, str) or len(country) != 2 or not country.isupper() \
            or pycountry.countries.get(alpha_2=country) is None:
        problems.append(f"country {country!r} is not an ISO 3166-1 alpha-2 code")
    elif region is not None and (not isinstance(region, str) or not _is_region_of(region, country)):
        problems.append(f"region {region!r} is not an ISO 3166-2 subdivision of {country}")

    professions = row["professions"]
    if not isinstance(professions, list) or not professions:
        problems.append("professions must be a non-empty list")
    else:
        bad = [p for p in professions if not isinstance(p, str) or p not in vocab.PROFESSIONS]
        if bad:
            problems.append(f"unknown profession(s) {', '.join(map(repr, bad))}")
        if len(set(map(str, professions))) != len(professions):
            problems.append("professions lists one twice")

    if not isinstance(row["search_url"], str) or not _is_https(row["search_url"]):
        problems.append(f"search_url {row['search_url']!r} is not an https URL")
    template = row["entry_url_template"]
    if template is not None:
        if not isinstance(template, str) or PLACEHOLDER not in template:
            problems.append(f"entry_url_template {template!r} has no {PLACEHOLDER}")
        elif not _is_https(template.replace(PLACEHOLDER, "1")):
            problems.append(f"entry_url_template {template!r} is not an https URL")

    pattern = row["number_pattern"]
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            problems.append(f"number_pattern {pattern!r} is not a regular expression ({exc})")

    try:
        date.fromisoformat(row["checked_on"])
    except (TypeError, ValueError):
        problems.append(f"checked_on {row['checked_on']!r} is not a date (YYYY-MM-DD)")
    return problems


def load_registers(path: str | Path | None = None) -> tuple[Register, ...]:
    """Read and check a registers file (directory/data/registers.json by default).

    Raises ValueError naming the entry (its key, or its position) and what is wrong with it.
    """
    path = Path(path or REGISTERS_PATH)
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(rows, list):
        raise ValueError(f"{path}: must hold a list of registers")

    registers: list[Register] = []
    seen: set[str] = set()
    for position, row in enumerate(rows, start=1):
        key = row.get("key") if isinstance(row, dict) else None
        label = f"entry {position}" + (f" ({key!r})" if isinstance(key, str) and key else "")
        problems = _problems(row)
        if not problems and key in seen:
            problems = [f"key {key!r} is used by an earlier entry"]
        if problems:
            raise ValueError(f"{path}: {label}: {'; '.join(problems)}")
        seen.add(key)
        registers.append(Register(
            key=key, name=row["name"], regulator=row["regulator"], country=row["country"],
            region=row["region"], professions=tuple(row["professions"]),
            search_url=row["search_url"], entry_url_template=row["entry_url_template"],
            number_hint=row["number_hint"], number_pattern=row["number_pattern"],
            source=row["source"], checked_on=date.fromisoformat(row["checked_on"]),
        ))
    return tuple(registers)


@cache
def all_registers() -> tuple[Register, ...]:
    """Every register of directory/data/registers.json, in file order (read and checked once)."""
    return load_registers()


def register_by_key(key: str | None) -> Register | None:
    """The register with this key, or None (a stored key may since have left the file)."""
    return next((r for r in all_registers() if r.key == key), None)


def registers_for(country: str | None, region: str | None, profession: str | None,
                  registers: tuple[Register, ...] | None = None) -> list[Register]:
    """The registers that may hold this licence, most specific first; [] when none.

    Only registers listing the profession. With a region: that region's registers, then the
    country-wide ones (a register of another region cannot hold the licence). Without a region:
    the country-wide ones, then every region's, by region code, since any of them may hold it.
    `region` may be an ISO 3166-2 code ("CA-ON") or its part after the hyphen ("ON").
    `registers` defaults to all_registers().
    """
    if not country or not profession:
        return []
    country = country.strip().upper()
    pool = [r for r in (all_registers() if registers is None else registers)
            if r.country == country and profession in r.professions]
    national = [r for r in pool if r.region is None]
    if region and region.strip():
        region = region.strip().upper()
        if not region.startswith(f"{country}-"):
            region = f"{country}-{region}"
        return [r for r in pool if r.region == region] + national
    regional = sorted((r for r in pool if r.region is not None), key=lambda r: r.region)
    return national + regional
