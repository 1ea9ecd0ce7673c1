"""Backup and restore of the SQLite default with SQLite's online backup API (not a file copy).

A backup taken while the app serves is a consistent snapshot; a restore writes the backup's pages
into the live database through the same API, so running processes simply see the restored content.
PostgreSQL has its own tools (pg_dump / pg_restore); the commands say so and do nothing.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from directory.extensions import db
from directory.ops.schema import known_revisions, script_heads

POSTGRES_ADVICE = (
    "The database is PostgreSQL: back it up with pg_dump (e.g. `pg_dump -Fc -f directory.dump "
    "DBNAME`) and restore it with pg_restore (`pg_restore --clean --if-exists -d DBNAME "
    "directory.dump`). These commands are for the SQLite default.")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


def live_database_path() -> Path:
    """The app's SQLite file, or a BackupError when the database is not a SQLite file."""
    url = db.engine.url
    if url.get_backend_name() == "postgresql":
        raise BackupError(POSTGRES_ADVICE)
    if url.get_backend_name() != "sqlite":
        raise BackupError(f"Backup and restore support SQLite only, not {url.get_backend_name()}.")
    if not url.database or url.database == ":memory:":
        raise BackupError("The database is in memory: there is no file to back up or restore.")
    return Path(url.database)


def backup_database(target: Path) -> int:
    """Write a consistent snapshot of the live database to target; return its size in bytes."""
    source_path = live_database_path()
    if not source_path.exists():
        raise BackupError(f"There is no database at {source_path} yet.")
    target = target.resolve()
    if target == source_path.resolve():
        raise BackupError("The backup file cannot be the live database itself.")
    if not target.parent.is_dir():
        raise BackupError(f"The folder {target.parent} does not exist.")
    # Written beside the target and renamed into place: a failed backup leaves no partial file.
    # mkstemp makes it 0o600 (the app's user only), and the rename keeps that mode.
    fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    try:
        with closing(sqlite3.connect(source_path)) as source, \
                closing(sqlite3.connect(partial)) as copy:
            source.execute("PRAGMA busy_timeout=5000")
            source.backup(copy)  # one step: a snapshot, even while other connections write
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            problem = copy.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise BackupError(f"The copy failed SQLite's check: {problem}")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target.stat().st_size


def backup_revision(path: Path) -> str:
    """The schema revision of a backup file; BackupError unless it is a database of this app."""
    if not path.is_file():
        raise BackupError(f"There is no file at {path}.")
    try:
        with closing(_read_only(path)) as conn:
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "alembic_version" not in tables:
                raise BackupError(f"{path} is a SQLite database, but not one of this app "
                                  "(it has no alembic_version table).")
            rows = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
            problem = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} could not be read as a SQLite database ({exc}).") from exc
    if problem != "ok":
        raise BackupError(f"{path} is damaged: SQLite's check says {problem}")
    if len(rows) != 1:
        raise BackupError(f"{path} has no single schema revision: {rows or 'none'}.")
    if rows[0] not in known_revisions():
        raise BackupError(f"{path} is at schema revision {rows[0]}, which this version of the "
                          "app does not know (made by a newer version?).")
    return rows[0]


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def restore_database(source_path: Path) -> str:
    """Replace the live database's content with the backup's; return the backup's revision."""
    target_path = live_database_path()
    revision = backup_revision(source_path)
    db.session.remove()
    db.engine.dispose()
    with closing(_read_only(source_path)) as source, closing(sqlite3.connect(target_path)) as live:
        live.execute("PRAGMA busy_timeout=5000")
        source.backup(live)
        live.execute("PRAGMA journal_mode=WAL")
    return revision


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(file: Path) -> None:
    """Back up the SQLite database to FILE (a consistent snapshot, safe while the app serves)."""
    try:
        size = backup_database(file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Backed up {live_database_path()} to {file} ({size:,} bytes).")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(file: Path, yes: bool) -> None:
    """Replace the SQLite database's content with the backup in FILE."""
    try:
        live = live_database_path()
        revision = backup_revision(file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    if not yes:
        click.confirm(f"Replace everything in {live} with the backup {file}?", abort=True)
    try:
        restore_database(file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    _after_restore(revision, file)
    click.echo(f"Restored {live} from {file}.")


def _after_restore(revision: str, file: Path) -> None:
    """Bring an older backup's schema to the newest migration, and note the restore in the audit."""
    from flask_migrate import upgrade

    from directory.models import record

    if frozenset({revision}) != script_heads():
        click.echo(f"The backup is at schema revision {revision}: upgrading it.")
        upgrade(directory=current_app.extensions["migrate"].directory)
    record("database.restored", None, backup=file.name, revision=revision)
    db.session.commit()
