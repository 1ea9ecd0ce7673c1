"""A practitioner's licence and where its check at the official source stands.

The licence's identity (number, issuing country and region, NPI) is what the practitioner
states on their profile (practitioners.licence_*, practitioners.npi); this row is its
verification: one per practitioner, kept by directory/licences/services.py, every change
audited (the audit log is its history). Changing the number, the jurisdiction or the NPI
makes it unverified again.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.models.base import TimestampMixin, db
from directory.models.practitioner import Practitioner
from directory.models.user import User
from directory.vocab import LicenceMethod, LicenceStatus, check_in


class Licence(TimestampMixin, db.Model):
    """The check of one practitioner's licence: status, method, source, dates, reviewer."""

    __tablename__ = "licences"
    __table_args__ = (
        CheckConstraint(check_in("status", LicenceStatus), name="status"),
        CheckConstraint("method IS NULL OR " + check_in("method", LicenceMethod), name="method"),
        # A verified licence always says how, from what, when and until when.
        CheckConstraint("status != 'verified' OR (method IS NOT NULL AND verified_on IS NOT NULL"
                        " AND next_due IS NOT NULL)", name="verified_complete"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=LicenceStatus.UNVERIFIED.value)
    method: Mapped[str | None] = mapped_column(String(12))
    # The register and its file date ("NPPES file of 2026-11-09") or the register's URL.
    source: Mapped[str] = mapped_column(String(300), default="")
    # What was checked: the number and jurisdiction as they stood (a later edit voids the check).
    checked_number: Mapped[str] = mapped_column(String(60), default="")
    checked_jurisdiction: Mapped[str] = mapped_column(String(10), default="")
    verified_on: Mapped[date | None]
    verified_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    # The last day the check counts: 12 months after it, sooner when the register gives an
    # expiry. After it the licence is due for a new check and the practitioner is not listed.
    next_due: Mapped[date | None]
    register_expires_on: Mapped[date | None]
    # Why a check failed, or what the administrator noted.
    note: Mapped[str] = mapped_column(Text, default="")
    # Practitioners listed before licences were checked stay listed until this day, unchecked
    # (migration 0009); NULL for everyone else.
    grace_until: Mapped[date | None]
    # The e-mail announcing the grace period (NULL: not yet), and the "your licence check is
    # due" e-mail for the current last good day (NULL: not yet; reset by each check).
    grace_notice_sent_at: Mapped[datetime | None]
    due_reminder_sent_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    practitioner: Mapped[Practitioner] = relationship(back_populates="licence")
    verified_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Licence {self.practitioner_id} {self.status}>"
