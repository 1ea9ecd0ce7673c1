"""The Bitstring Status List (W3C) that revokes Open Badges credentials.

Each certification gets an index the first time a credential is issued for it (a row of
status_list_entries, never reused). The list itself is not stored: its bits are derived from the
database when it is requested, a bit being set when its certification is revoked, rejected (after
an edit) or deleted. A revocation therefore flips the bit in the very transaction that revokes the
certification (directory.credentials.lifecycle.apply, by an administrator or the issuer) — there
is no second copy to update. Those three states are final, as revocation must be.
"""

from __future__ import annotations

import base64
import gzip

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from directory.credentials import lifecycle
from directory.extensions import db
from directory.models import Certification, StatusListEntry
from directory.replicas import read_from_the_primary

# Entries per list: the specification's minimum, 16 KB of bits (herd privacy).
LIST_SIZE = 131_072
# The statuses whose credentials are revoked for good: those no transition leaves (revoked, and
# rejected after an edit), from the state machine.
REVOKED_STATUSES = tuple(sorted(lifecycle.FINAL))


def entry_for(cert: Certification) -> StatusListEntry:
    """The certification's status list entry, allocated (the next unused index) and committed on
    first use: call it before any other change of the request."""
    read_from_the_primary(db.session)  # the next free index is the primary's, not a replica's
    entry = db.session.scalar(select(StatusListEntry).where(
        StatusListEntry.certification_id == cert.id))
    for _attempt in range(5):
        if entry is not None:
            return entry
        last = db.session.scalar(select(func.max(StatusListEntry.index)))
        entry = StatusListEntry(certification_id=cert.id, index=0 if last is None else last + 1)
        db.session.add(entry)
        try:
            db.session.commit()
        except IntegrityError:  # another request took that index, or allocated this one
            db.session.rollback()
            entry = db.session.scalar(select(StatusListEntry).where(
                StatusListEntry.certification_id == cert.id))
    if entry is None:
        raise RuntimeError("No status list index could be allocated.")
    return entry


def place(index: int) -> tuple[int, int]:
    """(list number from 1, position in that list) of a global index."""
    return index // LIST_SIZE + 1, index % LIST_SIZE


def list_count() -> int:
    """How many lists the allocated indexes span (at least 1)."""
    last = db.session.scalar(select(func.max(StatusListEntry.index)))
    return 1 if last is None else place(last)[0]


def _revoked_entries(*where):
    """The indexes of these entries whose certification is revoked or gone."""
    return (select(StatusListEntry.index)
            .outerjoin(Certification, Certification.id == StatusListEntry.certification_id)
            .where(*where, or_(StatusListEntry.certification_id.is_(None),
                               Certification.status.in_(REVOKED_STATUSES))))


def revoked_positions(number: int) -> list[int]:
    """Positions set in list `number`: entries whose certification is revoked or gone."""
    start = (number - 1) * LIST_SIZE
    rows = db.session.scalars(_revoked_entries(StatusListEntry.index >= start,
                                               StatusListEntry.index < start + LIST_SIZE))
    return [index - start for index in rows]


def is_revoked(index: int) -> bool:
    """True when the bit of this global index is set (one entry read, not its whole list)."""
    return db.session.scalar(_revoked_entries(StatusListEntry.index == index)) is not None


def encode(positions: list[int], size: int = LIST_SIZE) -> str:
    """The encodedList: multibase "u" + base64url (no padding) of the GZIP'd bitstring, bit 0
    being the most significant bit of the first byte."""
    bits = bytearray(size // 8)
    for position in positions:
        bits[position // 8] |= 0x80 >> (position % 8)
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode(encoded: str) -> bytes:
    """The bitstring of an encodedList (the inverse of encode())."""
    if not encoded.startswith("u"):
        raise ValueError("encodedList is not multibase base64url (prefix u).")
    data = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


def bit(bitstring: bytes, position: int) -> bool:
    """The bit at a position of a decoded bitstring."""
    return bool(bitstring[position // 8] & (0x80 >> (position % 8)))
