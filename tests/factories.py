"""Plain helpers that make test data through the models (call inside an app context)."""

from __future__ import annotations

from itertools import count

from directory.accounts.passwords import hash_password
from directory.extensions import db
from directory.models import PracticeLocation, Practitioner, User
from directory.models.base import utcnow

PASSWORD = "correct horse battery staple"
_seq = count(1)


def make_user(email: str | None = None, *, role: str = "practitioner", confirmed: bool = True,
              active: bool = True, password: str = PASSWORD) -> User:
    """A user; a practitioner gets an empty profile."""
    n = next(_seq)
    user = User(email=email or f"user{n}@example.com", password_hash=hash_password(password),
                role=role, is_active=active, email_confirmed_at=utcnow() if confirmed else None)
    if role == "practitioner":
        user.practitioner = Practitioner(full_name=f"Practitioner {n}", slug=f"practitioner-{n}")
    db.session.add(user)
    db.session.commit()
    return user


def make_admin(email: str | None = None, **kwargs) -> User:
    """An administrator."""
    return make_user(email or f"admin{next(_seq)}@example.com", role="admin", **kwargs)


def make_practitioner(email: str | None = None, **profile) -> Practitioner:
    """A practitioner account with profile fields set."""
    user = make_user(email)
    p = user.practitioner
    for key, value in profile.items():
        setattr(p, key, value)
    db.session.commit()
    return p


def make_location(practitioner: Practitioner, **fields) -> PracticeLocation:
    """A practice location."""
    values = {"clinic_name": "Test Clinic", "city": "Denver", "country": "US",
              "postcode": "80202", "region": "Colorado"} | fields
    location = PracticeLocation(practitioner=practitioner, **values)
    db.session.add(location)
    db.session.commit()
    return location
