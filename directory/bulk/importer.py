"""Import practitioners from CSV: parse and check every row, then write all of them or none.

A dry run reports every problem (row, column, message) and writes nothing. A real run checks the
same way and, only when no row has an error, writes everything in one transaction with bulk
INSERTs: accounts (confirmed, with no usable password: the person claims the account with
"Forgot password"), profiles, tags, one practice location, and one certification each,
approved by the importing administrator through the state machine's "approve", with its audit
event. listed_until is then brought up to date with set-based UPDATEs
(listing.refresh_listing), so the imported practitioners are listed at once.

This module is the import's entry points and report; the steps are its neighbours:
reader.py (the file's text, header and rows), checker.py (each row against the field rules
the forms use, directory/field_rules.py) and writer.py (the bulk INSERTs).
"""

from __future__ import annotations

import gc
import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from directory.accounts.services import normalise_email
from directory.bulk import reader
from directory.bulk.checker import CheckedRow, Checker, RowError, taken_emails
from directory.bulk.columns import NAMES
from directory.bulk.reader import ImportFileError
from directory.bulk.writer import write
from directory.extensions import db
from directory.models import User, record
from directory.models.base import utcnow

__all__ = ["ImportFileError", "ImportReport", "RowError", "check_file", "dry_run",
           "format_error", "import_practitioners"]


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


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector paused while a file is checked or written.

    A file of 100,000 rows becomes about a million small dicts and lists, kept until the write;
    the collector runs every 700 new containers and, as the heap grows, walks all of them
    again: measured, a fifth of the import's time (tools/bench_import.py). None of these
    objects form cycles, so reference counting frees them as usual; the collector runs again
    when the step ends (also on an error).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_file(data: bytes) -> tuple[ImportReport, list[CheckedRow]]:
    """Read and check the whole file; the rows are ready to write when the report is ok."""
    report = ImportReport(dry_run=True, sha256=hashlib.sha256(data).hexdigest())
    rows: list[CheckedRow] = []
    try:
        names, rows_read = reader.read_rows(reader.decode(data))
        checker = Checker(utcnow().date())
        first_row: dict[str, int] = {}
        for number, raw in reader.records(names, rows_read, report, RowError):
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
    taken = taken_emails(first_row)
    if taken:
        report.errors.extend(RowError(number, "email", "An account with this e-mail address "
                                      "already exists.")
                             for email, number in first_row.items() if email in taken)
    report.errors.sort(key=lambda e: (e.row, NAMES.index(e.column) if e.column in NAMES else -1))
    return report, rows


def dry_run(data: bytes) -> ImportReport:
    """Check the file and report every problem; write nothing."""
    with cyclic_gc_paused():
        report, _rows = check_file(data)
    db.session.rollback()  # nothing was changed; end the read transaction
    return report


def import_practitioners(data: bytes, admin: User, *, file_name: str = "") -> ImportReport:
    """Check the file and, when every row is good, write all of it in one transaction."""
    if admin is None or not admin.is_admin or not admin.is_active:
        raise ValueError("Only an active administrator can import practitioners.")
    with cyclic_gc_paused():
        report, rows = check_file(data)
    report.dry_run = False
    if not report.ok:
        db.session.rollback()
        return report
    import_id = uuid.uuid4().hex
    try:
        with cyclic_gc_paused():
            created = write(rows, admin, import_id)
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


def format_error(error: RowError) -> str:
    """"row 5, email: message" for the command line."""
    where = f"row {error.row}" + (f", {error.column}" if error.column else "")
    return f"{where}: {error.message}"
