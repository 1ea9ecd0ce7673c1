"""The loaded NPPES file: the US providers the directory can check a licence against, and the
record of each load.

nppes_providers holds one monthly NPPES dissemination file at a time (directory/licences/
nppes.py replaces it whole, in one transaction): the individuals (entity type 1) with a taxonomy
the directory serves, and the deactivated NPIs (whose rows in the file carry nothing but the NPI
and the dates), so a check can say "deactivated" rather than "not found". nppes_files records
every load; the newest is the file the providers come from.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from directory.models.base import db, utcnow


class NppesProvider(db.Model):
    """One NPI of the loaded file: names, deactivation and its taxonomy slots."""

    __tablename__ = "nppes_providers"
    __table_args__ = (CheckConstraint("length(npi) = 10", name="npi_length"),)

    npi: Mapped[str] = mapped_column(String(10), primary_key=True)
    # As written in the file (capitals, no accents); empty for a deactivated NPI.
    last_name: Mapped[str] = mapped_column(String(70), default="")
    first_name: Mapped[str] = mapped_column(String(40), default="")
    middle_name: Mapped[str] = mapped_column(String(40), default="")
    credential: Mapped[str] = mapped_column(String(40), default="")
    # "Provider Other Last Name" / "First Name": a former or other name (married name...).
    other_last_name: Mapped[str] = mapped_column(String(70), default="")
    other_first_name: Mapped[str] = mapped_column(String(40), default="")
    # The deactivation day, unless the NPI was reactivated on or after it (NULL: active).
    deactivated_on: Mapped[date | None]
    # The record's taxonomy slots in file order, each [code, licence number, licence state,
    # primary "Y"/"N"/""]: every slot the record has, served or not.
    taxonomies: Mapped[list[Any]] = mapped_column(JSON, default=list)

    def __repr__(self) -> str:
        return f"<NppesProvider {self.npi}>"


class NppesFile(db.Model):
    """One load of an NPPES dissemination file (the newest is the one in nppes_providers)."""

    __tablename__ = "nppes_files"
    __table_args__ = (
        CheckConstraint("rows_read >= 0 AND rows_kept >= 0 AND rows_kept <= rows_read",
                        name="rows"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    # The date the file describes (from its name, npidata_pfile_20050523-20261109.csv, or
    # given): what a check cites as its source.
    file_date: Mapped[date]
    # Data rows read (the header not counted) and rows kept (providers and deactivated NPIs).
    rows_read: Mapped[int]
    rows_kept: Mapped[int]
    deactivated_kept: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float] = mapped_column(default=0.0)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<NppesFile {self.id} {self.file_date}>"
