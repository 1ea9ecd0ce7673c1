"""What "listed" means: shown to the public, in search and in the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, event, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from directory.extensions import db
from directory.models import Certification, PracticeLocation, Practitioner, User
from directory.models.base import utcnow

NO_EXPIRY = date(9999, 12, 31)
# A yearly "my details are still accurate" confirmation keeps a listed profile in search this
# long; the public profile page does not depend on it.
ATTESTATION_DAYS = 365


def attested_since(now: datetime | None = None) -> datetime:
    """The oldest confirmation that still keeps a profile in search."""
    return (now or utcnow()) - timedelta(days=ATTESTATION_DAYS)


def is_attested(practitioner: Practitioner, now: datetime | None = None) -> bool:
    """True when the practitioner confirmed their details within the last ATTESTATION_DAYS."""
    return (practitioner.attested_at is not None
            and practitioner.attested_at >= attested_since(now))


def listed_clause(today: date | None = None) -> ColumnElement[bool]:
    """SQL: an active, confirmed account with a verified certification that has not expired.

    Reads Practitioner.listed_until, which refresh_listing() keeps; the rule itself is in
    listed_until_expression().
    """
    today = today or utcnow().date()
    return Practitioner.listed_until >= today


def listed_until_expression():
    """SQL for one practitioner's last listed day: the latest expiry (NO_EXPIRY for none) of
    its verified certifications, when the account is active and its e-mail confirmed."""
    latest = (select(func.max(func.coalesce(Certification.expires_on, NO_EXPIRY)))
              .where(Certification.practitioner_id == Practitioner.id,
                     Certification.status == "verified")
              .scalar_subquery())
    account_ok = exists().where(User.id == Practitioner.user_id, User.is_active.is_(True),
                                User.email_confirmed_at.is_not(None))
    return case((account_ok, latest), else_=None)


def refresh_listing(connection, practitioner_ids=(), user_ids=()) -> None:
    """Recompute listed_until for these practitioners (or those of these accounts), then the
    copies their practice locations carry for the search."""
    conditions = []
    if practitioner_ids:
        conditions.append(Practitioner.id.in_(sorted(practitioner_ids)))
    if user_ids:
        conditions.append(Practitioner.user_id.in_(sorted(user_ids)))
    if not conditions:
        return
    connection.execute(update(Practitioner).where(or_(*conditions))
                       .values(listed_until=listed_until_expression())
                       .execution_options(synchronize_session=False))
    connection.execute(
        update(PracticeLocation)
        .where(PracticeLocation.practitioner_id.in_(select(Practitioner.id).where(
            or_(*conditions)).scalar_subquery()))
        .values({copy: _of_practitioner(source) for copy, source in SEARCH_COPIES.items()})
        .execution_options(synchronize_session=False))


# What each practice location copies of its practitioner, so that the search reads the
# (lat, lng) index alone (see PracticeLocation).
SEARCH_COPIES = {"practitioner_listed_until": Practitioner.listed_until,
                 "practitioner_attested_at": Practitioner.attested_at,
                 "practitioner_name": Practitioner.full_name}


def _of_practitioner(column):
    return (select(column).where(Practitioner.id == PracticeLocation.practitioner_id)
            .scalar_subquery())


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    """Whenever certifications, accounts, practitioners or their locations change, bring
    listed_until and the locations' copies up to date in the same transaction, so no code
    path (service, command, test factory) can forget them."""
    practitioner_ids: set[int] = set()
    user_ids: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Certification) and obj.practitioner_id is not None:
            practitioner_ids.add(obj.practitioner_id)
        elif isinstance(obj, User) and obj.id is not None:
            user_ids.add(obj.id)
        elif isinstance(obj, Practitioner) and obj.id is not None and obj not in session.deleted:
            practitioner_ids.add(obj.id)
        elif (isinstance(obj, PracticeLocation) and obj.practitioner_id is not None
              and obj not in session.deleted):
            practitioner_ids.add(obj.practitioner_id)
    if not (practitioner_ids or user_ids):
        return
    refresh_listing(session.connection(), practitioner_ids, user_ids)
    loaded = list(session.identity_map.values())
    for obj in loaded:
        if isinstance(obj, Practitioner) and (obj.id in practitioner_ids
                                              or obj.user_id in user_ids):
            practitioner_ids.add(obj.id)
            session.expire(obj, ["listed_until"])
    for obj in loaded:
        if (isinstance(obj, PracticeLocation) and obj.practitioner_id in practitioner_ids
                and obj not in session.deleted):
            session.expire(obj, list(SEARCH_COPIES))


def is_listed(practitioner: Practitioner, today: date | None = None) -> bool:
    """True when this practitioner may be shown to everyone."""
    until = practitioner.listed_until
    return until is not None and until >= (today or utcnow().date())


def can_view(practitioner: Practitioner, user) -> bool:
    """The owner and administrators always see a profile; everyone else once it is listed."""
    if user is not None and user.is_authenticated:
        if user.is_admin or practitioner.user_id == user.id:
            return True
    return is_listed(practitioner)


def shown_clause(today) -> ColumnElement[bool]:
    """A certification the public sees on `today` (a date or a bound parameter): verified and
    not expired."""
    return and_(Certification.status == "verified",
                or_(Certification.expires_on.is_(None), Certification.expires_on >= today))


def shown_certifications(practitioner: Practitioner) -> list[Certification]:
    """The certifications a profile shows: verified and not expired, newest first."""
    return list(db.session.scalars(select(Certification).where(
        Certification.practitioner_id == practitioner.id, shown_clause(utcnow().date()),
    ).order_by(Certification.verified_at.desc())))
