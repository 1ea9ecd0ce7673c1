"""A server that outlives its database: processes start without it, /readyz answers 503 meanwhile,
and the site serves by itself once the database is back (proved with gunicorn and a throwaway
PostgreSQL cluster started after it)."""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select

from directory import ROOT, create_app
from directory.credentials.matching import load_programs
from directory.extensions import db
from directory.models import TrainingProgram
from tests import factories
from tests.conftest import base_config
from tests.smtp import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
NOT_ANSWERING = {"status": "unavailable", "reason": "The database does not answer."}


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> object:
    """Poll until condition() is true (its value is returned); fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {seconds} s waiting for {what}")
        time.sleep(0.1)


def _get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:  # noqa: S310 — loopback only
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


# --- a throwaway PostgreSQL cluster ----------------------------------------------------------

class Cluster:
    """A PostgreSQL 15 cluster of its own in a temporary folder, on a free loopback port:
    initialised at once, started only when a test says so."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not under pytest's tmp_path: that is private to root, and the server runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="directory-outage-pg-"))
        self.data = self.root / "data"
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.as_postgres = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.as_postgres, *command], capture_output=True, text=True,  # noqa: S603
                              timeout=timeout, check=False)
        if done.returncode != 0:
            log = self.root / "log"
            pytest.fail(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}"
                        f"{done.stderr}{log.read_text() if log.exists() else ''}")
        return done

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=40 "
                   "-c shared_buffers=16MB")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                  "-w", "-t", "60", "-o", options, "start", timeout=90)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                      "stop")

    def create_database(self, name: str) -> None:
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def count(self, name: str, table: str) -> int:
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname=name) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A cluster initialised but not running (nothing listens on its port yet); stopped and
    removed afterwards, whatever happened."""
    if not (PG_BIN / "initdb").exists():
        # Never a skip: the outage tests are the proof that the site outlives its database.
        pytest.fail(f"PostgreSQL 15's server programs are not installed ({PG_BIN}): "
                    "apt-get install postgresql-15")
    cluster = Cluster()
    try:
        cluster.init()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(cluster.root, ignore_errors=True)


# --- the app, in this process ----------------------------------------------------------------

def production_config(database_url: str, tmp: Path, **extra) -> dict:
    """The tests' configuration, in production mode, with AUTO_UPGRADE left at its default."""
    config = base_config(database_url, tmp) | {"PRODUCTION": True} | extra
    del config["AUTO_UPGRADE"]
    return config


def test_in_production_the_app_starts_with_its_database_and_redis_down(tmp_path):
    app = create_app(production_config(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/directory", tmp_path,
        RATELIMIT_ENABLED=True, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    client = app.test_client()
    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json() == NOT_ANSWERING
    page = client.get("/")
    assert page.status_code == 503
    assert "unavailable for a moment" in page.get_data(as_text=True)
    api = client.get("/api/v1/practitioners?near=80202")  # rate-limited: Redis is asked too
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "unavailable"


def test_in_production_the_release_step_upgrades_and_seeds_not_the_start(tmp_path):
    app = create_app(production_config(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path))
    client = app.test_client()
    behind = client.get("/readyz")
    assert behind.status_code == 503
    assert behind.get_json()["database_revision"] == []  # the start left the database alone
    assert client.get("/readyz").get_json()["database_revision"] == []  # and so do requests

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    programs = len(load_programs())
    assert f"added {programs} program(s)" in result.output
    assert client.get("/readyz").get_json() == {"status": "ok"}
    assert client.get("/").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TrainingProgram)) == programs
    again = app.test_cli_runner().invoke(args=["db", "upgrade"])  # a second release: no change
    assert again.exit_code == 0, again.output
    assert "added 0 program(s) and 0 rule(s)" in again.output
    with app.app_context():
        db.engine.dispose()


def test_auto_upgrade_waits_for_a_database_out_of_reach_then_upgrades(cluster, tmp_path,
                                                                      caplog):
    caplog.set_level(logging.WARNING, logger="directory.ops.schema")
    app = create_app(base_config(cluster.url("directory"), tmp_path) | {"AUTO_UPGRADE": True})
    assert "upgrade waits for it" in caplog.text
    client = app.test_client()
    assert client.get("/readyz").get_json() == NOT_ANSWERING
    assert client.get("/").status_code == 503

    cluster.start()
    cluster.create_database("directory")
    ready = client.get("/readyz")  # the first request that finds the database upgrades it
    assert ready.status_code == 200, ready.get_json()
    assert client.get("/").status_code == 200
    with app.app_context():
        programs, shipped, loads = factories.reference_data_state()
        assert programs == shipped
        assert loads == 1
        db.session.remove()
        db.engine.dispose()


# --- gunicorn, started before its database ---------------------------------------------------

def _log_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue  # not one of ours (a stray line from a library)
    return lines


def _ready_workers(path: Path) -> list[int]:
    """The pids of the workers that said they are ready, in order."""
    prefix = "Worker ready (pid: "
    return [int(line["message"][len(prefix):-1]) for line in _log_lines(path)
            if line.get("logger") == "gunicorn.error"
            and str(line.get("message", "")).startswith(prefix)]


def _workers_of(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


def test_gunicorn_outlives_its_database(cluster, tmp_path):
    port = free_port()
    instance = tmp_path / "instance"
    instance.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DIRECTORY_", "GUNICORN_", "WEB_CONCURRENCY"))}
    env.update(DIRECTORY_PRODUCTION="true", DIRECTORY_SECRET_KEY="outage-test-secret",
               DIRECTORY_DATABASE_URL=cluster.url("directory"),
               DIRECTORY_INSTANCE_PATH=str(instance), DIRECTORY_RATELIMIT_ENABLED="false")
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
             "-b", f"127.0.0.1:{port}", "-w", "2"],
            env=env, cwd=ROOT, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        # Both workers boot although nothing listens on the database's port.
        wait_for(lambda: server.poll() is not None or len(_ready_workers(log_path)) >= 2,
                 90, "two workers ready")
        assert server.poll() is None, log_path.read_text()
        status, _headers, body = _get(f"{base}/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        status, _headers, body = _get(f"{base}/readyz")
        assert status == 503 and json.loads(body) == NOT_ANSWERING
        status, headers, body = _get(f"{base}/")
        assert status == 503 and headers["Retry-After"] == "5"
        assert b"unavailable for a moment" in body

        # A worker lost during the outage is replaced, and the master stays up.
        first = _ready_workers(log_path)
        assert set(first) == _workers_of(server.pid)
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: server.poll() is not None or len(_ready_workers(log_path)) >= 3,
                 90, "a replacement worker ready")
        assert server.poll() is None, log_path.read_text()
        replacement = _ready_workers(log_path)[2]
        workers = wait_for(lambda: _workers_of(server.pid) == {first[1], replacement}
                           and _workers_of(server.pid), 30, "the killed worker reaped")
        assert first[0] not in workers
        status, _headers, body = _get(f"{base}/readyz")
        assert status == 503 and json.loads(body) == NOT_ANSWERING

        # The database comes up (empty), the release step runs: the site serves, no restart.
        cluster.start()
        cluster.create_database("directory")
        release = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert release.returncode == 0, release.stdout + release.stderr
        assert f"added {len(load_programs())} program(s)" in release.stdout
        assert cluster.count("directory", "training_programs") == len(load_programs())
        for _ in range(6):  # with sync workers, each request goes to whichever is free
            status, _headers, body = _get(f"{base}/readyz")
            assert status == 200 and json.loads(body) == {"status": "ok"}
            status, _headers, body = _get(f"{base}/")
            assert status == 200, body[:500]
        status, _headers, body = _get(f"{base}/api/v1/practitioners?near=80202")
        assert status == 200 and json.loads(body)["total"] == 0, body[:500]
        assert server.poll() is None
        assert _workers_of(server.pid) == {first[1], replacement}  # the same processes
        assert len(_ready_workers(log_path)) == 3
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
    assert "Worker failed to boot" not in log_path.read_text()


# ------------------------------------------------ a database that goes away after the view


def test_the_private_page_rule_asks_the_database_nothing_after_a_commit(app, client, auth):
    """A view that committed leaves current_user expired; deciding no-store must not load it
    again (if the database had just gone away, that load would turn a saved change into a
    bare 500)."""
    from flask import g
    from sqlalchemy import event

    from directory.headers import made_for_a_user

    with app.app_context():
        factories.make_practitioner("owner@example.com")
    assert auth.login("owner@example.com").status_code == 302
    with app.test_request_context("/dashboard", headers={
            "Cookie": "; ".join(f"{c.key}={c.value}" for c in client._cookies.values())}):
        from flask_login import current_user

        assert current_user.is_authenticated
        db.session.commit()  # expires the loaded user, as a saving view does
        statements: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert made_for_a_user() is True and g._login_user is not None
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert statements == []


def test_a_database_lost_after_the_view_answered_gets_the_try_again_page(app, client):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error page answers

    @app.after_request
    def database_gone(response):
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError(
            "unable to open database file"))

    response = client.get("/about")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "unavailable for a moment" in response.get_data(as_text=True)
