"""The file store (directory/storage.py): one contract, the local folder and S3 alike (issue 19,
item 2). S3 is moto's server on a local port (tests/s3.py); the flows through the web routes on
S3 are the evidence, photo and import tests parametrised with `both_stores`."""

from __future__ import annotations

import stat
import time

import pytest

from directory import create_app, storage
from tests.conftest import base_config
from tests.s3 import both_stores


@pytest.fixture
def store(app_ctx) -> storage.Storage:
    return storage.current()


@both_stores
def test_put_get_exists_delete(app_ctx, store):
    assert store.name == (app_ctx.config["STORAGE"] or "local")
    assert not store.exists("evidence/abc")
    store.put("evidence/abc", b"\x00first\xff")
    assert store.exists("evidence/abc")
    assert store.get("evidence/abc") == b"\x00first\xff"
    store.put("evidence/abc", b"second")  # replaced whole
    assert store.get("evidence/abc") == b"second"
    store.delete("evidence/abc")
    assert not store.exists("evidence/abc")
    with pytest.raises(storage.NotStored):
        store.get("evidence/abc")
    store.delete("evidence/abc")  # nothing there: nothing happens
    assert store.discard("evidence/abc") is True


@both_stores
def test_an_exclusive_put_is_won_once(app_ctx, store):
    store.put("imports/t.claimed", b"", exclusive=True)
    with pytest.raises(storage.AlreadyStored):
        store.put("imports/t.claimed", b"again", exclusive=True)
    assert store.get("imports/t.claimed") == b""


@both_stores
def test_listing_is_by_area_with_times(app_ctx, store):
    before = time.time() - 5
    store.put("imports/a.csv", b"a")
    store.put("imports/b.json", b"{}")
    store.put("evidence/c", b"c")
    entries = sorted(store.list("imports"), key=lambda e: e.key)
    assert [e.key for e in entries] == ["imports/a.csv", "imports/b.json"]
    assert all(before < e.modified < time.time() + 5 for e in entries)
    assert list(store.list("photos")) == []
    assert storage.older_than("imports", 3600) == []
    assert sorted(storage.older_than("imports", -60)) == ["imports/a.csv", "imports/b.json"]


@both_stores
@pytest.mark.parametrize("key", ["../x", "evidence/../../x", "evidence/", "/etc/passwd",
                                 "evidence/a/b", "Evidence/x", "evidence/.hidden", ""])
def test_only_our_own_keys_are_accepted(app_ctx, store, key):
    for call in (store.get, store.delete, store.exists, lambda k: store.put(k, b"x")):
        with pytest.raises(ValueError, match="not a storage key"):
            call(key)


def test_the_local_store_keeps_todays_layout_and_modes(app_ctx, store, umask):
    store.put("photos/1-abc-96.jpg", b"jpeg")
    root = app_ctx.config["UPLOAD_FOLDER"]
    path = store.path("photos/1-abc-96.jpg")
    assert str(path) == f"{root}/photos/1-abc-96.jpg"
    assert path.read_bytes() == b"jpeg"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["1-abc-96.jpg"]  # nothing left beside


@pytest.fixture
def umask():
    import os

    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_s3_objects_are_where_the_settings_say(migrated_database, tmp_path, s3_server):
    config = s3_server.config("deploy/")
    app = create_app(base_config(migrated_database, tmp_path) | config)
    with app.app_context():
        storage.current().put("evidence/0123", b"pdf")
    answer = s3_server.client().get_object(Bucket=config["S3_BUCKET"], Key="deploy/evidence/0123")
    assert answer["Body"].read() == b"pdf"
    assert not (tmp_path / "uploads").exists()  # nothing on the local disk


@pytest.mark.parametrize(("settings", "message"), [
    ({"STORAGE": "s3"}, "no S3_BUCKET is set"),
    ({"STORAGE": "ftp"}, "it must be one of local, s3"),
])
def test_a_misconfigured_store_stops_the_start(migrated_database, tmp_path, settings, message):
    with pytest.raises(RuntimeError, match=message):
        create_app(base_config(migrated_database, tmp_path) | settings)


def test_the_s3_store_is_chosen_by_directory_environment_settings(tmp_path, monkeypatch,
                                                                  s3_server):
    import os

    for key in list(os.environ):
        if key.startswith("DIRECTORY_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DIRECTORY_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("DIRECTORY_AUTO_UPGRADE", "false")
    settings = s3_server.config("from-env/")
    for name in ("STORAGE", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_REGION", "S3_ACCESS_KEY_ID",
                 "S3_SECRET_ACCESS_KEY", "S3_PREFIX"):
        monkeypatch.setenv(f"DIRECTORY_{name}", settings[name])
    monkeypatch.setenv("DIRECTORY_S3_SECRET_ACCESS_KEY", "12345")  # parsed as a JSON number
    app = create_app()
    store = app.extensions["storage"]
    assert isinstance(store, storage.S3Storage)
    assert (store.bucket, store.prefix) == (settings["S3_BUCKET"], "from-env/")
    with app.app_context():
        storage.current().put("photos/1-x-96.jpg", b"jpeg")  # moto takes any secret
        assert storage.current().get("photos/1-x-96.jpg") == b"jpeg"
    assert not (tmp_path / "instance" / "uploads").exists()


def test_the_local_store_is_the_default(app):
    assert isinstance(app.extensions["storage"], storage.LocalStorage)
    assert str(app.extensions["storage"].root) == app.config["UPLOAD_FOLDER"]
