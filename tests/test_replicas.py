"""Where reads go, against a real PostgreSQL primary and a real streaming replica of it
(tests/pg_replica.py): anonymous public GETs read from the replica; accounts, a browser that has
just written, and every write go to the primary; a replica that lags or is down is skipped, and
used again once it is back; a dropped connection costs no request. Replay is paused on the
replica to tell the two apart: what is written on the primary then shows only where the primary
is read."""

from __future__ import annotations

import time

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from directory import create_app
from directory.extensions import db
from directory.models import Certification, StatusListEntry
from tests import factories
from tests.conftest import PACKAGE, base_config
from tests.pg_replica import primary_and_replica

DENVER = (39.7392, -104.9903)
SEARCH = "/api/v1/practitioners?lat=39.7392&lng=-104.9903&radius=50"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    with primary_and_replica() as pair:
        app = create_app(base_config(pair.primary.url, tmp_path_factory.mktemp("schema")))
        with app.app_context():
            upgrade(directory=str(PACKAGE / "migrations"))
            db.engine.dispose()
        yield pair


def make_app(pair, tmp_path, **settings):
    return create_app(base_config(pair.primary.url, tmp_path) | {
        "DATABASE_REPLICA_URLS": [pair.replica.url], "REPLICA_CHECK_SECONDS": 0,
        "REPLICA_MAX_LAG_SECONDS": 30} | settings)


def close(app, pair) -> None:
    """Replay resumed, the primary emptied, every connection of the app closed."""
    pair.replica.execute("SELECT pg_wal_replay_resume()")
    with app.app_context():
        db.session.remove()
        tables = ", ".join(t.name for t in db.metadata.sorted_tables)
        with db.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()
        app.extensions["directory_replicas"].dispose()
    pair.wait_for_replay()


@pytest.fixture
def app(pair, tmp_path):
    app = make_app(pair, tmp_path)
    yield app
    close(app, pair)


def names(client) -> set[str]:
    response = client.get(SEARCH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {item["name"] for item in response.get_json()["items"]}


def listed_while_paused(app, pair, name: str):
    """Replay paused on the replica, then a practitioner listed on the primary only."""
    pair.wait_for_replay()
    pair.replica.execute("SELECT pg_wal_replay_pause()")
    with app.app_context():
        p = factories.listed_at(*DENVER, name=name)
        return p.id, p.user.email


def test_anonymous_searches_read_the_replica_and_accounts_the_primary(app, pair):
    with app.app_context():
        factories.listed_at(*DENVER, name="Ada Replicated")
    _, email = listed_while_paused(app, pair, "Bea Primary")

    assert names(app.test_client()) == {"Ada Replicated"}  # the replica, which has not Bea yet
    logged_in = factories.login_client(app, email)
    assert names(logged_in) == {"Ada Replicated", "Bea Primary"}

    pair.replica.execute("SELECT pg_wal_replay_resume()")
    pair.wait_for_replay()
    assert names(app.test_client()) == {"Ada Replicated", "Bea Primary"}


def test_a_browser_that_wrote_reads_the_primary_for_a_while(app, pair):
    with app.app_context():
        p = factories.listed_at(*DENVER, name="Ada Replicated")
        listed_id = p.id
    pair.wait_for_replay()
    patient = app.test_client()
    sent = patient.post(f"/api/v1/practitioners/{listed_id}/reports", json={
        "kind": "other", "details": "The clinic has moved to another street."})
    assert sent.status_code == 201  # written on the primary (the replica is read-only)

    listed_while_paused(app, pair, "Bea Primary")
    assert names(patient) == {"Ada Replicated", "Bea Primary"}  # its own reads: the primary
    assert names(app.test_client()) == {"Ada Replicated"}  # anyone else: the replica


def test_a_replica_further_behind_than_allowed_is_skipped(pair, tmp_path):
    app = make_app(pair, tmp_path, REPLICA_MAX_LAG_SECONDS=1)
    try:
        with app.app_context():
            factories.listed_at(*DENVER, name="Ada Replicated")
        listed_while_paused(app, pair, "Bea Primary")
        time.sleep(1.5)  # the replica has replayed nothing for longer than it may lag
        assert names(app.test_client()) == {"Ada Replicated", "Bea Primary"}
    finally:
        close(app, pair)


def test_a_replica_that_is_down_is_skipped_and_used_again_once_back(app, pair):
    with app.app_context():
        factories.listed_at(*DENVER, name="Ada Replicated")
    pair.wait_for_replay()
    pair.replica.stop("immediate")
    try:
        client = app.test_client()
        for _ in range(3):  # no error page: the primary answers
            assert names(client) == {"Ada Replicated"}
    finally:
        pair.replica.start()
    listed_while_paused(app, pair, "Bea Primary")
    assert names(app.test_client()) == {"Ada Replicated"}  # the replica again


def test_a_read_that_writes_goes_to_the_primary(app, pair):
    """Downloading a credential allocates its place in the status list: an INSERT, on a GET
    that otherwise reads from the replica."""
    with app.app_context():
        p = factories.listed_at(*DENVER, name="Ada Replicated")
        code = db.session.scalar(select(Certification.public_code).where(
            Certification.practitioner_id == p.id))
    pair.wait_for_replay()
    response = app.test_client().get(f"/verify/{code}/credential.jwt")
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(StatusListEntry.index)) is not None


def test_a_replica_stopped_under_a_reader_costs_no_request(pair, tmp_path):
    """Its pooled connection is dead (and no check will notice for a minute): the query is run
    again on the primary, and the visitor sees the page."""
    app = make_app(pair, tmp_path, REPLICA_CHECK_SECONDS=60)
    try:
        with app.app_context():
            factories.listed_at(*DENVER, name="Ada Replicated")
        pair.wait_for_replay()
        client = app.test_client()
        assert names(client) == {"Ada Replicated"}  # the replica, now holding a connection
        pair.replica.stop("immediate")
        try:
            assert names(client) == {"Ada Replicated"}
        finally:
            pair.replica.start()
    finally:
        close(app, pair)


def test_reads_without_a_replica_survive_a_dropped_connection(pair, tmp_path):
    """No replica: anonymous reads use the primary without a transaction and without testing the
    connection first; one the server dropped is replaced, and the visitor never notices."""
    app = create_app(base_config(pair.primary.url, tmp_path))
    try:
        with app.app_context():
            factories.listed_at(*DENVER, name="Ada Primary")
        client = app.test_client()
        assert names(client) == {"Ada Primary"}
        pair.primary.execute(  # every other connection to the database dropped, as in a restart
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = 'directory' AND pid <> pg_backend_pid()")
        for _ in range(3):
            assert names(client) == {"Ada Primary"}
    finally:
        close(app, pair)
