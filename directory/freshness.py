"""The directory's version: what public pages' caching is keyed by (headers.cache_public).

Every transaction that changes what a public page, the API, FHIR or HSDS can show (a practitioner,
a location or its hours, a licence, a certification, a program, a rule, an account's activity...)
bumps DirectoryVersion in the same transaction, just before it commits. The rule is written the
safe way round: every model counts except those listed here as never shown publicly, so a new
model makes caches revalidate rather than serve stale pages.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from directory.models import (
    AuditEvent,
    DirectoryVersion,
    Enquiry,
    ListingReport,
    NppesFile,
    NppesProvider,
    OutboxMessage,
    User,
    UserSession,
)
from directory.models.base import utcnow

# Rows no public page reads: their changes leave the version alone.
NEVER_PUBLIC = (AuditEvent, DirectoryVersion, Enquiry, ListingReport, NppesFile, NppesProvider,
                OutboxMessage, UserSession)
# An account shows publicly only through the listing rule: what that rule reads of it.
PUBLIC_USER_ATTRIBUTES = ("is_active", "email_confirmed_at")
_CHANGED = "directory_changed"


def _shows_publicly(obj, dirty: bool) -> bool:
    if isinstance(obj, NEVER_PUBLIC):
        return False
    if not dirty:
        return True
    attrs = inspect(obj).attrs
    if isinstance(obj, User):
        return any(attrs[name].history.has_changes() for name in PUBLIC_USER_ATTRIBUTES)
    return any(attr.history.has_changes() for attr in attrs)


@event.listens_for(Session, "after_flush")
def _note_public_changes(session: Session, _context) -> None:
    if session.info.get(_CHANGED):
        return
    if (any(_shows_publicly(obj, False) for obj in (*session.new, *session.deleted))
            or any(_shows_publicly(obj, True) for obj in session.dirty)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "before_commit")
def _bump_before_commit(session: Session) -> None:
    """Last in the transaction (the row is locked only from here to the commit)."""
    session.flush()
    if session.info.pop(_CHANGED, False):
        bump(session)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def bump(session: Session, now: datetime | None = None) -> None:
    """Version + 1 and changed_at = now (the row is made if it is missing)."""
    now = now or utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = DirectoryVersion.__table__
    statement = dialect.insert(table).values(id=1, version=1, changed_at=now)
    session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={"version": table.c.version + 1, "changed_at": now}))


EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def current(session: Session) -> tuple[int, datetime]:
    """The version and when it last changed ((0, EPOCH) before any change)."""
    row = session.execute(select(DirectoryVersion.version, DirectoryVersion.changed_at)
                          .where(DirectoryVersion.id == 1)).first()
    return (row.version, row.changed_at) if row else (0, EPOCH)
