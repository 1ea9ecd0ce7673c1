"""Jurisdiction rules: which rule applies to a practitioner, and the verdict shown to patients."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from directory import vocab
from directory.extensions import db
from directory.models import JurisdictionRule, Practitioner
from directory.vocab import Permitted

# What a rule's `permitted` says on a public profile; every value has one.
VERDICTS: dict[Permitted, str] = {Permitted.YES: "permitted", Permitted.NO: "not permitted",
                                  Permitted.UNCLEAR: "unclear"}


def jurisdiction_label(code: str) -> str:
    """A readable name for an ISO 3166-2 or country code ("Colorado, United States")."""
    if "-" in code:
        country = code.split("-", 1)[0]
        return f"{vocab.region_name(code)}, {vocab.country_name(country)}"
    return vocab.country_name(code)


def rule_for(region: str | None, country: str | None, profession: str | None
             ) -> JurisdictionRule | None:
    """The most specific rule: the region's for the profession, the region's for any profession,
    then the country's for the profession, then the country's for any profession."""
    if not profession or not (region or country):
        return None
    places = [code for code in (region, country) if code]
    rules = db.session.scalars(select(JurisdictionRule).where(
        JurisdictionRule.jurisdiction.in_(places),
        JurisdictionRule.profession.in_([profession, "*"]),
    )).all()
    by_key = {(r.jurisdiction, r.profession): r for r in rules}
    for place in places:
        for prof in (profession, "*"):
            if (place, prof) in by_key:
                return by_key[(place, prof)]
    return None


@dataclass(frozen=True)
class Verdict:
    """What the public profile says about dry needling by this profession in this place."""

    status: str  # "permitted" | "not permitted" | "unclear" | "unknown"
    profession: str
    jurisdiction: str
    rule: JurisdictionRule | None

    @property
    def sentence(self) -> str:
        """Dry needling by <profession> in <jurisdiction>: <status>."""
        return f"Dry needling by {self.profession} in {self.jurisdiction}: {self.status}"


def verdict_for(practitioner: Practitioner) -> Verdict | None:
    """The verdict for a practitioner's licence jurisdiction and profession (None if not given)."""
    if not practitioner.profession or not practitioner.licence_country:
        return None
    place = practitioner.licence_region or practitioner.licence_country
    rule = rule_for(practitioner.licence_region, practitioner.licence_country,
                    practitioner.profession)
    profession = vocab.PROFESSIONS[practitioner.profession].lower()
    if profession.startswith("physical therapist"):
        profession = "physical therapists / physiotherapists"
    elif practitioner.profession != "other":
        profession += "s"
    else:
        profession = "other professions"
    status = VERDICTS[rule.permitted] if rule else "unknown"
    return Verdict(status=status, profession=profession,
                   jurisdiction=jurisdiction_label(place), rule=rule)
