"""Jurisdiction rules: which rule governs a profession in a place, and what patients are told.

The governing rule is chosen once, in SQL (`_governing`): the place's region before its country,
and in each the profession's own rule before an any-profession rule. The Python lookup
(`rule_for`), the verdict each location carries for the search's filter
(`location_verdict_sql`, kept by directory.listing), the result marks
(`governing_rule_id_sql`) and the automatic checks all use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import case, func, or_, select

from directory import vocab
from directory.dates import months_after
from directory.extensions import db
from directory.models import JurisdictionRule, PracticeLocation, Practitioner
from directory.vocab import Permitted, SourceType

ANY_PROFESSION = "*"
UNKNOWN = "unknown"  # the verdict where no rule governs

# A rule's word on a public badge; every verdict has one ("unclear" is never "permitted").
VERDICTS: dict[str, str] = {Permitted.YES: "permitted", Permitted.NO: "not permitted",
                            Permitted.UNCLEAR: "unclear", UNKNOWN: "unknown"}

# A rule's facts, as the data file (directory/data/jurisdiction_rules.json) and the form give them.
RULE_FIELDS = ("jurisdiction", "profession", "permitted", "min_hours", "min_in_person_hours",
               "min_supervised_sessions", "min_years_licensed", "exam_required",
               "referral_required", "registration_required", "other_requirements",
               "patient_note", "source_url", "other_sources", "source_type", "source_date",
               "pending_changes", "reviewed_on", "review_due_on")

# How long a rule stays reviewed: 12 months, or 3 while a change to the law is pending.
REVIEW_MONTHS = 12
PENDING_REVIEW_MONTHS = 3


def normalise_jurisdiction(code: str | None) -> str:
    """ "us-co " → "US-CO"; a country-wide "US-*" is the country's code, "US"."""
    code = (code or "").strip().upper()
    return code[:-2] if code.endswith("-*") else code


def jurisdiction_label(code: str) -> str:
    """A readable name for an ISO 3166-2 or country code ("Colorado, United States")."""
    if "-" in code:
        country = code.split("-", 1)[0]
        return f"{vocab.region_name(code)}, {vocab.country_name(country)}"
    return vocab.country_name(code)


def place_name(code: str) -> str:
    """The place's own name in a sentence: "Colorado", "New Zealand", "the United Kingdom"."""
    return vocab.region_name(code) if "-" in code else vocab.country_in_sentence(code)


def review_due(reviewed_on: date | None, pending_changes: str | None) -> date | None:
    """When a rule is next due for review: 12 months after its review, 3 if a change is pending."""
    if reviewed_on is None:
        return None
    return months_after(reviewed_on,
                      PENDING_REVIEW_MONTHS if (pending_changes or "").strip() else REVIEW_MONTHS)


def stored_values(values: dict[str, Any]) -> dict[str, Any]:
    """A rule's facts as stored, from the form or the data file: lists and texts never None
    (texts stripped), the jurisdiction normalised ("US-*" is "US"), a secondary source unless
    said, and the review-due date defaulted from the review (review_due)."""
    values = {k: values.get(k) for k in RULE_FIELDS}
    values["jurisdiction"] = normalise_jurisdiction(values["jurisdiction"])
    values["other_sources"] = list(values["other_sources"] or [])
    for key in ("other_requirements", "patient_note", "source_date", "pending_changes"):
        values[key] = (values[key] or "").strip()
    values["source_type"] = values["source_type"] or SourceType.SECONDARY
    if values["review_due_on"] is None:
        values["review_due_on"] = review_due(values["reviewed_on"], values["pending_changes"])
    return values


def is_due_for_review(rule: JurisdictionRule, today: date) -> bool:
    """A rule never reviewed, or whose review-due day has come."""
    return rule.review_due_on is None or rule.review_due_on <= today


def due_for_review_clause(today: date):
    """SQL for is_due_for_review()."""
    return or_(JurisdictionRule.review_due_on.is_(None), JurisdictionRule.review_due_on <= today)


# --------------------------------------------------------------------------- which rule governs


def _governing(region: Any, country: Any, profession: Any) -> tuple[Any, tuple]:
    """The WHERE and ORDER BY choosing the governing rule, for values or for correlated columns:
    a region's rule beats the country's; a profession's rule beats an any-profession rule (the
    place is compared first: a region's any-profession rule beats the country's for the
    profession)."""
    rule = JurisdictionRule
    where = (rule.jurisdiction.in_([region, country])
             & or_(rule.profession == profession, rule.profession == ANY_PROFESSION))
    # The order reads the rule's own columns only (SQLite refuses an outer column in a
    # correlated subquery's ORDER BY): of the two places the WHERE admits, the region is the
    # code with a "-" in it ("US-CO"), the country the one without ("US").
    order = (case((rule.jurisdiction.contains("-"), 0), else_=1),
             case((rule.profession == ANY_PROFESSION, 1), else_=0))
    return where, order


def rule_for(region: str | None, country: str | None, profession: str | None
             ) -> JurisdictionRule | None:
    """The rule that governs the profession in the region (an ISO 3166-2 code, or None) of the
    country, or None when there is none."""
    if not profession or not country:
        return None
    where, order = _governing(region, country, profession)
    return db.session.scalar(select(JurisdictionRule).where(where).order_by(*order).limit(1))


def governing_rule_id_sql(region, country, profession):
    """The governing rule's id as a correlated SQL expression over the given columns."""
    where, order = _governing(region, country, profession)
    return (select(JurisdictionRule.id).where(where).order_by(*order).limit(1)
            .correlate_except(JurisdictionRule).scalar_subquery())


def permitted_sql(region, country, profession):
    """The governing rule's verdict ('yes', 'no', 'unclear', or 'unknown' without a rule)."""
    where, order = _governing(region, country, profession)
    return func.coalesce(select(JurisdictionRule.permitted).where(where).order_by(*order)
                         .limit(1).correlate_except(JurisdictionRule).scalar_subquery(), UNKNOWN)


def located_in(jurisdiction: str):
    """SQL: a practice location in this region ("US-CO") or country ("US") (on the index of
    country and region code)."""
    country, _, region = jurisdiction.partition("-")
    if region:
        return (PracticeLocation.country == country) & (PracticeLocation.region_code
                                                        == jurisdiction)
    return PracticeLocation.country == jurisdiction


def location_verdict_sql(region, country, profession):
    """The verdict each practice location carries for the search (directory.listing keeps it):
    NULL without a profession (as scope_at gives no Scope), else permitted_sql."""
    return case((profession.is_(None), None),
                else_=permitted_sql(region, country, profession))


def rules_by_id(ids) -> dict[int, JurisdictionRule]:
    """The rules with these ids (one query)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {r.id: r for r in db.session.scalars(
        select(JurisdictionRule).where(JurisdictionRule.id.in_(ids)))}


# --------------------------------------------------------------------------- what patients read


def profession_words(profession: str, country: str | None = None) -> str:
    """The profession in the plural, as people say it there ("physical therapists" in the US)."""
    if profession == "physiotherapist":
        return "physical therapists" if country == "US" else "physiotherapists"
    if profession in (ANY_PROFESSION, "other"):
        return "practitioners of other professions" if profession == "other" else "practitioners"
    return vocab.PROFESSIONS.get(profession, profession).lower() + "s"


def _hours(value: float) -> str:
    return f"{value:g} hour" + ("" if value == 1 else "s")


def plain_conditions(rule: JurisdictionRule) -> str:
    """The rule's requirements in words for a patient: "after at least 50 hours of training, 40
    of them in person, and 2 years in practice; they must pass an exam" ("" when none)."""
    training: list[str] = []
    if rule.min_hours is not None:
        part = f"at least {_hours(rule.min_hours)} of training"
        if rule.min_in_person_hours is not None and rule.min_in_person_hours < rule.min_hours:
            part += f", {rule.min_in_person_hours:g} of them in person"
        elif rule.min_in_person_hours is not None:
            part += ", all in person"
        training.append(part)
    elif rule.min_in_person_hours is not None:
        training.append(f"at least {_hours(rule.min_in_person_hours)} of in-person training")
    if rule.min_supervised_sessions:
        training.append(f"{rule.min_supervised_sessions} supervised treatments")
    if rule.min_years_licensed:
        years = f"{rule.min_years_licensed:g}"
        training.append(f"{years} year{'' if years == '1' else 's'} in practice")
    words = ""
    if training:
        words = "after " + (training[0] if len(training) == 1 else
                            ", ".join(training[:-1]) + " and " + training[-1])
    registered = "hold the registration or licence needed there"
    if rule.exam_required and rule.registration_required:
        duties = (f"pass an exam and {registered}", f"have passed an exam and {registered}")
    elif rule.exam_required:
        duties = ("pass an exam", "have passed an exam")
    elif rule.registration_required:
        duties = (registered, registered)
    else:
        return words
    return f"{words}; they must {duties[0]}" if words else f"once they {duties[1]}"


def source_host(url: str | None) -> str:
    """The site a source is on ("pphc.co"), for a sentence."""
    host = urlsplit(url or "").hostname or ""
    return host.removeprefix("www.")


@dataclass(frozen=True)
class Scope:
    """Whether a profession may dry-needle where a practitioner practises, for patients and the
    API: the verdict, the governing rule (None: unknown) and, when unknown, the regulator."""

    verdict: str  # "yes" | "no" | "unclear" | "unknown"
    jurisdiction: str  # where they practise: ISO 3166-2 region code, or the country's code
    profession: str
    rule: JurisdictionRule | None
    regulator_name: str | None = None
    regulator_url: str | None = None

    @property
    def country(self) -> str:
        return self.jurisdiction.split("-", 1)[0]

    @property
    def label(self) -> str:
        """The badge's word: permitted, not permitted, unclear or unknown."""
        return VERDICTS[self.verdict]

    @property
    def place(self) -> str:
        return place_name(self.jurisdiction)

    @property
    def summary(self) -> str:
        """One sentence for a patient."""
        who = profession_words(self.profession, self.country)
        if self.rule is None:
            return f"We have no rule on record for whether {who} may dry-needle in {self.place}."
        if self.verdict == Permitted.YES:
            conditions = plain_conditions(self.rule)
            return f"In {self.place}, {who} may dry-needle" + (
                f" {conditions}." if conditions else
                ". The rules we found set no minimum hours of training.")
        if self.verdict == Permitted.NO:
            return f"In {self.place}, {who} may not dry-needle."
        return (f"In {self.place}, it is not yet clear whether {who} may dry-needle: we do not "
                "show it as permitted.")

    @property
    def note(self) -> str:
        """The rule's note for patients ("" when none)."""
        return self.rule.patient_note if self.rule else ""

    @property
    def confidence(self) -> str:
        """How sure we are, in a sentence: a verdict on secondary sources says so."""
        if self.rule is None:
            return ""
        host = source_host(self.rule.source_url) or "a secondary source"
        if self.rule.source_type == SourceType.PRIMARY:
            return f"From the law or the regulator ({host})."
        return f"Reported by {host}, not yet confirmed with the regulator."

    @property
    def source_dated(self) -> str:
        """The source's date as the research gives it ("2024", "Sept 2025"), "" when it names
        no year ("first edition (date not given)")."""
        dated = self.rule.source_date if self.rule else ""
        return dated if re.search(r"\b(1[89]|20)\d\d\b", dated or "") else ""

    def as_json(self) -> dict[str, Any]:
        """The API's `scope` object."""
        rule = self.rule
        return {
            "verdict": self.verdict, "jurisdiction": self.jurisdiction,
            "profession": self.profession, "summary": self.summary,
            "source_url": rule.source_url if rule else None,
            "source_type": rule.source_type if rule else None,
            "reviewed_on": rule.reviewed_on.isoformat() if rule and rule.reviewed_on else None,
            "regulator_url": self.regulator_url,
        }


def scope_of(rule: JurisdictionRule | None, jurisdiction: str, profession: str) -> Scope:
    """The Scope a governing rule (or None) gives the profession in the jurisdiction."""
    if rule is not None:
        return Scope(rule.permitted, jurisdiction, profession, rule)
    from directory.licences.registers import registers_for

    country, _, region = jurisdiction.partition("-")
    found = registers_for(country, jurisdiction if region else None, profession)
    register = found[0] if found else None
    return Scope(UNKNOWN, jurisdiction, profession, None,
                 register.regulator if register else None,
                 register.search_url if register else None)


def scope_at(region: str | None, country: str | None, profession: str | None) -> Scope | None:
    """The Scope in a place (None without a country or profession)."""
    if not profession or not country:
        return None
    return scope_of(rule_for(region, country, profession), region or country, profession)


def practice_jurisdictions(practitioner: Practitioner) -> list[tuple[str | None, str]]:
    """(region code, country) of each place of practice, once each, in the locations' order;
    the licence's jurisdiction when no location is given."""
    places = list(dict.fromkeys((loc.region_code, loc.country)
                                for loc in practitioner.locations if loc.country))
    if not places and practitioner.licence_country:
        places = [(practitioner.licence_region, practitioner.licence_country)]
    return places


def scopes_for(practitioner: Practitioner) -> list[Scope]:
    """The Scope in each jurisdiction the practitioner practises in (none without a profession).

    A practitioner licensed in one state and practising across a border gets the rule of the
    place they practise."""
    return [scope for region, country in practice_jurisdictions(practitioner)
            if (scope := scope_at(region, country, practitioner.profession)) is not None]
