"""When the object store is down (issue 19, item 2): a clear message or a 503 page, never a stack
trace; nothing lost (no row naming a missing file, the typed values and the waiting import
kept); and everything works again once it is back.

Each test has an S3 server of its own (moto, on a local port) that it stops and starts again;
moto keeps the objects in this process, as a real store keeps them across its restart.
"""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import select

from directory import storage
from directory.errors import STORAGE_UNAVAILABLE
from directory.extensions import db
from directory.models import Certification, Practitioner, User
from directory.profiles import photos
from tests import factories, test_bulk, test_photos
from tests.pages import field_error, form_values
from tests.s3 import S3Server
from tests.test_bulk import confirm_values, counts, csv_bytes, row
from tests.test_bulk import upload as upload_csv
from tests.test_evidence_files import post_file
from tests.test_photos import OWNER, halves_jpeg, photo_key, photo_url, transparent_png
from tests.test_photos import upload as upload_photo

# Fixtures of those modules: a logged-in practitioner (owner), an administrator's client.
owner = test_photos.owner
admin = test_bulk.admin
as_admin = test_bulk.as_admin


@pytest.fixture
def s3(s3_server):
    """An S3 server of this test's own (the session's server made the bucket)."""
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def storage_config(s3) -> dict:
    """The app keeps its files in this test's S3 server."""
    return s3.config()


def certs(app) -> list[Certification]:
    with app.app_context():
        found = db.session.scalars(select(Certification).order_by(Certification.id)).all()
        db.session.expunge_all()
        return found


def assert_unavailable_page(response) -> None:
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert STORAGE_UNAVAILABLE in page
    assert "Traceback" not in page and "botocore" not in page


def test_an_evidence_upload_waits_for_the_store_with_the_form_kept(app, client, owner, s3,
                                                                    caplog):
    s3.stop()
    content = factories.pdf_bytes()
    response = post_file(client, "/certifications/new", content, "c.pdf",
                         certificate_number="TYPED-1")
    assert response.status_code == 503
    assert field_error(response, "evidence") == storage.UNAVAILABLE
    assert form_values(response)["certificate_number"] == ["TYPED-1"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert certs(app) == []  # no row naming a file that is not there
    assert any(r.getMessage().startswith("storage unavailable") for r in caplog.records)

    s3.start()
    response = post_file(client, "/certifications/new", content, "c.pdf",
                         certificate_number="TYPED-1")
    assert response.status_code == 302
    [cert] = certs(app)
    assert factories.stored_files(app) == [cert.evidence_stored_name]
    download = client.get(f"/certifications/{cert.id}/evidence")
    assert (download.status_code, download.data) == (200, content)


def test_an_evidence_download_is_a_503_page_then_served_again(app, client, owner, s3):
    with app.app_context():
        p = db.session.scalar(select(Practitioner).join(Practitioner.user)
                              .where(User.email == OWNER))
        cert_id = factories.make_certification(p, evidence=factories.PNG_BYTES).id
        db.session.remove()
    url = f"/certifications/{cert_id}/evidence"
    s3.stop()
    assert_unavailable_page(client.get(url))
    assert_unavailable_page(client.get(url + "?inline=1"))
    s3.start()
    response = client.get(url)
    assert (response.status_code, response.data) == (200, factories.PNG_BYTES)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_evidence_edit_keeps_the_old_file_while_the_store_is_down(app, client, owner, s3):
    with app.app_context():
        p = db.session.scalar(select(Practitioner).join(Practitioner.user)
                              .where(User.email == OWNER))
        cert = factories.make_certification(p, status="verified")
        cert_id, old_name = cert.id, cert.evidence_stored_name
        db.session.remove()
    s3.stop()
    response = post_file(client, f"/certifications/{cert_id}/edit", factories.PNG_BYTES,
                         "new.png", version="1", certificate_number="TYPED-2")
    assert response.status_code == 503
    assert field_error(response, "evidence") == storage.UNAVAILABLE
    [cert] = certs(app)
    assert (cert.status, cert.evidence_stored_name) == ("verified", old_name)
    s3.start()
    assert factories.stored_files(app) == [old_name]


def test_a_photo_upload_and_the_photos_wait_for_the_store(app, client, owner, s3):
    assert upload_photo(client, halves_jpeg()).status_code == 302
    key = photo_key(app)
    served = client.get(photo_url(key, 96)).data

    s3.stop()
    response = upload_photo(client, transparent_png(), "new.png")
    assert response.status_code == 503
    assert field_error(response, "photo") == storage.UNAVAILABLE
    assert photo_key(app) == key  # the profile still shows the photo it had
    assert_unavailable_page(client.get(photo_url(key, 96)))

    s3.start()
    assert client.get(photo_url(key, 96)).data == served
    assert upload_photo(client, transparent_png(), "new.png").status_code == 302
    new = photo_key(app)
    assert factories.stored_files(app, photos.FOLDER) == sorted(
        photos.file_name(new, size) for size in photos.SIZES)


def test_removing_a_photo_while_the_store_is_down_leaves_only_orphan_files(app, client, owner,
                                                                           s3, caplog):
    assert upload_photo(client, halves_jpeg()).status_code == 302
    key = photo_key(app)
    s3.stop()
    caplog.set_level(logging.WARNING, logger="directory.storage")
    response = client.post("/profile/photo/delete")
    assert response.status_code == 302
    assert photo_key(app) is None  # done for the user; the files could not be deleted yet
    assert any("left behind" in r.getMessage() for r in caplog.records)
    s3.start()
    assert len(factories.stored_files(app, photos.FOLDER)) == len(photos.SIZES)
    assert client.get(photo_url(key, 96)).status_code == 404


def test_an_import_waits_for_the_store_and_its_confirmation_survives_an_outage(app, as_admin,
                                                                               s3):
    data = csv_bytes(row(1), row(2))
    s3.stop()
    response = upload_csv(as_admin, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Rows read" in page  # the dry run's report is still shown
    assert field_error(response, "file") == storage.UNAVAILABLE
    assert 'name="sha256"' not in page  # nothing waits, so nothing to confirm

    s3.start()
    response = upload_csv(as_admin, data)
    confirm = confirm_values(response)
    s3.stop()
    assert_unavailable_page(as_admin.post("/admin/bulk/import", data=confirm))
    with app.app_context():
        assert counts()["practitioners"] == 0

    s3.start()  # the same confirmation (the browser's Back, then Import again) now works
    response = as_admin.post("/admin/bulk/import", data=confirm, follow_redirects=True)
    assert "Imported 2 practitioners" in response.get_data(as_text=True)
    with app.app_context():
        assert counts()["practitioners"] == 2
    assert factories.stored_files(app, "imports") == []


def test_the_store_answers_each_call_with_storage_unavailable(app_ctx, s3):
    store = storage.current()
    store.put("evidence/abc", b"kept")
    s3.stop()
    for call in (lambda: store.put("evidence/x", b"x"), lambda: store.get("evidence/abc"),
                 lambda: store.delete("evidence/abc"), lambda: store.exists("evidence/abc"),
                 lambda: list(store.list("evidence"))):
        with pytest.raises(storage.StorageUnavailable):
            call()
    assert store.discard("evidence/abc") is False
    s3.start()
    assert store.get("evidence/abc") == b"kept"


def test_a_store_that_refuses_is_unavailable_too(app_ctx, s3, s3_server):
    """Wrong keys, or a bucket that is not there: a clear error, not a missing file."""
    from tests.s3 import BUCKET

    assert BUCKET
    wrong = storage.S3Storage("no-such-bucket", endpoint_url=s3.endpoint, region="us-east-1",
                              access_key="x", secret_key="y", attempts=1)
    with pytest.raises(storage.StorageUnavailable, match="NoSuchBucket"):
        wrong.put("evidence/abc", io.BytesIO(b"x").read())
