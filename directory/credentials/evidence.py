"""Evidence files: checked by content, stored under instance/ with a random name."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype
from flask import current_app

MAX_BYTES = 10 * 1024 * 1024
ALLOWED = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


class EvidenceError(ValueError):
    """An upload we refuse; the message is shown beside the file field."""


@dataclass(frozen=True)
class StoredEvidence:
    """What the certification records about a stored file."""

    stored_name: str
    sha256: str
    mime: str
    size: int
    original_name: str


def _folder() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sniff(head: bytes) -> str | None:
    """The MIME type of PDF, PNG or JPEG content, from its first bytes; None for anything else."""
    kind = filetype.guess(head)
    if kind is not None and kind.mime in ALLOWED:
        return kind.mime
    return None


def store(stream: BinaryIO, original_name: str) -> StoredEvidence:
    """Check and save an uploaded file; raise EvidenceError with a clear message when refused."""
    data = stream.read(MAX_BYTES + 1)
    if not data:
        raise EvidenceError("That file is empty. Choose the PDF, PNG or JPEG of your certificate.")
    if len(data) > MAX_BYTES:
        raise EvidenceError("That file is larger than 10 MB. Upload a smaller scan or photo.")
    mime = sniff(data[:8192])
    if mime is None:
        raise EvidenceError("That file is not a PDF, PNG or JPEG (we check the content, not "
                            "the name). Upload a scan or photo of your certificate.")
    stored_name = secrets.token_hex(16)
    (_folder() / stored_name).write_bytes(data)
    return StoredEvidence(stored_name=stored_name, sha256=hashlib.sha256(data).hexdigest(),
                          mime=mime, size=len(data), original_name=clean_name(original_name))


def path_of(stored_name: str) -> Path:
    """Where a stored file is (the name is ours: hex only)."""
    if not re.fullmatch(r"[0-9a-f]{32}", stored_name or ""):
        raise EvidenceError("Unknown evidence file.")
    return _folder() / stored_name


def read_verified(stored_name: str, sha256: str, mime: str) -> bytes:
    """The stored bytes, after checking they are unchanged and still of the recorded type."""
    path = path_of(stored_name)
    if not path.exists():
        raise EvidenceError("The evidence file is missing.")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256 or sniff(data[:8192]) != mime:
        raise EvidenceError("The evidence file does not match what was uploaded.")
    return data


def remove(stored_name: str | None) -> None:
    """Delete a stored file that is no longer referenced."""
    if stored_name:
        path_of(stored_name).unlink(missing_ok=True)


def clean_name(name: str | None) -> str:
    """A short, printable version of the uploaded file's name, for display only."""
    name = unicodedata.normalize("NFC", Path(name or "evidence").name)
    name = re.sub(r"[\x00-\x1f\x7f\"\\/]", "", name).strip() or "evidence"
    return name[-120:]


def download_name(original_name: str, mime: str) -> str:
    """The name offered when downloading: the original stem with the extension of the content."""
    stem = Path(original_name or "evidence").stem or "evidence"
    return f"{stem}.{ALLOWED.get(mime, 'bin')}"
