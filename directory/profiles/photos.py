"""Profile photos: checked by content as evidence images are, stored square in a few sizes.

An upload is kept only when it is a JPEG or PNG that Pillow decodes whole within the evidence
pixel limit (credentials.evidence.check_image, with this module's messages). It is turned upright
by its EXIF orientation, cropped to a centred square and written again as new JPEGs of SIZES, so
nothing of the original's metadata (EXIF with its GPS position, ICC profile, comments) is kept.

The files are photos/<key>-<size>.jpg in the file store (directory.storage; in the local folder
UPLOAD_FOLDER/photos/<key>-<size>.jpg): never under static/, the app serves them
(public.photo) to whoever may see the profile. The key is the practitioner's id (the serving
route finds the owner by primary key: practitioners.photo_key has no index) and a random,
unguessable token; a new photo gets a new key, so a cached copy of the old one is never shown
as the new.
"""

from __future__ import annotations

import io
import re
import secrets
import warnings
from typing import BinaryIO

from PIL import Image, ImageOps

from directory import storage
from directory.credentials import evidence
from directory.models.base import MAX_ID

# Square sizes in pixels, smallest first: the files, the srcset, the API record. The largest is
# also the smallest photo accepted: a photo is never enlarged.
SIZES: tuple[int, ...] = (96, 192, 384)
MIN_SIDE = SIZES[-1]
MAX_BYTES = evidence.MAX_BYTES
JPEG_QUALITY = 85
FOLDER = "photos"
_TOKEN_BYTES = 24  # secrets.token_urlsafe(24): 32 characters of [A-Za-z0-9_-]
_KEY = re.compile(r"([1-9][0-9]{0,17})-[A-Za-z0-9_-]{32}")

EMPTY = "That file is empty. Choose a JPEG or PNG photo of yourself."
TOO_LARGE = (f"That file is larger than {MAX_BYTES // (1024 * 1024)} MB. Upload a smaller copy "
             "of your photo.")
NOT_A_PHOTO = ("That file is not a JPEG or PNG image (we check the content, not the name). "
               "Save your photo as a JPEG or PNG and upload it.")
PDF_NOT_A_PHOTO = ("That file is a PDF, not a photo. Upload a JPEG or PNG photo of yourself "
                   "(certificates go with your certifications).")
UNREADABLE = ("That file starts like a {kind} image but could not be read as one: it may be "
              "incomplete or damaged. Save or export your photo again as a JPEG or PNG, and "
              "upload the new file.")
TOO_MANY_PIXELS = ("That photo is too large in pixels{size}: we accept up to "
                   f"{evidence.MAX_PIXELS // 1_000_000} megapixels. Upload a smaller copy "
                   "(1,000 pixels on each side is plenty).")
TOO_SMALL = ("That photo is only {width} × {height} pixels: it needs at least "
             f"{MIN_SIDE} pixels on each side to look sharp. Upload a larger photo.")


class PhotoError(evidence.EvidenceError):
    """A photo we refuse; the message is shown beside the file field."""


def store(stream: BinaryIO, practitioner_id: int) -> str:
    """Check an uploaded photo and save its sizes; the new key. Raise PhotoError when refused."""
    data = stream.read(MAX_BYTES + 1)
    if not data:
        raise PhotoError(EMPTY)
    if len(data) > MAX_BYTES:
        raise PhotoError(TOO_LARGE)
    mime = evidence.sniff(data[:8192])
    if mime == "application/pdf":
        raise PhotoError(PDF_NOT_A_PHOTO)
    if mime is None:
        raise PhotoError(NOT_A_PHOTO)
    try:
        evidence.check_image(data, mime, unreadable_message=UNREADABLE,
                             pixels_message=TOO_MANY_PIXELS)
    except evidence.EvidenceError as exc:
        raise PhotoError(str(exc)) from exc
    renditions = _renditions(data, evidence.PILLOW_FORMAT[mime])
    key = f"{practitioner_id}-{secrets.token_urlsafe(_TOKEN_BYTES)}"
    store = storage.current()
    try:
        for size, jpeg in renditions.items():
            store.put(storage_key(key, size), jpeg)
    except BaseException:
        remove(key)  # the sizes stored before the store went away (best effort)
        raise
    return key


def _renditions(data: bytes, kind: str) -> dict[int, bytes]:
    """The photo upright, cropped to a centred square, as a new JPEG of each size."""
    unreadable = PhotoError(UNREADABLE.format(kind=kind))
    # The check above decoded the whole file; Pillow's warnings here are about the upload's own
    # metadata (a damaged EXIF block), answered by dropping it, not warnings for the log.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                if min(image.size) < MIN_SIDE:
                    width, height = image.size
                    raise PhotoError(TOO_SMALL.format(width=width, height=height))
                if kind == "JPEG":  # decoded at the smallest scale that still gives MIN_SIDE
                    image.draft("RGB", (MIN_SIDE, MIN_SIDE))
                upright = ImageOps.exif_transpose(image)
            square = _square(_rgb(upright))
            renditions = {}
            for size in SIZES:
                scaled = square.resize((size, size), Image.Resampling.LANCZOS,
                                       reducing_gap=3.0)
                scaled.info = {}  # nothing of the original's metadata
                out = io.BytesIO()
                scaled.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
                renditions[size] = out.getvalue()
        except PhotoError:
            raise
        except Exception as exc:  # a hostile file can still fail in a decoder or its EXIF
            raise unreadable from exc
    return renditions


def _rgb(image: Image.Image) -> Image.Image:
    """The image in RGB; a transparent background becomes white, as on the page."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _square(image: Image.Image) -> Image.Image:
    """The centred square of the image (the whole of its shorter side)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side))


def practitioner_id_of(key: str) -> int | None:
    """The id of the practitioner a well-formed key was made for; None for any other text."""
    match = _KEY.fullmatch(key or "")
    number = int(match.group(1)) if match else None
    return number if number is not None and number <= MAX_ID else None


def file_name(key: str, size: int) -> str:
    """The name of one size's file."""
    return f"{key}-{size}.jpg"


def storage_key(key: str, size: int) -> str:
    """The storage key of one size's file: photos/<key>-<size>.jpg."""
    return f"{FOLDER}/{file_name(key, size)}"


def read(key: str, size: int) -> bytes | None:
    """One size of a stored photo; None for a malformed key, a size not made or no such file.
    A store out of reach raises storage.StorageUnavailable."""
    if size not in SIZES or practitioner_id_of(key) is None:
        return None
    try:
        return storage.current().get(storage_key(key, size))
    except storage.NotStored:
        return None


def remove(key: str | None) -> None:
    """Delete every size of a photo that is no longer used (a store out of reach leaves them
    behind, logged: nothing refers to them)."""
    if key and practitioner_id_of(key) is not None:
        storage.current().discard(*(storage_key(key, size) for size in SIZES))
