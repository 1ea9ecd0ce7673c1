"""The audit log: append-only, written in the same transaction as the change it records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.models.base import db, unproxied, utcnow
from directory.models.user import User


class AuditEvent(db.Model):
    """Who did what to which record, and when. Never updated or deleted by the app."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_subject", "subject_type", "subject_id"),
        Index("ix_audit_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(64), index=True)
    # The practitioner the event concerns, when there is one (no foreign key: history outlives
    # the record), so the log can be filtered by practitioner on any database.
    practitioner_id: Mapped[int | None] = mapped_column(index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditEvent {self.action} {self.subject_type}:{self.subject_id}>"


def record(action: str, subject: Any = None, actor: User | None = None,
           **detail: Any) -> AuditEvent:
    """Add an audit event to the session; the caller's commit makes it durable with the change."""
    subject, actor = unproxied(subject), unproxied(actor)
    practitioner_id = detail.pop("practitioner_id", None)
    if practitioner_id is None and subject is not None:
        if type(subject).__tablename__ == "practitioners":
            practitioner_id = subject.id
        else:
            practitioner_id = getattr(subject, "practitioner_id", None)
        if practitioner_id is None and getattr(subject, "practitioner", None) is not None:
            practitioner_id = subject.practitioner.id
    event = AuditEvent(
        practitioner_id=practitioner_id,
        action=action,
        actor=actor,
        subject_type=type(subject).__tablename__ if subject is not None else "system",
        subject_id=getattr(subject, "id", None),
        detail=detail,
    )
    db.session.add(event)
    return event
