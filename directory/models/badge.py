"""Open Badges: the place of each issued credential in the revocation status list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from directory.models.base import db, utcnow


class StatusListEntry(db.Model):
    """A certification's index in the Bitstring Status List, allocated when its first Open Badge
    credential is issued and never given to another certification: a deleted certification
    leaves its row (certification_id NULL) and its bit stays set (directory.badges.status_list).
    """

    __tablename__ = "status_list_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    certification_id: Mapped[int | None] = mapped_column(
        ForeignKey("certifications.id", ondelete="SET NULL"), unique=True)
    index: Mapped[int] = mapped_column(unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<StatusListEntry {self.index} of certification {self.certification_id}>"
