"""The directory's version: one row, bumped by every change to what public pages show."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from directory.models.base import db


class DirectoryVersion(db.Model):
    """What caches key public pages by (directory.freshness): version goes up by one, and
    changed_at is set, in the same transaction as any change to public data."""

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"<DirectoryVersion {self.version} at {self.changed_at}>"
