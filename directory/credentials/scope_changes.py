"""When a rule changes, the practitioners whose verdict changed: flagged for an administrator.

Every change to a rule (an administrator's edit or a new rule, and `reference load` updating a
row) goes through `watching`: it reads the verdicts of the practitioners the rule may govern
before and after (the verdict each location carries, kept by directory.listing, so a rule of a
country with many practitioners costs two reads of its locations), and writes one ScopeChange
and its audit event per practitioner and jurisdiction whose verdict differs, in the change's
transaction. The administrators' list is /admin/scope-changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, or_, select, true

from directory.credentials.rules import ANY_PROFESSION, UNKNOWN, located_in, scopes_for
from directory.extensions import db
from directory.models import JurisdictionRule, PracticeLocation, Practitioner, ScopeChange, User
from directory.models import record as audit
from directory.models.base import utcnow


def _verdicts(keys: set[tuple[str, str]]) -> dict[tuple[int, str], tuple[Practitioner, str]]:
    """(practitioner id, jurisdiction) → (practitioner, verdict) for everyone a rule with one of
    these (jurisdiction, profession) keys may govern: the verdict each location there carries
    (directory.listing keeps it), and, for a practitioner with no location, the verdict at the
    licence's place (as the profile shows it)."""
    found: dict[tuple[int, str], tuple[Practitioner, str]] = {}
    if not keys:
        return found
    loc = PracticeLocation

    def of_profession(profession: str):
        return true() if profession == ANY_PROFESSION else Practitioner.profession == profession

    located = or_(*(and_(located_in(jurisdiction), of_profession(profession))
                    for jurisdiction, profession in keys))
    for practitioner, place, verdict in db.session.execute(
            select(Practitioner, func.coalesce(loc.region_code, loc.country), loc.scope_verdict)
            .join(loc, loc.practitioner_id == Practitioner.id)
            .where(Practitioner.profession.is_not(None), located)):
        found[(practitioner.id, place)] = (practitioner, verdict)
    no_location = ~exists().where(loc.practitioner_id == Practitioner.id)
    licensed = or_(*(and_(or_(Practitioner.licence_region == jurisdiction,
                              Practitioner.licence_country == jurisdiction),
                          of_profession(profession)) for jurisdiction, profession in keys))
    for practitioner in db.session.scalars(select(Practitioner).where(
            Practitioner.profession.is_not(None), no_location, licensed)):
        for scope in scopes_for(practitioner):
            found[(practitioner.id, scope.jurisdiction)] = (practitioner, scope.verdict)
    return found


@dataclass
class Watch:
    """What `watching` found: the ScopeChange rows it wrote."""

    changes: list[ScopeChange] = field(default_factory=list)


@contextmanager
def watching(rule: JurisdictionRule, actor: User | None, reason: str,
             jurisdiction: str, profession: str) -> Iterator[Watch]:
    """Around a change to `rule` (or a new one, before it is added) that gives it this
    jurisdiction and profession: flag every practitioner whose verdict the change turns, in
    any place they practise (the rule's place before and after the change)."""
    keys = {(jurisdiction, profession)}
    if rule.jurisdiction and rule.profession:
        keys.add((rule.jurisdiction, rule.profession))
    before = _verdicts(keys)
    watch = Watch()
    yield watch
    db.session.flush()  # directory.listing refreshes the locations' verdicts
    after = _verdicts(keys)
    for key in sorted(set(before) | set(after), key=lambda k: (k[0], k[1])):
        practitioner = (after.get(key) or before[key])[0]
        old = before[key][1] if key in before else UNKNOWN
        new = after[key][1] if key in after else UNKNOWN
        if old == new:
            continue
        change = ScopeChange(practitioner=practitioner, rule_id=rule.id, jurisdiction=key[1],
                             verdict_before=old, verdict_after=new, reason=reason)
        db.session.add(change)
        watch.changes.append(change)
        audit("scope.changed", practitioner, actor=actor, rule_id=rule.id,
              jurisdiction=key[1], before=old, after=new, reason=reason)
    db.session.flush()


def open_changes_query():
    """The flagged changes no administrator has looked at yet, oldest first."""
    return (select(ScopeChange).where(ScopeChange.resolved_at.is_(None))
            .order_by(ScopeChange.created_at, ScopeChange.id))


def open_count() -> int:
    """How many flagged changes wait for an administrator."""
    return db.session.scalar(select(func.count()).select_from(ScopeChange)
                             .where(ScopeChange.resolved_at.is_(None))) or 0


def resolve(change: ScopeChange, actor: User) -> bool:
    """An administrator has looked at the practitioner again (False if already done)."""
    if change.resolved_at is not None:
        return False
    change.resolved_at, change.resolved_by = utcnow(), actor
    db.session.flush()
    audit("scope.reviewed", change.practitioner, actor=actor, scope_change_id=change.id,
          jurisdiction=change.jurisdiction, after=change.verdict_after)
    db.session.commit()
    return True
