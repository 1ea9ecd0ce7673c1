"""Outgoing e-mail, written in the same transaction as the change it reports; the sender
(directory.outbox) delivers it afterwards, retrying until the mail server takes it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from directory.models.base import db, utcnow
from directory.vocab import OutboxStatus, check_in


class OutboxMessage(db.Model):
    """One e-mail: rendered when the change is made, delivered by the sender."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(check_in("status", OutboxStatus), name="status"),
        # The sender's question: which pending messages are due, oldest first.
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Which template made it (for the administrators' list), and the message itself.
    kind: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(254))
    reply_to: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    # Emptied once delivered: links with tokens and people's words do not stay in the database.
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    # Due from this moment; a sender that claims the message pushes it forward by its lease, so
    # a sender that dies while delivering leaves it due again once the lease has run out.
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    sent_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status}>"
