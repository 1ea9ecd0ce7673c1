"""Import practitioners from CSV: parse and check every row, then write all of them or none.

A dry run reports every problem (row, column, message) and writes nothing. A real run checks the
same way and, only when no row has an error, writes everything in one transaction with bulk
INSERTs: accounts (confirmed, with no usable password: the person claims the account with
"Forgot password"), profiles, tags, one practice location, and one certification each, imported
as *verified* with the importing administrator as reviewer and one audit event per
certification. listed_until is then brought up to date with set-based UPDATEs
(listing.refresh_listing), so the imported practitioners are listed at once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import secrets
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import JSON, insert, select, text
from sqlalchemy.exc import IntegrityError
from wtforms.validators import ValidationError

from directory import geo, listing, vocab
from directory.accounts.services import normalise_email, slugify
from directory.bulk.columns import BY_NAME, LOCATION, NAMES, REQUIRED
from directory.certifications.forms import DATE_MESSAGE, HOURS_MESSAGE
from directory.credentials.matching import ProgramMatcher
from directory.credentials.services import new_public_code
from directory.extensions import db
from directory.forms import http_url
from directory.models import (
    AuditEvent,
    Certification,
    PracticeLocation,
    Practitioner,
    PractitionerTag,
    TrainingProgram,
    User,
    record,
)
from directory.models.base import utcnow
from directory.profiles.forms import PHONE
from directory.vocab import GeoPrecision, Role, TagKind

# Longest values accepted, as in the profile, location and certification forms.
MAX_LENGTH = {
    "email": 254, "full_name": 120, "profession": 60, "post_nominals": 80, "licence_number": 60,
    "licence_country": 100, "licence_region": 100, "bio": 5000, "phone": 40,
    "public_email": 254, "website": 500, "booking_url": 500, "languages": 300,
    "techniques": 1000, "conditions": 1000, "accepting_new_patients": 10,
    "insurance_notes": 2000, "clinic_name": 120, "street": 200, "city": 100, "region": 100,
    "postcode": 20, "country": 100, "wheelchair_accessible": 10, "lat": 30, "lng": 30,
    "program": 200, "level": 10, "certificate_number": 80, "completed_on": 10,
    "expires_on": 10, "hours": 20, "in_person_hours": 20, "supervised_sessions": 10,
}
CELL_LIMIT = 10_000  # no cell of this format is longer (bio: 5,000); csv's own limit is 131,072
CHUNK = 500  # ids per IN (...) list, well under SQLite's parameter limit
# Spreadsheets run a cell starting with one of these as a formula; the export prefixes such
# cells with an apostrophe, and the import removes it again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TRUE_WORDS = {"yes", "y", "true", "1", "x"}
FALSE_WORDS = {"no", "n", "false", "0"}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SPLIT = re.compile(r"[;,]")
# The "password" of an imported account: no "$", so it can never verify (werkzeug needs
# method$salt$hash); unique per account, as the password-reset link relies on.
UNUSABLE_PREFIX = "!imported:"


class ImportFileError(ValueError):
    """A problem with the file as a whole (not CSV, wrong encoding, missing columns)."""


@dataclass(frozen=True)
class RowError:
    """One problem: the spreadsheet row (the header is row 1), the column, the message."""

    row: int
    column: str | None
    message: str


@dataclass
class ImportReport:
    """What a dry run found, or what an import wrote."""

    dry_run: bool
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    file_error: str | None = None
    created: int = 0
    sha256: str = ""
    import_id: str | None = None

    @property
    def ok(self) -> bool:
        """True when the file can be (or was) imported as a whole."""
        return self.file_error is None and not self.errors and self.rows > 0

    @property
    def rows_with_errors(self) -> int:
        """How many rows have at least one error."""
        return len({e.row for e in self.errors})


@dataclass
class _Row:
    """One checked row, ready to write."""

    number: int
    user: dict[str, Any]
    practitioner: dict[str, Any]
    tags: list[tuple[str, str]]
    location: dict[str, Any] | None
    certification: dict[str, Any]
    program_key: str


# --------------------------------------------------------------------------- reading


def header_key(text: str) -> str:
    """A header as written ("Full name", " full_name ") → the column name ("full_name")."""
    return re.sub(r"[\s\-]+", "_", text.strip().lstrip("\ufeff").strip().lower())


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without a byte-order mark), never binary."""
    if not data.strip():
        raise ImportFileError("The file is empty.")
    if b"\x00" in data:
        raise ImportFileError("This is not a CSV file: it contains binary data. Save your "
                              "spreadsheet as “CSV UTF-8” and upload that.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ImportFileError(f"The file is not UTF-8 text (line {line} is not). Save your "
                              "spreadsheet as “CSV UTF-8” and upload that.") from exc


def read_rows(text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header's column names and an iterator of (row number, values)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportFileError("The first row is not a header of column names (it could not "
                              f"be read as CSV: {exc}).") from exc
    if not header or not any(h.strip() for h in header):
        raise ImportFileError("The first row must be the header with the column names.")
    names = [header_key(h) for h in header]
    _check_header(names, header)

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        while True:
            number += 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFileError(f"Row {number} could not be read as CSV: {exc}. Check "
                                      "its quotation marks.") from exc
            yield number, values

    return names, rows()


def _check_header(names: list[str], header: list[str]) -> None:
    """Every required column present, none unknown or repeated."""
    if len(names) == 1 and (";" in header[0] or "\t" in header[0]):
        raise ImportFileError("Columns must be separated by commas (this file seems to use "
                              "semicolons or tabs). Save your spreadsheet as “CSV UTF-8”.")
    problems = []
    unknown = [h.strip() for h, n in zip(header, names, strict=True) if n and n not in BY_NAME]
    if unknown:
        shown = ", ".join(f"“{u[:40]}”" for u in unknown[:10])
        more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
        problems.append(f"Unknown column{'s' if len(unknown) > 1 else ''}: {shown}{more}.")
    repeated = sorted(n for n, k in Counter(names).items() if n and k > 1)
    if repeated:
        problems.append("Repeated column" + ("s" if len(repeated) > 1 else "") + ": "
                        + ", ".join(repeated) + ".")
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        problems.append("Missing required column" + ("s" if len(missing) > 1 else "") + ": "
                        + ", ".join(missing) + ".")
    if problems:
        raise ImportFileError(" ".join(problems) + " The columns are described on the import "
                              "page and in the template file.")


def clean_cell(value: str) -> str:
    """Surrounding spaces removed, and the apostrophe the export puts before a formula-like
    value ("'+1 555 0100") removed again."""
    value = value.strip()
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        value = value[1:]
    return value


# --------------------------------------------------------------------------- checking


class _Checker:
    """Checks rows one by one; lookups (programs, places, languages) are prepared once."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.countries = dict(vocab.countries())
        self.country_names = {name.casefold(): code for code, name in self.countries.items()}
        self.professions = self._vocabulary(vocab.PROFESSIONS)
        self.techniques = self._vocabulary(vocab.TECHNIQUES)
        self.conditions = self._vocabulary(vocab.CONDITIONS)
        programs = list(db.session.scalars(select(TrainingProgram)))
        self.programs_by_key = {p.key.casefold(): p for p in programs}
        active = [p for p in programs if p.retired_at is None]
        self.programs_by_id = {p.id: p for p in programs}
        self.matcher = ProgramMatcher([{
            "key": p.key, "organisation": p.organisation,
            "organisation_acronym": p.organisation_acronym, "name": p.name,
            "level": p.level, "aliases": [a.alias for a in p.aliases],
        } for p in active])
        self.active_keys = {p.key: p for p in active}
        self._program_cache: dict[str, tuple[TrainingProgram | None, str | None]] = {}
        self._place_cache: dict[tuple, geo.Place | None] = {}
        self._language_cache: dict[str, str | None] = {}
        self._region_cache: dict[tuple[str, str], str | None] = {}

    @staticmethod
    def _vocabulary(mapping: dict[str, str]) -> dict[str, str]:
        """code or label (any case) → code."""
        found = {code.casefold(): code for code in mapping}
        found.update({label.casefold(): code for code, label in mapping.items()})
        return found

    def check(self, number: int, raw: dict[str, str], errors: list[RowError],
              warnings: list[RowError]) -> _Row | None:
        """One row's values checked; its errors appended; the row to write when it has none."""
        before = len(errors)

        def fail(column: str | None, message: str) -> None:
            errors.append(RowError(number, column, message))

        v = {}
        for name in NAMES:
            value = clean_cell(raw.get(name, ""))
            if len(value) > MAX_LENGTH[name]:
                fail(name, f"At most {MAX_LENGTH[name]:,} characters (this has {len(value):,}).")
                value = ""
            v[name] = value
        has_location = any(v[name] for name in LOCATION)
        for name in REQUIRED:
            if name in LOCATION and not has_location:
                continue
            if not v[name] and not any(e.column == name for e in errors[before:]):
                fail(name, "This column needs a value.")

        email = normalise_email(v["email"])
        if email and not _valid_email(email):
            fail("email", "Enter an e-mail address like name@example.com.")
        profession = self.professions.get(v["profession"].casefold()) if v["profession"] else None
        if v["profession"] and profession is None:
            fail("profession", "Use one of: " + ", ".join(vocab.PROFESSIONS) + ".")
        licence_country = self._country(v["licence_country"], "licence_country", fail)
        if v["licence_number"] and not v["licence_country"]:
            fail("licence_country", "Give the country that issued the licence.")
        licence_region = None
        if v["licence_region"]:
            if not v["licence_country"]:
                fail("licence_region", "Give licence_country too.")
            elif licence_country:
                licence_region = self._region(licence_country, v["licence_region"])
                if licence_region is None:
                    fail("licence_region", f"We do not know “{v['licence_region']}” in "
                         f"{vocab.country_name(licence_country)}. Use its name or its code.")
        if v["phone"] and not PHONE.match(v["phone"]):
            fail("phone", "Enter a phone number using digits, spaces and + ( ) - only.")
        if v["public_email"] and not _valid_email(v["public_email"]):
            fail("public_email", "Enter an e-mail address like name@example.com.")
        website = self._web_address(v["website"], "website", fail)
        booking_url = self._web_address(v["booking_url"], "booking_url", fail)
        languages = self._languages(v["languages"], fail)
        techniques = self._codes(v["techniques"], self.techniques, "techniques", fail)
        conditions = self._codes(v["conditions"], self.conditions, "conditions", fail)
        accepting = _boolean(v["accepting_new_patients"], True, "accepting_new_patients", fail)
        wheelchair = _boolean(v["wheelchair_accessible"], False, "wheelchair_accessible", fail)

        country = self._country(v["country"], "country", fail)
        lat, lng, precision = self._coordinates(v, country, number, fail, warnings)

        program, program_problem = self._program(v["program"]) if v["program"] else (None, None)
        if program_problem:
            fail("program", program_problem)
        level = _integer(v["level"], 1, 9, "level", "Enter a level from 1 to 9.", fail)
        sessions = _integer(v["supervised_sessions"], 0, 100_000, "supervised_sessions",
                            "Enter a whole number from 0 to 100,000.", fail)
        hours = _hours(v["hours"], "hours", fail)
        in_person = _hours(v["in_person_hours"], "in_person_hours", fail)
        if hours is not None and in_person is not None and in_person > hours:
            fail("in_person_hours", "In-person hours cannot be more than the total hours.")
        completed = _date(v["completed_on"], "completed_on", fail)
        expires = _date(v["expires_on"], "expires_on", fail)
        if completed and completed > self.today:
            fail("completed_on", "The completion date is in the future.")
        if completed and expires and expires <= completed:
            fail("expires_on", "The expiry date must be after the completion date.")
        elif expires and expires < self.today:
            fail("expires_on", f"This certificate expired on {expires.isoformat()}: only "
                 "current certifications can be imported.")

        if len(errors) > before or program is None:
            return None
        by_key = v["program"].casefold() == program.key.casefold()
        return _Row(
            number=number,
            user={"email": email},
            practitioner={
                "full_name": v["full_name"], "post_nominals": v["post_nominals"],
                "profession": profession, "licence_number": v["licence_number"],
                "licence_country": licence_country, "licence_region": licence_region,
                "bio": v["bio"], "phone": v["phone"], "public_email": v["public_email"],
                "website": website, "booking_url": booking_url,
                "accepting_new_patients": accepting, "insurance_notes": v["insurance_notes"],
            },
            tags=[(TagKind.LANGUAGE, c) for c in languages]
            + [(TagKind.TECHNIQUE, c) for c in techniques]
            + [(TagKind.CONDITION, c) for c in conditions],
            location=None if not has_location else {
                "clinic_name": v["clinic_name"], "street": v["street"], "city": v["city"],
                "region": v["region"], "postcode": v["postcode"], "country": country,
                "lat": lat, "lng": lng, "geo_precision": precision,
                "wheelchair_accessible": wheelchair,
            },
            certification={
                "program_id": program.id, "level": level,
                "certificate_number": v["certificate_number"], "completed_on": completed,
                "expires_on": expires, "hours": hours, "in_person_hours": in_person,
                "supervised_sessions": sessions,
                "submitted_name": f"{program.organisation}: {program.name}" if by_key
                else v["program"],
                "match_outcome": "chosen" if by_key else "matched",
            },
            program_key=program.key,
        )

    def _country(self, text: str, column: str, fail) -> str | None:
        """An ISO 3166-1 alpha-2 code from a code or a country's name."""
        if not text:
            return None
        code = text.upper() if text.upper() in self.countries else \
            self.country_names.get(text.casefold())
        if code is None:
            fail(column, f"“{text}” is not a country: use its two-letter ISO code, such as US.")
        return code

    def _region(self, country: str, text: str) -> str | None:
        key = (country, text.casefold())
        if key not in self._region_cache:
            self._region_cache[key] = vocab.resolve_region(country, text)
        return self._region_cache[key]

    @staticmethod
    def _web_address(text: str, column: str, fail) -> str:
        """As the profile form reads it: "example.com" → https://example.com; http(s) only."""
        if not text:
            return ""
        if "://" not in text and not text.lower().startswith(("javascript:", "data:")):
            text = "https://" + text
        try:
            http_url(None, SimpleNamespace(data=text))
        except ValidationError as exc:
            fail(column, str(exc))
            return ""
        return text

    def _languages(self, text: str, fail) -> list[str]:
        codes, unknown = set(), []
        for part in (p.strip() for p in SPLIT.split(text) if p.strip()):
            key = part.casefold()
            if key not in self._language_cache:
                self._language_cache[key] = vocab.resolve_language(part)
            code = self._language_cache[key]
            if code is None:
                unknown.append(part)
            else:
                codes.add(code)
        if unknown:
            fail("languages", "We do not recognise: " + ", ".join(unknown) + ".")
        return sorted(codes)

    @staticmethod
    def _codes(text: str, known: dict[str, str], column: str, fail) -> list[str]:
        codes, unknown = set(), []
        for part in (p.strip() for p in SPLIT.split(text) if p.strip()):
            code = known.get(part.casefold())
            if code is None:
                unknown.append(part)
            else:
                codes.add(code)
        if unknown:
            fail(column, "We do not recognise: " + ", ".join(unknown) + ". Use the codes "
                 "listed on the import page.")
        return sorted(codes)

    def _coordinates(self, v: dict[str, str], country: str | None, number: int, fail,
                     warnings: list[RowError]) -> tuple[float | None, float | None, str | None]:
        """lat and lng when given, else the offline gazetteer's place for the address."""
        if v["lat"] or v["lng"]:
            if not (v["lat"] and v["lng"]):
                fail("lng" if v["lat"] else "lat", "Give both lat and lng, or neither.")
                return None, None, None
            lat = _float(v["lat"], -90, 90, "lat", "Enter a latitude from -90 to 90.", fail)
            lng = _float(v["lng"], -180, 180, "lng", "Enter a longitude from -180 to 180.", fail)
            if lat is None or lng is None:
                return None, None, None
            return lat, lng, GeoPrecision.EXACT
        if country is None or not v["city"]:
            return None, None, None
        key = (v["city"].casefold(), v["region"].casefold(), v["postcode"].casefold(), country)
        if key not in self._place_cache:
            self._place_cache[key] = geo.geocode_location(
                v["street"], v["city"], v["region"], v["postcode"], country,
                config={"GEOCODER": "offline"})
        place = self._place_cache[key]
        if place is None:
            warnings.append(RowError(number, "postcode", "This location could not be placed "
                                     "on the map from its postcode or town: the profile will "
                                     "be listed but not found by a search near a place until "
                                     "the location is corrected (or give lat and lng)."))
            return None, None, None
        return place.lat, place.lng, place.precision

    def _program(self, text: str) -> tuple[TrainingProgram | None, str | None]:
        """The recognised program a key or name refers to, or why there is none."""
        key = text.casefold()
        if key in self._program_cache:
            return self._program_cache[key]
        program = self.programs_by_key.get(key)
        problem = None
        if program is not None and program.retired_at is not None:
            program, problem = None, (f"The program “{text}” is retired: certifications from "
                                      "it cannot be imported as verified.")
        elif program is None:
            found = self.matcher.match(text)
            if found.outcome == "matched" and not found.ambiguous and found.key:
                program = self.active_keys[found.key]
            elif found.key:
                near = self.active_keys[found.key]
                problem = (f"“{text}” is not certainly a recognised program (closest: "
                           f"{near.key}, {near.organisation}: {near.name}). Use the program's "
                           "key.")
            else:
                problem = (f"“{text}” is not a recognised program: only certifications from "
                           "programs in the registry can be verified. Use a program's key "
                           "from Administration → Programs, or add the program first.")
        self._program_cache[key] = (program, problem)
        return program, problem


def _valid_email(text: str) -> bool:
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _boolean(text: str, default: bool, column: str, fail) -> bool:
    if not text:
        return default
    word = text.casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    fail(column, "Write yes or no.")
    return default


def _integer(text: str, low: int, high: int, column: str, message: str, fail) -> int | None:
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        fail(column, message)
        return None
    if not low <= value <= high:
        fail(column, message)
        return None
    return value


def _float(text: str, low: float, high: float, column: str, message: str, fail
           ) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        fail(column, message)
        return None
    return value


def _hours(text: str, column: str, fail) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        fail(column, HOURS_MESSAGE)
        return None
    if not math.isfinite(value):
        fail(column, HOURS_MESSAGE)
        return None
    if not 0 <= value <= 5000:
        fail(column, "Enter hours from 0 to 5000.")
        return None
    return round(value, 1)


def _date(text: str, column: str, fail) -> date | None:
    if not text:
        return None
    if ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    fail(column, DATE_MESSAGE)
    return None


def _taken_emails(emails: Iterable[str]) -> set[str]:
    """Which of these e-mail addresses already have an account."""
    emails = sorted(set(emails))
    taken: set[str] = set()
    for i in range(0, len(emails), CHUNK):
        taken.update(db.session.scalars(select(User.email).where(
            User.email.in_(emails[i:i + CHUNK]))))
    return taken


def check_file(data: bytes) -> tuple[ImportReport, list[_Row]]:
    """Read and check the whole file; the rows are ready to write when the report is ok."""
    report = ImportReport(dry_run=True, sha256=hashlib.sha256(data).hexdigest())
    rows: list[_Row] = []
    try:
        names, records = read_rows(decode(data))
        checker = _Checker(utcnow().date())
        first_row: dict[str, int] = {}
        for number, values in records:
            if not any(v.strip() for v in values):
                continue  # an empty line
            report.rows += 1
            if len(values) != len(names):
                report.errors.append(RowError(number, None, f"This row has {len(values)} "
                                              f"values but the header has {len(names)} "
                                              "columns."))
                continue
            if any(len(v) > CELL_LIMIT for v in values):
                report.errors.append(RowError(number, None, "A value in this row is longer "
                                              f"than {CELL_LIMIT:,} characters."))
                continue
            raw = {n: v for n, v in zip(names, values, strict=True) if n}
            email = normalise_email(raw.get("email", ""))
            if email:
                if email in first_row:
                    report.errors.append(RowError(number, "email", "This e-mail address is "
                                                  f"also on row {first_row[email]}."))
                else:
                    first_row[email] = number
            row = checker.check(number, raw, report.errors, report.warnings)
            if row is not None:
                rows.append(row)
    except ImportFileError as exc:
        report.file_error = str(exc)
        return report, []
    if report.rows == 0:
        report.file_error = "The file has a header but no rows to import."
    taken = _taken_emails(first_row)
    if taken:
        report.errors.extend(RowError(number, "email", "An account with this e-mail address "
                                      "already exists.")
                             for email, number in first_row.items() if email in taken)
    report.errors.sort(key=lambda e: (e.row, NAMES.index(e.column) if e.column in NAMES else -1))
    return report, rows


def dry_run(data: bytes) -> ImportReport:
    """Check the file and report every problem; write nothing."""
    report, _rows = check_file(data)
    db.session.rollback()  # nothing was changed; end the read transaction
    return report


# --------------------------------------------------------------------------- writing


def import_practitioners(data: bytes, admin: User, *, file_name: str = "") -> ImportReport:
    """Check the file and, when every row is good, write all of it in one transaction."""
    if admin is None or not admin.is_admin or not admin.is_active:
        raise ValueError("Only an active administrator can import practitioners.")
    report, rows = check_file(data)
    report.dry_run = False
    if not report.ok:
        db.session.rollback()
        return report
    import_id = uuid.uuid4().hex
    try:
        created = _write(rows, admin, import_id)
        db.session.flush()
        record("practitioners.imported", None, actor=admin, import_id=import_id,
               file=file_name[:200] or None, sha256=report.sha256, practitioners=created,
               certifications=created)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        report.file_error = ("The directory changed while importing (an e-mail address or a "
                             "profile address was taken meanwhile). Nothing was written: run "
                             "the import again.")
        return report
    except Exception:
        db.session.rollback()
        raise
    report.created = created
    report.import_id = import_id
    return report


def _insert(table, rows: list[dict[str, Any]], returning: bool = False) -> list[int]:
    """Insert many rows in the session's transaction; the new ids in row order if asked.

    PostgreSQL: ids reserved from the table's sequence in one query, then COPY (an INSERT
    of 100,000 rows spends most of its time building and parsing statements). Elsewhere:
    one executemany INSERT, batched by SQLAlchemy, with RETURNING for the ids.
    """
    if not rows:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        return _copy(table, rows, returning)
    if returning:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(db.session.scalars(statement, rows))
    db.session.execute(insert(table), rows)
    return []


def _copy(table, rows: list[dict[str, Any]], returning: bool) -> list[int]:
    """COPY rows into a PostgreSQL table (every column given; ids from its sequence)."""
    import psycopg
    from psycopg import sql

    ids: list[int] = []
    if returning:
        ids = sorted(db.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                 "FROM generate_series(1, :n)"), {"table": table.name, "n": len(rows)}))
        rows = [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)]
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns)))
    raw = db.session.connection().connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c]) if c in json_columns else row[c]
                                for c in columns])
    except psycopg.IntegrityError as exc:  # as SQLAlchemy would report it
        raise IntegrityError(f"COPY {table.name}", None, exc) from exc
    return ids


def _write(rows: list[_Row], admin: User, import_id: str) -> int:
    """Bulk INSERTs for every table, then listed_until for the new practitioners."""
    now = utcnow()
    taken_slugs = set(db.session.scalars(select(Practitioner.slug)))
    next_suffix: dict[str, int] = {}

    def unique_slug(name: str) -> str:
        base = slugify(name)
        if base not in taken_slugs:
            taken_slugs.add(base)
            return base
        n = next_suffix.get(base, 2)
        while f"{base}-{n}" in taken_slugs:
            n += 1
        next_suffix[base] = n + 1
        taken_slugs.add(f"{base}-{n}")
        return f"{base}-{n}"

    stamps = {"created_at": now, "updated_at": now}
    user_ids = _insert(User.__table__, [{
        **r.user, "password_hash": UNUSABLE_PREFIX + secrets.token_hex(16),
        "role": Role.PRACTITIONER, "email_confirmed_at": now, "is_active": True,
        **stamps} for r in rows], returning=True)
    practitioner_ids = _insert(Practitioner.__table__, [{
        **r.practitioner, "user_id": uid, "slug": unique_slug(r.practitioner["full_name"]),
        "attested_at": now, "is_demo": False, "version": 1, **stamps}
        for r, uid in zip(rows, user_ids, strict=True)], returning=True)
    _insert(PractitionerTag.__table__, [
        {"practitioner_id": pid, "kind": kind, "code": code}
        for r, pid in zip(rows, practitioner_ids, strict=True) for kind, code in r.tags])
    _insert(PracticeLocation.__table__, [{**r.location, "practitioner_id": pid, **stamps}
                                         for r, pid in zip(rows, practitioner_ids, strict=True)
                                         if r.location is not None])
    cert_ids = _insert(Certification.__table__, [{
        **r.certification, "practitioner_id": pid, "match_score": None, "status": "verified",
        "reason": "", "submitted_at": now, "reviewed_by_id": admin.id, "reviewed_at": now,
        "verified_at": now, "public_code": new_public_code(), "version": 1, **stamps}
        for r, pid in zip(rows, practitioner_ids, strict=True)], returning=True)
    # The audit log shows every decision: one event per certification, by the administrator.
    _insert(AuditEvent.__table__, [{
        "at": now, "actor_id": admin.id, "action": "certification.imported",
        "practitioner_id": pid, "subject_type": "certifications", "subject_id": cid,
        "detail": {"source": None, "target": "verified", "program": r.program_key,
                   "row": r.number, "import_id": import_id}}
        for r, pid, cid in zip(rows, practitioner_ids, cert_ids, strict=True)])
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # Fresh statistics (they count this transaction's rows), or the planner may think the
        # tables are as small as at the last ANALYZE and scan them for every practitioner.
        connection.execute(text("ANALYZE users, practitioners, certifications"))
    for i in range(0, len(practitioner_ids), CHUNK):
        listing.refresh_listing(connection, practitioner_ids=practitioner_ids[i:i + CHUNK])
    return len(rows)


def format_error(error: RowError) -> str:
    """"row 5, email: message" for the command line."""
    where = f"row {error.row}" + (f", {error.column}" if error.column else "")
    return f"{where}: {error.message}"
