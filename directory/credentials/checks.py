"""Automatic checks shown to the administrator beside the evidence: pass, warn or fail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from directory import field_rules, listing
from directory.credentials.matching import AUTO_MATCH
from directory.credentials.rules import (
    Scope,
    jurisdiction_label,
    practice_jurisdictions,
    scopes_for,
)
from directory.dates import format_date
from directory.extensions import db
from directory.models import Certification
from directory.models.base import utcnow
from directory.vocab import Permitted, SourceType


@dataclass(frozen=True)
class Check:
    """One automatic check and its one-line reason."""

    name: str
    status: str  # "pass" | "warn" | "fail", or "none" where there is nothing to check yet
    reason: str


def _hours(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g} h"


def program_recognised(cert: Certification) -> Check:
    name = "Program recognised"
    if cert.program is None:
        return Check(name, "fail", f"“{cert.submitted_name}” matches no recognised program.")
    label = f"{cert.program.organisation}: {cert.program.name}"
    if cert.program.retired_at is not None:
        return Check(name, "warn", f"{label} has been retired from the registry.")
    if cert.match_outcome == "suggested":
        return Check(name, "warn", f"Suggested match {label} (score {cert.match_score:.0f}); "
                                   "confirm it against the evidence.")
    if cert.match_outcome == "matched" and (cert.match_score or 0) >= AUTO_MATCH:
        return Check(name, "pass", f"Matched {label} (score {cert.match_score:.0f}).")
    return Check(name, "pass", f"Chosen from the registry: {label}.")


def program_hours(cert: Certification) -> Check:
    name = "Hours cover the program level"
    program = cert.program
    if program is None:
        return Check(name, "warn", "No recognised program to compare with.")
    if program.hours is None:
        return Check(name, "warn", "The registry does not know this program's hours.")
    if cert.hours is None:
        return Check(name, "warn", f"No hours given; the program has {_hours(program.hours)}.")
    if cert.hours >= program.hours:
        return Check(name, "pass", f"{_hours(cert.hours)} ≥ the program's {_hours(program.hours)}.")
    return Check(name, "fail", f"{_hours(cert.hours)} < the program's {_hours(program.hours)}.")


def jurisdiction_hours(cert: Certification, scopes: list[Scope]) -> Check:
    """The training against the minimum of each place of practice's rule."""
    name = "Hours meet the jurisdiction's minimum"
    if not scopes or all(s.rule is None for s in scopes):
        return Check(name, "warn", "No rule on record for this profession and jurisdiction.")
    fails, warns, passes = [], [], []
    for scope in scopes:
        rule = scope.rule
        if rule is None:
            warns.append(f"{jurisdiction_label(scope.jurisdiction)}: no rule on record.")
            continue
        where = jurisdiction_label(scope.jurisdiction)
        shortfalls, unknown = [], []
        for label, have, need in (
            ("total hours", cert.hours, rule.min_hours),
            ("in-person hours", cert.in_person_hours, rule.min_in_person_hours),
            ("supervised sessions", cert.supervised_sessions, rule.min_supervised_sessions),
        ):
            if need is None:
                continue
            if have is None:
                unknown.append(f"{label} (minimum {need:g})")
            elif have < need:
                shortfalls.append(f"{label} {have:g} < {need:g}")
        if shortfalls:
            fails.append(f"{where}: " + "; ".join(shortfalls) + ".")
        elif unknown:
            warns.append(f"{where} requires " + ", ".join(unknown) + "; not given.")
        elif rule.min_hours is None and rule.min_in_person_hours is None:
            passes.append(f"{where} sets no minimum hours.")
        else:
            passes.append(f"Meets {where}'s minimum.")
    status = "fail" if fails else "warn" if warns else "pass"
    return Check(name, status, " ".join(fails + warns + passes))


def profession_permitted(cert: Certification, scopes: list[Scope]) -> Check:
    """The profession's verdict in each place the practitioner practises."""
    name = "Profession may dry-needle there"
    p = cert.practitioner
    if not p.profession or not scopes:
        return Check(name, "warn", "The profile gives no profession or place of practice.")
    said, worst = [], "pass"
    for scope in scopes:
        where = jurisdiction_label(scope.jurisdiction)
        if scope.verdict == Permitted.YES:
            said.append(f"Permitted in {where}" + (
                "" if scope.rule.source_type == SourceType.PRIMARY
                else " (secondary sources only)") + ".")
        elif scope.verdict == Permitted.NO:
            said.append(f"Not permitted in {where}.")
            worst = "fail"
        elif scope.verdict == Permitted.UNCLEAR:
            said.append(f"Unclear in {where}: {scope.rule.other_requirements or 'see source'}.")
            worst = worst if worst == "fail" else "warn"
        else:
            said.append(f"No rule on record for {where}: permission unknown.")
            worst = worst if worst == "fail" else "warn"
    return Check(name, worst, " ".join(said))


def practice_matches_licence(cert: Certification) -> Check:
    """A licence usually holds only where it was issued: practising elsewhere needs a look."""
    name = "Practises where licensed"
    p = cert.practitioner
    if not p.licence_country:
        return Check(name, "warn", "The profile gives no licence jurisdiction.")
    licensed = p.licence_region or p.licence_country
    if not any(loc.country for loc in p.locations):
        return Check(name, "none", f"Licensed in {jurisdiction_label(licensed)}; no practice "
                     "location yet to compare.")
    elsewhere = sorted({region or country for region, country in practice_jurisdictions(p)
                        if country != p.licence_country
                        or (p.licence_region and region and region != p.licence_region)})
    if elsewhere:
        return Check(name, "warn", f"Licensed in {jurisdiction_label(licensed)} but practises in "
                     + ", ".join(jurisdiction_label(j) for j in elsewhere)
                     + ": check a licence there.")
    return Check(name, "pass", f"Licensed in {jurisdiction_label(licensed)}, where they practise.")


def completed_in_past(cert: Certification, today: date) -> Check:
    name = "Completion date not in the future"
    if cert.completed_on is None:
        return Check(name, "warn", "No completion date given.")
    if field_rules.completion_in_future(cert.completed_on, today):
        return Check(name, "fail", f"Completed on {format_date(cert.completed_on)}, after today.")
    return Check(name, "pass", f"Completed on {format_date(cert.completed_on)}.")


def not_expired(cert: Certification, today: date) -> Check:
    name = "Not expired"
    if cert.expires_on is None:
        return Check(name, "pass", "No expiry date.")
    if not listing.is_unexpired(cert, today):
        return Check(name, "fail", f"Expired on {format_date(cert.expires_on)}.")
    return Check(name, "pass", f"Valid until {format_date(cert.expires_on)}.")


def certificate_number_unique(cert: Certification) -> Check:
    name = "Certificate number not used by someone else"
    if not cert.certificate_number:
        return Check(name, "warn", "No certificate number given.")
    if cert.program_id is None:
        return Check(name, "warn", "No recognised program to compare numbers within.")
    others = db.session.scalar(select(func.count()).select_from(Certification).where(
        Certification.program_id == cert.program_id,
        func.lower(Certification.certificate_number) == cert.certificate_number.lower(),
        Certification.practitioner_id != cert.practitioner_id,
    ))
    if others:
        return Check(name, "fail", f"Number {cert.certificate_number} is on {others} other "
                                   "practitioner's certification for this program.")
    return Check(name, "pass", "No other practitioner uses this number for this program.")


def evidence_present(cert: Certification) -> Check:
    name = "Evidence attached"
    if not cert.evidence_stored_name:
        return Check(name, "fail", "No evidence file.")
    return Check(name, "pass", f"{cert.evidence_original_name} ({cert.evidence_mime}, "
                               f"{cert.evidence_size / 1024:.0f} KB).")


def confirmed_by_issuer(cert: Certification) -> Check:
    name = "Confirmed by issuer"
    answer = cert.issuer_confirmation
    if answer is None or not answer.stands:
        changed = " (its answer was about what the certification said before)" \
            if answer is not None else ""
        who = cert.program.organisation if cert.program else "The training organisation"
        return Check(name, "none", f"{who} has not answered{changed}.")
    how = " from its roster" if answer.roster_upload else ""
    when = format_date(answer.answered_at)
    if answer.confirmed:
        return Check(name, "pass", f"Confirmed by {answer.organisation}{how} on {when}.")
    return Check(name, "fail", f"Disputed by {answer.organisation} on {when}: {answer.reason}")


def run_checks(cert: Certification, today: date | None = None) -> list[Check]:
    """Every automatic check, in the order the administrator reads them."""
    today = today or utcnow().date()
    scopes = scopes_for(cert.practitioner)  # looked up once
    return [
        program_recognised(cert), program_hours(cert), jurisdiction_hours(cert, scopes),
        profession_permitted(cert, scopes), practice_matches_licence(cert),
        completed_in_past(cert, today), not_expired(cert, today),
        certificate_number_unique(cert), evidence_present(cert), confirmed_by_issuer(cert),
    ]
