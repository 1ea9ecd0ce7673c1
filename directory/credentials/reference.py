"""Load the recognised programs and jurisdiction rules from the data files in the repository."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from directory.credentials.matching import load_programs
from directory.credentials.rules import RULE_FIELDS, stored_values
from directory.extensions import db
from directory.models import JurisdictionRule, ProgramAlias, TrainingProgram, record

RULES_PATH = Path(__file__).resolve().parent.parent / "data" / "jurisdiction_rules.json"
# The data file's rule fields; each row has these and its jurisdiction and profession.
FILE_FIELDS = tuple(k for k in RULE_FIELDS if k != "review_due_on")


@dataclass
class LoadReport:
    """What a load did: programs and rules added, rules updated from the data file, rows the
    file changed that an administrator had edited (kept, each said in a sentence), and how many
    practitioners' verdicts the changes turned (flagged for an administrator)."""

    programs: int = 0
    rules: int = 0
    updated_rules: int = 0
    conflicts: tuple[str, ...] = ()
    verdicts_changed: int = 0

    def sentence(self) -> str:
        """ "Added 0 program(s) and 63 rule(s); updated 40 rule(s) from the data file." and
        the conflicts, one line each."""
        text = (f"Added {self.programs} program(s) and {self.rules} rule(s); updated "
                f"{self.updated_rules} rule(s) from the data file")
        if self.verdicts_changed:
            text += (f"; {self.verdicts_changed} practitioner verdict(s) changed (see "
                     "Administration → Verdict changes)")
        text += "."
        for conflict in self.conflicts:
            text += f"\nNot updated: {conflict}"
        return text


def _digest(row: dict[str, Any]) -> str:
    """The data file's row, fingerprinted: a change to any of its facts changes it."""
    return hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False)
                          .encode("utf-8")).hexdigest()


def rule_rows() -> list[dict[str, Any]]:
    """The data file's rules as column values (jurisdiction normalised, dates read, the review
    due date derived), each with the digest of its row."""
    rows = []
    for row in json.loads(RULES_PATH.read_text(encoding="utf-8")):
        reviewed = row.get("reviewed_on")
        values = stored_values({**row, "review_due_on": None,
                                "reviewed_on": date.fromisoformat(reviewed) if reviewed else None})
        values["data_digest"] = _digest(row)
        rows.append(values)
    return rows


def _load_rules(report: LoadReport) -> None:
    """Add the data file's new rules and update those whose row changed since it was last
    loaded, unless an administrator has edited them: those are kept, and reported. Every
    change is audited, and practitioners whose verdict it turns are flagged."""
    from directory.credentials.scope_changes import watching

    have = {(r.jurisdiction, r.profession): r for r in db.session.scalars(select(JurisdictionRule))}
    conflicts = []
    for values in rule_rows():
        key = (values["jurisdiction"], values["profession"])
        rule = have.get(key)
        if rule is not None and rule.data_digest == values["data_digest"]:
            continue
        if rule is not None and rule.admin_edited_at is not None:
            changed = sorted(k for k in FILE_FIELDS if getattr(rule, k) != values[k])
            if changed:
                conflicts.append(
                    f"{key[0]} {key[1]}: the data file changed {', '.join(changed)}, but an "
                    f"administrator edited this rule on {rule.admin_edited_at.date()}; "
                    "theirs is kept.")
            continue
        target = rule or JurisdictionRule()
        with watching(target, None, "Jurisdiction rules loaded from the data file",
                      *key) as watch:
            changed = sorted(k for k in RULE_FIELDS if getattr(target, k) != values[k])
            before = {k: _json_safe(getattr(target, k)) for k in changed} if rule else {}
            for k, v in values.items():
                setattr(target, k, v)
            if rule is None:
                db.session.add(target)
        report.verdicts_changed += len(watch.changes)
        if rule is None:
            report.rules += 1
            record("rule.loaded", target, jurisdiction=target.jurisdiction,
                   profession=target.profession, permitted=target.permitted)
        else:
            report.updated_rules += 1
            record("rule.reloaded", target, jurisdiction=target.jurisdiction,
                   profession=target.profession, fields=changed, before=before)
    report.conflicts = tuple(conflicts)


def _json_safe(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def seed_reference_data() -> LoadReport:
    """At start-up: fill the registry and the rules only while they are empty.

    Once administrators keep them, a renamed or re-keyed row is theirs: it must not come back
    from the data file on the next start. `flask --app wsgi reference load` adds what is new.
    """
    programs_empty = db.session.scalar(select(func.count()).select_from(TrainingProgram)) == 0
    rules_empty = db.session.scalar(select(func.count()).select_from(JurisdictionRule)) == 0
    if not (programs_empty or rules_empty):
        return LoadReport()
    return load_reference_data(programs=programs_empty, rules=rules_empty)


def load_reference_data(programs: bool = True, rules: bool = True) -> LoadReport:
    """Add the programs the database lacks; add the rules it lacks and update, from the data
    file, those no administrator has edited (_load_rules). One transaction, one audit event
    for the load (and one per rule added or updated)."""
    report = LoadReport()
    have_programs = set(db.session.scalars(select(TrainingProgram.key))) if programs else None
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
        report.programs += 1
    if report.programs:
        db.session.flush()
    if rules:
        _load_rules(report)
    if report.programs or report.rules or report.updated_rules:
        record("reference.loaded", None, programs=report.programs, rules=report.rules,
               updated_rules=report.updated_rules, verdicts_changed=report.verdicts_changed)
    db.session.commit()
    return report
