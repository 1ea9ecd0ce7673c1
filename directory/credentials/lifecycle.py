"""The certification state machine: the only place a certification's status changes.

    pending ──approve──▶ verified ──(expiry date passes)──▶ expired
       │  ╲──reject──▶ rejected          │
       │   ╲─request changes─▶ changes_requested ──resubmit──▶ pending
       │                                 └──revoke──▶ revoked   (an administrator, or the
       │                                                         program's issuer)
    verified / expired ──practitioner edits──▶ pending (checked again)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from directory.models import Certification, User, issuer_of, record
from directory.models.base import unproxied, utcnow
from directory.vocab import CertStatus, Role


class IllegalTransition(Exception):
    """A status change the state machine does not allow."""


class ProgramRequired(IllegalTransition):
    """Approval needs the recognised program the certificate is from."""


class ReasonRequired(ValueError):
    """A decision that needs a reason or message was given none."""


@dataclass(frozen=True)
class Transition:
    """One allowed move: its name, from and to, who may make it, and whether it needs a reason."""

    name: str
    source: CertStatus
    target: CertStatus
    by: str  # "admin", "owner" or "system"
    needs_reason: bool = False
    # Who else may make it: "issuer", the account of the organisation whose program the
    # certification cites. A decision by either is recorded the same way (changes()).
    also_by: tuple[str, ...] = ()


S = CertStatus

TRANSITIONS = {
    t.name + ":" + t.source: t
    for t in (
        Transition("approve", S.PENDING, S.VERIFIED, "admin"),
        Transition("reject", S.PENDING, S.REJECTED, "admin", needs_reason=True),
        Transition("request_changes", S.PENDING, S.CHANGES_REQUESTED, "admin", needs_reason=True),
        Transition("resubmit", S.CHANGES_REQUESTED, S.PENDING, "owner"),
        Transition("resubmit", S.VERIFIED, S.PENDING, "owner"),
        Transition("resubmit", S.EXPIRED, S.PENDING, "owner"),
        Transition("expire", S.VERIFIED, S.EXPIRED, "system"),
        Transition("revoke", S.VERIFIED, S.REVOKED, "admin", needs_reason=True,
                   also_by=("issuer",)),
    )
}
ACTION_LABELS = {"approve": "approved", "reject": "rejected",
                 "request_changes": "sent back for changes", "resubmit": "resubmitted",
                 "expire": "expired", "revoke": "revoked"}
# How a status reads in a sentence ("A certification that is waiting for review …"); every
# status has one (tests/test_vocabularies.py).
STATUS_LABELS: dict[CertStatus, str] = {
    S.PENDING: "waiting for review", S.VERIFIED: "verified", S.REJECTED: "rejected",
    S.CHANGES_REQUESTED: "waiting for changes", S.EXPIRED: "expired", S.REVOKED: "revoked",
}
# The practitioner may edit a pending certification (it stays pending) or one a resubmit
# leaves from (it goes back to pending).
EDITABLE = frozenset({S.PENDING} | {t.source for t in TRANSITIONS.values() if t.name == "resubmit"})
# The decisions that carry a reason for the practitioner: the statuses those decisions reach.
REASON_GIVEN = frozenset(t.target for t in TRANSITIONS.values() if t.needs_reason)
# The statuses no transition leaves: a decision that stands for good (rejected, revoked).
FINAL = frozenset(S) - {t.source for t in TRANSITIONS.values()}
# The statuses of a certification that was verified once: its public check page tells its
# story (verified, expired or revoked); the others show it as not verified.
ONCE_VERIFIED = frozenset({S.VERIFIED, S.EXPIRED, S.REVOKED})


def allowed(cert: Certification, action: str) -> bool:
    """True when this action may be taken from the certification's current status."""
    return f"{action}:{cert.status}" in TRANSITIONS


def apply(cert: Certification, action: str, actor: User | None, reason: str = "",
          now: datetime | None = None) -> Certification:
    """Move the certification, record who and when, and add the audit event (caller commits)."""
    actor = unproxied(actor)
    transition = TRANSITIONS.get(f"{action}:{cert.status}")
    if transition is None:
        raise IllegalTransition(f"A certification that is {STATUS_LABELS[cert.status]} cannot "
                                f"be {ACTION_LABELS.get(action, action)}.")
    _check_actor(transition, cert, actor)
    reason = (reason or "").strip()
    if action == "approve" and cert.program is None:
        raise ProgramRequired("Choose the recognised program this certificate is from "
                                "before approving it: “verified” means a recognised program.")
    if transition.needs_reason and not reason:
        raise ReasonRequired("Give a reason: the practitioner will see it.")
    now = now or utcnow()
    for name, value in changes(transition, actor, reason, now).items():
        setattr(cert, name, value)
    record(f"certification.{action}", cert, actor=actor,
           **audit_detail(transition, reason), practitioner_id=cert.practitioner_id)
    return cert


def changes(transition: Transition, actor: User | None, reason: str, now: datetime
            ) -> dict[str, Any]:
    """What a transition writes on the certification (attribute → value): the one definition
    of each decision, applied by apply(), by the bulk import (approved()) and by the test
    factories."""
    values: dict[str, Any] = {"status": transition.target}
    if transition.by == "admin":  # an administrator's decision, or the issuer's revocation
        values |= {"reviewed_by": actor, "reviewed_at": now, "reason": reason}
    if transition.name == "approve":
        values["verified_at"] = now
    elif transition.name == "revoke":
        values["revoked_at"] = now
    elif transition.name == "resubmit":
        values |= {"submitted_at": now, "reason": ""}
    return values


def audit_detail(transition: Transition, reason: str = "") -> dict[str, Any]:
    """The detail of a transition's audit event (its action is "certification.<name>")."""
    return {"source": transition.source, "target": transition.target, "reason": reason or None}


APPROVE = TRANSITIONS[f"approve:{S.PENDING}"]


def approved(admin: User, now: datetime) -> dict[str, Any]:
    """The columns of a certification submitted and approved at once by an administrator (the
    bulk import): the submission's, then approve's changes, with the reviewer as its id, for an
    INSERT."""
    admin = unproxied(admin)
    if admin is None or not admin.is_admin:
        raise IllegalTransition("Only an administrator can decide a certification.")
    values = {"status": APPROVE.source, "submitted_at": now} | changes(APPROVE, admin, "", now)
    values["reviewed_by_id"] = values.pop("reviewed_by").id
    return values


def _check_actor(transition: Transition, cert: Certification, actor: User | None) -> None:
    if "issuer" in transition.also_by and actor is not None and actor.role == Role.ISSUER:
        issuer = issuer_of(actor)
        if issuer is None or not issuer.covers(cert):
            raise IllegalTransition("Only the organisation whose program this certification "
                                    f"cites can {transition.name} it.")
        return
    if transition.by == "admin" and (actor is None or not actor.is_admin):
        raise IllegalTransition("Only an administrator can decide a certification.")
    if transition.by == "owner" and (actor is None or actor.practitioner is None
                                     or actor.practitioner.id != cert.practitioner_id):
        raise IllegalTransition("Only the practitioner can resubmit a certification.")
    if transition.by == "system" and actor is not None:
        raise IllegalTransition("Certifications expire by date only.")
