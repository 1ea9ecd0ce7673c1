"""Accounts: practitioners and administrators."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.models.base import TimestampMixin, db
from directory.vocab import Role, check_in

if TYPE_CHECKING:
    from directory.models.practitioner import Practitioner

class User(UserMixin, TimestampMixin, db.Model):
    """A person who can log in. E-mail is unique and stored lower-case."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(check_in("role", Role), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.PRACTITIONER.value)
    email_confirmed_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]

    practitioner: Mapped[Practitioner | None] = relationship(back_populates="user")

    @property
    def is_admin(self) -> bool:
        """True for administrators."""
        return self.role == Role.ADMIN

    @property
    def is_confirmed(self) -> bool:
        """True once the e-mail address has been confirmed."""
        return self.email_confirmed_at is not None

    # The key of the login session this object was loaded for (or just started): not stored
    # here but in user_sessions, as a hash (accounts.services.start_session / load_user).
    session_key = None  # str, once set (not a column)

    def get_id(self) -> str:
        """The session identity, '<id>.<session key>': it opens pages only while that session's
        row exists (logging out, or a password change, deletes it)."""
        if not self.session_key:
            raise RuntimeError("start_session() before login_user(): no session key")
        return f"{self.id}.{self.session_key}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"
