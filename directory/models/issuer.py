"""Issuers: training organisations of the registry, and what they said of certifications.

An issuer account (users.role = issuer) is tied to one organisation, spelled as the registry's
programs spell it (training_programs.organisation); it sees the certifications that cite that
organisation's programs. Its answer on one certification — confirmed or disputed — is an
IssuerConfirmation, which keeps the facts it answered about (certificate number, program,
level, dates). The answer stands only while the certification still says the same: a
practitioner who edits the number, or an administrator who moves it to another program, leaves
it unanswered again. "Confirmed by the issuer" is defined here once, in SQL (confirmed_clause)
and in Python (IssuerConfirmation.confirmed), side by side.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, and_, exists, select
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from directory.models.base import TimestampMixin, db
from directory.models.credential import Certification, TrainingProgram
from directory.models.user import User
from directory.vocab import IssuerAnswer, check_in

# The certification's facts an answer is about: (answer's column, certification's column).
ANSWERED_FACTS = ("certificate_number", "program_id", "level", "completed_on", "expires_on")


class Issuer(TimestampMixin, db.Model):
    """An issuer account's organisation: the user may answer for this organisation's programs."""

    __tablename__ = "issuers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         unique=True)
    organisation: Mapped[str] = mapped_column(String(200), index=True)

    user: Mapped[User] = relationship()

    def covers(self, cert: Certification) -> bool:
        """True when the certification cites one of this organisation's programs."""
        return cert.program is not None and cert.program.organisation == self.organisation

    def __repr__(self) -> str:
        return f"<Issuer {self.id} {self.organisation!r}>"


def issuer_of(user: User | None) -> Issuer | None:
    """The organisation an issuer account answers for (None for everyone else)."""
    if user is None or getattr(user, "id", None) is None:
        return None
    return db.session.scalar(select(Issuer).where(Issuer.user_id == user.id))


def programs_of_clause(organisation: str) -> ColumnElement[bool]:
    """SQL: the certification cites one of this organisation's programs."""
    return Certification.program_id.in_(
        select(TrainingProgram.id).where(TrainingProgram.organisation == organisation))


class IssuerConfirmation(TimestampMixin, db.Model):
    """An organisation's answer on one certification, and the facts it answered about."""

    __tablename__ = "issuer_confirmations"
    __table_args__ = (
        CheckConstraint(check_in("answer", IssuerAnswer), name="answer"),
        # A dispute always says why.
        CheckConstraint(f"answer != '{IssuerAnswer.DISPUTED}' OR reason != ''",
                        name="disputed_with_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    certification_id: Mapped[int] = mapped_column(
        ForeignKey("certifications.id", ondelete="CASCADE"), unique=True)
    # As the profile shows it ("Confirmed by <organisation> on <date>").
    organisation: Mapped[str] = mapped_column(String(200))
    answer: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime]
    # The roster upload that gave the answer (its audit event's upload id); NULL: by hand.
    roster_upload: Mapped[str | None] = mapped_column(String(32))
    # The facts answered about, as the certification said them then.
    certificate_number: Mapped[str] = mapped_column(String(80), default="")
    program_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_programs.id", ondelete="SET NULL"))
    level: Mapped[int | None]
    completed_on: Mapped[date | None]
    expires_on: Mapped[date | None]

    certification: Mapped[Certification] = relationship(back_populates="issuer_confirmation")
    answered_by: Mapped[User | None] = relationship()

    @property
    def stands(self) -> bool:
        """True while the certification still says what was answered about."""
        cert = self.certification
        return all(getattr(self, name) == getattr(cert, name) for name in ANSWERED_FACTS)

    @property
    def confirmed(self) -> bool:
        """The certification is confirmed by the issuer (the SQL is confirmed_clause)."""
        return self.answer == IssuerAnswer.CONFIRMED and self.stands

    @property
    def disputed(self) -> bool:
        """The certification is disputed by the issuer, and still says what was disputed."""
        return self.answer == IssuerAnswer.DISPUTED and self.stands

    def __repr__(self) -> str:
        return f"<IssuerConfirmation {self.certification_id} {self.answer}>"


def facts_of(cert: Certification) -> dict:
    """The facts of a certification an answer keeps (ANSWERED_FACTS → value)."""
    return {name: getattr(cert, name) for name in ANSWERED_FACTS}


def _standing(answer: IssuerAnswer) -> ColumnElement[bool]:
    c, a = Certification, IssuerConfirmation
    return exists().where(
        a.certification_id == c.id, a.answer == answer,
        and_(*(getattr(a, name).is_not_distinct_from(getattr(c, name))
               for name in ANSWERED_FACTS)))


def confirmed_clause() -> ColumnElement[bool]:
    """SQL: the certification is confirmed by the issuer (IssuerConfirmation.confirmed)."""
    return _standing(IssuerAnswer.CONFIRMED)


def disputed_clause() -> ColumnElement[bool]:
    """SQL: the certification is disputed by the issuer (IssuerConfirmation.disputed)."""
    return _standing(IssuerAnswer.DISPUTED)


def confirmed_ids(cert_ids: Iterable[int]) -> set[int]:
    """Which of these certifications are confirmed by their issuer (one query)."""
    ids = sorted(set(cert_ids))
    if not ids:
        return set()
    return set(db.session.scalars(select(Certification.id).where(
        Certification.id.in_(ids), confirmed_clause())))
