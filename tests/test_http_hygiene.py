"""HTTP hygiene: private pages are never stored by a cache, a 405 says which methods the address
takes, form bodies are capped far below the upload limit, and the files the app keeps in
instance/ are readable by its own user only."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from werkzeug.datastructures import FileStorage
from werkzeug.test import EnvironBuilder, stream_encode_multipart

from directory import create_app
from directory.bulk import pending
from directory.extensions import db
from tests import factories
from tests.conftest import base_config
from tests.factories import DENVER, listed_at

PRACTITIONER = "pat@example.com"
ADMIN = "root@example.com"
TWO_MB = 2 * 1024 * 1024


@pytest.fixture
def people(app):
    """A practitioner, an administrator and a listed practitioner's public page."""
    with app.app_context():
        factories.make_practitioner(PRACTITIONER)
        factories.make_admin(ADMIN)
        listed = listed_at(*DENVER, "Public Person")
        return {"profile": f"/p/{listed.slug}"}


def no_store(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


# =========================================================================== Cache-Control

PRIVATE_PAGES = {
    PRACTITIONER: ["/dashboard", "/account/settings", "/certifications/", "/profile/edit"],
    ADMIN: ["/admin/", "/admin/audit", "/admin/bulk/"],
}


@pytest.mark.parametrize("who", [PRACTITIONER, ADMIN])
def test_pages_for_a_logged_in_user_are_never_stored(client, auth, people, who):
    assert auth.login(who).status_code == 302
    for path in [*PRIVATE_PAGES[who], "/", "/about", people["profile"], "/no-such-page"]:
        response = client.get(path)
        assert response.status_code in (200, 404), path
        assert response.headers["Cache-Control"] == "no-store", path
    # A page's own stricter header is kept as it is.
    if who == ADMIN:
        export = client.get("/admin/bulk/export.csv")
        export.get_data()
        export.close()
        assert export.headers["Cache-Control"] == "private, no-store"


def test_account_pages_are_never_stored_even_for_visitors(client, people):
    for path in ("/account/login", "/account/signup", "/account/forgot",
                 "/account/reset/not-a-real-token", "/account/confirm/not-a-real-token"):
        response = client.get(path)
        assert no_store(response), path
    # The answer to a form sent there too (the login form's message, its typed e-mail).
    failed = client.post("/account/login", data={"email": PRACTITIONER, "password": "wrong"})
    assert no_store(failed)
    # Private pages refuse a visitor with a redirect that is not stored either.
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 302 and no_store(dashboard)


def test_public_pages_for_visitors_keep_their_caching(client, people):
    for path in ("/", "/about", people["profile"], "/api/v1/practitioners?near=80202",
                 "/api/v1/openapi.json", "/static/css/site.css"):
        response = client.get(path)
        response.close()
        assert response.status_code == 200, path
        assert not no_store(response), path


def test_static_files_keep_their_caching_for_a_logged_in_user(client, auth, people):
    auth.login(PRACTITIONER)
    assert no_store(client.get("/dashboard"))
    css = client.get("/static/css/site.css")
    assert css.status_code == 200 and not no_store(css)
    css.close()


# =========================================================================== 405 and Allow


def test_a_405_page_says_which_methods_the_address_takes(client):
    response = client.get("/account/logout")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert "That action is not allowed here." in response.get_data(as_text=True)
    assert response.mimetype == "text/html"

    api = client.post("/api/v1/practitioners")
    assert api.status_code == 405
    assert set(api.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert api.get_json()["error"]["code"] == "method_not_allowed"
    assert api.mimetype == "application/json"


# =========================================================================== body size


def form_body(size: int) -> bytes:
    return b"email=a%40example.com&password=" + b"x" * size


def multipart(client, url: str, fields: dict):
    """POST a multipart form encoded in memory (the test client spools big bodies to a
    temporary file it never closes, which filterwarnings=error would report)."""
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return client.post(url, input_stream=stream, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_a_form_body_over_one_megabyte_gets_the_413_page(client, auth, people):
    response = client.post("/account/login", data=form_body(TWO_MB),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "That upload is too large." in response.get_data(as_text=True)
    # Just under the limit is an ordinary (failed) login.
    fits = client.post("/account/login", data=form_body(1000 * 1024),
                       content_type="application/x-www-form-urlencoded")
    assert fits.status_code == 200

    auth.login(PRACTITIONER)
    profile = multipart(client, "/profile/edit",
                        {"bio": "x" * 400_000, "notes": "y" * 400_000, "more": "z" * 400_000})
    assert profile.status_code == 413
    attached = multipart(client, "/profile/edit",
                         {"photo": FileStorage(io.BytesIO(b"\0" * TWO_MB), "photo.png")})
    assert attached.status_code == 413  # a file sent to a page that takes none


def test_the_form_limit_holds_before_the_csrf_check_reads_the_form(migrated_database, tmp_path,
                                                                  app):
    guarded = create_app(base_config(migrated_database, tmp_path) | {"WTF_CSRF_ENABLED": True,
                                                                     "RATELIMIT_ENABLED": True})
    response = guarded.test_client().post("/account/login", data=form_body(TWO_MB),
                                          content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "That upload is too large." in response.get_data(as_text=True)
    with guarded.app_context():
        db.engine.dispose()


def test_upload_pages_take_bodies_up_to_the_upload_limit(client, auth, people):
    auth.login(ADMIN)
    csv = multipart(client, "/admin/bulk/",
                    {"file": FileStorage(io.BytesIO(b"email\r\n" + b"x" * TWO_MB + b"\r\n"),
                                         "big.csv")})
    assert csv.status_code == 200  # the import's own report, not the 413 page
    assert "That upload is too large." not in csv.get_data(as_text=True)
    auth.logout()

    auth.login(PRACTITIONER)
    evidence = multipart(client, "/certifications/new", {
        "program_name": "KinetaCore FDN 1", "completed_on": "2024-01-15",
        "evidence": FileStorage(io.BytesIO(b"%PDF-1.4\n" + b"0" * TWO_MB), "big.pdf")})
    assert evidence.status_code == 200  # the form again, with its field messages
    assert "That upload is too large." not in evidence.get_data(as_text=True)


def test_the_upload_views_are_marked_once(app):
    marked = {endpoint for endpoint, view in app.view_functions.items()
              if getattr(view, "accepts_uploads", False)}
    assert marked == {"certifications.new", "certifications.edit", "bulk.index",
                      "issuers.roster_upload", "profiles.photo"}
    with app.test_request_context("/account/login", method="POST"):
        from flask import request

        assert request.max_content_length == app.config["MAX_FORM_BODY"] == 1024 * 1024
    environ = EnvironBuilder(path="/certifications/new", method="POST").get_environ()
    with app.request_context(environ):
        from flask import request

        assert request.max_content_length == app.config["MAX_CONTENT_LENGTH"]


# =========================================================================== file modes


@pytest.fixture
def umask():
    """The usual umask (files 0o644 unless the app says otherwise), whatever the runner's."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def fresh_app(monkeypatch, instance: Path, **config):
    """An app over a new instance folder, as on a first start (a secret key made there)."""
    monkeypatch.setenv("DIRECTORY_INSTANCE_PATH", str(instance))
    settings = base_config("sqlite://", instance.parent) | config
    del settings["SECRET_KEY"]
    return create_app(settings)


def test_a_fresh_instance_folder_is_the_apps_users_only(monkeypatch, tmp_path, umask,
                                                       migrated_database):
    instance = tmp_path / "first-start" / "instance"
    app = fresh_app(monkeypatch, instance, SQLALCHEMY_DATABASE_URI=migrated_database)
    assert mode(instance) == 0o700
    assert mode(instance / "secret_key") == 0o600
    with app.app_context():
        db.engine.dispose()

    # The repository's instance/ comes from git as 0o755: tightened at start.
    checkout = tmp_path / "checkout" / "instance"
    checkout.mkdir(parents=True, mode=0o755)
    checkout.chmod(0o755)
    app = fresh_app(monkeypatch, checkout, SQLALCHEMY_DATABASE_URI=migrated_database)
    assert mode(checkout) == 0o700
    with app.app_context():
        db.engine.dispose()


def test_the_default_sqlite_database_is_created_for_the_apps_user_only(monkeypatch, tmp_path,
                                                                      umask):
    """The default database (SQLite in instance/), whichever database the other tests use:
    the file and the -wal and -shm files SQLite makes beside it."""
    instance = tmp_path / "instance"
    settings = base_config("sqlite://", tmp_path)
    del settings["SQLALCHEMY_DATABASE_URI"]
    monkeypatch.setenv("DIRECTORY_INSTANCE_PATH", str(instance))
    app = create_app(settings)
    database = instance / "directory.sqlite3"
    with app.app_context():
        db.session.execute(text("CREATE TABLE t (x INTEGER)"))
        db.session.execute(text("INSERT INTO t VALUES (1)"))
        db.session.commit()
        with db.engine.connect() as conn:  # open: the -wal and -shm files are there
            conn.execute(text("SELECT x FROM t")).all()
            files = sorted(p.name for p in instance.iterdir() if p.name.startswith(database.name))
            assert files == ["directory.sqlite3", "directory.sqlite3-shm",
                             "directory.sqlite3-wal"]
            for name in files:
                assert mode(instance / name) == 0o600, name
        db.engine.dispose()

    # A backup taken with `flask backup` is the app's user's only too.
    backup = tmp_path / "backup.sqlite3"
    result = app.test_cli_runner().invoke(args=["backup", str(backup)])
    assert result.exit_code == 0, result.output
    assert mode(backup) == 0o600


def test_waiting_import_files_are_the_apps_users_only(app_ctx, umask):
    folder = Path(app_ctx.config["UPLOAD_FOLDER"]) / "imports"
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)  # made by an older version
    kept = pending.keep(b"email\r\njane@example.com\r\n", 1, "practitioners.csv")
    assert mode(folder) == 0o700
    files = sorted(folder.iterdir())
    assert [p.name for p in files] == [f"{kept.token}.csv", f"{kept.token}.json"]
    for path in files:
        assert mode(path) == 0o600, path.name
    assert pending.claim(kept.token, 1).data == b"email\r\njane@example.com\r\n"
