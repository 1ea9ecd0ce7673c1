"""How much of the directory the jurisdiction rules cover: the verdicts listed practitioners get,
and the (jurisdiction, profession) pairs a rule governs, per country and profession.

Read by `flask --app wsgi reference coverage` (the README's figures) and by the tests that hold
the demo directory to its goals (no demo practitioner listed where not permitted, at most 30 %
"unknown", no US medical doctor "unknown").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pycountry
from sqlalchemy import func, select

from directory import listing, vocab
from directory.credentials.rules import UNKNOWN, VERDICTS, rule_for
from directory.extensions import db
from directory.models import PracticeLocation, Practitioner

# Subdivisions that are not places a practitioner of the directory is licensed in.
NOT_COUNTED = {"Outlying area"}


@dataclass(frozen=True)
class ListedVerdict:
    """One listed practitioner's verdict where they practise (their first location's, as the
    API record's `scope` gives it)."""

    practitioner_id: int
    country: str
    profession: str
    verdict: str
    is_demo: bool


def listed_verdicts() -> list[ListedVerdict]:
    """Every listed practitioner with a profession and a location, with the verdict their
    first location carries (directory.listing keeps it)."""
    first = (select(func.min(PracticeLocation.id))
             .where(PracticeLocation.practitioner_id == Practitioner.id)
             .correlate(Practitioner).scalar_subquery())
    rows = db.session.execute(
        select(Practitioner.id, PracticeLocation.country, Practitioner.profession,
               PracticeLocation.scope_verdict, Practitioner.is_demo)
        .join(PracticeLocation, PracticeLocation.id == first)
        .where(listing.listed_clause(), Practitioner.profession.is_not(None))
        .order_by(Practitioner.id))
    return [ListedVerdict(pid, country, profession, verdict or UNKNOWN, bool(demo))
            for pid, country, profession, verdict, demo in rows]


def shares(verdicts: list[ListedVerdict]) -> dict[str, tuple[int, float]]:
    """Verdict → (how many, share of all), every verdict present, in VERDICTS order."""
    counts = Counter(v.verdict for v in verdicts)
    total = len(verdicts) or 1
    return {verdict: (counts[verdict], counts[verdict] / total) for verdict in VERDICTS}


def regions(country: str) -> list[str]:
    """The places of a country a rule can be written for: its top-level subdivisions (states,
    provinces, territories, the UK's nations), without outlying areas."""
    return sorted(code for code in vocab._subdivisions(country)
                  if pycountry.subdivisions.get(code=code).type not in NOT_COUNTED)


def coverage(countries=vocab.PRIMARY_COUNTRIES, professions=tuple(vocab.PROFESSIONS)
             ) -> dict[tuple[str, str], Counter]:
    """(country, profession) → how many of the country's regions get each verdict from the
    governing rule (the region's own, or the country's), "unknown" where none governs."""
    found: dict[tuple[str, str], Counter] = {}
    for country in countries:
        places = regions(country)
        for profession in professions:
            if profession == "other":
                continue
            found[(country, profession)] = Counter(
                rule.permitted if (rule := rule_for(region, country, profession)) else UNKNOWN
                for region in places)
    return found
