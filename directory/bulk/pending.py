"""Uploaded import files waiting for the administrator's confirmation, kept server-side.

Each file is stored under UPLOAD_FOLDER/imports/ with a random name, beside a small JSON record
of the administrator who uploaded it, its SHA-256 and when; the random name is kept in that
administrator's session only. Files older than MAX_AGE are refused and swept away.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

MAX_AGE = 3600  # seconds an upload waits for its confirmation
TOKEN = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Pending:
    """An uploaded file waiting to be imported."""

    token: str
    data: bytes
    name: str
    sha256: str


def _folder() -> Path:
    """UPLOAD_FOLDER/imports, readable by the app's user only (the files hold personal data)."""
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "imports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)  # made by an older version with the default mode
    return folder


def _write(path: Path, data: bytes) -> None:
    """A new file of mode 0o600, whatever the process's umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def keep(data: bytes, admin_id: int, name: str) -> Pending:
    """Store an uploaded file for its administrator; return it with its random token."""
    sweep()
    token = secrets.token_hex(16)
    digest = hashlib.sha256(data).hexdigest()
    folder = _folder()
    _write(folder / f"{token}.csv", data)
    _write(folder / f"{token}.json", json.dumps(
        {"admin_id": admin_id, "sha256": digest, "name": name[:200], "at": time.time()}).encode())
    return Pending(token, data, name[:200], digest)


def claim(token: str | None, admin_id: int) -> Pending | None:
    """Take the waiting file for its import: one request only gets it (a second click on
    "Import" finds nothing instead of importing the rows again)."""
    sweep()
    if not token or not TOKEN.fullmatch(token):
        return None
    folder = _folder()
    claimed = folder / f"{token}.claimed"
    try:
        os.rename(folder / f"{token}.json", claimed)  # atomic: the first request wins
    except OSError:
        return None
    try:
        return _read(claimed, token, admin_id)
    finally:
        claimed.unlink(missing_ok=True)


def _read(meta_path: Path, token: str, admin_id: int) -> Pending | None:
    try:
        meta = json.loads(meta_path.read_text())
        data = (meta_path.parent / f"{token}.csv").read_bytes()
    except (OSError, ValueError):
        return None
    if (meta.get("admin_id") != admin_id or time.time() - meta.get("at", 0) > MAX_AGE
            or hashlib.sha256(data).hexdigest() != meta.get("sha256")):
        return None
    return Pending(token, data, str(meta.get("name", "")), meta["sha256"])


def discard(token: str | None) -> None:
    """Remove a waiting file (after its import, or when another replaces it)."""
    if token and TOKEN.fullmatch(token):
        for suffix in (".csv", ".json"):
            (_folder() / f"{token}{suffix}").unlink(missing_ok=True)


def sweep() -> None:
    """Remove waiting files older than MAX_AGE."""
    limit = time.time() - MAX_AGE
    for path in _folder().iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
        except OSError:
            continue
