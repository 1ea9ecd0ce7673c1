"""Registry services: programs and jurisdiction rules. Change → flush → audit → commit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from directory.credentials import scope_changes
from directory.credentials.rules import RULE_FIELDS, normalise_jurisdiction, stored_values
from directory.extensions import db
from directory.models import (
    Certification,
    JurisdictionRule,
    ProgramAlias,
    TrainingProgram,
    User,
    record,
)
from directory.models.base import utcnow

PROGRAM_FIELDS = ("key", "organisation", "organisation_acronym", "name", "level", "country",
                  "hours", "in_person_hours", "exam", "website", "source_url", "notes")



class DuplicateError(Exception):
    """The key, or the jurisdiction and profession, is already used by another record."""


# --------------------------------------------------------------------------- programs


def program_key_taken(key: str, exclude_id: int | None = None) -> bool:
    """True when another program already has this key."""
    query = select(TrainingProgram.id).where(TrainingProgram.key == key)
    if exclude_id is not None:
        query = query.where(TrainingProgram.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def cited_count(program: TrainingProgram) -> int:
    """How many certifications cite a program."""
    return db.session.scalar(select(func.count(Certification.id))
                             .where(Certification.program_id == program.id)) or 0


def list_programs(include_retired: bool = False) -> list[tuple[TrainingProgram, int]]:
    """Programs with how many certifications cite each, by organisation, level and name."""
    cited = (select(func.count(Certification.id))
             .where(Certification.program_id == TrainingProgram.id)
             .correlate(TrainingProgram).scalar_subquery())
    query = (select(TrainingProgram, cited).options(selectinload(TrainingProgram.aliases))
             .order_by(TrainingProgram.organisation, TrainingProgram.level,
                       TrainingProgram.name, TrainingProgram.id))
    if not include_retired:
        query = query.where(TrainingProgram.retired_at.is_(None))
    return [(program, count) for program, count in db.session.execute(query)]


def _set_aliases(program: TrainingProgram, aliases: list[str]) -> bool:
    """Replace the program's aliases as a set (existing rows kept); True when they changed."""
    wanted = list(dict.fromkeys(aliases))
    current = {a.alias: a for a in program.aliases}
    if set(current) == set(wanted):
        return False
    program.aliases = [current.get(alias) or ProgramAlias(alias=alias) for alias in wanted]
    return True


@contextmanager
def _unique(message: str) -> Iterator[None]:
    """Make the changes and flush; a unique-constraint failure (another admin saved the same
    key a moment ago; loading a relationship can autoflush too) becomes DuplicateError."""
    try:
        yield
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise DuplicateError(message) from exc


def create_program(actor: User, values: dict[str, Any], aliases: list[str]) -> TrainingProgram:
    """Add a recognised program with its aliases."""
    with _unique(f"Another program already has the key “{values.get('key')}”."):
        program = TrainingProgram(**{k: values.get(k) for k in PROGRAM_FIELDS})
        program.notes = program.notes or ""
        _set_aliases(program, aliases)
        db.session.add(program)
    record("program.created", program, actor=actor, key=program.key,
           aliases=len(program.aliases))
    db.session.commit()
    return program


def update_program(program: TrainingProgram, actor: User, values: dict[str, Any],
                   aliases: list[str]) -> TrainingProgram:
    """Change a program and replace its aliases; the audit event names the changed fields
    and their old values."""
    values = {**values, "notes": values.get("notes") or ""}
    old_aliases = [a.alias for a in program.aliases]
    changed = sorted(k for k in PROGRAM_FIELDS if getattr(program, k) != values.get(k))
    before: dict[str, Any] = {k: getattr(program, k) for k in changed}
    with _unique(f"Another program already has the key “{values.get('key')}”."):
        for key in PROGRAM_FIELDS:
            setattr(program, key, values.get(key))
        if _set_aliases(program, aliases):
            changed.append("aliases")
            before["aliases"] = old_aliases
    record("program.updated", program, actor=actor, key=program.key, fields=changed,
           before=before)
    db.session.commit()
    return program


def retire_program(program: TrainingProgram, actor: User) -> bool:
    """Retire a program: new certifications cannot cite it, existing ones keep it."""
    if program.retired_at is not None:
        return False
    program.retired_at = utcnow()
    db.session.flush()
    record("program.retired", program, actor=actor, key=program.key,
           certifications=cited_count(program))
    db.session.commit()
    return True


def restore_program(program: TrainingProgram, actor: User) -> bool:
    """Bring a retired program back into the practitioners' list."""
    if program.retired_at is None:
        return False
    program.retired_at = None
    db.session.flush()
    record("program.restored", program, actor=actor, key=program.key)
    db.session.commit()
    return True


# --------------------------------------------------------------------------- rules


def rule_exists(jurisdiction: str, profession: str, exclude_id: int | None = None) -> bool:
    """True when another rule has this jurisdiction and profession."""
    query = select(JurisdictionRule.id).where(JurisdictionRule.jurisdiction == jurisdiction,
                                              JurisdictionRule.profession == profession)
    if exclude_id is not None:
        query = query.where(JurisdictionRule.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def list_rules(jurisdiction_prefix: str = "", profession: str = "") -> list[JurisdictionRule]:
    """Rules due for review first (overdue and soonest due; never reviewed before all), then
    by jurisdiction and profession; "US" matches US and every US-xx region."""
    query = select(JurisdictionRule).order_by(
        JurisdictionRule.review_due_on.is_(None).desc(), JurisdictionRule.review_due_on,
        JurisdictionRule.jurisdiction, JurisdictionRule.profession)
    prefix = normalise_jurisdiction(jurisdiction_prefix)
    if prefix:
        query = query.where(JurisdictionRule.jurisdiction.startswith(prefix, autoescape=True))
    if profession:
        query = query.where(JurisdictionRule.profession == profession)
    return list(db.session.scalars(query))


def _json_safe(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _rule_message(values: dict[str, Any]) -> str:
    return (f"There is already a rule for {values.get('jurisdiction')} and "
            f"{values.get('profession')}.")


@dataclass(frozen=True)
class RuleSaved:
    """A rule saved, and how many practitioners' verdicts the change turned (each flagged
    under Verdict changes)."""

    rule: JurisdictionRule
    verdicts_changed: int


def create_rule(actor: User, values: dict[str, Any], reason: str = "") -> RuleSaved:
    """Add a jurisdiction rule; practitioners whose verdict it changes are flagged."""
    values = stored_values(values)
    rule = JurisdictionRule(**values, admin_edited_at=utcnow())
    with scope_changes.watching(rule, actor, reason, rule.jurisdiction,
                                rule.profession) as watch:
        with _unique(_rule_message(values)):
            db.session.add(rule)
    record("rule.created", rule, actor=actor, jurisdiction=rule.jurisdiction,
           profession=rule.profession, permitted=rule.permitted, reason=reason,
           verdicts_changed=len(watch.changes))
    db.session.commit()
    return RuleSaved(rule, len(watch.changes))


def update_rule(rule: JurisdictionRule, actor: User, values: dict[str, Any],
                reason: str = "") -> RuleSaved:
    """Change a jurisdiction rule: the audit event names who, the changed fields, their old
    values and why; practitioners whose verdict it changes are flagged for an administrator."""
    values = stored_values(values)
    changed = sorted(k for k in RULE_FIELDS if getattr(rule, k) != values.get(k))
    before = {k: _json_safe(getattr(rule, k)) for k in changed}
    with scope_changes.watching(rule, actor, reason, values["jurisdiction"],
                                values["profession"]) as watch:
        with _unique(_rule_message(values)):
            for key in RULE_FIELDS:
                setattr(rule, key, values.get(key))
            rule.admin_edited_at = utcnow()
    record("rule.updated", rule, actor=actor, jurisdiction=rule.jurisdiction,
           profession=rule.profession, fields=changed, before=before, reason=reason,
           verdicts_changed=len(watch.changes))
    db.session.commit()
    return RuleSaved(rule, len(watch.changes))
