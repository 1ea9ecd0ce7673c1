"""Evidence files: checked by content, kept in the file store (directory.storage) with a random
name.

An upload is kept only when it parses as what its first bytes say it is: a PNG or JPEG that Pillow
decodes whole (at most MAX_PIXELS), or a PDF that pypdf reads in strict mode, with pages, without a
password and without active content (JavaScript, launch actions, embedded files, XFA forms).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import secrets
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype
from flask import current_app
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from directory import field_rules, storage

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # 40 megapixels: a 300 dpi A3 scan is 17; decoding costs ~4 bytes a pixel
ALLOWED = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}
PILLOW_FORMAT = {"image/png": "PNG", "image/jpeg": "JPEG"}
PILLOW_READS_AS = {"PNG": {"PNG"}, "JPEG": {"JPEG", "MPO"}}  # MPO: a phone's JPEG with extra frames

# pypdf logs a warning for each repair it makes to a damaged PDF (a hostile one can ask for
# thousands); the check answers each upload with a message or keeps it, so those notes would only
# fill the log.
logging.getLogger("pypdf").setLevel(logging.ERROR)

NOT_ALLOWED_TYPE = ("That file is not a PDF, PNG or JPEG (we check the content, not the name). "
                    "Upload a scan or photo of your certificate.")
UNREADABLE_PDF = ("That file starts like a PDF but could not be read as one: it may be incomplete, "
                  "damaged or another kind of file. Open it, save or export it again as a PDF, "
                  "and upload the new file.")
EXTRA_AFTER_END = ("That {kind} has extra data after its end, which we do not accept. Open it, "
                   "save or export it again, and upload the new file.")
NO_PAGES = "That PDF has no pages. Upload the PDF of your certificate."
ENCRYPTED_PDF = ("That is a password-protected PDF (or one locked against changes), so we cannot "
                 "check it. Upload a copy without protection: open it and print or save it as a "
                 "new PDF, or upload a scan or photo instead.")
ACTIVE_PDF = ("That PDF contains {what}, which we do not accept in evidence. Upload a plain copy: "
              "open it and print or save it as a new PDF, or upload a scan or photo instead.")
UNREADABLE_IMAGE = ("That file starts like a {kind} image but could not be read as one: it may be "
                    "incomplete or damaged. Save or export it again, or upload a PDF, and try "
                    "again.")
TOO_MANY_PIXELS = ("That image is too large in pixels{size}: we accept up to 40 megapixels. "
                   "Upload a smaller scan or photo (300 dpi is plenty for a certificate).")


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


AREA = "evidence"  # the storage area: evidence/<stored name>


def sniff(head: bytes) -> str | None:
    """The MIME type of PDF, PNG or JPEG content, from its first bytes; None for anything else."""
    kind = filetype.guess(head)
    if kind is not None and kind.mime in ALLOWED:
        return kind.mime
    return None


def check(data: bytes) -> str:
    """The MIME type of a whole upload, after parsing it; raise EvidenceError when refused."""
    mime = sniff(data[:8192])
    if mime is None:
        raise EvidenceError(NOT_ALLOWED_TYPE)
    if mime == "application/pdf":
        _check_pdf(data)
    else:
        check_image(data, mime)
    return mime


def store(stream: BinaryIO, original_name: str) -> StoredEvidence:
    """Check and save an uploaded file; raise EvidenceError with a clear message when refused."""
    data = stream.read(MAX_BYTES + 1)
    if not data:
        raise EvidenceError("That file is empty. Choose the PDF, PNG or JPEG of your certificate.")
    if len(data) > MAX_BYTES:
        raise EvidenceError("That file is larger than 10 MB. Upload a smaller scan or photo.")
    mime = check(data)
    stored_name = secrets.token_hex(16)
    storage.current().put(key_of(stored_name), data)  # StorageUnavailable: nothing stored
    return StoredEvidence(stored_name=stored_name, sha256=hashlib.sha256(data).hexdigest(),
                          mime=mime, size=len(data), original_name=clean_name(original_name))


# --------------------------------------------------------------------------- images


def check_image(data: bytes, mime: str, *, unreadable_message: str = UNREADABLE_IMAGE,
                pixels_message: str = TOO_MANY_PIXELS) -> None:
    """Decode the whole image with Pillow: its format must be the sniffed one, its size bounded.

    The messages are evidence's unless given (profile photos say their own: profiles.photos);
    unreadable_message has a {kind} and pixels_message a {size} to fill."""
    kind = PILLOW_FORMAT[mime]
    unreadable = EvidenceError(unreadable_message.format(kind=kind))
    if kind == "PNG" and not data.endswith(_PNG_END):
        # Pillow stops at the image data; what follows it (another file?) is never looked at.
        raise (EvidenceError(EXTRA_AFTER_END.format(kind="PNG image")) if _PNG_END in data
               else unreadable)
    # Pillow warns (DecompressionBombWarning) above its own limit and about damaged chunks; those
    # are facts about this upload, answered below, never warnings for the log or the test run.
    # (catch_warnings swaps process-wide state: fine in gunicorn's sync workers.)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                _check_pixels(image.size, pixels_message)
                image.verify()  # chunk checksums (PNG); the object cannot be used after this
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                if image.format not in PILLOW_READS_AS[kind]:
                    raise unreadable
                if kind == "JPEG":  # decoded at 1/8 scale: every byte is still read
                    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()  # a truncated file raises here
        except Image.DecompressionBombError as exc:  # past twice Pillow's own limit
            _check_pixels(_png_size(data), pixels_message)
            raise EvidenceError(pixels_message.format(size="")) from exc
        except EvidenceError:
            raise
        except Exception as exc:  # a hostile file can fail deep in a decoder in many ways
            raise unreadable from exc
    for warning in caught:
        if issubclass(warning.category, DeprecationWarning):  # about our code: let it be seen
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)


def _check_pixels(size: tuple[int, int], message: str = TOO_MANY_PIXELS) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise EvidenceError(message.format(size=f" ({width:,} × {height:,})"))


_PNG_END = bytes.fromhex("0000000049454e44ae426082")  # the IEND chunk: empty, then its CRC


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header chunk, for the message; (0, 0) for anything else."""
    if data[12:16] != b"IHDR":
        return 0, 0
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# --------------------------------------------------------------------------- PDFs

# Keys and values that make a PDF do something when opened or clicked, or carry other files.
_ACTIVE_KEYS = {
    "/JS": "JavaScript", "/JavaScript": "JavaScript",
    "/XFA": "an interactive (XFA) form",
    "/EmbeddedFiles": "attached files", "/EF": "attached files",
    "/RichMedia": "embedded media",
}
_ACTIVE_ACTIONS = {
    "/JavaScript": "JavaScript", "/Launch": "an action that opens a program or file",
    "/GoToE": "attached files", "/RichMediaExecute": "embedded media",
    "/ImportData": "an action that opens a file",
}
_ACTIVE_TYPES = {"/EmbeddedFile": "attached files", "/FileAttachment": "attached files",
                 "/RichMedia": "embedded media"}
# A belt for what the walk below cannot reach (objects nothing refers to); long names only, so a
# compressed image stream will not match by chance.
_ACTIVE_BYTES = re.compile(rb"/(JavaScript|Launch|EmbeddedFiles?|RichMedia)(?=[\s()<>\[\]{}/%]|$)")
_AFTER_EOF = re.compile(rb"[\s\x00]*")
_ENCRYPT = re.compile(rb"/Encrypt(?=[\s()<>\[\]{}/%])")  # in the trailer, never compressed


def _check_pdf(data: bytes) -> None:
    """Read the PDF with pypdf (strict) and walk every object reachable from its trailer."""
    end = data.rfind(b"%%EOF")
    if end < 0:
        raise EvidenceError(UNREADABLE_PDF)
    if not _AFTER_EOF.fullmatch(data, end + 5):
        raise EvidenceError(EXTRA_AFTER_END.format(kind="PDF"))
    found = _ACTIVE_BYTES.search(data)
    try:
        reader = PdfReader(io.BytesIO(data), strict=True)
        if reader.is_encrypted:
            raise EvidenceError(ENCRYPTED_PDF)
        if found:
            key = "/" + found.group(1).decode()
            raise EvidenceError(ACTIVE_PDF.format(
                what=_ACTIVE_KEYS.get(key) or _ACTIVE_ACTIONS.get(key) or _ACTIVE_TYPES[key]))
        what = _active_content(reader)
        if what:
            raise EvidenceError(ACTIVE_PDF.format(what=what))
        if len(reader.pages) == 0:
            raise EvidenceError(NO_PAGES)
    except EvidenceError:
        raise
    except Exception as exc:  # strict pypdf raises PdfReadError, but a hostile file finds others
        if _ENCRYPT.search(data):
            # pypdf tries the empty password first, and AES needs a library we do not install:
            # a PDF that is only locked against changes fails here.
            raise EvidenceError(ENCRYPTED_PDF) from exc
        raise EvidenceError(UNREADABLE_PDF) from exc


def _active_content(reader: PdfReader) -> str | None:
    """What active content the document carries (described for the message), or None.

    Every object reachable from the trailer is resolved (pypdf decompresses object streams, which
    a byte search cannot see into); streams' dictionaries are read, their data is not decoded.
    """
    seen: set[tuple[int, int]] = set()
    todo: list[object] = [v for k, v in reader.trailer.items() if k != "/Encrypt"]
    while todo:
        item = todo.pop()
        if isinstance(item, IndirectObject):
            ref = (item.idnum, item.generation)
            if ref in seen:
                continue
            seen.add(ref)
            item = item.get_object()
            if item is None:
                raise EvidenceError(UNREADABLE_PDF)  # a reference to an object that is not there
        if isinstance(item, DictionaryObject):  # also a stream's dictionary
            for key, value in item.items():
                if key in _ACTIVE_KEYS:
                    return _ACTIVE_KEYS[key]
                if isinstance(value, NameObject):
                    if key == "/S" and value in _ACTIVE_ACTIONS:
                        return _ACTIVE_ACTIONS[value]
                    if key in ("/Type", "/Subtype") and value in _ACTIVE_TYPES:
                        return _ACTIVE_TYPES[value]
                todo.append(value)
        elif isinstance(item, ArrayObject):
            todo.extend(item)
    return None


# --------------------------------------------------------------------------- stored files


def key_of(stored_name: str) -> str:
    """The storage key of a stored file (the name is ours: hex only)."""
    if not re.fullmatch(r"[0-9a-f]{32}", stored_name or ""):
        raise EvidenceError("Unknown evidence file.")
    return f"{AREA}/{stored_name}"


def path_of(stored_name: str) -> Path:
    """Where a stored file is in the local folder store (for tests and tools)."""
    return Path(current_app.config["UPLOAD_FOLDER"]) / key_of(stored_name)


def read_verified(stored_name: str, sha256: str, mime: str) -> bytes:
    """The stored bytes, after checking they are unchanged and still of the recorded type.

    The content was parsed when it was uploaded and the hash proves it is the same file, so
    serving does not parse it again. A store out of reach raises storage.StorageUnavailable.
    """
    try:
        data = storage.current().get(key_of(stored_name))
    except storage.NotStored as exc:
        raise EvidenceError("The evidence file is missing.") from exc
    if hashlib.sha256(data).hexdigest() != sha256 or sniff(data[:8192]) != mime:
        raise EvidenceError("The evidence file does not match what was uploaded.")
    return data


def remove(stored_name: str | None) -> None:
    """Delete a stored file that is no longer referenced (a store out of reach leaves it
    behind, logged: nothing refers to it)."""
    if stored_name:
        storage.current().discard(key_of(stored_name))


def clean_name(name: str | None) -> str:
    """A short, printable version of the uploaded file's name, for display only."""
    name = unicodedata.normalize("NFC", Path(name or "evidence").name)
    name = re.sub(r"[\x00-\x1f\x7f\"\\/]", "", field_rules.strip_bidi_controls(name))
    name = name.strip() or "evidence"
    return name[-120:]


def download_name(original_name: str, mime: str) -> str:
    """The name offered when downloading: the original stem with the extension of the content."""
    stem = Path(original_name or "evidence").stem or "evidence"
    return f"{stem}.{ALLOWED.get(mime, 'bin')}"
