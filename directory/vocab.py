"""Controlled vocabularies: professions, techniques, conditions, countries, regions, languages."""

import unicodedata
from enum import StrEnum
from functools import cache

import pycountry

PROFESSIONS: dict[str, str] = {
    "physiotherapist": "Physical therapist / physiotherapist",
    "chiropractor": "Chiropractor",
    "medical_doctor": "Medical doctor",
    "osteopathic_physician": "Osteopathic physician",
    "myotherapist": "Myotherapist",
    "occupational_therapist": "Occupational therapist",
    "athletic_trainer": "Athletic trainer",
    "acupuncturist": "Acupuncturist",
    "other": "Other",
}

TECHNIQUES: dict[str, str] = {
    "trigger_point": "Trigger point dry needling",
    "superficial": "Superficial dry needling",
    "deep": "Deep dry needling",
    "ims": "Intramuscular stimulation (IMS)",
    "multiple_trigger_point": "Multiple trigger point needling",
    "segmental": "Segmental dry needling",
    "functional": "Functional dry needling",
    "electrical": "Electrical stimulation through needles",
}

CONDITIONS: dict[str, str] = {
    "neck_pain": "Neck pain",
    "low_back_pain": "Low back pain",
    "shoulder_pain": "Shoulder pain",
    "headache_migraine": "Headache and migraine",
    "elbow": "Tennis and golfer's elbow",
    "plantar_fasciitis": "Plantar fasciitis",
    "knee_pain": "Knee pain",
    "hip_pain": "Hip pain",
    "sciatica": "Sciatica",
    "jaw_tmj": "Jaw and TMJ pain",
    "carpal_tunnel": "Carpal tunnel",
    "shin_splints": "Shin splints",
    "whiplash": "Whiplash",
    "pelvic_pain": "Pelvic pain",
    "sports_injuries": "Sports injuries",
}

# The countries the directory serves first; every other ISO 3166-1 country follows them.
PRIMARY_COUNTRIES = ("US", "AU", "GB", "CA", "NZ", "IE")


@cache
def countries() -> list[tuple[str, str]]:
    """(alpha-2 code, name) for every country, the primary ones first."""
    names = {c.alpha_2: getattr(c, "common_name", c.name) for c in pycountry.countries}
    rest = sorted((code for code in names if code not in PRIMARY_COUNTRIES), key=names.get)
    return [(code, names[code]) for code in (*PRIMARY_COUNTRIES, *rest)]


def country_name(code: str | None) -> str:
    """A country's name from its alpha-2 code, or the code itself when unknown."""
    if not code:
        return ""
    return dict(countries()).get(code.upper(), code)


def country_in_sentence(code: str | None) -> str:
    """A country's name as a sentence says it: "the United States", "Ireland"."""
    name = country_name(code)
    return f"the {name}" if name.startswith("United ") else name


@cache
def _subdivisions(country: str) -> dict[str, str]:
    """ISO 3166-2 code → name for one country's top-level subdivisions."""
    found = pycountry.subdivisions.get(country_code=country.upper()) or []
    return {s.code: s.name for s in found if s.parent_code is None}


def resolve_region(country: str | None, text: str | None) -> str | None:
    """The ISO 3166-2 code for a region typed as a code ("CO", "US-CO") or a name ("Colorado").

    Returns None when the text names no region of that country. England, Scotland, Wales and
    Northern Ireland are accepted for GB (they are ISO 3166-2 nations there).
    """
    if not country or not text:
        return None
    subs = dict(_subdivisions(country))
    if country.upper() == "GB":
        subs.update({"GB-ENG": "England", "GB-SCT": "Scotland", "GB-WLS": "Wales",
                     "GB-NIR": "Northern Ireland"})
    wanted = " ".join(text.replace(".", " ").split()).casefold()
    for code, name in subs.items():
        short = code.split("-", 1)[1].casefold()
        if wanted in (code.casefold(), short, name.casefold()):
            return code
    return None


def location_region(country: str | None, typed: str | None, placed: str | None = None
                    ) -> str | None:
    """A practice location's region code: the region typed on it when that names one of the
    country's regions, else the one the geocoder placed it in (None when neither)."""
    if not country:
        return None
    code = resolve_region(country, typed) if typed and typed.strip() else None
    if code is None and placed and placed.startswith(f"{country.upper()}-"):
        code = placed
    return code


def region_name(code: str | None) -> str:
    """A subdivision's name from its ISO 3166-2 code."""
    if not code:
        return ""
    if code in ("GB-ENG", "GB-SCT", "GB-WLS", "GB-NIR"):
        return {"GB-ENG": "England", "GB-SCT": "Scotland", "GB-WLS": "Wales",
                "GB-NIR": "Northern Ireland"}[code]
    sub = pycountry.subdivisions.get(code=code)
    return sub.name if sub else code


# Everyday names that differ from the ISO 639 reference names.
LANGUAGE_SYNONYMS = {"greek": "el", "mandarin": "zh", "cantonese": "zh", "farsi": "fa",
                     "filipino": "tl", "punjabi": "pa", "slovene": "sl"}

LANGUAGE_DISPLAY = {"el": "Greek", "pa": "Punjabi", "zh": "Chinese", "fa": "Persian (Farsi)"}


@cache
def languages() -> dict[str, str]:
    """ISO 639-1 code → English name, for every language that has a two-letter code."""
    return {lang.alpha_2: lang.name for lang in pycountry.languages if hasattr(lang, "alpha_2")}


def folded(text: str) -> str:
    """Text without case or accents, for comparing and ordering: "Siobhán" → "siobhan",
    "Māori" → "maori"."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold())
                   if not unicodedata.combining(ch))


def resolve_language(text: str) -> str | None:
    """The ISO 639-1 code of a language typed as a code ("es") or an English name ("Spanish"),
    with or without its accents ("Māori", "Maori")."""
    wanted = folded(text.strip())
    if not wanted:
        return None
    if wanted in LANGUAGE_SYNONYMS:
        return LANGUAGE_SYNONYMS[wanted]
    for code, name in languages().items():
        if wanted == code or wanted == name.casefold() or wanted == name.split(";")[0].casefold():
            return code
    # Names such as "Spanish; Castilian" or "Greek, Modern (1453-)": match the first word group.
    for code, name in languages().items():
        head = name.replace(";", ",").split(",")[0].strip().casefold()
        if wanted == head:
            return code
    return None


def language_name(code: str) -> str:
    """A language's English name (the first form when pycountry gives several)."""
    if code in LANGUAGE_DISPLAY:
        return LANGUAGE_DISPLAY[code]
    name = languages().get(code, code)
    return name.replace(";", ",").split(",")[0].strip()


class OutboxStatus(StrEnum):
    """Where an outgoing e-mail is: waiting (or being retried), delivered, or given up on."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def check_in(column: str, values: type[StrEnum]) -> str:
    """The SQL of a CHECK constraint that keeps a column to an enum's values."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class CertStatus(StrEnum):
    """Where a certification is in review. The order is the CHECK constraint's (migration 0001)."""

    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Role(StrEnum):
    """What a user account may do."""

    PRACTITIONER = "practitioner"
    ADMIN = "admin"
    ISSUER = "issuer"  # a training organisation of the registry (directory/models/issuer.py)


class IssuerAnswer(StrEnum):
    """What a training organisation said of a certification citing one of its programs."""

    CONFIRMED = "confirmed"  # its graduate: the certificate is theirs, as submitted
    DISPUTED = "disputed"  # not its graduate, or not as submitted (the reason says why)


class GeoPrecision(StrEnum):
    """How closely a practice location's coordinates place it."""

    EXACT = "exact"
    POSTCODE = "postcode"
    PLACE = "place"


class TagKind(StrEnum):
    """What a practitioner tag names."""

    TECHNIQUE = "technique"
    CONDITION = "condition"
    LANGUAGE = "language"
    INSURANCE = "insurance"  # an insurer or scheme accepted (INSURERS)


class Permitted(StrEnum):
    """Whether a jurisdiction permits a profession to dry needle."""

    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


class SourceType(StrEnum):
    """How strong a rule's sources are: "primary" = statute, regulation, regulator, court or
    attorney-general text; "secondary" = course provider, association, news or a summary."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


class LicenceStatus(StrEnum):
    """Where a licence's check at its official source stands."""

    UNVERIFIED = "unverified"  # never checked, or changed since its last check
    VERIFIED = "verified"  # checked and found in good standing; counts until its next check is due
    FAILED = "failed"  # checked and not found, or not in good standing
    LAPSED = "lapsed"  # was verified, but its next check fell due and was not done


class LicenceMethod(StrEnum):
    """How a licence was checked."""

    AUTOMATIC = "automatic"  # matched against a register file (NPPES in the US)
    REGISTER = "register"  # an administrator looked it up on the official register
    DEMO = "demo"  # demo data: nothing was checked


# The insurers and public schemes a practitioner may say they accept, per country (the profile
# form offers those of the practitioner's countries; the search filter offers them all). Codes
# are unique across countries and never reused: they are stored as practitioner tags.
INSURERS: dict[str, dict[str, str]] = {
    "US": {"us_medicare": "Medicare", "us_medicaid": "Medicaid", "us_tricare": "TRICARE",
           "us_va": "VA Community Care", "us_aetna": "Aetna",
           "us_bcbs": "Blue Cross Blue Shield", "us_cigna": "Cigna", "us_humana": "Humana",
           "us_kaiser": "Kaiser Permanente", "us_uhc": "UnitedHealthcare",
           "us_workers_comp": "Workers' compensation"},
    "AU": {"au_medicare_cdm": "Medicare (Chronic Disease Management plan)",
           "au_dva": "Department of Veterans' Affairs", "au_medibank": "Medibank",
           "au_bupa": "Bupa", "au_hcf": "HCF", "au_nib": "nib", "au_hbf": "HBF",
           "au_ahm": "ahm", "au_australian_unity": "Australian Unity", "au_gmhba": "GMHBA",
           "au_teachers_health": "Teachers Health", "au_workcover": "WorkCover"},
    "GB": {"gb_bupa": "Bupa", "gb_axa": "AXA Health", "gb_aviva": "Aviva",
           "gb_vitality": "Vitality", "gb_wpa": "WPA", "gb_simplyhealth": "Simplyhealth",
           "gb_cigna": "Cigna Healthcare"},
    "CA": {"ca_sun_life": "Sun Life", "ca_manulife": "Manulife", "ca_canada_life": "Canada Life",
           "ca_green_shield": "Green Shield Canada", "ca_blue_cross": "Blue Cross",
           "ca_desjardins": "Desjardins Insurance", "ca_wcb": "Workers' compensation board"},
    "NZ": {"nz_acc": "ACC (Accident Compensation Corporation)",
           "nz_southern_cross": "Southern Cross", "nz_nib": "nib", "nz_unimed": "UniMed",
           "nz_partners_life": "Partners Life"},
    "IE": {"ie_vhi": "Vhi Healthcare", "ie_laya": "Laya Healthcare",
           "ie_irish_life": "Irish Life Health", "ie_level": "Level Health"},
}


def insurer_country(code: str) -> str:
    """The country an insurer code belongs to ("au_bupa" → "AU")."""
    return code.split("_", 1)[0].upper()


@cache
def insurers() -> dict[str, str]:
    """Every insurer code → its name with its country ("Bupa (Australia)"), countries in
    PRIMARY_COUNTRIES order, names in the order of INSURERS."""
    return {code: f"{name} ({country_name(country)})"
            for country, names in INSURERS.items() for code, name in names.items()}


def insurer_name(code: str) -> str:
    """An insurer's name without its country ("Bupa")."""
    return INSURERS.get(insurer_country(code), {}).get(code, code)


class ReportKind(StrEnum):
    """What a patient says is wrong with a listing."""

    WRONG_ADDRESS = "wrong_address"
    WRONG_PHONE = "wrong_phone"
    WRONG_HOURS = "wrong_hours"
    CLOSED = "closed"
    NOT_THIS_PERSON = "not_this_person"
    OTHER = "other"


REPORT_KINDS: dict[str, str] = {
    ReportKind.WRONG_ADDRESS: "The address is wrong",
    ReportKind.WRONG_PHONE: "The phone number is wrong",
    ReportKind.WRONG_HOURS: "The opening hours are wrong",
    ReportKind.CLOSED: "The practice has closed or moved away",
    ReportKind.NOT_THIS_PERSON: "This is not the person who works there",
    ReportKind.OTHER: "Something else",
}


class ReportStatus(StrEnum):
    """Where a report of wrong information is: waiting for an administrator, or decided."""

    OPEN = "open"
    CORRECTED = "corrected"  # the listing was wrong and has been put right (or hidden)
    DISMISSED = "dismissed"  # the listing was right, or the report was not a real one


class EnquiryStatus(StrEnum):
    """What became of an enquiry (its words leave with the e-mail; this stays for abuse review)."""

    SENT = "sent"  # queued to the practitioner, with a copy to the patient
    TRAPPED = "trapped"  # the hidden field was filled in (a robot): nothing was sent
