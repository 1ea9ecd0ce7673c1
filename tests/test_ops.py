"""Production mode: health checks, request logs, backup and restore, safe start-up, gunicorn."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from directory import PACKAGE, ROOT, create_app
from directory.extensions import db
from directory.models import AuditEvent, Practitioner
from directory.ops.logs import LOGGING, JsonFormatter
from directory.ops.schema import script_heads
from tests import factories
from tests.conftest import TEST_DATABASE_URL, base_config
from tests.smtp import free_port

HEAD = sorted(script_heads())


@pytest.fixture
def unreachable_app(tmp_path):
    """An app configured for a PostgreSQL server that does not exist."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/directory"
    return create_app(base_config(url, tmp_path))


@pytest.fixture
def sqlite_app(tmp_path):
    """An app over its own SQLite file, built by the migrations (backup works on SQLite only)."""
    app = create_app(base_config(f"sqlite:///{tmp_path / 'live.sqlite3'}", tmp_path))
    with app.app_context():
        upgrade(directory=str(PACKAGE / "migrations"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- /healthz and /readyz ------------------------------------------------------------------

def test_healthz_and_readyz_answer_ok_when_the_database_is_at_head(client):
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.get_json() == {"status": "ok"}
        assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_503_while_the_schema_is_behind(app, client):
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0003'"))
        try:
            response = client.get("/readyz")
        finally:
            with db.engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = :head"),
                             {"head": HEAD[0]})
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert "schema" in body["reason"]
    assert body["database_revision"] == ["0003"]
    assert body["code_revision"] == HEAD
    assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_without_a_database_the_process_is_alive_but_not_ready(unreachable_app):
    client = unreachable_app.test_client()
    alive = client.get("/healthz")
    assert alive.status_code == 200
    assert alive.get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "unavailable",
                                "reason": "The database does not answer."}
    assert ready.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("logged_in", [False, True])
def test_while_the_database_is_down_pages_say_try_again_with_503(unreachable_app, logged_in):
    client = unreachable_app.test_client()
    if logged_in:  # a session cookie for a user the app cannot load without the database
        with client.session_transaction() as session:
            session["_user_id"] = "7.1"
            session["_fresh"] = True
    page = client.get("/?near=80202")
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "5"
    assert "unavailable for a moment" in page.get_data(as_text=True)
    assert "<html" in page.get_data(as_text=True).lower()  # the site's page, not a bare error
    api = client.get("/api/v1/practitioners?near=80202")
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "unavailable"


def test_a_faulty_query_stays_a_500_and_logs_no_values(app, client, caplog, monkeypatch):
    """Only a database out of reach is "try again": a mistake in a query is ours (500), and
    the log names the statement without the values in it."""
    from sqlalchemy import text as sql

    from directory.public import routes

    def broken(*args, **kwargs):
        db.session.execute(sql("SELECT no_such_column FROM users WHERE email = :email"),
                           {"email": "secret-person@example.com"})

    monkeypatch.setattr(routes, "render_search", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.ERROR):
        response = client.get("/")
    assert response.status_code == 500
    assert "secret-person@example.com" not in caplog.text


# --- request logs --------------------------------------------------------------------------

def _log_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "directory.request"]


def test_one_json_line_per_request_with_the_request_id_echoed(app, client, caplog):
    app.config["REQUEST_LOG"] = True
    with caplog.at_level(logging.INFO, logger="directory.request"):
        response = client.get("/healthz", headers={"X-Request-ID": "lb-4f2a.77:z_1"},
                              environ_base={"REMOTE_ADDR": "203.0.113.9"})
        missing = client.get("/no/such/page")
    assert response.headers["X-Request-ID"] == "lb-4f2a.77:z_1"
    first, second = _log_lines(caplog)
    assert first["request_id"] == "lb-4f2a.77:z_1"
    assert first["method"] == "GET"
    assert first["path"] == "/healthz"
    assert first["status"] == 200
    assert first["remote_addr"] == "203.0.113.9"
    assert first["user_id"] is None
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert first["time"].endswith("+00:00")
    assert second["path"] == "/no/such/page" and second["status"] == 404
    assert second["request_id"] == missing.headers["X-Request-ID"]
    assert len(second["request_id"]) == 32  # a new id when none came in


@pytest.mark.parametrize("incoming", ["has space", "<script>alert(1)</script>", "x" * 129,
                                      "-starts-with-dash", "", "id\u00e9"])
def test_an_incoming_request_id_that_is_not_a_plain_token_is_replaced(app, client, caplog,
                                                                      incoming):
    app.config["REQUEST_LOG"] = True
    with caplog.at_level(logging.INFO, logger="directory.request"):
        response = client.get("/healthz", headers={"X-Request-ID": incoming})
    (line,) = _log_lines(caplog)
    assert response.headers["X-Request-ID"] == line["request_id"] != incoming
    assert len(line["request_id"]) == 32 and line["request_id"].isalnum()


def test_the_log_line_names_the_logged_in_user(app, client, auth, caplog):
    with app.app_context():
        user_id = factories.make_practitioner("logged@example.com").user_id
    auth.login("logged@example.com")
    app.config["REQUEST_LOG"] = True
    with caplog.at_level(logging.INFO, logger="directory.request"):
        client.get("/dashboard")
        client.get("/healthz")
    dashboard, health = _log_lines(caplog)
    assert dashboard["user_id"] == user_id and dashboard["status"] == 200
    assert health["user_id"] == user_id


def test_the_log_leaves_out_tokens_sent_by_e_mail(app, client, caplog):
    app.config["REQUEST_LOG"] = True
    secret = "eyJ1c2VyIjo0Mn0.ZZtok.secret-signature"
    with caplog.at_level(logging.INFO, logger="directory.request"):
        for path in (f"/account/reset/{secret}", f"/account/confirm/{secret}",
                     f"/account/email/{secret}"):
            client.get(path)
    lines = _log_lines(caplog)
    assert [line["path"] for line in lines] == [
        "/account/reset/[token]", "/account/confirm/[token]", "/account/email/[token]"]
    assert all(secret not in json.dumps(line) for line in lines)


def test_the_request_log_is_off_in_tests_unless_turned_on(client, caplog):
    with caplog.at_level(logging.INFO, logger="directory.request"):
        response = client.get("/healthz")
    assert _log_lines(caplog) == []
    assert response.headers["X-Request-ID"]  # the id is still given


def test_the_json_formatter_writes_one_object_per_line():
    formatter = JsonFormatter()
    fields = {"time": "2026-01-01T00:00:00.000+00:00", "request_id": "abc", "status": 200}
    request_record = logging.LogRecord("directory.request", logging.INFO, __file__, 1,
                                       json.dumps(fields), None, None)
    request_record.fields = fields
    line = formatter.format(request_record)
    assert "\n" not in line
    assert json.loads(line) == {**fields, "level": "INFO", "logger": "directory.request"}
    other = logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1,
                              "Worker %s\nbooted", ("7",), None)
    entry = json.loads(formatter.format(other))
    assert entry["message"] == "Worker 7\nbooted" and entry["level"] == "WARNING"
    assert entry["logger"] == "gunicorn.error" and entry["time"].endswith("+00:00")


# --- backup and restore --------------------------------------------------------------------

def _live_path(app) -> Path:
    with app.app_context():
        return Path(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)


def test_backup_of_a_live_database_is_a_consistent_snapshot_while_another_connection_writes(
        sqlite_app, tmp_path):
    live = _live_path(sqlite_app)
    with closing(sqlite3.connect(live)) as conn:
        conn.execute("CREATE TABLE ledger (txn INTEGER, side TEXT)")
        conn.commit()
    committed = [0]
    stop = threading.Event()

    def writer():
        # Every transaction writes a debit and a credit: a snapshot holds both or neither.
        with closing(sqlite3.connect(live, timeout=10)) as conn:
            while not stop.is_set():
                txn = committed[0] + 1
                conn.execute("INSERT INTO ledger VALUES (?, 'debit')", (txn,))
                conn.execute("INSERT INTO ledger VALUES (?, 'credit')", (txn,))
                conn.commit()
                committed[0] = txn

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while committed[0] < 200:
            time.sleep(0.005)
        result = sqlite_app.test_cli_runner().invoke(args=["backup", str(tmp_path / "b.sqlite3")])
        at_backup = committed[0]
        while committed[0] < at_backup + 200:  # the writer went on after the backup
            time.sleep(0.005)
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    assert "Backed up" in result.output
    with closing(sqlite3.connect(tmp_path / "b.sqlite3")) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        sides = copy.execute("SELECT txn, count(*) FROM ledger GROUP BY txn").fetchall()
        version = copy.execute("SELECT version_num FROM alembic_version").fetchall()
    assert len(sides) >= 200  # it holds what was committed before it started
    assert all(count == 2 for _txn, count in sides)
    assert sorted(txn for txn, _ in sides) == list(range(1, len(sides) + 1))
    assert len(sides) < committed[0]  # and not what came after
    assert [v for (v,) in version] == HEAD
    assert not list(tmp_path.glob(".b.sqlite3.*"))  # no partial file left behind


def _names(app) -> list[str]:
    with app.app_context():
        names = list(db.session.scalars(select(Practitioner.full_name)
                                        .order_by(Practitioner.full_name)))
        db.session.remove()
        return names


def test_restore_brings_the_data_back_as_it_was(sqlite_app, tmp_path):
    with sqlite_app.app_context():
        factories.make_practitioner("kept@example.com", full_name="Kept Before Backup")
    runner = sqlite_app.test_cli_runner()
    backup = tmp_path / "before.sqlite3"
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    with sqlite_app.app_context():
        kept = db.session.scalars(select(Practitioner)).one()
        kept.full_name = "Changed After Backup"
        db.session.commit()
        factories.make_practitioner("later@example.com", full_name="Added After Backup")
    assert _names(sqlite_app) == ["Added After Backup", "Changed After Backup"]

    declined = runner.invoke(args=["restore", str(backup)], input="n\n")
    assert declined.exit_code == 1 and "Replace everything" in declined.output
    assert _names(sqlite_app) == ["Added After Backup", "Changed After Backup"]

    result = runner.invoke(args=["restore", str(backup)], input="y\n")
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output
    assert _names(sqlite_app) == ["Kept Before Backup"]
    with sqlite_app.app_context():
        event = db.session.scalars(select(AuditEvent)
                                   .where(AuditEvent.action == "database.restored")).one()
        assert event.detail == {"backup": "before.sqlite3", "revision": HEAD[0]}
    with closing(sqlite3.connect(_live_path(sqlite_app))) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # The site keeps working on the restored database (log in as the restored account).
    client = sqlite_app.test_client()
    response = factories.login(client, "kept@example.com")
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200


def test_restoring_an_older_backup_upgrades_its_schema(sqlite_app, tmp_path):
    from flask_migrate import downgrade

    migrations = str(PACKAGE / "migrations")
    with sqlite_app.app_context():
        downgrade(directory=migrations, revision="0003")
    runner = sqlite_app.test_cli_runner()
    backup = tmp_path / "old.sqlite3"
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    with sqlite_app.app_context():
        upgrade(directory=migrations)
    result = runner.invoke(args=["restore", "--yes", str(backup)])
    assert result.exit_code == 0, result.output
    assert "schema revision 0003: upgrading it" in result.output
    assert sqlite_app.test_client().get("/readyz").status_code == 200


def test_restore_with_yes_does_not_ask(sqlite_app, tmp_path):
    runner = sqlite_app.test_cli_runner()
    backup = tmp_path / "empty.sqlite3"
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    with sqlite_app.app_context():
        factories.make_practitioner("gone@example.com", full_name="Gone After Restore")
    result = runner.invoke(args=["restore", "--yes", str(backup)])
    assert result.exit_code == 0, result.output
    assert "Replace everything" not in result.output
    assert _names(sqlite_app) == []


def _not_ours(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.commit()
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda tmp: tmp / "missing.sqlite3", "There is no file at"),
    (lambda tmp: (tmp / "notes.txt", (tmp / "notes.txt").write_text("hello\n" * 200))[0],
     "could not be read as a SQLite database"),
    (lambda tmp: _not_ours(tmp / "other.sqlite3"), "not one of this app"),
])
def test_restore_refuses_a_file_that_is_not_a_backup_of_this_app(sqlite_app, tmp_path, make,
                                                                 message):
    with sqlite_app.app_context():
        factories.make_practitioner("stays@example.com", full_name="Stays")
    result = sqlite_app.test_cli_runner().invoke(args=["restore", "--yes", str(make(tmp_path))])
    assert result.exit_code == 1
    assert message in result.output
    assert _names(sqlite_app) == ["Stays"]


def test_restore_refuses_a_backup_from_a_newer_schema(sqlite_app, tmp_path):
    backup = tmp_path / "newer.sqlite3"
    runner = sqlite_app.test_cli_runner()
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    with closing(sqlite3.connect(backup)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
        conn.commit()
    result = runner.invoke(args=["restore", "--yes", str(backup)])
    assert result.exit_code == 1
    assert "9999_future" in result.output and "newer version" in result.output


def test_backup_refuses_to_overwrite_the_live_database(sqlite_app):
    result = sqlite_app.test_cli_runner().invoke(args=["backup", str(_live_path(sqlite_app))])
    assert result.exit_code == 1
    assert "cannot be the live database" in result.output


@pytest.mark.parametrize("args", [["backup", "x.sqlite3"], ["restore", "--yes", "x.sqlite3"]])
def test_backup_and_restore_point_to_pg_dump_on_postgresql(unreachable_app, tmp_path, args):
    result = unreachable_app.test_cli_runner().invoke(args=[args[0], *args[1:-1],
                                                           str(tmp_path / args[-1])])
    assert result.exit_code == 1
    assert "pg_dump" in result.output and "pg_restore" in result.output
    assert not (tmp_path / args[-1]).exists()


# --- start-up: several processes over one fresh database ------------------------------------

@pytest.fixture
def fresh_database_url(tmp_path):
    """An empty database of the kind the test run uses (PostgreSQL or SQLite), dropped after."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_startup"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIRECTORY_")}
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    env.update(DIRECTORY_INSTANCE_PATH=str(instance), DIRECTORY_DATABASE_URL=database_url,
               DIRECTORY_SECRET_KEY="ops-test-secret", **extra)
    return env


def test_processes_starting_together_upgrade_and_seed_the_database_once(fresh_database_url,
                                                                        tmp_path):
    env = _env(tmp_path, fresh_database_url)
    code = "from directory import create_app; create_app()"
    processes = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,  # noqa: S603
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(3)]
    outputs = [p.communicate()[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], "\n".join(outputs)
    app = create_app(base_config(fresh_database_url, tmp_path))
    with app.app_context():
        version = db.session.scalars(text("SELECT version_num FROM alembic_version")).all()
        assert version == HEAD
        programs, shipped, loads = factories.reference_data_state()
        assert programs == shipped
        assert loads == 1
        db.session.remove()
        db.engine.dispose()


# --- gunicorn ------------------------------------------------------------------------------

def _gunicorn_settings(monkeypatch, **env: str) -> dict:
    for key in ("GUNICORN_BIND", "GUNICORN_WORKERS", "WEB_CONCURRENCY", "GUNICORN_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from gunicorn.app.wsgiapp import WSGIApplication

    # Loaded the way the gunicorn command loads it: `gunicorn -c gunicorn.conf.py`.
    monkeypatch.setattr(sys, "argv", ["gunicorn", "-c", str(ROOT / "gunicorn.conf.py")])
    application = WSGIApplication()
    assert application.app_uri == "wsgi:app"
    return {key: setting.get() for key, setting in application.cfg.settings.items()}


def test_gunicorn_config_defaults(monkeypatch):
    settings = _gunicorn_settings(monkeypatch)
    assert settings["bind"] == ["127.0.0.1:8000"]
    assert settings["worker_class"] == "sync"
    assert settings["workers"] == min(2 * os.cpu_count(), 8)
    assert settings["preload_app"] is False
    assert settings["accesslog"] is None
    assert settings["errorlog"] == "-"
    assert settings["timeout"] == 30
    assert settings["logconfig_dict"] == LOGGING
    shm = "/dev/shm"  # noqa: S108 — where gunicorn keeps its heartbeat files
    if Path(shm).is_dir():
        assert settings["worker_tmp_dir"] == shm


def test_gunicorn_config_reads_the_environment(monkeypatch):
    settings = _gunicorn_settings(monkeypatch, GUNICORN_BIND="0.0.0.0:9000,[::1]:9001",
                                  GUNICORN_WORKERS="3", GUNICORN_TIMEOUT="45")
    assert settings["bind"] == ["0.0.0.0:9000", "[::1]:9001"]
    assert settings["workers"] == 3
    assert settings["timeout"] == 45
    assert _gunicorn_settings(monkeypatch, WEB_CONCURRENCY="5")["workers"] == 5


def _get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 — loopback only
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_gunicorn_serves_the_app_with_this_config(fresh_database_url, tmp_path):
    port = free_port()
    env = _env(tmp_path, fresh_database_url, GUNICORN_BIND=f"127.0.0.1:{port}",
               GUNICORN_WORKERS="2")
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],  # noqa: S603
                                  env=env, cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 120  # only a guard against hanging; not a speed test
        status = None
        while status is None and server.poll() is None and time.monotonic() < deadline:
            try:
                status, _headers, body = _get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                time.sleep(0.2)
        assert server.poll() is None, log_path.read_text()
        assert status == 200 and json.loads(body) == {"status": "ok"}
        # A worker answers only once it has created the app, the schema upgrade included.
        ready, headers, body = _get(f"http://127.0.0.1:{port}/readyz")
        assert ready == 200, body
        assert len(headers["X-Request-ID"]) == 32
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    requests = [line for line in lines if line["logger"] == "directory.request"]
    assert any(line["path"] == "/healthz" and line["status"] == 200 for line in requests)
    assert headers["X-Request-ID"] in {line["request_id"] for line in requests}
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"]
               for line in lines)
