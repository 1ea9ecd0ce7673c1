"""The search parameters of /fhir, each declared once: its name, FHIR type, documentation and
parser. The parser (parse()) and the CapabilityStatement (capability.py) both read these tables,
so what is documented is what is accepted, and anything else is refused with a 400.

Plain code: no request, no database. A parser raises FhirError naming the parameter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, false, or_
from sqlalchemy.sql import ColumnElement

from directory import geo
from directory.fhir import resources
from directory.fhir.outcome import FhirError
from directory.public.search_form import DEFAULT_RADIUS, MAX_PAGE, radius_error
from directory.search import MAX_RESULTS, names

# FHIR's id: 1 to 64 letters, digits, hyphens and dots.
ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")
DEFAULT_COUNT = 20
MAX_COUNT = 100  # a larger _count is served as this many (FHIR lets a server cap it)
MAX_TEXT = 100  # the longest name searched for


def _refuse(name: str, message: str, code: str = "invalid") -> FhirError:
    return FhirError(f"{name}: {message}", 400, code)


def _one_value(name: str, values: list[str]) -> str:
    if len(values) > 1:
        raise _refuse(name, "give it once (separate alternatives with commas).")
    value = values[0]
    if not value.strip():
        raise _refuse(name, "give a value, or leave the parameter out.")
    if "\x00" in value:
        raise _refuse(name, "the value holds a NUL character.")
    return value.strip()


def _valid_id(name: str, value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise _refuse(name, f"{value[:70]!r} is not a FHIR id (1 to 64 letters, digits, "
                            "'-' and '.').")
    return value


# --------------------------------------------------------------------------- value parsers

def parse_ids(name: str, values: list[str]) -> list[str]:
    """_id=12 or _id=12,14 (any of them)."""
    return [_valid_id(name, part.strip()) for part in _one_value(name, values).split(",")]


def parse_string(name: str, values: list[str]) -> str:
    """A string parameter: matched case-insensitively at the start of a word."""
    value = _one_value(name, values)
    if len(value) > MAX_TEXT:
        raise _refuse(name, f"give at most {MAX_TEXT} characters.")
    return value


def reference_parser(target: str) -> Callable[[str, list[str]], list[str]]:
    """A reference parameter to `target`: "12", "Practitioner/12" or an absolute URL ending in
    Practitioner/12; several separated by commas. The ids, checked."""

    def parse(name: str, values: list[str]) -> list[str]:
        ids = []
        for part in _one_value(name, values).split(","):
            part = part.strip()
            pieces = part.rstrip("/").split("/")
            if len(pieces) >= 2:
                if pieces[-2] != target:
                    raise _refuse(name, f"{part[:70]!r} does not refer to a {target}.")
                part = pieces[-1]
            ids.append(_valid_id(name, part))
        return ids

    parse.target = target  # type: ignore[attr-defined]  # capability.py: the reference's target
    return parse


def token_parser(system_of: Callable[[], str]) -> Callable[[str, list[str]], list[str]]:
    """A token parameter over one code system (system_of() its URL): "code", "system|code" or
    "|code"; several separated by commas. The codes; a code of another system matches nothing
    (kept as None)."""

    def parse(name: str, values: list[str]) -> list[str | None]:
        system = system_of()
        codes: list[str | None] = []
        for part in _one_value(name, values).split(","):
            given_system, bar, code = part.strip().rpartition("|")
            if not code:
                raise _refuse(name, "give a code (system|code, or code).")
            codes.append(code if not bar or given_system in ("", system) else None)
        return codes

    return parse


@dataclass(frozen=True)
class DateRange:
    """One _lastUpdated condition: a prefix and the instants [start, end) the value covers
    (2026 covers the year, 2026-12-07 the day, 2026-12-07T10:00:00Z the second)."""

    prefix: str
    start: datetime
    end: datetime

    def clause(self, column) -> ColumnElement[bool]:
        """The condition in SQL on a timestamp column."""
        return {"eq": lambda: and_(column >= self.start, column < self.end),
                "ne": lambda: or_(column < self.start, column >= self.end),
                "gt": lambda: column >= self.end, "ge": lambda: column >= self.start,
                "lt": lambda: column < self.start, "le": lambda: column < self.end,
                }[self.prefix]()

    def matches(self, value: datetime) -> bool:
        """The same condition in Python (for what is not a column)."""
        return {"eq": lambda: self.start <= value < self.end,
                "ne": lambda: value < self.start or value >= self.end,
                "gt": lambda: value >= self.end, "ge": lambda: value >= self.start,
                "lt": lambda: value < self.start, "le": lambda: value < self.end,
                }[self.prefix]()


DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")
UNSUPPORTED_PREFIXES = ("sa", "eb", "ap")
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?")


def _add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)


def parse_date(name: str, text: str) -> DateRange:
    """[prefix]date: eq (default), ne, gt, lt, ge, le, then YYYY, YYYY-MM, YYYY-MM-DD or a
    date and time (hh:mm, hh:mm:ss, with a zone, Z or +hh:mm; UTC without one)."""
    prefix = text[:2] if text[:2].isalpha() else "eq"
    value = text[2:] if text[:2].isalpha() else text
    if prefix in UNSUPPORTED_PREFIXES:
        raise _refuse(name, f"the prefix {prefix} is not supported (use one of "
                            f"{', '.join(DATE_PREFIXES)}).", "not-supported")
    if prefix not in DATE_PREFIXES:
        raise _refuse(name, f"{prefix!r} is not a date prefix ({', '.join(DATE_PREFIXES)}).")
    match = _DATE.fullmatch(value)
    if not match:
        raise _refuse(name, f"{value[:40]!r} is not a date (YYYY, YYYY-MM, YYYY-MM-DD, or "
                            "YYYY-MM-DDThh:mm:ssZ).")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        else:
            tz = UTC
        start = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                         int(minute or 0), int(second or 0),
                         int(((fraction or ".0")[1:] + "000000")[:6]), tzinfo=tz)
        start = start.astimezone(UTC)
        try:
            if fraction:
                end = start + timedelta(microseconds=1)
            elif second:
                end = start + timedelta(seconds=1)
            elif hour:
                end = start + timedelta(minutes=1)
            elif day:
                end = start + timedelta(days=1)
            else:
                end = _add_months(start, 1 if month else 12)
        except (ValueError, OverflowError):  # the range runs to the end of time (9999)
            end = datetime.max.replace(tzinfo=UTC)
        return DateRange(prefix, start, end)
    except (ValueError, OverflowError):
        raise _refuse(name, f"{value[:40]!r} is not a real date.") from None


def parse_dates(name: str, values: list[str]) -> list[DateRange]:
    """_lastUpdated, once or more (all must hold: ge2026-01-01&_lastUpdated=lt2027-01-01)."""
    ranges = []
    for value in values:
        if not value.strip() or "," in value:
            raise _refuse(name, "give one date per parameter (repeat it for a range).")
        ranges.append(parse_date(name, value.strip()))
    return ranges


# FHIR's units for near's distance (UCUM), in km.
NEAR_UNITS = {"km": 1.0, "m": 0.001, "[mi_i]": geo.KM_PER_MILE}


@dataclass(frozen=True)
class Near:
    """near=latitude|longitude|distance|unit, the distance in km."""

    lat: float
    lng: float
    radius_km: float


def _number(name: str, text: str, what: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _refuse(name, f"the {what} {text[:30]!r} is not a number.") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise _refuse(name, f"the {what} must be between {low:g} and {high:g}.")
    return value


def parse_near(name: str, values: list[str]) -> Near:
    """latitude|longitude[|distance[|unit]], latitude FIRST as R4 defines it; the distance in
    km unless a unit says otherwise (km, m or [mi_i]); the search page's distance without one.
    The distance must be one the site's search allows (1 to 500 km)."""
    parts = _one_value(name, values).split("|")
    if not 2 <= len(parts) <= 4:
        raise _refuse(name, "give latitude|longitude|distance|unit (latitude first; "
                            "distance and unit may be left out).")
    lat = _number(name, parts[0], "latitude", -90, 90)
    lng = _number(name, parts[1], "longitude", -180, 180)
    unit = parts[3] if len(parts) == 4 and parts[3] else "km"
    if unit not in NEAR_UNITS:
        raise _refuse(name, f"the unit {unit[:20]!r} is not supported: use "
                            f"{', '.join(NEAR_UNITS)}.", "not-supported")
    if len(parts) >= 3 and parts[2]:
        distance = _number(name, parts[2], "distance", 0, 1e9) * NEAR_UNITS[unit]
    else:
        distance = DEFAULT_RADIUS
    if message := radius_error(distance, "km"):
        raise _refuse(name, message)
    return Near(lat, lng, distance)


def parse_count(name: str, values: list[str]) -> int:
    """How many entries a page holds: 0 (the total alone) up to MAX_COUNT."""
    value = _one_value(name, values).lstrip("0") or "0"
    if not value.isascii() or not value.isdigit():
        raise _refuse(name, "give a whole number, 0 or more.")
    return MAX_COUNT if len(value) > 6 else min(int(value), MAX_COUNT)


def parse_page(name: str, values: list[str]) -> int:
    """Which page of the results (the next link sets it)."""
    value = _one_value(name, values)
    if (not value.isascii() or not value.isdigit() or len(value) > 6
            or not 1 <= int(value) <= MAX_PAGE):
        raise _refuse(name, f"give a page number from 1 to {MAX_PAGE}.")
    return int(value)


JSON_FORMATS = ("json", "application/json", "application/fhir+json")


def parse_format(name: str, values: list[str]) -> str:
    """Only JSON is served."""
    value = _one_value(name, values).replace(" ", "+")  # a '+' a URL sends unescaped
    if value.split(";")[0].strip() not in JSON_FORMATS:
        raise _refuse(name, f"only JSON is served ({', '.join(JSON_FORMATS)}).",
                      "not-supported")
    return value


# ------------------------------------------------------------------------------ the tables

@dataclass(frozen=True)
class Param:
    """One search parameter: its name, FHIR type, what it does, and its parser."""

    name: str
    type: str  # FHIR's search parameter type: token, string, date, reference, special, number
    documentation: str
    parse: Callable[[str, list[str]], Any] = field(repr=False)


# Of every search, on every type (CapabilityStatement.rest.searchParam): how results come back.
RESULT_PARAMS = (
    Param("_count", "number", f"Entries per page, {DEFAULT_COUNT} by default; at most "
          f"{MAX_COUNT} are served (0: the total alone).", parse_count),
    Param("_page", "number", f"The page of results, 1 to {MAX_PAGE}: the Bundle's next link "
          "sets it.", parse_page),
    Param("_format", "token", "json, application/json or application/fhir+json; answers are "
          "always application/fhir+json.", parse_format),
)
ID = Param("_id", "token", "The resource's id; several separated by commas match any of "
           "them.", parse_ids)
LAST_UPDATED = Param(
    "_lastUpdated", "date",
    "When the resource last changed (meta.lastUpdated), with a prefix eq (default), ne, gt, "
    "lt, ge or le: YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz (UTC when no zone "
    "is given); repeat it for a range (_lastUpdated=ge2026-01-01&_lastUpdated=lt2027-01-01).",
    parse_dates)
NAME_MATCH = "case-insensitively, at the start of a word"

SEARCH_PARAMS: dict[str, tuple[Param, ...]] = {
    "Practitioner": (
        ID, LAST_UPDATED,
        Param("name", "string", f"Any part of the practitioner's name, {NAME_MATCH} "
              "(name=ann finds Ann Lee and Joanne Annan).", parse_string),
        Param("family", "string", f"The family name (the last word of the name as the "
              f"practitioner gave it), {NAME_MATCH}.", parse_string),
        Param("given", "string", f"A given name (the words before the last), {NAME_MATCH}.",
              parse_string),
    ),
    "PractitionerRole": (
        ID, LAST_UPDATED,
        Param("practitioner", "reference", "The practitioner (12, Practitioner/12, or several "
              "separated by commas).", reference_parser("Practitioner")),
        Param("location", "reference", "The practice location (34, Location/34, or several "
              "separated by commas).", reference_parser("Location")),
        Param("specialty", "token", "The specialty: every role here is dry needling "
              "(dry-needling, or SYSTEM|dry-needling with the system of "
              "PractitionerRole.specialty).",
              token_parser(lambda: resources.own("CodeSystem", "specialty"))),
    ),
    "Location": (
        ID, LAST_UPDATED,
        Param("near", "special", "latitude|longitude|distance|unit, latitude first (R4): the "
              "locations within the distance, nearest first, each match's distance in the "
              "entry's location-distance extension. The distance is in km unless the unit "
              "says m or [mi_i], 1 to 500 km, 25 km when left out. The same search as the "
              "site's: the nearest location of each searchable practitioner, at most "
              f"{MAX_RESULTS} of them. Not combined with _id, _lastUpdated or name.",
              parse_near),
        Param("name", "string", f"The location's (clinic's) name, {NAME_MATCH}.",
              parse_string),
    ),
    "Organization": (
        ID, LAST_UPDATED,
        Param("name", "string", f"The training organisation's name, {NAME_MATCH}.",
              parse_string),
    ),
    "VerificationResult": (
        ID, LAST_UPDATED,
        Param("target", "reference", "The practitioner whose licence or certification was "
              "verified (12, Practitioner/12, several separated by commas).",
              reference_parser("Practitioner")),
    ),
}


def parse(resource_type: str, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """The parsed parameters of a search on this type, by name (_count and _page always),
    from the query's {name: [values]}. Raises FhirError (400) for an unknown parameter, a
    modifier, or a value its parser refuses."""
    known = {p.name: p for p in (*RESULT_PARAMS, *SEARCH_PARAMS[resource_type])}
    parsed: dict[str, Any] = {"_count": DEFAULT_COUNT, "_page": 1}
    for name, values in args.items():
        base, colon, modifier = name.partition(":")
        if colon and base in known:
            raise _refuse(base, f"the modifier :{modifier[:30]} is not supported.",
                          "not-supported")
        if name not in known:
            raise _refuse(name[:60] or "(empty)",
                          f"not a search parameter of {resource_type} here; the supported "
                          f"ones are {', '.join(known)} (see /fhir/metadata).",
                          "not-supported")
        parsed[name] = known[name].parse(name, values)
    return parsed


def parse_read(args: Mapping[str, list[str]]) -> None:
    """A read or /metadata takes _format alone."""
    for name, values in args.items():
        if name != "_format":
            raise _refuse(name[:60] or "(empty)", "a read takes no parameter but _format.",
                          "not-supported")
        parse_format(name, values)


def word_starts(value: str, text: str) -> bool:
    """What a string parameter matches: each word of text starts a word of value, without
    regard to case or accents (the words as the name search folds them: names.words, so
    "émile" finds "Émile" and "oste" finds "Östberg")."""
    wanted = names.words(text)
    found = names.words(value)
    return bool(wanted) and all(any(w.startswith(t) for w in found) for t in wanted)


def folded_words_clause(column, text: str) -> ColumnElement[bool]:
    """SQL for "each word of text starts a word of column", where column holds folded words
    separated by spaces (Practitioner.search_words): the search's first cut, before
    word_starts() decides on the name itself."""
    clauses = []
    for word in names.words(text):  # letters and digits only: nothing LIKE would read
        clauses.append(or_(column.like(f"{word}%"), column.like(f"% {word}%")))
    return and_(*clauses) if clauses else false()
