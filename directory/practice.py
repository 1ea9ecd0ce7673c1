"""What a patient needs before a first visit, as the profile page, the API and the structured
data all show it: the contact details the practitioner chose to show, the fees, the insurers.

Each is decided here once; the templates, directory/api/routes.py and directory/public/seo.py
ask these functions rather than reading the practitioner's columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pycountry
from babel.core import UnknownLocaleError
from babel.numbers import format_currency, get_territory_currencies

from directory import vocab
from directory.models import Practitioner
from directory.vocab import TagKind


def shown_phone(p: Practitioner) -> str:
    """The phone number the profile shows ("" when none, or when the practitioner hides it)."""
    return p.phone if p.show_phone else ""


def shown_email(p: Practitioner) -> str:
    """The public e-mail the profile shows ("" when none, or hidden)."""
    return p.public_email if p.show_public_email else ""


def takes_enquiries(p: Practitioner) -> bool:
    """Whether patients may send this practitioner a message from the profile."""
    return p.enquiries_enabled


# --------------------------------------------------------------------------- fees


def currency_for(country: str | None) -> str | None:
    """The currency a country uses today ("AU" → "AUD"), or None."""
    if not country:
        return None
    found = get_territory_currencies(country)
    return found[0] if found else None


@cache
def currencies() -> dict[str, str]:
    """ISO 4217 code → "AUD — Australian Dollar": the currency some country uses today (so no
    metals, fund units or test codes), those of the primary countries first."""
    names = {c.alpha_3: c.name for c in pycountry.currencies}
    used = dict.fromkeys(currency_for(code) for code, _ in vocab.countries())
    first = [code for code in used if code in names][:len(vocab.PRIMARY_COUNTRIES)]
    rest = sorted(code for code in used if code in names and code not in first)
    return {code: f"{code} — {names[code]}" for code in (*first, *rest)}


def money(minor: int, currency: str, country: str | None = None) -> str:
    """An amount in minor units as people of the country write it ("A$95.00" is written
    "$95.00" in Australia; whole amounts without cents: "$95")."""
    locale = f"en_{country}" if country else "en"
    try:
        text = format_currency(minor / 100, currency, locale=locale)
    except (UnknownLocaleError, ValueError):  # babel knows no such locale: plain English
        text = format_currency(minor / 100, currency, locale="en")
    if minor % 100 == 0:
        text = text.replace(".00", "")
    return text


@dataclass(frozen=True)
class Fees:
    """A practitioner's fees (minor units) in their currency."""

    currency: str
    first_visit: int | None
    follow_up: int | None

    def as_json(self) -> dict:
        """The fees as the API gives them: amounts in the currency's units."""
        return {"currency": self.currency,
                "first_visit": None if self.first_visit is None else self.first_visit / 100,
                "follow_up": None if self.follow_up is None else self.follow_up / 100}


def fees(p: Practitioner) -> Fees | None:
    """The fees the practitioner gives, or None (no fee given, or no currency)."""
    if p.fee_currency and (p.fee_first_visit is not None or p.fee_follow_up is not None):
        return Fees(p.fee_currency, p.fee_first_visit, p.fee_follow_up)
    return None


def fee_country(p: Practitioner) -> str | None:
    """The country whose way of writing money the fees are shown in."""
    return next((loc.country for loc in p.locations), None) or p.licence_country


# --------------------------------------------------------------------------- insurers


def insurers(p: Practitioner) -> list[str]:
    """The insurer codes the practitioner accepts."""
    return p.codes(TagKind.INSURANCE)


def insurer_countries(p: Practitioner) -> list[str]:
    """The countries whose insurers the profile form offers first: where the practitioner
    practises and is licensed, in that order, then the other countries with insurers."""
    own = [loc.country for loc in p.locations] + [p.licence_country or ""]
    own += [vocab.insurer_country(code) for code in insurers(p)]
    return list(dict.fromkeys(c for c in (*own, *vocab.INSURERS) if c in vocab.INSURERS))
