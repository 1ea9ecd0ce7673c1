"""Uploaded import files waiting for the administrator's confirmation, kept server-side.

Each file is kept in the file store (directory.storage) as imports/<token>.csv (in the local
folder: UPLOAD_FOLDER/imports/) with a random name, beside a small JSON record
of the administrator who uploaded it, its SHA-256 and when; the random name is kept in that
administrator's session only. Files older than MAX_AGE are refused and swept away.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass

from directory import storage

MAX_AGE = 3600  # seconds an upload waits for its confirmation
TOKEN = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Pending:
    """An uploaded file waiting to be imported."""

    token: str
    data: bytes
    name: str
    sha256: str


AREA = "imports"


def _key(token: str, suffix: str) -> str:
    return f"{AREA}/{token}{suffix}"


def keep(data: bytes, admin_id: int, name: str) -> Pending:
    """Store an uploaded file for its administrator; return it with its random token.
    A store out of reach raises storage.StorageUnavailable, with nothing left behind."""
    sweep()
    token = secrets.token_hex(16)
    digest = hashlib.sha256(data).hexdigest()
    store = storage.current()
    store.put(_key(token, ".csv"), data)
    try:
        store.put(_key(token, ".json"), json.dumps(
            {"admin_id": admin_id, "sha256": digest, "name": name[:200],
             "at": time.time()}).encode())
    except storage.StorageUnavailable:
        store.discard(_key(token, ".csv"))
        raise
    return Pending(token, data, name[:200], digest)


def claim(token: str | None, admin_id: int) -> Pending | None:
    """Take the waiting file for its import: one request only gets it (a second click on
    "Import" finds nothing instead of importing the rows again).

    The first request to create the token's ".claimed" marker wins (an exclusive create: O_EXCL
    in the folder, If-None-Match: * in S3); the record is then deleted. A store out of reach
    raises storage.StorageUnavailable with the file still waiting."""
    sweep()
    if not token or not TOKEN.fullmatch(token):
        return None
    store = storage.current()
    marker = _key(token, ".claimed")
    try:
        store.put(marker, b"", exclusive=True)
    except storage.AlreadyStored:
        return None
    try:
        meta = json.loads(store.get(_key(token, ".json")))
        data = store.get(_key(token, ".csv"))
    except (storage.NotStored, ValueError):
        store.discard(marker)
        return None
    except storage.StorageUnavailable:
        store.discard(marker)  # the file waits for the next click (if the store lets us)
        raise
    store.discard(_key(token, ".json"))
    if (meta.get("admin_id") != admin_id or time.time() - meta.get("at", 0) > MAX_AGE
            or hashlib.sha256(data).hexdigest() != meta.get("sha256")):
        return None
    return Pending(token, data, str(meta.get("name", "")), meta["sha256"])


def discard(token: str | None) -> None:
    """Remove a waiting file (after its import, or when another replaces it)."""
    if token and TOKEN.fullmatch(token):
        storage.current().discard(*(_key(token, suffix)
                                    for suffix in (".csv", ".json", ".claimed")))


def sweep() -> None:
    """Remove waiting files older than MAX_AGE."""
    store = storage.current()
    store.discard(*storage.older_than(AREA, MAX_AGE))
