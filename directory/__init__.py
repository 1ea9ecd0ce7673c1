"""The Dry Needling Directory: a Flask application factory."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.engine import make_url
from werkzeug.routing import IntegerConverter, UnicodeConverter

from directory.config import Defaults
from directory.links import trusted_hosts
from directory.models.base import MAX_ID

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(__file__).resolve().parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, error pages, commands, schema."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("DIRECTORY_INSTANCE_PATH") or str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    configure(app, test_config)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_request_log(app)
    register_template_helpers(app)
    register_commands(app)
    prepare_database(app)
    return app


def configure(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Layers: defaults → instance/config.py → DIRECTORY_* environment (or the tests' dict)."""
    app.config.from_object(Defaults)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env(prefix="DIRECTORY")
    else:
        app.config.update(test_config)

    instance = private_folder(Path(app.instance_path))
    if not app.config.get("SECRET_KEY"):
        if app.config.get("PRODUCTION"):
            raise RuntimeError("PRODUCTION is on but no SECRET_KEY is set: set "
                               "DIRECTORY_SECRET_KEY to a long random value, the same for "
                               "every process (python -c 'import secrets; "
                               "print(secrets.token_hex(32))').")
        app.config["SECRET_KEY"] = _instance_secret_key(instance)
    if app.config.get("PRODUCTION") and app.config["SITE_URL"] == Defaults.SITE_URL:
        logging.getLogger(__name__).warning(
            "PRODUCTION is on but SITE_URL is the default %s: every link in e-mails and the API "
            "points there. Set DIRECTORY_SITE_URL to the public address.", Defaults.SITE_URL)
    url = app.config.get("DATABASE_URL") or app.config.get("SQLALCHEMY_DATABASE_URI")
    if not url:
        url = f"sqlite:///{instance / 'directory.sqlite3'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(url)
    parsed = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if parsed.get_backend_name() == "sqlite":
        _private_sqlite_file(parsed.database, parsed.query)
        # A file, not a server: no connection to lose, so nothing to test before each use
        # (the test is a query per request). An in-memory database lives in one connection:
        # no pool to size either.
        left_out = {"pool_pre_ping"}
        if parsed.database in (None, "", ":memory:"):
            left_out |= {"pool_size", "max_overflow", "pool_timeout"}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            key: value for key, value in app.config["SQLALCHEMY_ENGINE_OPTIONS"].items()
            if key not in left_out}
    app.config["MAIL_OUTBOX"] = app.config.get("MAIL_OUTBOX") or str(instance / "outbox")
    app.config["UPLOAD_FOLDER"] = app.config.get("UPLOAD_FOLDER") or str(instance / "uploads")
    # Requests naming another Host get a 400 (in production by default; see links.trusted_hosts).
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def private_folder(path: Path) -> Path:
    """The instance folder, readable by the app's user only (0o700): it holds the secret key,
    the SQLite database and the mail with reset links. A folder of ours with a looser mode (the
    repository's instance/ comes from git as 0o755) is tightened."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        status = path.stat()
        if status.st_uid == os.geteuid() and status.st_mode & 0o077:
            path.chmod(0o700)
    except OSError:
        pass  # someone else's folder: its owner decides
    return path


def _private_sqlite_file(database: str | None, query) -> None:
    """Create a SQLite database file that does not exist yet as an empty file of mode 0o600, so
    SQLite (which gives its -wal and -shm files the database file's mode) never makes it
    readable by others."""
    if not database or database == ":memory:" or database.startswith("file:") or "uri" in query:
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite will say it cannot open the file
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        pass  # there already, or not ours to create: SQLite opens it or says why not


def _instance_secret_key(instance: Path) -> str:
    """Read the secret key kept in instance/, creating a random one on first run."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def register_extensions(app: Flask) -> None:
    """Bind the extensions to this app."""
    from directory import models  # noqa: F401  (every table known to Alembic)
    from directory.extensions import csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PACKAGE / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    _sqlite_pragmas(app)

    from directory.accounts.services import load_user

    login_manager.user_loader(load_user)

    from directory import headers, ratelimit

    ratelimit.init_app(app)  # Flask-Limiter, its storage, trusted proxies
    headers.register(app)  # security headers; Secure cookies in production

    from directory import replicas

    replicas.init_app(app)  # anonymous public GETs read from a replica, when there are some

    from directory import outbox, storage

    storage.init_app(app)  # files: the local folder or S3, as configured
    outbox.init_app(app)  # the in-process mail sender, when no worker runs (make run)


def _sqlite_pragmas(app: Flask) -> None:
    """Foreign keys on, write-ahead logging, a larger page cache and a memory map for every
    SQLite connection."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    from directory.extensions import db

    with app.app_context():
        engine = db.engine
    mmap_size = int(app.config["SQLITE_MMAP_SIZE"])

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        # 64 MB of page cache per connection instead of 2 MB: a search touches a few hundred
        # rows scattered over the (lat, lng) index and the practitioners table.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute(f"PRAGMA mmap_size={mmap_size}")
        cursor.close()


class IdConverter(IntegerConverter):
    """<int:...> in URLs: ids fit the database's integer, so a huge one is a 404, not a 500."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


class TextConverter(UnicodeConverter):
    """<slug>, <code>, <token> in URLs: no control characters (PostgreSQL refuses a NUL), so an
    address holding one is a 404, not a 500."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        super().__init__(url_map, *args, **kwargs)
        self.regex = self.regex.replace("[^/]", "[^/\\x00-\\x1f]")


def register_blueprints(app: Flask) -> None:
    """One blueprint per feature."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["default"] = app.url_map.converters["string"] = TextConverter
    from directory.accounts.routes import bp as accounts
    from directory.admin.routes import bp as admin
    from directory.api.routes import bp as api
    from directory.bulk.routes import bp as bulk
    from directory.certifications.routes import bp as certifications
    from directory.fhir.routes import bp as fhir
    from directory.hsds.routes import bp as hsds
    from directory.issuers.routes import bp as issuers
    from directory.learn.routes import bp as learn
    from directory.ops.routes import bp as ops
    from directory.profiles.routes import bp as profiles
    from directory.public.routes import bp as public
    from directory.registry.routes import bp as registry
    from directory.wellknown.routes import bp as wellknown

    app.register_blueprint(public)
    app.register_blueprint(accounts)
    app.register_blueprint(profiles)
    app.register_blueprint(certifications)
    app.register_blueprint(admin)
    app.register_blueprint(registry)
    app.register_blueprint(issuers)
    app.register_blueprint(api)
    app.register_blueprint(fhir)
    app.register_blueprint(hsds)
    app.register_blueprint(learn)
    app.register_blueprint(bulk)
    app.register_blueprint(ops)
    app.register_blueprint(wellknown)


def register_errorhandlers(app: Flask) -> None:
    """Error pages in the site's style."""
    from directory.errors import register

    register(app)


def register_request_log(app: Flask) -> None:
    """A request id on every request (X-Request-ID) and one JSON log line per request."""
    from directory.ops.logs import install

    install(app)


def register_template_helpers(app: Flask) -> None:
    """Filters and globals the templates share."""
    from directory.templating import register

    register(app)


def register_commands(app: Flask) -> None:
    """`flask --app wsgi ...` commands."""
    from directory.cli import register

    register(app)


def prepare_database(app: Flask) -> None:
    """AUTO_UPGRADE (on unless PRODUCTION): the newest migration and the reference data the
    database lacks, now or once a database out of reach answers. Never a failed start."""
    from directory.ops.schema import auto_upgrade, upgrade_at_start

    if auto_upgrade(app):
        upgrade_at_start(app)
