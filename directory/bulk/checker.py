"""Checking the practitioner CSV row by row with the field rules the forms use
(directory/field_rules.py): each problem is a RowError (row, column, message); a row without
one becomes a CheckedRow, the values to write."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from directory import field_rules, geo, hours, vocab
from directory.accounts.services import normalise_email
from directory.bulk.columns import LOCATION, NAMES, REQUIRED
from directory.bulk.reader import clean_cell
from directory.credentials.matching import ProgramMatcher
from directory.extensions import db
from directory.field_rules import RuleError
from directory.models import TrainingProgram, User
from directory.vocab import GeoPrecision, TagKind

CHUNK = 500  # ids per IN (...) list, well under SQLite's parameter limit
CODES_HINT = "Use the codes listed on the import page."


@dataclass(frozen=True)
class RowError:
    """One problem: the spreadsheet row (the header is row 1), the column, the message."""

    row: int
    column: str | None
    message: str


@dataclass
class CheckedRow:
    """One checked row, ready to write."""

    number: int
    user: dict[str, Any]
    practitioner: dict[str, Any]
    tags: list[tuple[str, str]]
    location: dict[str, Any] | None
    certification: dict[str, Any]
    program_key: str


class Checker:
    """Checks rows one by one; lookups (programs, places, languages) are prepared once."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.countries = dict(vocab.countries())
        self.country_names = {name.casefold(): code for code, name in self.countries.items()}
        self.professions = field_rules.vocabulary(vocab.PROFESSIONS)
        self.techniques = field_rules.vocabulary(vocab.TECHNIQUES)
        self.conditions = field_rules.vocabulary(vocab.CONDITIONS)
        programs = list(db.session.scalars(select(TrainingProgram)))
        self.programs_by_key = {p.key.casefold(): p for p in programs}
        active = [p for p in programs if p.retired_at is None]
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

    def check(self, number: int, raw: dict[str, str], errors: list[RowError],
              warnings: list[RowError]) -> CheckedRow | None:
        """One row's values checked; its errors appended; the row to write when it has none."""
        before = len(errors)

        def fail(column: str | None, message: str) -> None:
            errors.append(RowError(number, column, message))

        def rule(column: str, check: Callable[..., Any], *args: Any) -> Any:
            """A field rule's value, or None with its message as the column's error."""
            try:
                return check(*args)
            except RuleError as exc:
                fail(column, str(exc))
                return None

        v = {}
        for name in NAMES:
            value = clean_cell(raw.get(name, ""))
            if name in field_rules.LENGTHS:
                message = field_rules.too_long(name, value)
                if message:
                    fail(name, message)
                    value = ""
            v[name] = value
        has_location = any(v[name] for name in LOCATION)
        for name in REQUIRED:
            if name in LOCATION and not has_location:
                continue
            if not v[name] and not any(e.column == name for e in errors[before:]):
                fail(name, "This column needs a value.")

        email = normalise_email(v["email"])
        if email:
            rule("email", field_rules.email, email)
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
        npi = rule("npi", field_rules.npi, v["npi"])
        if npi and licence_country and licence_country != "US":
            fail("npi", field_rules.NPI_COUNTRY_MESSAGE)
        rule("phone", field_rules.phone, v["phone"])
        rule("public_email", field_rules.email, v["public_email"])
        website = self._web_address(v["website"], "website", rule)
        booking_url = self._web_address(v["booking_url"], "booking_url", rule)
        languages = rule("languages", field_rules.languages, v["languages"], self._language)
        techniques = rule("techniques", field_rules.codes, v["techniques"],
                          _resolver(self.techniques), CODES_HINT)
        conditions = rule("conditions", field_rules.codes, v["conditions"],
                          _resolver(self.conditions), CODES_HINT)
        accepting = rule("accepting_new_patients", field_rules.yes_no,
                         v["accepting_new_patients"], True)
        wheelchair = rule("wheelchair_accessible", field_rules.yes_no,
                          v["wheelchair_accessible"], False)

        country = self._country(v["country"], "country", fail)
        lat, lng, precision, placed_region = self._coordinates(v, country, number, fail, rule,
                                                               warnings)

        program, program_problem = self._program(v["program"]) if v["program"] else (None, None)
        if program_problem:
            fail("program", program_problem)
        certification = {
            "level": rule("level", field_rules.whole_number, v["level"], field_rules.LEVEL),
            "supervised_sessions": rule("supervised_sessions", field_rules.whole_number,
                                        v["supervised_sessions"], field_rules.SESSIONS),
            "hours": rule("hours", field_rules.hours, v["hours"]),
            "in_person_hours": rule("in_person_hours", field_rules.hours, v["in_person_hours"]),
            "completed_on": rule("completed_on", field_rules.iso_date, v["completed_on"]),
            "expires_on": rule("expires_on", field_rules.iso_date, v["expires_on"]),
        }
        problems = field_rules.certification_problems(certification, self.today)
        for column, message in problems.items():
            fail(column, message)
        expires = certification["expires_on"]
        if "expires_on" not in problems and expires and expires < self.today:
            # Imported certifications are verified at once: only current ones can be.
            fail("expires_on", f"This certificate expired on {expires.isoformat()}: only "
                 "current certifications can be imported.")

        if len(errors) > before or program is None:
            return None
        by_key = v["program"].casefold() == program.key.casefold()
        return CheckedRow(
            number=number,
            user={"email": email},
            practitioner={
                "full_name": v["full_name"], "post_nominals": v["post_nominals"],
                "profession": profession, "licence_number": v["licence_number"],
                "licence_country": licence_country, "licence_region": licence_region,
                "npi": npi, "bio": v["bio"], "phone": v["phone"], "public_email": v["public_email"],
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
                "time_zone": hours.time_zone_at(lat, lng),
                "region_code": vocab.location_region(country, v["region"], placed_region),
                "wheelchair_accessible": wheelchair,
            },
            certification={
                **certification, "program_id": program.id,
                "certificate_number": v["certificate_number"],
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
    def _web_address(text: str, column: str, rule) -> str:
        """As the profile form reads it: "example.com" → https://example.com; http(s) only."""
        return rule(column, field_rules.web_address,
                    field_rules.normalise_web_address(text)) or ""

    def _language(self, part: str) -> str | None:
        key = part.casefold()
        if key not in self._language_cache:
            self._language_cache[key] = vocab.resolve_language(part)
        return self._language_cache[key]

    def _coordinates(self, v: dict[str, str], country: str | None, number: int, fail, rule,
                     warnings: list[RowError]
                     ) -> tuple[float | None, float | None, str | None, str | None]:
        """lat and lng when given, else the offline gazetteer's place for the address; and the
        region the gazetteer placed it in."""
        if v["lat"] or v["lng"]:
            if not (v["lat"] and v["lng"]):
                fail("lng" if v["lat"] else "lat", "Give both lat and lng, or neither.")
                return None, None, None, None
            lat = rule("lat", field_rules.decimal, v["lat"], field_rules.LATITUDE)
            lng = rule("lng", field_rules.decimal, v["lng"], field_rules.LONGITUDE)
            if lat is None or lng is None:
                return None, None, None, None
            return lat, lng, GeoPrecision.EXACT, None
        if country is None or not v["city"]:
            return None, None, None, None
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
            return None, None, None, None
        return place.lat, place.lng, place.precision, place.region

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


def _resolver(known: dict[str, str]) -> Callable[[str], str | None]:
    """A typed code or label (any case) → its code."""
    return lambda part: known.get(part.casefold())


def taken_emails(emails: Iterable[str]) -> set[str]:
    """Which of these e-mail addresses already have an account."""
    emails = sorted(set(emails))
    taken: set[str] = set()
    for i in range(0, len(emails), CHUNK):
        taken.update(db.session.scalars(select(User.email).where(
            User.email.in_(emails[i:i + CHUNK]))))
    return taken
