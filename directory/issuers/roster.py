"""A training organisation's roster of graduates (CSV): read and checked as the practitioner
import is (directory/bulk/: its reader for the text and cells, its report by row and column,
directory/field_rules.py for levels and dates), then matched against the certifications citing
the organisation's programs. A roster with any bad row writes nothing; a good one confirms the
pending and verified submissions that match a row (the certificate number, and the holder's
name close enough by rapidfuzz), and the report says what matched and what did not, row by row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date

from rapidfuzz import fuzz, utils
from sqlalchemy import func, select

from directory import field_rules
from directory.bulk.checker import CHUNK, RowError
from directory.bulk.reader import ImportFileError, clean_cell, decode, read_rows, records
from directory.extensions import db
from directory.issuers import services
from directory.models import Certification, Issuer, TrainingProgram, User, record
from directory.models.base import utcnow
from directory.models.issuer import programs_of_clause
from directory.vocab import CertStatus, IssuerAnswer

# column → (required, what it holds), in the order of the template and of the report.
COLUMNS: dict[str, tuple[bool, str]] = {
    "certificate_number": (True, "The number on the certificate, as the graduate received it."),
    "name": (True, "The graduate's name."),
    "level": (True, "The program's level, a whole number from 1 to 9."),
    "completed_on": (True, "The date the course was completed, like 2024-03-31."),
    "expires_on": (False, "The date the certificate expires, like 2027-03-31; empty when it "
                          "does not expire."),
    "program": (False, "The program's key in the registry; needed only when the organisation "
                       "has several programs at one level."),
}
NAMES = tuple(COLUMNS)
REQUIRED = tuple(name for name, (required, _) in COLUMNS.items() if required)
EXAMPLE = {"certificate_number": "DN-2024-0117", "name": "Jane Example", "level": "1",
           "completed_on": "2024-03-31", "expires_on": "", "program": ""}
# Submissions a roster confirms: waiting for review, or verified already.
MATCHED_STATUSES = (CertStatus.PENDING, CertStatus.VERIFIED)
NAME_MATCH = 85  # rapidfuzz score (0-100) from which two names are the same person's
TITLES = frozenset({"dr", "mr", "mrs", "ms", "miss", "mx", "prof", "professor"})

# What happened to a row, with its label in the report.
CONFIRMED, ALREADY, DIFFERS, DISPUTED, NO_MATCH = (
    "confirmed", "already", "differs", "disputed", "no_match")
OUTCOMES = {CONFIRMED: "Confirmed", ALREADY: "Already confirmed",
            DIFFERS: "Not confirmed: differs", DISPUTED: "Not confirmed: you disputed it",
            NO_MATCH: "No matching submission"}


@dataclass(frozen=True)
class RosterRow:
    """One checked row of the roster."""

    number: int
    certificate_number: str
    name: str
    program: TrainingProgram
    level: int
    completed_on: date
    expires_on: date | None


@dataclass
class RowResult:
    """What one good row matched: its outcome (OUTCOMES), why, and the certification."""

    row: int
    certificate_number: str
    name: str
    outcome: str
    message: str
    cert_id: int | None = None


@dataclass
class RosterReport:
    """What a check of the roster found, or what its upload wrote."""

    dry_run: bool
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_error: str | None = None
    results: list[RowResult] = field(default_factory=list)
    sha256: str = ""
    upload_id: str | None = None

    @property
    def ok(self) -> bool:
        """True when every row is good (the roster can be, or was, applied)."""
        return self.file_error is None and not self.errors and self.rows > 0

    @property
    def rows_with_errors(self) -> int:
        """How many rows have at least one error."""
        return len({e.row for e in self.errors})

    def count(self, outcome: str) -> int:
        """How many rows had this outcome."""
        return sum(1 for r in self.results if r.outcome == outcome)


# --------------------------------------------------------------------------- reading


class _Programs:
    """The organisation's programs (retired ones too: their graduates are still graduates)."""

    def __init__(self, organisation: str) -> None:
        self.organisation = organisation
        self.all = list(db.session.scalars(select(TrainingProgram).where(
            TrainingProgram.organisation == organisation).order_by(TrainingProgram.level,
                                                                   TrainingProgram.key)))
        self.by_key = {p.key.casefold(): p for p in self.all}
        self.by_name = {p.name.casefold(): p for p in self.all}

    def find(self, text: str, level: int | None) -> tuple[TrainingProgram | None, str, str]:
        """The program a row names (by key or name, else by its level), or the column and
        message saying why there is none."""
        if text:
            program = self.by_key.get(text.casefold()) or self.by_name.get(text.casefold())
            if program is None:
                keys = ", ".join(p.key for p in self.all)
                return None, "program", (f"“{text}” is not one of {self.organisation}'s "
                                         f"programs in the registry (its keys: {keys}).")
            if level is not None and program.level is not None and program.level != level:
                return None, "level", (f"{program.key} is a level {program.level} program, "
                                       f"not level {level}.")
            return program, "", ""
        if level is None:
            return None, "", ""
        at_level = [p for p in self.all if p.level == level]
        if not at_level:
            levels = ", ".join(str(n) for n in sorted({p.level for p in self.all
                                                         if p.level is not None}))
            return None, "level", (f"{self.organisation} has no program at level {level} in "
                                   "the registry" + (f" (its levels: {levels})." if levels
                                                     else "."))
        if len(at_level) > 1:
            keys = ", ".join(p.key for p in at_level)
            return None, "program", (f"{self.organisation} has several programs at level "
                                     f"{level} ({keys}): give the program column with one "
                                     "of these keys.")
        return at_level[0], "", ""


def check_rows(data: bytes, issuer: Issuer, today: date) -> tuple[RosterReport, list[RosterRow]]:
    """Read and check every row; the rows are ready to match when the report is ok."""
    report = RosterReport(dry_run=True, sha256=hashlib.sha256(data).hexdigest())
    good: list[RosterRow] = []
    try:
        names, rows_read = read_rows(
            decode(data), COLUMNS, REQUIRED,
            "The columns are: " + ", ".join(NAMES) + " (described on this page and in the "
            "template file).")
        programs = _Programs(issuer.organisation)
        first_row: dict[str, int] = {}
        for number, typed in records(names, rows_read, report, RowError):
            raw = {n: clean_cell(v) for n, v in typed.items()}
            row = _check_row(number, raw, programs, today, first_row, report.errors)
            if row is not None:
                good.append(row)
    except ImportFileError as exc:
        report.file_error = str(exc)
        return report, []
    if report.rows == 0:
        report.file_error = "The file has a header but no rows."
    report.errors.sort(key=lambda e: (e.row, NAMES.index(e.column) if e.column in NAMES
                                      else -1))
    return report, good


def _check_row(number: int, v: dict[str, str], programs: _Programs, today: date,
               first_row: dict[str, int], errors: list[RowError]) -> RosterRow | None:
    before = len(errors)

    def fail(column: str, message: str) -> None:
        errors.append(RowError(number, column, message))

    def rule(column: str, check, *args):
        try:
            return check(*args)
        except field_rules.RuleError as exc:
            fail(column, str(exc))
            return None

    for column, length_of in (("certificate_number", "certificate_number"),
                              ("name", "full_name")):
        message = field_rules.too_long(length_of, v.get(column, ""))
        if message:
            fail(column, message)
    for column in REQUIRED:
        if not v.get(column) and not any(e.column == column for e in errors[before:]):
            fail(column, "This column needs a value.")
    level = rule("level", field_rules.whole_number, v.get("level", ""), field_rules.LEVEL,
                 field_rules.LEVEL_MESSAGE)
    dates = {"completed_on": rule("completed_on", field_rules.iso_date,
                                  v.get("completed_on", "")),
             "expires_on": rule("expires_on", field_rules.iso_date, v.get("expires_on", ""))}
    for column, message in field_rules.certification_problems(dates, today).items():
        fail(column, message)
    program, column, message = programs.find(v.get("program", ""), level)
    if message and not any(e.column == column for e in errors[before:]):
        fail(column, message)
    key = number_key(v.get("certificate_number", ""))
    if key and not any(e.column == "certificate_number" for e in errors[before:]):
        if key in first_row:
            fail("certificate_number", f"This certificate number is also on row "
                 f"{first_row[key]}.")
        else:
            first_row[key] = number
    if len(errors) > before or program is None:
        return None
    return RosterRow(number=number, certificate_number=v["certificate_number"], name=v["name"],
                     program=program, level=level, completed_on=dates["completed_on"],
                     expires_on=dates["expires_on"])


# --------------------------------------------------------------------------- matching


def number_key(text: str) -> str:
    """A certificate number as compared: without surrounding spaces, in lower case (the SQL
    in _candidates folds the column the same way)."""
    return (text or "").strip().lower()


def _plain_name(text: str) -> str:
    """A name for comparing: no accents, case, punctuation or titles ("Dr. José Núñez" →
    "jose nunez")."""
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text or "")
                   if not unicodedata.combining(ch))
    return " ".join(w for w in utils.default_process(text).split() if w not in TITLES)


def name_score(a: str, b: str) -> float:
    """How alike two people's names are, 0-100: word order does not count, and a middle name
    or a second surname on one side only does not either (when both give two words or more)."""
    a, b = _plain_name(a), _plain_name(b)
    if not a or not b:
        return 0.0
    score = fuzz.token_sort_ratio(a, b)
    if min(len(a.split()), len(b.split())) >= 2:
        score = max(score, fuzz.token_set_ratio(a, b))
    return float(score)


def _candidates(issuer: Issuer, rows: list[RosterRow]) -> dict[str, list[Certification]]:
    """The submissions citing the organisation's programs, by certificate number (folded)."""
    numbers = sorted({number_key(r.certificate_number) for r in rows})
    found: dict[str, list[Certification]] = {}
    for i in range(0, len(numbers), CHUNK):
        for cert in db.session.scalars(select(Certification).where(
                programs_of_clause(issuer.organisation),
                Certification.status.in_(MATCHED_STATUSES),
                func.lower(func.trim(Certification.certificate_number)).in_(
                    numbers[i:i + CHUNK])).order_by(Certification.id)):
            found.setdefault(number_key(cert.certificate_number), []).append(cert)
    return found


def _differences(row: RosterRow, cert: Certification) -> list[str]:
    """What the submission says that the roster does not."""
    found = []
    level = cert.level or (cert.program.level if cert.program else None)
    if cert.program_id != row.program.id:
        found.append(f"it was submitted for {cert.program.name}, the roster says "
                     f"{row.program.name}")
    elif level is not None and level != row.level:
        found.append(f"it was submitted as level {level}, the roster says level {row.level}")
    if cert.completed_on is not None and cert.completed_on != row.completed_on:
        found.append(f"completed on {cert.completed_on.isoformat()} as submitted, "
                     f"{row.completed_on.isoformat()} on the roster")
    if cert.expires_on is not None and row.expires_on is not None \
            and cert.expires_on != row.expires_on:
        found.append(f"expires on {cert.expires_on.isoformat()} as submitted, "
                     f"{row.expires_on.isoformat()} on the roster")
    return found


def match(issuer: Issuer, rows: list[RosterRow]) -> list[RowResult]:
    """Each good row's outcome against the submissions (nothing is written here)."""
    candidates = _candidates(issuer, rows)
    results = []
    for row in rows:
        certs = candidates.get(number_key(row.certificate_number), [])

        def result(outcome: str, message: str, cert: Certification | None = None,
                   row: RosterRow = row) -> RowResult:
            return RowResult(row.number, row.certificate_number, row.name, outcome, message,
                             cert.id if cert is not None else None)

        if not certs:
            results.append(result(NO_MATCH, "No submission waiting for review or verified "
                                             "has this certificate number."))
            continue
        scored = sorted(((name_score(row.name, c.practitioner.full_name), c) for c in certs),
                        key=lambda pair: -pair[0])
        score, cert = scored[0]
        if score < NAME_MATCH:
            results.append(result(NO_MATCH, f"The submission with this number is in another "
                                  f"name ({cert.practitioner.full_name}, similarity "
                                  f"{score:.0f} of 100).", cert))
            continue
        differences = _differences(row, cert)
        answer = cert.issuer_confirmation
        if differences:
            results.append(result(DIFFERS, f"{cert.practitioner.full_name}: "
                                  + "; ".join(differences) + ". Confirm or dispute it on its "
                                  "page.", cert))
        elif answer is not None and answer.confirmed:
            results.append(result(ALREADY, f"{cert.practitioner.full_name}: confirmed "
                                  f"already.", cert))
        elif answer is not None and answer.disputed:
            results.append(result(DISPUTED, f"{cert.practitioner.full_name}: you disputed it "
                                  "earlier; a roster does not overturn that. Confirm it on its "
                                  "page if the dispute no longer stands.", cert))
        else:
            results.append(result(CONFIRMED, f"{cert.practitioner.full_name} "
                                  f"(name similarity {score:.0f} of 100).", cert))
    return results


# --------------------------------------------------------------------------- the whole roster


def check_roster(data: bytes, issuer: Issuer) -> RosterReport:
    """Check the roster and say what it would confirm; write nothing."""
    report, rows = check_rows(data, issuer, utcnow().date())
    if report.ok:
        report.results = match(issuer, rows)
    db.session.rollback()  # nothing was changed; end the read transaction
    return report


def upload_roster(data: bytes, issuer: Issuer, actor: User, *, file_name: str = ""
                  ) -> RosterReport:
    """Check the roster and, when every row is good, confirm the matching submissions: every
    confirmation and the upload's audit event in one transaction."""
    report, rows = check_rows(data, issuer, utcnow().date())
    report.dry_run = False
    if not report.ok:
        db.session.rollback()
        return report
    report.results = match(issuer, rows)
    upload_id = uuid.uuid4().hex
    now = utcnow()
    try:
        for result in report.results:
            if result.outcome == CONFIRMED:
                cert = db.session.get(Certification, result.cert_id)
                services.set_answer(issuer, actor, cert, IssuerAnswer.CONFIRMED,
                                    roster_upload=upload_id, now=now)
        record("issuer.roster_uploaded", issuer, actor=actor, upload_id=upload_id,
               file=file_name[:200] or None, sha256=report.sha256, rows=report.rows,
               **{outcome: report.count(outcome) for outcome in OUTCOMES})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    report.upload_id = upload_id
    return report


def template_csv() -> str:
    """The header and one example row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(NAMES)
    writer.writerow([EXAMPLE[n] for n in NAMES])
    return out.getvalue()
