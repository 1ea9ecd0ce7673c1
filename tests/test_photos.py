"""Profile photos: uploaded on /profile/photo, checked by content, stored square without any of
the original's metadata, served to whoever may see the profile, and shown on the profile, in the
results, in the API record and in the page's structured data."""

from __future__ import annotations

import html
import io
import json
import re
import struct
import zlib
from urllib.parse import urlsplit

import pytest
from PIL import ExifTags, Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from directory.extensions import db
from directory.models import Practitioner, User
from directory.profiles import photos
from directory.profiles import services as profile_services
from tests import factories
from tests.factories import DENVER, offset
from tests.pages import field_error, flashes
from tests.s3 import both_stores
from tests.test_api import check

OWNER = "photo-owner@example.com"
RED, BLUE = (220, 20, 20), (20, 20, 220)


# --------------------------------------------------------------------------- files to upload

def halves_jpeg(size: tuple[int, int] = (600, 400), orientation: int | None = None,
                gps: bool = False) -> bytes:
    """A JPEG whose left half is red and right half blue, as stored (before any rotation), with
    an EXIF orientation tag and a GPS position when asked."""
    width, height = size
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 15"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        where = exif.get_ifd(ExifTags.IFD.GPSInfo)
        where[ExifTags.GPS.GPSLatitudeRef] = "N"
        where[ExifTags.GPS.GPSLatitude] = (39.0, 44.0, 21.0)
        where[ExifTags.GPS.GPSLongitudeRef] = "W"
        where[ExifTags.GPS.GPSLongitude] = (104.0, 59.0, 5.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif.tobytes(), comment=b"home address")
    return out.getvalue()


def transparent_png(size: tuple[int, int] = (500, 400)) -> bytes:
    """An RGBA PNG: clear all over but for an opaque blue disc in the middle."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    width, height = size
    image.paste((*BLUE, 255), (width // 2 - 50, height // 2 - 50, width // 2 + 50,
                               height // 2 + 50))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


def claimed_png(width: int, height: int) -> bytes:
    """A tiny PNG (about 60 bytes) whose header claims width × height pixels: a decompression
    bomb's calling card, without the bomb."""
    return (b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00"))
            + png_chunk(b"IEND", b""))


def claimed_jpeg(width: int, height: int) -> bytes:
    """A small JPEG whose frame header is changed to claim width × height pixels."""
    data = bytearray(factories.jpeg_bytes((400, 400)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


# --------------------------------------------------------------------------- helpers

@pytest.fixture
def owner(app, auth):
    """A logged-in practitioner without a photo (not listed yet)."""
    with app.app_context():
        factories.make_practitioner(OWNER, full_name="Olivia Owner")
    auth.login(OWNER)


def upload(client, content: bytes, name: str = "me.jpg"):
    """Send the photo form as a browser would, encoded in memory (the test client spools a big
    body to a temporary file it never closes)."""
    fields = {"photo": FileStorage(io.BytesIO(content), name)}
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return client.post("/profile/photo", input_stream=stream, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}")


def stored(app) -> list[str]:
    """The names of the photo files the app keeps (its local folder or S3)."""
    return factories.stored_files(app, photos.FOLDER)


def stored_photo(app, key: str, size: int) -> bytes:
    """One size's stored file."""
    return factories.stored_bytes(app, photos.storage_key(key, size))


def photo_key(app, email: str = OWNER) -> str | None:
    """The account's stored photo key (None: no photo)."""
    with app.app_context():
        key = db.session.scalar(db.select(Practitioner.photo_key).join(Practitioner.user)
                                .where(User.email == email))
        db.session.remove()
    return key


def give_photo(app, email: str, content: bytes | None = None) -> str:
    """Store a photo for this account through the service, as the page does; its key."""
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        profile_services.change_photo(user.practitioner, user,
                                      io.BytesIO(content or halves_jpeg()))
        key = user.practitioner.photo_key
        db.session.remove()
    return key


def photo_url(key: str, size: int) -> str:
    return f"/photos/{key}-{size}.jpg"


def img_tags(page: str, css_class: str) -> list[str]:
    return re.findall(rf'<img class="photo {css_class}"[^>]*>', page)


def attribute(tag: str, name: str) -> str:
    match = re.search(rf'\s{name}="([^"]*)"', tag)
    return html.unescape(match.group(1)) if match else ""


# --------------------------------------------------------------------------- accepted

@both_stores
def test_a_phone_jpeg_is_stored_upright_square_in_every_size_without_its_metadata(
        app, client, owner):
    original = halves_jpeg((600, 400), orientation=6, gps=True)
    assert b"Exif" in original and b"home address" in original  # what must not survive

    response = upload(client, original)
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "Your photo has been saved: patients see it on your profile." in flashes(page)

    key = photo_key(app)
    assert key and stored(app) == sorted(photos.file_name(key, s) for s in photos.SIZES)
    for size in photos.SIZES:
        data = stored_photo(app, key, size)
        assert b"Exif" not in data and b"home address" not in data and b"GPS" not in data
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and image.size == (size, size)
            assert not image.getexif() and "icc_profile" not in image.info
            rgb = image.convert("RGB")
            # Orientation 6 turns the stored picture a quarter clockwise: its red left half is
            # the top when upright. Unturned, the top right corner would be blue.
            corner = size // 8
            assert is_near(rgb.getpixel((size - corner, corner)), RED)
            assert is_near(rgb.getpixel((corner, size - corner)), BLUE)
    # The page shows the new photo, with a way to remove it.
    shown = page.get_data(as_text=True)
    assert img_tags(shown, "")[0] and "Remove photo" in shown


def is_near(colour: tuple[int, ...], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(colour, wanted, strict=True))


def test_a_transparent_png_is_accepted_on_white(app, client, owner):
    response = upload(client, transparent_png(), "me.png")
    assert response.status_code == 302
    key = photo_key(app)
    with Image.open(io.BytesIO(stored_photo(app, key, 384))) as image:
        assert image.format == "JPEG" and image.size == (384, 384)
        rgb = image.convert("RGB")
        assert is_near(rgb.getpixel((5, 5)), (255, 255, 255))  # was clear
        assert is_near(rgb.getpixel((192, 192)), BLUE)


# --------------------------------------------------------------------------- refused

REFUSED = {
    "text-named-jpg": (lambda: b"I am not a picture, only text.\n" * 20, "me.jpg",
                       photos.NOT_A_PHOTO),
    "pdf": (lambda: factories.pdf_bytes(), "me.pdf", photos.PDF_NOT_A_PHOTO),
    "png-claiming-20000-by-20000": (
        lambda: claimed_png(20_000, 20_000), "bomb.png",
        photos.TOO_MANY_PIXELS.format(size=" (20,000 × 20,000)")),
    "png-claiming-7000-by-7000": (
        lambda: claimed_png(7_000, 7_000), "big.png",
        photos.TOO_MANY_PIXELS.format(size=" (7,000 × 7,000)")),
    "jpeg-claiming-60000-by-60000": (
        lambda: claimed_jpeg(60_000, 60_000), "bomb.jpg", photos.TOO_MANY_PIXELS.format(size="")),
    "truncated-jpeg": (lambda: halves_jpeg()[:3000], "me.jpg",
                       photos.UNREADABLE.format(kind="JPEG")),
    "too-small": (lambda: factories.png_bytes((300, 500)), "small.png",
                  photos.TOO_SMALL.format(width=300, height=500)),
    "empty": (lambda: b"", "me.jpg", photos.EMPTY),
    "over-10-mb": (lambda: halves_jpeg() + b"\0" * photos.MAX_BYTES, "huge.jpg",
                   photos.TOO_LARGE),
}


@pytest.mark.parametrize(("make", "name", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_upload_gets_a_field_message_and_stores_nothing(app, client, owner, make,
                                                                  name, message):
    response = upload(client, make(), name)
    assert response.status_code == 200
    assert field_error(response, "photo") == message
    shown = html.unescape(response.get_data(as_text=True))
    assert f"“{name}” was not saved: choose a photo again." in shown
    assert stored(app) == [] and photo_key(app) is None
    assert factories.audit_events(app, "profile.photo_changed") == []


def test_sending_the_form_without_a_file_asks_for_one(app, client, owner):
    response = client.post("/profile/photo", data={}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert field_error(response, "photo") == "Choose a photo to upload."
    text = client.post("/profile/photo", data={"photo": "not a file"})
    assert field_error(text, "photo") == "Choose a photo to upload."


@both_stores
def test_a_refused_photo_keeps_the_current_one(app, client, owner):
    assert upload(client, halves_jpeg()).status_code == 302
    key = photo_key(app)
    response = upload(client, factories.pdf_bytes(), "certificate.pdf")
    assert field_error(response, "photo") == photos.PDF_NOT_A_PHOTO
    assert photo_key(app) == key and len(stored(app)) == len(photos.SIZES)
    assert img_tags(response.get_data(as_text=True), "")  # still shown above the form
    assert client.get(photo_url(key, 96)).status_code == 200


# --------------------------------------------------------------------------- replace, remove

@both_stores
def test_replacing_then_removing_deletes_the_old_files_and_is_audited(app, client, owner):
    assert upload(client, halves_jpeg()).status_code == 302
    first = photo_key(app)
    assert upload(client, transparent_png(), "new.png").status_code == 302
    second = photo_key(app)
    assert second != first
    assert stored(app) == sorted(photos.file_name(second, s) for s in photos.SIZES)
    assert client.get(photo_url(first, 192)).status_code == 404  # the old address is gone

    response = client.post("/profile/photo/delete")
    assert response.status_code == 302
    assert "Your photo has been removed." in flashes(client.get(response.headers["Location"]))
    assert photo_key(app) is None and stored(app) == []
    assert client.get(photo_url(second, 192)).status_code == 404

    events = factories.audit_events(app, "profile.photo_changed")
    assert [e.detail["change"] for e in events] == ["added", "replaced", "removed"]
    with app.app_context():
        owner_id = db.session.scalar(db.select(Practitioner.id))
    assert {(e.subject_type, e.practitioner_id) for e in events} == {("practitioners",
                                                                      owner_id)}
    assert all(e.actor_id is not None for e in events)


def test_the_photo_page_is_linked_from_the_dashboard_and_the_profile_editor(app, client,
                                                                             owner):
    for path in ("/dashboard", "/profile/edit"):
        assert 'href="/profile/photo"' in client.get(path).get_data(as_text=True), path
    page = client.get("/profile/photo").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert "Remove photo" not in page  # nothing to remove yet


@both_stores
def test_a_failed_save_leaves_no_files_behind(app, client, owner, monkeypatch):
    def broken_commit():
        raise RuntimeError("database went away")

    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == OWNER))
        monkeypatch.setattr(db.session, "commit", broken_commit)
        with pytest.raises(RuntimeError):
            profile_services.change_photo(user.practitioner, user, io.BytesIO(halves_jpeg()))
        monkeypatch.undo()
        db.session.remove()
    assert stored(app) == []


# --------------------------------------------------------------------------- serving

@both_stores
def test_an_unlisted_practitioners_photo_is_seen_by_its_owner_only(app, client, owner):
    key = give_photo(app, OWNER)
    mine = client.get(photo_url(key, 192))
    assert mine.status_code == 200 and mine.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(mine.data)).size == (192, 192)
    assert "no-store" in mine.headers["Cache-Control"]
    assert mine.headers["X-Content-Type-Options"] == "nosniff"

    client.post("/account/logout")
    assert client.get(photo_url(key, 192)).status_code == 404
    with app.app_context():
        factories.make_practitioner("someone@example.com")
    factories.login(client, "someone@example.com")
    assert client.get(photo_url(key, 192)).status_code == 404


@both_stores
def test_a_listed_practitioners_photo_is_public_and_cacheable(app, client):
    with app.app_context():
        factories.make_listed_practitioner("listed@example.com", full_name="Lena Listed")
    key = give_photo(app, "listed@example.com")
    for size in photos.SIZES:
        response = client.get(photo_url(key, size))
        assert response.status_code == 200, size
        assert Image.open(io.BytesIO(response.data)).size == (size, size)
    cache = client.get(photo_url(key, 96)).headers["Cache-Control"]
    assert "public" in cache and "max-age=86400" in cache
    again = client.get(photo_url(key, 96),
                       headers={"If-None-Match": client.get(photo_url(key, 96)).headers["ETag"]})
    assert again.status_code == 304

    other_id = int(key.split("-", 1)[0]) + 1
    for url in (photo_url(key, 100),  # not one of the sizes
                photo_url(key[:-1] + ("A" if key[-1] != "A" else "B"), 96),  # a wrong token
                photo_url(f"{other_id}{key[key.index('-'):]}", 96),  # another's id
                f"/photos/{key}-{10 ** 30}.jpg", f"/photos/{'9' * 18}-{'A' * 32}-96.jpg",
                f"/photos/{'9' * 40}-{'A' * 32}-96.jpg",
                "/photos/not-a-key-96.jpg", f"/photos/{key}-96.png"):
        assert client.get(url).status_code == 404, url


# --------------------------------------------------------------------------- shown

def test_the_profile_shows_the_photo_with_srcset_and_previews_it(app, client):
    with app.app_context():
        p = factories.make_listed_practitioner("listed@example.com", full_name="Lena Listed")
        slug = p.slug
    key = give_photo(app, "listed@example.com")
    page = client.get(f"/p/{slug}").get_data(as_text=True)

    tag, = img_tags(page, "profile-photo")
    assert attribute(tag, "alt") == "Lena Listed"
    assert attribute(tag, "width") == attribute(tag, "height") == "192"
    assert attribute(tag, "srcset") == ", ".join(f"{photo_url(key, s)} {s}w"
                                                 for s in photos.SIZES)
    assert attribute(tag, "sizes")
    assert page.index(tag) < page.index("<h1>")  # beside the heading

    site = app.config["SITE_URL"].rstrip("/")
    largest = f"{site}{photo_url(key, photos.SIZES[-1])}"
    assert f'<meta property="og:image" content="{largest}">' in page
    jsonld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page,
                                  re.S).group(1))
    assert jsonld["image"] == largest


def test_no_photo_means_no_img_and_no_image_in_the_previews(app, client):
    with app.app_context():
        slug = factories.make_listed_practitioner("listed@example.com").slug
    page = client.get(f"/p/{slug}").get_data(as_text=True)
    assert 'class="photo' not in page and "og:image" not in page and '"image"' not in page


def test_the_api_record_gives_each_size_as_an_absolute_url(app, client):
    with app.app_context():
        p = factories.make_listed_practitioner("listed@example.com")
        pid = p.id
    spec = client.get("/api/v1/openapi.json").get_json()
    record = client.get(f"/api/v1/practitioners/{pid}").get_json()
    assert record["photo"] is None
    check(spec, "Practitioner", record)

    key = give_photo(app, "listed@example.com")
    record = client.get(f"/api/v1/practitioners/{pid}").get_json()
    site = app.config["SITE_URL"].rstrip("/")
    assert record["photo"] == {str(s): f"{site}{photo_url(key, s)}" for s in photos.SIZES}
    check(spec, "Practitioner", record)
    for size, url in record["photo"].items():
        served = client.get(urlsplit(url).path)
        assert Image.open(io.BytesIO(served.data)).size == (int(size), int(size))


def test_search_results_show_a_small_thumbnail(app, client):
    with app.app_context():
        with_photo = factories.listed_at(*offset(*DENVER, km_north=1), "Pia Photo")
        factories.listed_at(*offset(*DENVER, km_north=2), "Nat Nophoto")
        email = with_photo.user.email
    key = give_photo(app, email)
    page = client.get("/?near=80202&radius=10").get_data(as_text=True)
    tag, = img_tags(page, "result-photo")
    assert attribute(tag, "alt") == ""  # the name is the link beside it
    assert attribute(tag, "width") == "48" and photo_url(key, 96) in attribute(tag, "srcset")
    assert "Nat Nophoto" in page
