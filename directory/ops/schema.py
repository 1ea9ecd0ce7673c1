"""The schema's revision against the migrations' head, and one upgrade at a time.

The upgrade (newest migration, then the reference data the database lacks) is the release step,
`flask --app wsgi db upgrade`. With AUTO_UPGRADE (on unless PRODUCTION) a process also runs it
when it starts, or, when the database is out of reach then, on its first request once the
database answers: a process never fails to start because its database is down.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app, has_app_context, request
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# The key of the PostgreSQL advisory lock that makes processes starting together take turns.
UPGRADE_LOCK_KEY = 0x44524E_0001

log = logging.getLogger(__name__)


@cache
def script_heads() -> frozenset[str]:
    """The newest revision(s) of the migrations shipped with this code (read once per process)."""
    return frozenset(_scripts().get_heads())


def known_revisions() -> frozenset[str]:
    """Every revision the migrations shipped with this code know."""
    return frozenset(script.revision for script in _scripts().walk_revisions())


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def database_heads(engine: Engine) -> frozenset[str]:
    """The revision(s) the database is stamped with (empty when it has no schema yet)."""
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


@contextmanager
def upgrade_lock(engine: Engine) -> Iterator[None]:
    """Held while one process upgrades the schema and seeds reference data; others wait for it.

    PostgreSQL: a transaction-level advisory lock (released when the holder ends or dies).
    SQLite: an exclusive lock on a file beside the database (processes share one host).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK_KEY})
            try:
                yield
            finally:
                conn.rollback()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.upgrade-lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def auto_upgrade(app: Flask) -> bool:
    """AUTO_UPGRADE as set; left unset, on unless PRODUCTION (there the release step upgrades)."""
    setting = app.config.get("AUTO_UPGRADE")
    if setting is None:
        return not app.config.get("PRODUCTION")
    return bool(setting)


def upgrade_database(app: Flask,
                     migrate: Callable[[], object] | None = None) -> tuple[int, int] | None:
    """Bring the schema to the newest migration and add the reference data the database lacks,
    one process at a time (processes starting together take turns; the later ones find it done).

    `migrate` runs the migrations (`db upgrade` passes Flask-Migrate's command with its options);
    the reference data is seeded only when the schema is then at the newest revision. Returns
    the programs and rules added, or None when the schema is not at the newest revision.
    """
    from directory.credentials.reference import seed_reference_data
    from directory.extensions import db

    with _app_context(app), upgrade_lock(db.engine):
        if migrate is None:
            # Alembic's own command: Flask-Migrate's ends the process (sys.exit) on an error.
            command.upgrade(app.extensions["migrate"].migrate.get_config(str(MIGRATIONS)),
                            "head")
        else:
            migrate()
        if database_heads(db.engine) != script_heads():
            return None
        return seed_reference_data()


def _app_context(app: Flask) -> AbstractContextManager:
    """The app's context: the current one when it is the app's (a command's, holding its
    options in g), else a new one."""
    if has_app_context() and current_app._get_current_object() is app:
        return nullcontext()
    return app.app_context()


def upgrade_at_start(app: Flask) -> None:
    """AUTO_UPGRADE at start: upgrade now, or, while the database is out of reach, before the
    first request that finds it answering (the start goes on; /readyz says 503 meanwhile)."""
    if _try_upgrade(app):
        return
    log.warning("The database is out of reach: the schema upgrade waits for it (retried on "
                "each request until it answers; /readyz answers 503 meanwhile).")
    lock = threading.Lock()
    pending = [True]

    @app.before_request
    def _upgrade_once_the_database_answers() -> None:
        if not pending[0] or request.endpoint in NO_DATABASE_ENDPOINTS:
            return
        with lock:  # threads of one process: one tries, the others find it done
            if pending[0] and _try_upgrade(app):
                pending[0] = False
                log.info("The database answers again: schema upgraded, reference data seeded.")


# What answers without the database (liveness, files), so never waits for its upgrade.
NO_DATABASE_ENDPOINTS = frozenset({"ops.healthz", "static"})


def _try_upgrade(app: Flask) -> bool:
    """The guarded upgrade; False when the database is out of reach (any other error is raised)."""
    from directory.errors import database_out_of_reach

    try:
        upgrade_database(app)
    except OperationalError as exc:
        if not database_out_of_reach(exc):
            raise
        log.debug("schema upgrade: the database is out of reach: %s",
                  str(exc.orig).strip().splitlines()[0] if str(exc.orig) else exc)
        return False
    return True
