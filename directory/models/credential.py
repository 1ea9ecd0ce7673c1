"""Training programs, certifications and jurisdiction rules."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.models.base import TimestampMixin, db
from directory.models.practitioner import Practitioner
from directory.models.user import User
from directory.vocab import CertStatus, Permitted, SourceType, check_in

if TYPE_CHECKING:
    from directory.models.issuer import IssuerConfirmation


class TrainingProgram(TimestampMixin, db.Model):
    """A recognised training program at one level. Unknown hours are NULL, never 0."""

    __tablename__ = "training_programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    organisation: Mapped[str] = mapped_column(String(200))
    organisation_acronym: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int | None]
    country: Mapped[str] = mapped_column(String(2))
    hours: Mapped[float | None]
    in_person_hours: Mapped[float | None]
    exam: Mapped[bool | None]
    website: Mapped[str | None] = mapped_column(String(500))
    source_url: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str] = mapped_column(Text, default="")
    retired_at: Mapped[datetime | None]

    aliases: Mapped[list[ProgramAlias]] = relationship(
        back_populates="program", cascade="all, delete-orphan", order_by="ProgramAlias.alias"
    )

    def __repr__(self) -> str:
        return f"<TrainingProgram {self.key}>"


class ProgramAlias(db.Model):
    """Another name practitioners type for a program ("FDN 1", "Cert. DN")."""

    __tablename__ = "program_aliases"
    __table_args__ = (UniqueConstraint("program_id", "alias", name="program_alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(
        ForeignKey("training_programs.id", ondelete="CASCADE"), index=True
    )
    alias: Mapped[str] = mapped_column(String(120))

    program: Mapped[TrainingProgram] = relationship(back_populates="aliases")


class Certification(TimestampMixin, db.Model):
    """A practitioner's certificate, its evidence, and where it is in verification."""

    __tablename__ = "certifications"
    __table_args__ = (
        CheckConstraint(check_in("status", CertStatus), name="status"),
        # A decided certification always names who decided it and when.
        CheckConstraint(
            f"status = '{CertStatus.PENDING}' "
            "OR (reviewed_by_id IS NOT NULL AND reviewed_at IS NOT NULL)",
            name="reviewed_when_decided",
        ),
        Index("ix_certifications_status_submitted_at", "status", "submitted_at"),
        Index("ix_certifications_program_id_certificate_number", "program_id",
              "certificate_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), index=True
    )
    program_id: Mapped[int | None] = mapped_column(ForeignKey("training_programs.id"))
    submitted_name: Mapped[str] = mapped_column(String(200), default="")
    match_score: Mapped[float | None]
    match_outcome: Mapped[str | None] = mapped_column(String(20))
    level: Mapped[int | None]
    certificate_number: Mapped[str] = mapped_column(String(80), default="")
    completed_on: Mapped[date | None]
    expires_on: Mapped[date | None]
    hours: Mapped[float | None]
    in_person_hours: Mapped[float | None]
    supervised_sessions: Mapped[int | None]
    evidence_stored_name: Mapped[str | None] = mapped_column(String(80))
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    evidence_mime: Mapped[str | None] = mapped_column(String(60))
    evidence_size: Mapped[int | None]
    evidence_original_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default=CertStatus.PENDING.value)
    reason: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    reminder_30_sent_at: Mapped[datetime | None]
    reminder_7_sent_at: Mapped[datetime | None]
    public_code: Mapped[str] = mapped_column(String(32), unique=True)
    version: Mapped[int] = mapped_column(default=1)

    practitioner: Mapped[Practitioner] = relationship()
    program: Mapped[TrainingProgram | None] = relationship()
    reviewed_by: Mapped[User | None] = relationship()
    # Its training organisation's answer, if any (directory/models/issuer.py).
    issuer_confirmation: Mapped[IssuerConfirmation | None] = relationship(
        back_populates="certification", passive_deletes=True)

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Certification {self.id} {self.status}>"


# Codes issued before issue 16 are mixed-case; a patient may type one in lower case: the check
# looks it up case-insensitively through this index (directory.credentials.codes).
Index("ix_certifications_public_code_lower", func.lower(Certification.public_code))


class JurisdictionRule(TimestampMixin, db.Model):
    """Whether a profession may dry-needle in a jurisdiction, and the minimum training."""

    __tablename__ = "jurisdiction_rules"
    __table_args__ = (
        UniqueConstraint("jurisdiction", "profession", name="jurisdiction_profession"),
        CheckConstraint(check_in("permitted", Permitted), name="permitted"),
        CheckConstraint(check_in("source_type", SourceType), name="source_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(String(10))
    profession: Mapped[str] = mapped_column(String(32))
    permitted: Mapped[str] = mapped_column(String(10))
    min_hours: Mapped[float | None]
    min_in_person_hours: Mapped[float | None]
    min_supervised_sessions: Mapped[int | None]
    min_years_licensed: Mapped[float | None]
    exam_required: Mapped[bool | None]
    referral_required: Mapped[bool | None]
    registration_required: Mapped[bool | None]
    # The shorthand administrators read; patients read the plain sentence built from the fields
    # above (directory.credentials.rules.plain_conditions) and this note, written for them.
    other_requirements: Mapped[str] = mapped_column(Text, default="")
    patient_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    source_url: Mapped[str] = mapped_column(String(500))
    other_sources: Mapped[list[str]] = mapped_column(JSON, default=list,
                                                      server_default=text("'[]'"))
    # "primary" (statute, regulation, regulator, court, attorney-general) when at least one
    # source is; else "secondary" (course provider, association, news): said to patients.
    source_type: Mapped[str] = mapped_column(String(10), default=SourceType.SECONDARY.value,
                                             server_default=SourceType.SECONDARY.value)
    source_date: Mapped[str] = mapped_column(String(100), default="", server_default="")
    pending_changes: Mapped[str] = mapped_column(Text, default="", server_default="")
    reviewed_on: Mapped[date | None]
    review_due_on: Mapped[date | None] = mapped_column(index=True)
    # Set when an administrator creates or edits the rule: `reference load` never overwrites it.
    admin_edited_at: Mapped[datetime | None]
    # The digest of the data file's row as last loaded (directory.credentials.reference).
    data_digest: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<JurisdictionRule {self.jurisdiction} {self.profession}>"


class ScopeChange(TimestampMixin, db.Model):
    """A practitioner whose dry-needling verdict changed when a rule was edited or loaded: open
    until an administrator has looked at the practitioner again (/admin/scope-changes)."""

    __tablename__ = "scope_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("jurisdiction_rules.id", ondelete="SET NULL"))
    jurisdiction: Mapped[str] = mapped_column(String(10))
    verdict_before: Mapped[str] = mapped_column(String(10))
    verdict_after: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    practitioner: Mapped[Practitioner] = relationship()
    rule: Mapped[JurisdictionRule | None] = relationship()
    resolved_by: Mapped[User | None] = relationship()
