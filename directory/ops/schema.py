"""The schema's revision against the migrations' head, and one upgrade at a time at start-up."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# The key of the PostgreSQL advisory lock that makes processes starting together take turns.
UPGRADE_LOCK_KEY = 0x44524E_0001


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
