"""Login sessions kept on the server: a session cookie or remember-me cookie opens pages only
while its row exists, so logging out ends that browser's session wherever the cookie was
copied to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from directory.models.base import db, utcnow


class UserSession(db.Model):
    """One logged-in browser. The cookie holds a random key; the table only its SHA-256."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The loader's one lookup per request: by the key's hash, joined to the user.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Brought forward at most every few minutes (services.SESSION_TOUCH); a session not seen
    # for longer than the remember-me cookie lasts is refused and pruned.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<UserSession {self.id} of user {self.user_id}>"
