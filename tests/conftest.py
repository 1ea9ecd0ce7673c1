"""Fixtures: an app per test on a schema built once by the migrations, SQLite or PostgreSQL."""

from __future__ import annotations

import email
import os
import re
import tempfile
from email.message import Message
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import inspect, text

# The app must never write into the repository's instance/ during tests.
os.environ["DIRECTORY_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="directory-test-instance-")

from directory import PACKAGE, create_app  # noqa: E402
from directory.extensions import db  # noqa: E402
from tests import factories  # noqa: E402
from tests.s3 import s3_server, storage_config  # noqa: E402, F401  (fixtures: the file store)

TEST_DATABASE_URL = os.environ.get("DIRECTORY_TEST_DATABASE_URL")


def base_config(database_url: str, tmp: Path) -> dict:
    """The configuration every test app starts from."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "AUTO_UPGRADE": False,
        "WTF_CSRF_ENABLED": False,
        "MAIL_BACKEND": "file",
        "MAIL_OUTBOX": str(tmp / "outbox"),
        "UPLOAD_FOLDER": str(tmp / "uploads"),
        # A fast hash in tests; production uses scrypt (see config.py).
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "LANGUAGE_LIST_TTL": 0,  # every test sees the languages its own data has
        "RATELIMIT_ENABLED": False,  # tests/test_hardening.py turns the limits on
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """PostgreSQL when DIRECTORY_TEST_DATABASE_URL is set, else a SQLite file for the session."""
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def drop_everything(database_url: str, tmp: Path) -> None:
    """Empty the database completely (tables and Alembic's version table)."""
    app = create_app(base_config(database_url, tmp))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_database(database_url, tmp_path_factory) -> str:
    """The schema built from empty by the Alembic migrations, once per test session."""
    tmp = tmp_path_factory.mktemp("schema")
    drop_everything(database_url, tmp)
    app = create_app(base_config(database_url, tmp))
    with app.app_context():
        upgrade(directory=str(PACKAGE / "migrations"))
        db.engine.dispose()
    return database_url


def stale_search_copies() -> list[tuple]:
    """Locations whose copies of their practitioner's listing dates and name, or whose
    dry-needling verdict (which the search reads instead of the practitioner and the rules),
    differ from what they copy: checked after every test, whatever it changed and however."""
    from sqlalchemy import or_, select

    from directory.listing import SCOPE_COPY, SEARCH_COPIES, location_verdict_expression
    from directory.models import PracticeLocation, Practitioner

    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            select(PracticeLocation.id, Practitioner.id, Practitioner.full_name)
            .join(Practitioner, Practitioner.id == PracticeLocation.practitioner_id)
            .where(or_(*(getattr(PracticeLocation, copy).is_distinct_from(source)
                         for copy, source in SEARCH_COPIES.items()),
                       getattr(PracticeLocation, SCOPE_COPY).is_distinct_from(
                           location_verdict_expression()))))]


def stale_search_words() -> list[tuple]:
    """Practitioners whose words for the name search differ from their name, clinics, licence
    and NPI (directory.search.names keeps them): checked after every test like the copies."""
    from sqlalchemy import select

    from directory.models import PracticeLocation, Practitioner
    from directory.search.names import document

    with db.engine.connect() as conn:
        clinics: dict[int, list[str]] = {}
        for pid, clinic in conn.execute(select(PracticeLocation.practitioner_id,
                                               PracticeLocation.clinic_name)):
            clinics.setdefault(pid, []).append(clinic)
        return [(pid, stored) for pid, name, licence, npi, stored in conn.execute(select(
            Practitioner.id, Practitioner.full_name, Practitioner.licence_number,
            Practitioner.npi, Practitioner.search_words))
            if stored != document(name, licence, npi, clinics.get(pid, []))]


def stale_location_rtree() -> list[tuple]:
    """On SQLite, where the ring search's R*Tree differs from the practice locations (its
    triggers keep it: directory.search.rtree): checked after every test like the copies."""
    from directory.search import rtree

    if db.engine.dialect.name != "sqlite":
        return []
    with db.engine.connect() as conn:
        return rtree.stale_entries(conn)


@pytest.fixture
def app(migrated_database, tmp_path, storage_config):  # noqa: F811 (tests/s3.py's)
    """A fresh app over an emptied database (files in the local folder, or S3: tests/s3.py)."""
    app = create_app(base_config(migrated_database, tmp_path) | storage_config)
    yield app
    with app.app_context():
        db.session.remove()
        stale = stale_search_copies()
        assert not stale, f"locations whose search copies differ from their practitioner: {stale}"
        stale = stale_search_words()
        assert not stale, f"practitioners whose name-search words are out of date: {stale}"
        stale = stale_location_rtree()
        assert not stale, f"the R*Tree differs from the practice locations: {stale}"
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if db.engine.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 — our own table names
        # The R*Tree's triggers emptied it with the locations.
        assert not stale_location_rtree(), "the R*Tree kept entries of deleted locations"
        db.engine.dispose()


@pytest.fixture
def csrf_app(migrated_database, tmp_path, app):
    """The app with CSRF checks on, as in production (`app` empties the database after)."""
    csrf_app = create_app(base_config(migrated_database, tmp_path) | {"WTF_CSRF_ENABLED": True})
    yield csrf_app
    with csrf_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def app_ctx(app):
    """An application context for calling services and models directly."""
    with app.app_context():
        yield app


class Auth:
    """Log in and out through the real login form."""

    def __init__(self, client):
        self.client = client

    def login(self, email: str, password: str = factories.PASSWORD, **extra):
        """Log this client in (extra: more form fields, such as remember or next)."""
        return factories.login(self.client, email, password, form=extra)

    def logout(self):
        return self.client.post("/account/logout")


@pytest.fixture
def auth(client) -> Auth:
    """The auth helper for the test client."""
    return Auth(client)


class Outbox:
    """The messages the app has delivered to its file outbox: reading runs the sender first (as
    the worker would), so every committed message is there."""

    def __init__(self, app):
        self.app = app
        self.path = Path(app.config["MAIL_OUTBOX"])

    def deliver(self):
        """Run the outbox's sender once, as `flask mail send` would."""
        from directory.outbox import send_due

        with self.app.app_context():
            return send_due()

    def messages(self) -> list[Message]:
        self.deliver()
        if not self.path.exists():
            return []
        return [email.message_from_bytes(p.read_bytes()) for p in sorted(self.path.glob("*.eml"))]

    def last(self, to: str | None = None) -> Message:
        found = [m for m in self.messages() if to is None or m["To"] == to]
        assert found, f"no message to {to}"
        return found[-1]

    @staticmethod
    def link(message: Message) -> str:
        """The first http(s) link in a message, as a path for the test client."""
        body = message.get_payload(decode=True).decode()
        match = re.search(r"https?://[^/\s]+(/\S+)", body)
        assert match, body
        return match.group(1)


@pytest.fixture
def outbox(app) -> Outbox:
    """Read the app's outbox."""
    return Outbox(app)


@pytest.fixture
def dialect(app) -> str:
    """The database in use: 'sqlite' or 'postgresql'."""
    with app.app_context():
        return inspect(db.engine).dialect.name
