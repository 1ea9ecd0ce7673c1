"""The practitioner CSV: one row per practitioner, with one practice location and one
verified certification. Shown on the upload page, in the template file and in the README."""

from __future__ import annotations

from dataclasses import dataclass

from directory import field_rules, vocab


@dataclass(frozen=True)
class Column:
    """One column of the file: its header, whether it must have a value, and how to write it."""

    name: str
    required: bool
    format: str
    example: str
    group: str  # "account", "profile", "location", "certification"


def _codes(mapping: dict[str, str]) -> str:
    return ", ".join(mapping)


def _up_to(name: str, more: str = "") -> str:
    """"Up to 120 characters." from the field rule's length."""
    return f"Up to {field_rules.LENGTHS[name]:,} characters{more}."


def _range(bounds: field_rules.Range) -> str:
    return f"from {bounds.low:,} to {bounds.high:,}"


COLUMNS: tuple[Column, ...] = (
    Column("email", True, "The account's e-mail address; unique in the file and on the site. "
           "The person claims the account with “Forgot password”.",
           "ann.lee@example.com", "account"),
    Column("full_name", True, _up_to("full_name"), "Ann Lee", "profile"),
    Column("profession", False, f"One of: {_codes(vocab.PROFESSIONS)} (or its name, such as "
           "“Chiropractor”).", "physiotherapist", "profile"),
    Column("post_nominals", False, _up_to("post_nominals"), "DPT", "profile"),
    Column("licence_number", False, _up_to("licence_number", "; needs licence_country"),
           "PT-012345", "profile"),
    Column("licence_country", False, "ISO 3166-1 two-letter code (or the country's name).",
           "US", "profile"),
    Column("licence_region", False, "State, province or territory of the licence: its ISO "
           "3166-2 code or name (“CO”, “US-CO”, “Colorado”). Empty for a national licence.",
           "CO", "profile"),
    Column("npi", False, "US National Provider Identifier: 10 digits, the last a check digit "
           "(licence_country US). With it the licence is checked against the NPPES file.",
           "1234567893", "profile"),
    Column("bio", False, "Plain text, " + _up_to("bio").lower(), "Sports physiotherapist.",
           "profile"),
    Column("phone", False, "Digits, spaces and + ( ) - . only.", "+1 303 555 0100", "profile"),
    Column("public_email", False, "An e-mail address shown on the profile.",
           "clinic@example.com", "profile"),
    Column("website", False, "An http(s) address (“example.com” means https://example.com).",
           "https://example.com", "profile"),
    Column("booking_url", False, "An http(s) address for online booking.", "", "profile"),
    Column("languages", False, "Languages spoken: names or ISO 639-1 codes, "
           f"{field_rules.LIST_HELP}.", "English; Spanish", "profile"),
    Column("techniques", False, f"Codes ({_codes(vocab.TECHNIQUES)}) or their names, "
           f"{field_rules.LIST_HELP}.", "trigger_point; deep", "profile"),
    Column("conditions", False, f"Codes ({_codes(vocab.CONDITIONS)}) or their names, "
           f"{field_rules.LIST_HELP}.", "neck_pain; low_back_pain", "profile"),
    Column("accepting_new_patients", False, "yes or no (empty: yes).", "yes", "profile"),
    Column("insurance_notes", False, "Plain text, " + _up_to("insurance_notes").lower(), "",
           "profile"),
    Column("clinic_name", True, "The practice location's name, "
           f"{_up_to('clinic_name').lower()} Leave "
           "every location column empty for a practitioner without a practice location.",
           "Lee Physio", "location"),
    Column("street", False, _up_to("street"), "1550 Larimer St", "location"),
    Column("city", True, "Town or city, " + _up_to("city").lower(), "Denver", "location"),
    Column("region", False, "State, province or county, as it is written in the address.",
           "CO", "location"),
    Column("postcode", False, "Postcode or ZIP; places the location on the map.", "80202",
           "location"),
    Column("country", True, "ISO 3166-1 two-letter code (or the country's name).", "US",
           "location"),
    Column("wheelchair_accessible", False, "yes or no (empty: no).", "yes", "location"),
    Column("lat", False, "Latitude in degrees, with lng; when empty the location is placed "
           "from its postcode or town (offline gazetteer).", "", "location"),
    Column("lng", False, "Longitude in degrees, with lat.", "", "location"),
    Column("program", True, "The recognised program: its key from Administration → Programs "
           "(“kinetacore-fdn-1”), or its name as written on the certificate when that matches "
           "one program without doubt.", "kinetacore-fdn-1", "certification"),
    Column("level", False, f"Whole number {_range(field_rules.LEVEL)}.", "", "certification"),
    Column("certificate_number", False, _up_to("certificate_number"), "KC-2023-0042",
           "certification"),
    Column("completed_on", True, "Date as YYYY-MM-DD, not in the future.", "2023-05-14",
           "certification"),
    Column("expires_on", False, "Date as YYYY-MM-DD after completed_on and not past (empty: "
           "does not expire).", "", "certification"),
    Column("hours", False, f"Total hours, {_range(field_rules.HOURS)}.", "27", "certification"),
    Column("in_person_hours", False,
           f"Hours in person, {_range(field_rules.HOURS)}, at most the total hours.", "27",
           "certification"),
    Column("supervised_sessions", False, f"Whole number {_range(field_rules.SESSIONS)}.", "",
           "certification"),
)

NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
# Required in the header; each row needs a value in them too, except that the location columns
# may all be empty together (a practitioner without a practice location).
REQUIRED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
LOCATION: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.group == "location")
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
GROUP_LABELS = {"account": "Account", "profile": "Profile", "location": "Practice location",
                "certification": "Certification (imported as verified)"}


def template_csv() -> str:
    """A CSV file with the header and one example row, to fill in a spreadsheet."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(NAMES)
    writer.writerow([c.example for c in COLUMNS])
    return out.getvalue()
