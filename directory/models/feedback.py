"""What patients send about a listing: enquiries to the practitioner (only their metadata is
kept: the words travel in the outbox and are erased once delivered) and reports of wrong
information (kept until an administrator decides them, and after, for the record)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.models.base import db, utcnow
from directory.models.practitioner import Practitioner
from directory.models.user import User
from directory.vocab import EnquiryStatus, ReportKind, ReportStatus, check_in


class Enquiry(db.Model):
    """One enquiry sent from a profile: who, to whom, when, how long, how many links — never
    the message (it leaves in the outbox, which erases it once delivered)."""

    __tablename__ = "enquiries"
    __table_args__ = (
        CheckConstraint(check_in("status", EnquiryStatus), name="status"),
        # The limits' questions: how many from this client, and to this practitioner, lately.
        Index("ix_enquiries_client_key_created_at", "client_key", "created_at"),
        Index("ix_enquiries_practitioner_id_created_at", "practitioner_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"))
    sender_name: Mapped[str] = mapped_column(String(120))
    sender_email: Mapped[str] = mapped_column(String(254))
    # The client's address, hashed with the secret key (ratelimit.hashed_client_address).
    client_key: Mapped[str] = mapped_column(String(64))
    message_length: Mapped[int]
    link_count: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))

    practitioner: Mapped[Practitioner] = relationship()


class ListingReport(db.Model):
    """A patient's report that something on a listing is wrong, and what became of it."""

    __tablename__ = "listing_reports"
    __table_args__ = (
        CheckConstraint(check_in("kind", ReportKind), name="kind"),
        CheckConstraint(check_in("status", ReportStatus), name="status"),
        # Decided exactly when someone decided it.
        CheckConstraint("(status = 'open') = (resolved_at IS NULL)", name="resolved_when_decided"),
        Index("ix_listing_reports_status_created_at", "status", "created_at"),
        Index("ix_listing_reports_client_key_created_at", "client_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    details: Mapped[str] = mapped_column(Text, default="")
    # Optional: where an administrator may ask the reporter a question.
    reporter_email: Mapped[str] = mapped_column(String(254), default="")
    client_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.OPEN)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str] = mapped_column(Text, default="")

    practitioner: Mapped[Practitioner] = relationship()
    resolved_by: Mapped[User | None] = relationship()
