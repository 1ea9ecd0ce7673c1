"""Evidence uploads are checked for what they are, not only their first bytes (issue 12, item 6).

Every file goes through the real certification form: images must decode whole with Pillow (at most
40 megapixels), PDFs must parse with pypdf in strict mode, with pages, no password and no active
content. A refused file gets its message beside the file field, the rest of the form is kept, and
nothing is stored.
"""

from __future__ import annotations

import hashlib
import html
import io
import logging
import re
import stat
import struct
import zlib
from datetime import timedelta
from functools import cache
from types import SimpleNamespace

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    TextStringObject,
)
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from directory.credentials import evidence
from directory.extensions import db
from directory.models import Certification
from directory.models.base import utcnow
from tests import factories
from tests.factories import evidence_folder, stored_files
from tests.pages import field_error, form_values
from tests.s3 import both_stores

# --------------------------------------------------------------------------- files


def rewritten(change=None) -> bytes:
    """The factory's PDF, copied by pypdf's PdfWriter after `change(writer)`."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(factories.pdf_bytes())))
    if change:
        change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def action(kind: str, **entries: str) -> DictionaryObject:
    values = {NameObject("/S"): NameObject(kind)}
    values.update({NameObject(f"/{k}"): TextStringObject(v) for k, v in entries.items()})
    return DictionaryObject(values)


def open_action(kind: str, **entries: str):
    def change(writer):
        writer.root_object[NameObject("/OpenAction")] = action(kind, **entries)
    return change


def page_link_with_javascript(writer):
    page = writer.pages[0]
    page[NameObject("/Annots")] = ArrayObject([writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Link"),
        NameObject("/Rect"): ArrayObject([FloatObject(50), FloatObject(50), FloatObject(200),
                                          FloatObject(80)]),
        NameObject("/A"): action("/JavaScript", JS="app.launchURL('https://example.com')"),
    }))])


def page_open_javascript(writer):
    writer.pages[0][NameObject("/AA")] = DictionaryObject(
        {NameObject("/O"): action("/JavaScript", JS="app.alert(1)")})


def xfa_form(writer):
    writer.root_object[NameObject("/AcroForm")] = DictionaryObject({
        NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): TextStringObject("<xdp/>")})


def encrypted(user: str, owner: str | None = None):
    def change(writer):
        writer.encrypt(user, owner_password=owner, algorithm="RC4-128")
    return change


def no_pages() -> bytes:
    out = io.BytesIO()
    PdfWriter().write(out)
    return out.getvalue()


def classic_pdf(objects: list[bytes], trailer: str = "") -> bytes:
    """A PDF of these objects (numbered from 1, the first is the catalog) and an xref table."""
    out = b"%PDF-1.7\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R {trailer}>>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return out


def aes_locked_pdf() -> bytes:
    """A PDF locked with AES-256 (revision 5) whose user password is empty, as certificates
    "secured against changes" are: pypdf needs the cryptography package to open it."""
    validation_salt, key_salt = b"v" * 8, b"k" * 8
    user_key = hashlib.sha256(validation_salt).digest() + validation_salt + key_salt

    def hexed(data: bytes) -> str:
        return f"<{data.hex()}>"
    encrypt = (
        "<< /Filter /Standard /V 5 /R 5 /Length 256 /P -4 /StmF /StdCF /StrF /StdCF "
        "/CF << /StdCF << /AuthEvent /DocOpen /CFM /AESV3 /Length 32 >> >> "
        f"/O {hexed(b'o' * 48)} /U {hexed(user_key)} /OE {hexed(b'e' * 32)} "
        f"/UE {hexed(b'u' * 32)} /Perms {hexed(b'p' * 16)} >>")
    file_id = "<00112233445566778899aabbccddeeff>"
    return classic_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
                        encrypt.encode()],
                       trailer=f"/Encrypt 4 0 R /ID [{file_id} {file_id}] ")


def pdf_in_object_stream(open_action_body: str, escape_names: bool = False) -> bytes:
    """A one-page PDF 1.5 whose objects (catalog, pages, action) sit in a compressed object
    stream, indexed by a cross-reference stream: their names are not in the file's bytes."""
    objects = {  # number -> body; all but the content stream go into the object stream
        1: "<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>",
        2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
           "/Resources << /Font << /F1 6 0 R >> >> >>",
        5: open_action_body,
        6: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    if escape_names:  # #xx escapes: the same names to a reader, other bytes to a search
        objects = {n: body.replace("/JavaScript", "/J#61vaScript").replace("/JS ", "/J#53 ")
                   for n, body in objects.items()}
    content = b"BT /F1 14 Tf 60 760 Td (Certificate) Tj ET"
    packed = [(n, body.encode()) for n, body in objects.items()]
    header, offset = [], 0
    for n, body in packed:
        header.append(f"{n} {offset}")
        offset += len(body) + 1
    header_bytes = (" ".join(header) + "\n").encode()
    stream = zlib.compress(header_bytes + b"\n".join(body for _, body in packed) + b"\n")

    out = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"
    places = {}
    places[4] = len(out)
    out += (f"4 0 obj\n<< /Length {len(content)} >>\nstream\n".encode() + content
            + b"\nendstream\nendobj\n")
    places[7] = len(out)
    out += (f"7 0 obj\n<< /Type /ObjStm /N {len(packed)} /First {len(header_bytes)} "
            f"/Filter /FlateDecode /Length {len(stream)} >>\nstream\n".encode() + stream
            + b"\nendstream\nendobj\n")
    places[8] = len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    for n in range(1, 9):
        if n in places:
            rows.append(struct.pack(">BIH", 1, places[n], 0))
        else:
            index = [m for m, _ in packed].index(n)
            rows.append(struct.pack(">BIH", 2, 7, index))
    xref = b"".join(rows)
    out += (f"8 0 obj\n<< /Type /XRef /Size 9 /W [1 4 2] /Root 1 0 R /Length {len(xref)} >>\n"
            "stream\n").encode() + xref + b"\nendstream\nendobj\n"
    out += f"startxref\n{places[8]}\n%%EOF\n".encode()
    return out


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


@cache
def huge_png(width: int, height: int) -> bytes:
    """A valid, blank 1-bit PNG of that size, written row by row (kilobytes on disk, and never
    the pixels in memory)."""
    squeeze = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte, then white pixels
    idat = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    return (b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def detailed_png() -> bytes:
    return factories.png_bytes((600, 800))


def detailed_jpeg() -> bytes:
    return factories.jpeg_bytes((600, 800))


# --------------------------------------------------------------------------- messages

UNREADABLE_PDF = ("That file starts like a PDF but could not be read as one: it may be "
                  "incomplete, damaged or another kind of file. Open it, save or export it again "
                  "as a PDF, and upload the new file.")
PDF_AFTER_END = ("That PDF has extra data after its end, which we do not accept. Open it, save "
                 "or export it again, and upload the new file.")
ENCRYPTED = ("That is a password-protected PDF (or one locked against changes), so we cannot "
             "check it. Upload a copy without protection: open it and print or save it as a new "
             "PDF, or upload a scan or photo instead.")


def active(what: str) -> str:
    return (f"That PDF contains {what}, which we do not accept in evidence. Upload a plain copy: "
            "open it and print or save it as a new PDF, or upload a scan or photo instead.")


def unreadable_image(kind: str) -> str:
    return (f"That file starts like a {kind} image but could not be read as one: it may be "
            "incomplete or damaged. Save or export it again, or upload a PDF, and try again.")


def too_many_pixels(size: str) -> str:
    return (f"That image is too large in pixels{size}: we accept up to 40 megapixels. Upload a "
            "smaller scan or photo (300 dpi is plenty for a certificate).")


REFUSED = {
    "truncated-pdf": (lambda: factories.pdf_bytes()[:400], "certificate.pdf", UNREADABLE_PDF),
    "pdf-cut-before-its-end": (lambda: factories.pdf_bytes()[:-30], "certificate.pdf",
                               UNREADABLE_PDF),
    "html-after-pdf-header": (
        lambda: b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>\n"
                b"%%EOF\n", "certificate.pdf", UNREADABLE_PDF),
    "html-appended-to-a-pdf": (
        lambda: factories.pdf_bytes() + b"<html><script>alert(1)</script></html>\n",
        "certificate.pdf", PDF_AFTER_END),
    "open-action-javascript": (
        lambda: rewritten(open_action("/JavaScript", JS="app.alert('hello');")),
        "certificate.pdf", active("JavaScript")),
    "document-javascript": (
        lambda: rewritten(lambda w: w.add_open_action(JavaScript("this.print();"))),
        "certificate.pdf", active("JavaScript")),
    "javascript-in-a-compressed-object-stream": (
        lambda: pdf_in_object_stream("<< /S /JavaScript /JS (app.alert(1)) >>"),
        "certificate.pdf", active("JavaScript")),
    "javascript-behind-name-escapes": (
        lambda: pdf_in_object_stream("<< /S /JavaScript /JS (app.alert(1)) >>",
                                     escape_names=True),
        "certificate.pdf", active("JavaScript")),
    "link-annotation-javascript": (lambda: rewritten(page_link_with_javascript),
                                   "certificate.pdf", active("JavaScript")),
    "page-open-javascript": (lambda: rewritten(page_open_javascript), "certificate.pdf",
                             active("JavaScript")),
    "launch-action": (lambda: rewritten(open_action("/Launch", F="calc.exe")),
                      "certificate.pdf", active("an action that opens a program or file")),
    "launch-in-a-compressed-object-stream": (
        lambda: pdf_in_object_stream("<< /S /Launch /F (calc.exe) >>"), "certificate.pdf",
        active("an action that opens a program or file")),
    "embedded-file": (lambda: rewritten(lambda w: w.add_attachment("notes.txt", b"hello")),
                      "certificate.pdf", active("attached files")),
    "xfa-form": (lambda: rewritten(xfa_form), "certificate.pdf",
                 active("an interactive (XFA) form")),
    "encrypted-pdf": (lambda: rewritten(encrypted("secret")), "certificate.pdf", ENCRYPTED),
    "pdf-locked-by-owner-password": (lambda: rewritten(encrypted("", "owner")),
                                     "certificate.pdf", ENCRYPTED),
    "pdf-locked-with-aes": (aes_locked_pdf, "certificate.pdf", ENCRYPTED),
    "pdf-without-pages": (no_pages, "certificate.pdf",
                          "That PDF has no pages. Upload the PDF of your certificate."),
    "png-20000x20000": (lambda: huge_png(20000, 20000), "scan.png",
                        too_many_pixels(" (20,000 × 20,000)")),
    "png-10000x10000": (lambda: huge_png(10000, 10000), "scan.png",  # Pillow would warn
                        too_many_pixels(" (10,000 × 10,000)")),
    "png-8000x6000": (lambda: huge_png(8000, 6000), "scan.png",  # under Pillow's own limit
                      too_many_pixels(" (8,000 × 6,000)")),
    "truncated-png": (lambda: detailed_png()[:20000], "scan.png", unreadable_image("PNG")),
    "png-cut-before-its-end": (lambda: detailed_png()[:-12], "scan.png",
                               unreadable_image("PNG")),
    "png-with-a-broken-checksum": (
        lambda: bytes.fromhex(  # what tests/factories.py used to call a PNG
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"),
        "scan.png", unreadable_image("PNG")),
    "html-appended-to-a-png": (lambda: detailed_png() + b"<html><script>alert(1)</script>",
                               "scan.png",
                               "That PNG image has extra data after its end, which we do not "
                               "accept. Open it, save or export it again, and upload the new "
                               "file."),
    "truncated-jpeg": (lambda: detailed_jpeg()[:30000], "photo.jpg", unreadable_image("JPEG")),
    "png-behind-a-jpeg-header": (lambda: b"\xff\xd8\xff\xe0" + detailed_png(), "photo.jpg",
                                 unreadable_image("JPEG")),
}


# --------------------------------------------------------------------------- the form


@pytest.fixture
def owner(app, auth) -> SimpleNamespace:
    """A logged-in practitioner (the test client)."""
    with app.app_context():
        p = factories.make_practitioner("evidence@example.com", full_name="Eve Evidence")
        info = SimpleNamespace(id=p.id, email="evidence@example.com")
        db.session.remove()
    assert auth.login(info.email).status_code == 302
    return info


def cert_form(**changes) -> dict:
    """A complete certification form (without the file), with typed values to be kept."""
    today = utcnow().date()
    return {
        "program": "", "program_name": "Bob's Needle Academy level 2", "level": "2",
        "certificate_number": "BNA-0099", "completed_on": (today - timedelta(days=90)).isoformat(),
        "expires_on": (today + timedelta(days=700)).isoformat(), "hours": "31.5",
        "in_person_hours": "20", "supervised_sessions": "7", "version": "",
    } | changes


def post_file(client, url: str, content: bytes, name: str, **changes):
    """POST the certification form with a file, encoded in memory as a browser would send it."""
    fields = {**cert_form(**changes), "evidence": FileStorage(io.BytesIO(content), name)}
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return client.post(url, input_stream=stream, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}")


def error_summary(response) -> str:
    match = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>',
                      response.get_data(as_text=True), re.S)
    return html.unescape(re.sub(r"<[^>]+>|\s+", " ", match.group(1))) if match else ""


def certifications(app) -> list[SimpleNamespace]:
    with app.app_context():
        rows = [SimpleNamespace(id=c.id, stored_name=c.evidence_stored_name,
                                mime=c.evidence_mime, sha256=c.evidence_sha256,
                                certificate_number=c.certificate_number, status=c.status)
                for c in db.session.scalars(select(Certification).order_by(Certification.id))]
        db.session.remove()
    return rows


@pytest.mark.parametrize(("make", "name", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_on_the_certification_form(app, client, owner, make, name, message):
    content = make()
    assert len(content) < 200_000  # small on disk, whatever its pixels
    response = post_file(client, "/certifications/new", content, name)
    assert response.status_code == 200
    assert field_error(response, "evidence") == message
    assert f"Certificate (PDF, PNG or JPEG, up to 10 MB): {message}" in error_summary(response)
    shown = form_values(response)
    for field, value in cert_form().items():  # everything typed is still there
        if field != "version":
            assert shown[field] == [value], field
    assert certifications(app) == []
    assert stored_files(app) == []


@both_stores
def test_a_refused_file_on_edit_keeps_the_certification_and_its_file(app, client, owner):
    with app.app_context():
        from directory.models import Practitioner

        cert = factories.make_certification(db.session.get(Practitioner, owner.id),
                                            status="verified")
        cert_id, old_name = cert.id, cert.evidence_stored_name
        db.session.remove()
    response = post_file(client, f"/certifications/{cert_id}/edit",
                         rewritten(open_action("/JavaScript", JS="app.alert(1)")), "new.pdf",
                         version="1", certificate_number="TYPED-AGAIN")
    assert response.status_code == 200
    assert field_error(response, "evidence") == active("JavaScript")
    assert form_values(response)["certificate_number"] == ["TYPED-AGAIN"]
    [row] = certifications(app)
    assert (row.status, row.stored_name) == ("verified", old_name)
    assert row.certificate_number != "TYPED-AGAIN"
    assert stored_files(app) == [old_name]


ACCEPTED = {
    "pdf": (factories.pdf_bytes, "certificate.pdf", "application/pdf"),
    "pdf-written-by-pypdf": (rewritten, "certificate.pdf", "application/pdf"),
    "pdf-with-an-ordinary-link": (
        lambda: rewritten(open_action("/URI", URI="https://example.com/verify")),
        "certificate.pdf", "application/pdf"),
    "pdf-in-an-object-stream": (
        lambda: pdf_in_object_stream("<< /S /URI /URI (https://example.com) >>"),
        "certificate.pdf", "application/pdf"),
    "png": (lambda: factories.PNG_BYTES, "scan.png", "image/png"),
    "png-of-a-scan": (detailed_png, "scan.png", "image/png"),
    "png-at-40-megapixels": (lambda: huge_png(8000, 5000), "scan.png", "image/png"),
    "jpeg": (factories.jpeg_bytes, "photo.jpg", "image/jpeg"),
    "jpeg-of-a-phone-photo": (lambda: factories.jpeg_bytes((3000, 4000)), "photo.jpeg",
                              "image/jpeg"),
}


@pytest.mark.parametrize(("make", "name", "mime"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_valid_files_are_accepted_and_stored_privately(app, client, owner, make, name, mime):
    content = make()
    response = post_file(client, "/certifications/new", content, name)
    assert response.status_code == 302, field_error(response, "evidence")
    [row] = certifications(app)
    assert row.mime == mime
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    assert stored_files(app) == [row.stored_name]
    path = evidence_folder(app) / row.stored_name
    assert path.read_bytes() == content
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the app's user only
    assert stat.S_IMODE(evidence_folder(app).stat().st_mode) == 0o700
    download = client.get(f"/certifications/{row.id}/evidence")
    assert (download.status_code, download.mimetype, download.data) == (200, mime, content)


@both_stores
def test_a_png_renamed_jpg_is_kept_as_the_png_it_is(app, client, owner):
    """The content decides the type, never the name: served as a PNG, named .png."""
    content = detailed_png()
    assert post_file(client, "/certifications/new", content, "photo.jpg").status_code == 302
    [row] = certifications(app)
    assert row.mime == "image/png"
    download = client.get(f"/certifications/{row.id}/evidence")
    assert download.mimetype == "image/png"
    assert download.headers["Content-Disposition"] == "attachment; filename=photo.png"
    assert download.data == content


def test_a_folder_left_open_by_an_older_version_is_closed(app, client, owner):
    folder = evidence_folder(app)
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    assert post_file(client, "/certifications/new", factories.pdf_bytes(),
                     "c.pdf").status_code == 302
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


# --------------------------------------------------------------------------- the service


@pytest.mark.parametrize("key", ["truncated-pdf", "embedded-file", "encrypted-pdf",
                                 "png-20000x20000", "png-10000x10000", "truncated-jpeg"])
def test_store_refuses_without_writing_and_without_warnings_or_logs(app_ctx, caplog, key):
    make, name, message = REFUSED[key]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(evidence.EvidenceError) as refused:
        evidence.store(io.BytesIO(make()), name)  # filterwarnings=error: a warning would raise
    assert str(refused.value) == message
    assert not evidence_folder(app_ctx).exists() or stored_files(app_ctx) == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_pdf_pypdf_repairs_is_kept_without_filling_the_log(app_ctx, caplog):
    """pypdf logs each repair it makes (here a wrong cross-reference offset, which viewers repair
    too); a hostile file could write thousands of such lines."""
    damaged = factories.pdf_bytes().replace(b"0000000009 00000 n", b"0000000019 00000 n")
    caplog.set_level(logging.DEBUG)
    stored = evidence.store(io.BytesIO(damaged), "c.pdf")
    assert stored.mime == "application/pdf"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pypdf")] == []


@both_stores
def test_files_stored_before_the_checks_are_still_served(app, client, owner):
    """A file accepted by the first-bytes check (a PNG with a bad checksum) stays downloadable:
    serving checks its hash and type, not the parse, so a reviewer can still look at it."""
    old_png = REFUSED["png-with-a-broken-checksum"][0]()
    with app.app_context():
        from directory.models import Practitioner

        cert = factories.make_certification(db.session.get(Practitioner, owner.id))
        factories.replace_stored(app, evidence.key_of(cert.evidence_stored_name), old_png)
        cert.evidence_sha256 = hashlib.sha256(old_png).hexdigest()
        cert.evidence_mime = "image/png"
        db.session.commit()
        cert_id = cert.id
        db.session.remove()
    download = client.get(f"/certifications/{cert_id}/evidence")
    assert (download.status_code, download.mimetype, download.data) == (200, "image/png", old_png)
