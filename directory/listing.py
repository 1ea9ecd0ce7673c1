"""What "listed" means: shown to the public, in search and in the API."""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.sql import ColumnElement

from directory.extensions import db
from directory.models import Certification, Practitioner, User
from directory.models.base import utcnow


def listed_clause(today: date | None = None) -> ColumnElement[bool]:
    """SQL: an active, confirmed account with a verified certification that has not expired."""
    today = today or utcnow().date()
    has_credential = exists().where(
        Certification.practitioner_id == Practitioner.id,
        Certification.status == "verified",
        or_(Certification.expires_on.is_(None), Certification.expires_on >= today),
    )
    account_ok = exists().where(
        User.id == Practitioner.user_id,
        User.is_active.is_(True),
        User.email_confirmed_at.is_not(None),
    )
    return and_(has_credential, account_ok)


def is_listed(practitioner: Practitioner) -> bool:
    """True when this practitioner may be shown to everyone."""
    return bool(db.session.scalar(
        select(Practitioner.id).where(Practitioner.id == practitioner.id, listed_clause())
    ))


def can_view(practitioner: Practitioner, user) -> bool:
    """The owner and administrators always see a profile; everyone else once it is listed."""
    if user is not None and user.is_authenticated:
        if user.is_admin or practitioner.user_id == user.id:
            return True
    return is_listed(practitioner)


def shown_certifications(practitioner: Practitioner) -> list[Certification]:
    """The certifications a profile shows: verified and not expired, newest first."""
    today = utcnow().date()
    return list(db.session.scalars(select(Certification).where(
        Certification.practitioner_id == practitioner.id,
        Certification.status == "verified",
        or_(Certification.expires_on.is_(None), Certification.expires_on >= today),
    ).order_by(Certification.verified_at.desc())))
