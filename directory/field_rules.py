"""Field rules: what a practitioner's data may hold, each rule written once.

The profile, location, sign-up and certification forms (through the WTForms adapters at the
end of this module), the CSV importer (directory/bulk/checker.py), the automatic checks beside
the evidence (directory/credentials/checks.py) and the column descriptions of the import page
(directory/bulk/columns.py) all check a value here, so a value one accepts the others accept,
with the same message. The JSON API writes no practitioner data; its parameters are the search
filters' (directory/search/filters.py).

- Lengths: LENGTHS, from the model columns where the column stores the text as typed
  (String(n)); the limits of free text stored as Text and of text resolved to a code (a
  country or region typed by name) are set here.
- A check is a plain function: it returns the value as stored (normalised) and raises
  RuleError with the message for the person who typed it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from stdnum import luhn
from wtforms.validators import StopValidation, ValidationError

from directory import vocab
from directory.models import Certification, Enquiry, PracticeLocation, Practitioner, User


class RuleError(ValueError):
    """A value that breaks a rule; str(error) is the message for the person who typed it."""


def _length(column) -> int:
    length = column.property.columns[0].type.length
    if not length:
        raise TypeError(f"{column} has no length")
    return length


# The longest text each field accepts.
LENGTHS: dict[str, int] = {
    # account and profile
    "email": _length(User.email),
    "full_name": _length(Practitioner.full_name),
    "post_nominals": _length(Practitioner.post_nominals),
    "profession": 60,  # a profession's code or name, resolved to its code
    "licence_number": _length(Practitioner.licence_number),
    "licence_country": 100,  # a code or a country's name
    "licence_region": 100,  # a code or a region's name, stored as its ISO 3166-2 code
    "npi": 20,  # typed with spaces or hyphens, stored as its 10 digits
    "bio": 5000,
    "phone": _length(Practitioner.phone),
    "public_email": _length(Practitioner.public_email),
    "website": _length(Practitioner.website),
    "booking_url": _length(Practitioner.booking_url),
    "languages": 300,
    "techniques": 1000,
    "conditions": 1000,
    "insurance_notes": 2000,
    "fee": 12,  # an amount typed like 95, 95.50 or 1,200
    # practice location
    "clinic_name": _length(PracticeLocation.clinic_name),
    "street": _length(PracticeLocation.street),
    "city": _length(PracticeLocation.city),
    "region": _length(PracticeLocation.region),
    "postcode": _length(PracticeLocation.postcode),
    "country": 100,  # a code or a country's name
    # a patient's message (directory/enquiries.py)
    "sender_name": _length(Enquiry.sender_name),
    # certification
    "program": _length(Certification.submitted_name),  # a program's key or name as typed
    "certificate_number": _length(Certification.certificate_number),
}


def too_long(name: str, text: str) -> str | None:
    """The message when text is longer than the field accepts, else None."""
    limit = LENGTHS[name]
    if len(text) > limit:
        return f"At most {limit:,} characters (this has {len(text):,})."
    return None


# --------------------------------------------------------------------------- contact details

# Unicode's bidirectional embedding, override and isolate controls: invisible, they make text
# show in another order than it was typed (U+202E before "fdp.exe" shows it as "exe.pdf").
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
BIDI_MESSAGE = ("Remove the invisible text-direction characters from this text (they can make "
                "it show in another order than it was typed).")


def has_bidi_controls(text: str) -> bool:
    """Whether the text holds a bidirectional control character."""
    return bool(BIDI_CONTROLS.search(text))


def strip_bidi_controls(text: str) -> str:
    """The text without bidirectional control characters (for free text and file names)."""
    return BIDI_CONTROLS.sub("", text)


PHONE = re.compile(r"^\+?[0-9 ()\-.]{6,30}$")
PHONE_MESSAGE = "Enter a phone number using digits, spaces and + ( ) - only."
EMAIL_MESSAGE = "Enter an e-mail address like name@example.com."
URL_MESSAGE = "Enter a web address such as https://example.com."
URL_SCHEME_MESSAGE = "Only web addresses starting with http:// or https:// are allowed."


def phone(text: str) -> str:
    """Digits, spaces and + ( ) - . only, 6 to 30 of them."""
    if text and not PHONE.match(text):
        raise RuleError(PHONE_MESSAGE)
    return text


NPI_MESSAGE = "Enter the 10 digits of your NPI."
NPI_CHECK_MESSAGE = ("This is not a valid NPI: its last digit does not match. Check the number "
                     "on your NPPES record.")


NPI_COUNTRY_MESSAGE = ("An NPI is issued only for US licences: choose United States, or leave "
                       "it out.")


def npi(text: str) -> str | None:
    """A US National Provider Identifier: 10 digits (spaces and hyphens ignored), the last a
    Luhn check digit over "80840" and the first nine (the NPI standard's prefix)."""
    digits = re.sub(r"[\s-]", "", text or "")
    if not digits:
        return None
    if not re.fullmatch(r"\d{10}", digits):
        raise RuleError(NPI_MESSAGE)
    if not luhn.is_valid("80840" + digits):
        raise RuleError(NPI_CHECK_MESSAGE)
    return digits


def email(text: str) -> str:
    """An e-mail address (its syntax; nobody is sent anything to check it)."""
    if text:
        try:
            validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise RuleError(EMAIL_MESSAGE) from exc
    return text


def normalise_web_address(text: str) -> str:
    """"example.com" is read as https://example.com; other text is left as typed."""
    text = (text or "").strip()
    if text and "://" not in text and not text.lower().startswith(("javascript:", "data:")):
        text = "https://" + text
    return text


def web_address(text: str) -> str:
    """An http or https address with a host name (after normalise_web_address)."""
    if not text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise RuleError(URL_MESSAGE) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise RuleError(URL_SCHEME_MESSAGE)
    host = parts.hostname or ""
    if "." not in host or any(ch.isspace() for ch in text):
        raise RuleError(URL_MESSAGE)
    return text


# --------------------------------------------------------------------------- lists of codes

# A list typed in one field ("English, Spanish" or "English; Spanish"): either separator. The
# export writes LIST_SEPARATOR, which needs no quoting in a CSV cell.
LIST_SPLIT = re.compile(r"[;,]")
LIST_SEPARATOR = "; "
LIST_HELP = "separated by commas or semicolons"


def split_list(text: str) -> list[str]:
    """The items of a typed list, without empty ones."""
    return [part.strip() for part in LIST_SPLIT.split(text or "") if part.strip()]


def unknown_message(unknown: Iterable[str], hint: str = "") -> str:
    return "We do not recognise: " + ", ".join(unknown) + "." + (f" {hint}" if hint else "")


def codes(text: str, resolve: Callable[[str], str | None], hint: str = "") -> list[str]:
    """A typed list as sorted codes; RuleError names every item `resolve` does not know."""
    found, unknown = set(), []
    for part in split_list(text):
        code = resolve(part)
        if code is None:
            unknown.append(part)
        else:
            found.add(code)
    if unknown:
        raise RuleError(unknown_message(unknown, hint))
    return sorted(found)


def languages(text: str, resolve: Callable[[str], str | None] = vocab.resolve_language
              ) -> list[str]:
    """Languages typed as names or ISO 639-1 codes → their codes."""
    return codes(text, resolve)


def vocabulary(mapping: Mapping[str, str]) -> dict[str, str]:
    """A code or its label, in any case → the code (for lists typed in a file)."""
    found = {code.casefold(): code for code in mapping}
    found.update({label.casefold(): code for code, label in mapping.items()})
    return found


# --------------------------------------------------------------------------- yes or no

YES_WORDS = frozenset({"yes", "y", "true", "1", "x"})
NO_WORDS = frozenset({"no", "n", "false", "0"})


def yes_no(text: str, default: bool) -> bool:
    """yes or no as typed in a file (empty: the default)."""
    if not text:
        return default
    word = text.casefold()
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    raise RuleError("Write yes or no.")


# --------------------------------------------------------------------------- numbers and dates

@dataclass(frozen=True)
class Range:
    """A number's lowest and highest values and the message for one outside them."""

    low: float
    high: float
    message: str

    def check(self, value: float | None) -> float | None:
        if value is not None and not self.low <= value <= self.high:
            raise RuleError(self.message)
        return value


LEVEL = Range(1, 9, "Enter a level from 1 to 9.")
HOURS = Range(0, 5000, "Enter hours from 0 to 5000.")
SESSIONS = Range(0, 100_000, "Enter a whole number from 0 to 100,000.")
LATITUDE = Range(-90, 90, "Enter a latitude from -90 to 90.")
LONGITUDE = Range(-180, 180, "Enter a longitude from -180 to 180.")

LEVEL_MESSAGE = "Enter the level as a whole number."
SESSIONS_MESSAGE = "Enter a whole number."
HOURS_MESSAGE = "Enter a number of hours, like 27 or 27.5."
DATE_MESSAGE = "Enter a date like 2024-03-31."
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def whole_number(text: str, bounds: Range, message: str | None = None) -> int | None:
    """A whole number typed in a file, within bounds (empty: None)."""
    if not text:
        return None
    try:
        value = int(text)
    except ValueError as exc:
        raise RuleError(message or bounds.message) from exc
    return int(bounds.check(value))


def decimal(text: str, bounds: Range, message: str | None = None) -> float | None:
    """A finite decimal number typed in a file, within bounds (empty: None)."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise RuleError(message or bounds.message)
    return bounds.check(value)


def hours(text: str) -> float | None:
    """Hours of training, to one decimal place."""
    value = decimal(text, HOURS, HOURS_MESSAGE)
    return None if value is None else round(value, 1)


FEE = Range(0, 100_000, "Enter a fee from 0 to 100,000.")
FEE_MESSAGE = "Enter the fee as a number, like 95 or 95.50, without the currency sign."
FEE_PATTERN = re.compile(r"\d{1,3}(,\d{3})*(\.\d{1,2})?|\d+(\.\d{1,2})?")


def fee(text: str) -> int | None:
    """A fee typed in whole units with at most two decimals ("95", "95.50", "1,200") → its
    minor units (cents, pence), as stored (empty: None)."""
    text = (text or "").strip()
    if not text:
        return None
    if not FEE_PATTERN.fullmatch(text):
        raise RuleError(FEE_MESSAGE)
    units, _, cents = text.replace(",", "").partition(".")
    FEE.check(int(units))
    return int(units) * 100 + int(cents.ljust(2, "0") or 0)


def fee_text(minor: int | None) -> str:
    """A stored fee as the form shows it again ("95", "95.50")."""
    if minor is None:
        return ""
    units, cents = divmod(minor, 100)
    return f"{units}.{cents:02d}" if cents else str(units)


def iso_date(text: str) -> date | None:
    """A date written YYYY-MM-DD (empty: None)."""
    if not text:
        return None
    if ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise RuleError(DATE_MESSAGE)


# A completion date may be a day ahead of the server's UTC date: it is already tomorrow in
# Australia and New Zealand while it is still today in London.
COMPLETION_GRACE = timedelta(days=1)
FUTURE_COMPLETION = "The completion date is in the future."
EXPIRY_ORDER = "The expiry date must be after the completion date."
IN_PERSON_MORE = "In-person hours cannot be more than the total hours."


def completion_in_future(completed: date, today: date) -> bool:
    """Whether a completion date is later than any place on earth has reached (today is the
    server's UTC date)."""
    return completed > today + COMPLETION_GRACE


def certification_problems(values: Mapping[str, Any], today: date) -> dict[str, str]:
    """The rules between a certification's fields: field → message."""
    problems = {}
    completed, expires = values.get("completed_on"), values.get("expires_on")
    if completed and completion_in_future(completed, today):
        problems["completed_on"] = FUTURE_COMPLETION
    if completed and expires and expires <= completed:
        problems["expires_on"] = EXPIRY_ORDER
    total, in_person = values.get("hours"), values.get("in_person_hours")
    if total is not None and in_person is not None and in_person > total:
        problems["in_person_hours"] = IN_PERSON_MORE
    return problems


# --------------------------------------------------------------------------- WTForms adapters

def validator(check: Callable[[Any], Any]) -> Callable:
    """A WTForms validator running a check of this module on the field's data."""
    def validate(form, field) -> None:
        if field.data in (None, ""):
            return
        try:
            check(field.data)
        except RuleError as exc:
            raise ValidationError(str(exc)) from exc
    validate.__name__ = f"rule_{getattr(check, '__name__', 'check')}"
    return validate


def length(name: str) -> Callable:
    """A WTForms validator for LENGTHS[name] (the later checks are skipped when too long)."""
    def validate(form, field) -> None:
        message = too_long(name, field.data) if isinstance(field.data, str) else None
        if message:
            raise StopValidation(message)
    validate.__name__ = f"length_{name}"
    return validate


def in_range(bounds: Range) -> Callable:
    """A WTForms validator for a number field's Range."""
    return validator(bounds.check)
