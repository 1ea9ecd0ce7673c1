"""Reading the practitioner CSV: its bytes as UTF-8 text, its header checked against the
columns (directory/bulk/columns.py), then its rows one by one with their spreadsheet numbers."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Protocol

from directory import field_rules
from directory.bulk.columns import BY_NAME, REQUIRED

CELL_LIMIT = 10_000  # no cell of this format is longer (bio: 5,000); csv's own limit is 131,072
# Spreadsheets run a cell starting with one of these as a formula; the export prefixes such
# cells with an apostrophe, and the import removes it again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ImportFileError(ValueError):
    """A problem with the file as a whole (not CSV, wrong encoding, missing columns)."""



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


IMPORT_COLUMNS_HINT = "The columns are described on the import page and in the template file."


def read_rows(text: str, columns: Collection[str] = BY_NAME,
              required: Sequence[str] = REQUIRED, columns_hint: str = IMPORT_COLUMNS_HINT,
              ) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header's column names (checked against `columns`: every required one present, none
    unknown or repeated) and an iterator of (row number, values). The practitioner import's
    columns unless told; the issuers' rosters pass theirs."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportFileError("The first row is not a header of column names (it could not "
                              f"be read as CSV: {exc}).") from exc
    if not header or not any(h.strip() for h in header):
        raise ImportFileError("The first row must be the header with the column names.")
    names = [header_key(h) for h in header]
    _check_header(names, header, columns, required, columns_hint)

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


class RowReport(Protocol):
    """What a report counts and lists of a file's rows (the import's and a roster's)."""

    rows: int
    errors: list


def records(names: list[str], rows: Iterator[tuple[int, list[str]]], report: RowReport,
            error: Callable[[int, str | None, str], object]
            ) -> Iterator[tuple[int, dict[str, str]]]:
    """Each row that is not empty as (number, column → value as typed), counted in
    report.rows; a row with too many or too few values, or an over-long value, is reported
    (error(row, column, message)) and skipped."""
    for number, values in rows:
        if not any(v.strip() for v in values):
            continue  # an empty line
        report.rows += 1
        if len(values) != len(names):
            report.errors.append(error(number, None, f"This row has {len(values)} values but "
                                       f"the header has {len(names)} columns."))
            continue
        if any(len(v) > CELL_LIMIT for v in values):
            report.errors.append(error(number, None, "A value in this row is longer than "
                                       f"{CELL_LIMIT:,} characters."))
            continue
        hidden = [n for n, v in zip(names, values, strict=True)
                  if n and field_rules.has_bidi_controls(v)]
        if hidden:
            report.errors.extend(error(number, n, field_rules.BIDI_MESSAGE) for n in hidden)
            continue
        yield number, {n: v for n, v in zip(names, values, strict=True) if n}


def _check_header(names: list[str], header: list[str], columns: Collection[str],
                  required: Sequence[str], columns_hint: str) -> None:
    """Every required column present, none unknown or repeated."""
    if len(names) == 1 and (";" in header[0] or "\t" in header[0]):
        raise ImportFileError("Columns must be separated by commas (this file seems to use "
                              "semicolons or tabs). Save your spreadsheet as “CSV UTF-8”.")
    problems = []
    unknown = [h.strip() for h, n in zip(header, names, strict=True) if n and n not in columns]
    if unknown:
        shown = ", ".join(f"“{u[:40]}”" for u in unknown[:10])
        more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
        problems.append(f"Unknown column{'s' if len(unknown) > 1 else ''}: {shown}{more}.")
    repeated = sorted(n for n, k in Counter(names).items() if n and k > 1)
    if repeated:
        problems.append("Repeated column" + ("s" if len(repeated) > 1 else "") + ": "
                        + ", ".join(repeated) + ".")
    missing = [n for n in required if n not in names]
    if missing:
        problems.append("Missing required column" + ("s" if len(missing) > 1 else "") + ": "
                        + ", ".join(missing) + ".")
    if problems:
        raise ImportFileError(" ".join(problems) + " " + columns_hint)


def clean_cell(value: str) -> str:
    """Surrounding spaces removed, and the apostrophe the export puts before a formula-like
    value ("'+1 555 0100") removed again."""
    value = value.strip()
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        value = value[1:]
    return value
