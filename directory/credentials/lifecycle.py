"""The certification state machine: the only place a certification's status changes.

    pending ──approve──▶ verified ──(expiry date passes)──▶ expired
       │  ╲──reject──▶ rejected          │
       │   ╲─request changes─▶ changes_requested ──resubmit──▶ pending
       │                                 └──revoke──▶ revoked
    verified / expired ──practitioner edits──▶ pending (checked again)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from directory.models import Certification, User, record
from directory.models.base import unproxied, utcnow


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
    source: str
    target: str
    by: str  # "admin", "owner" or "system"
    needs_reason: bool = False


TRANSITIONS = {
    t.name + ":" + t.source: t
    for t in (
        Transition("approve", "pending", "verified", "admin"),
        Transition("reject", "pending", "rejected", "admin", needs_reason=True),
        Transition("request_changes", "pending", "changes_requested", "admin", needs_reason=True),
        Transition("resubmit", "changes_requested", "pending", "owner"),
        Transition("resubmit", "verified", "pending", "owner"),
        Transition("resubmit", "expired", "pending", "owner"),
        Transition("expire", "verified", "expired", "system"),
        Transition("revoke", "verified", "revoked", "admin", needs_reason=True),
    )
}
ACTION_LABELS = {"approve": "approved", "reject": "rejected",
                 "request_changes": "sent back for changes", "resubmit": "resubmitted",
                 "expire": "expired", "revoke": "revoked"}
STATUS_LABELS = {"pending": "waiting for review", "verified": "verified", "rejected": "rejected",
                 "changes_requested": "waiting for changes", "expired": "expired",
                 "revoked": "revoked"}
EDITABLE = ("pending", "changes_requested", "verified", "expired")


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
    source = cert.status
    cert.status = transition.target
    if transition.by == "admin":
        cert.reviewed_by = actor
        cert.reviewed_at = now
        cert.reason = reason
    if action == "approve":
        cert.verified_at = now
    elif action == "revoke":
        cert.revoked_at = now
    elif action == "resubmit":
        cert.submitted_at = now
        cert.reason = ""
    record(f"certification.{action}", cert, actor=actor, source=source,
           target=transition.target, reason=reason or None,
           practitioner_id=cert.practitioner_id)
    return cert


def _check_actor(transition: Transition, cert: Certification, actor: User | None) -> None:
    if transition.by == "admin" and (actor is None or not actor.is_admin):
        raise IllegalTransition("Only an administrator can decide a certification.")
    if transition.by == "owner" and (actor is None or actor.practitioner is None
                                     or actor.practitioner.id != cert.practitioner_id):
        raise IllegalTransition("Only the practitioner can resubmit a certification.")
    if transition.by == "system" and actor is not None:
        raise IllegalTransition("Certifications expire by date only.")
