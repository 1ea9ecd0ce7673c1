"""Load the recognised programs and jurisdiction rules from the data files in the repository."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from directory.credentials.matching import load_programs
from directory.extensions import db
from directory.models import JurisdictionRule, ProgramAlias, TrainingProgram, record

RULES_PATH = Path(__file__).resolve().parent.parent / "data" / "jurisdiction_rules.json"


def seed_reference_data() -> tuple[int, int]:
    """At start-up: fill the registry and the rules only while they are empty.

    Once administrators keep them, a renamed or re-keyed row is theirs: it must not come back
    from the data file on the next start. `flask --app wsgi reference load` adds what is new.
    """
    programs_empty = db.session.scalar(select(func.count()).select_from(TrainingProgram)) == 0
    rules_empty = db.session.scalar(select(func.count()).select_from(JurisdictionRule)) == 0
    if not (programs_empty or rules_empty):
        return 0, 0
    return load_reference_data(programs=programs_empty, rules=rules_empty)


def load_reference_data(programs: bool = True, rules: bool = True) -> tuple[int, int]:
    """Add programs and rules that are not in the database yet; never overwrite admin edits."""
    have_programs = set(db.session.scalars(select(TrainingProgram.key))) if programs else None
    added_programs = 0
    for row in (load_programs() if programs else []):
        if row["key"] in have_programs:
            continue
        program = TrainingProgram(
            key=row["key"], organisation=row["organisation"],
            organisation_acronym=row.get("organisation_acronym"), name=row["name"],
            level=row.get("level"), country=row["country"], hours=row.get("hours"),
            in_person_hours=row.get("in_person_hours"), exam=row.get("exam"),
            website=row.get("website"), source_url=row.get("source"),
            notes=row.get("notes") or "",
            aliases=[ProgramAlias(alias=a) for a in dict.fromkeys(row.get("aliases") or [])],
        )
        db.session.add(program)
        added_programs += 1

    have_rules = {(j, p) for j, p in db.session.execute(
        select(JurisdictionRule.jurisdiction, JurisdictionRule.profession))}
    added_rules = 0
    for row in (json.loads(RULES_PATH.read_text(encoding="utf-8")) if rules else []):
        if (row["jurisdiction"], row["profession"]) in have_rules:
            continue
        reviewed = row.get("reviewed_on")
        db.session.add(JurisdictionRule(
            jurisdiction=row["jurisdiction"], profession=row["profession"],
            permitted=row["permitted"], min_hours=row.get("min_hours"),
            min_in_person_hours=row.get("min_in_person_hours"),
            min_supervised_sessions=row.get("min_supervised_sessions"),
            min_years_licensed=row.get("min_years_licensed"),
            exam_required=row.get("exam_required"),
            referral_required=row.get("referral_required"),
            other_requirements=row.get("other_requirements") or "",
            source_url=row["source_url"], other_sources=row.get("other_sources") or [],
            reviewed_on=date.fromisoformat(reviewed) if reviewed else None,
        ))
        added_rules += 1
    if added_programs or added_rules:
        db.session.flush()
        record("reference.loaded", None, programs=added_programs, rules=added_rules)
        db.session.commit()
    return added_programs, added_rules
