"""Where reads go: anonymous public GET requests on PostgreSQL read without a transaction, from a
streaming replica when there is a usable one, else from the primary.

Such a request reads on an autocommit connection that is not tested before use: no BEGIN, no
ROLLBACK, no pre-ping SELECT 1 around its queries (each a round trip). A request whose
connection was dropped (a restart, a failover, a replica stopped) is run again once on a fresh
one, from the next usable replica or the primary (_dispatch_retrying_reads), so a dropped
connection costs no request.

DATABASE_REPLICA_URLS names the replicas (a list, or one string with commas). A request reads
this way when all of these hold, decided before its first query:
- it is a GET or HEAD of a public view (search, profiles, the API, FHIR, HSDS...);
- nobody is logged in (no session user, no remember-me cookie): accounts read their own pages
  from the primary;
- this browser wrote nothing in the last READ_YOUR_WRITES_SECONDS (a request that wrote marks
  its session), so a visitor never misses what they just sent;
- the replica answered its last check and was at most REPLICA_MAX_LAG_SECONDS behind (checked
  at most every REPLICA_CHECK_SECONDS per process; one that fails a query is skipped until the
  next check).
Anything else reads from the primary in a transaction, as before. Every write goes to the
primary in a transaction whatever the request (RoutingSession: a flush, an INSERT/UPDATE/DELETE,
a SELECT ... FOR UPDATE), and once a request has written, its later reads go there too.
"""

from __future__ import annotations

import logging
import random
import threading
import time

import flask_sqlalchemy.session
import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, request, session
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)
EXTENSION = "directory_replicas"
WROTE_AT = "_wrote_at"  # the session key: when this browser last wrote (epoch seconds)
_WROTE = "directory_wrote"  # db.session.info: this request has written

# How far behind a replica is: none when it has replayed all the primary had written a moment
# before (PRIMARY_LSN_SQL, asked first), else the time since the last transaction it replayed.
# A replica whose replay is paused or stuck, or that stopped receiving, falls behind.
PRIMARY_LSN_SQL = sa.text("SELECT pg_current_wal_lsn()::text")
LAG_SQL = sa.text(
    "SELECT pg_last_wal_replay_lsn() >= "
    "CAST(COALESCE(:primary, pg_last_wal_receive_lsn()::text) AS pg_lsn), "
    "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())")


def urls_of(setting) -> list[str]:
    """The replica URLs from the setting: a list, or a string of comma-separated URLs."""
    if not setting:
        return []
    items = setting.split(",") if isinstance(setting, str) else list(setting)
    return [item.strip() for item in items if item and item.strip()]


class Replica:
    """One replica: its engine (made on first use) and what its last check found."""

    autocommit = False  # (reads in a transaction: server-side cursors work)

    def __init__(self, url: str, engine_options: dict, max_lag: float, check_every: float):
        self.url = url
        self.engine_options = engine_options
        self.max_lag = max_lag
        self.check_every = check_every
        self._engine: sa.Engine | None = None
        self.usable = False
        self.checked_at = float("-inf")
        self.lag: float | None = None
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = sa.create_engine(self.url, **self.engine_options)
                    event.listen(self._engine, "handle_error", self._on_error)
        return self._engine

    def _on_error(self, context) -> None:
        """A query that lost its connection (the replica stopped): skip it until the next
        check. The request in flight gets the 'try again' page."""
        if context.is_disconnect or isinstance(context.sqlalchemy_exception,
                                               sa.exc.OperationalError):
            self.usable = False

    def is_usable(self, now: float) -> bool:
        # One thread of the process checks; the others go on with what the last check found.
        if now - self.checked_at >= self.check_every and self._check_lock.acquire(False):
            try:
                self.check(now)
            finally:
                self._check_lock.release()
        return self.usable

    def check(self, now: float | None = None) -> None:
        """Ask the replica how far behind the primary it is (a failed check marks it
        unusable). While the primary does not answer, the replica is judged by what it has
        received: the primary's latest cannot reach it anyway."""
        self.checked_at = time.monotonic() if now is None else now
        from directory.extensions import db

        try:
            with db.engine.connect() as connection:
                primary = connection.execute(PRIMARY_LSN_SQL).scalar_one()
        except SQLAlchemyError:
            primary = None
        try:
            with self.engine.connect() as connection:
                caught_up, behind = connection.execute(LAG_SQL, {"primary": primary}).one()
            self.lag = 0.0 if caught_up else (float("inf") if behind is None
                                              else float(behind))
        except SQLAlchemyError as exc:
            if self.usable or self.lag is not None:
                log.warning("read replica %s is out of reach: %s", self.safe_url,
                            str(getattr(exc, "orig", exc)).strip().splitlines()[0:1])
            self.usable, self.lag = False, None
            return
        was = self.usable
        self.usable = self.lag <= self.max_lag
        if was and not self.usable:
            log.warning("read replica %s is %.1f s behind: reading from the primary",
                        self.safe_url, self.lag)

    @property
    def safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


class PrimaryReader:
    """The primary, for reads without a transaction: autocommit, no pre-ping (a dropped
    connection is retried by RoutingSession instead)."""

    autocommit = True

    def __init__(self, url: str, engine_options: dict):
        self.url, self.options = url, engine_options
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT",
                                                    **self.options)
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


class Replicas:
    def __init__(self, replicas: list[Replica], primary: PrimaryReader | None):
        self.replicas = replicas
        self.primary = primary

    def choose(self) -> Replica | PrimaryReader | None:
        """A usable replica at random, else the primary without a transaction (None: in one,
        when READ_WITHOUT_TRANSACTION is off)."""
        now = time.monotonic()
        usable = [replica for replica in self.replicas if replica.is_usable(now)]
        return random.choice(usable) if usable else self.primary  # noqa: S311 — load spreading

    def dispose(self) -> None:
        for reader in (*self.replicas, self.primary):
            if reader is not None:
                reader.dispose()


def replicas_of(app: Flask) -> Replicas | None:
    return app.extensions.get(EXTENSION)


class RoutingSession(flask_sqlalchemy.session.Session):
    """The app's session: reads go to this request's reader, if it has one; writes, and reads
    after a write, to the primary in a transaction."""

    def _reader(self):
        """This request's reader, while it may still read from it."""
        if self._flushing or self.info.get(_WROTE) or not has_request_context():
            return None
        return g.get("reader")

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None:
            reader = self._reader()
            if reader is not None:
                if _writes(clause):
                    self.info[_WROTE] = True
                elif not (reader.autocommit and _streams(clause)):
                    return reader.engine
                # (a server-side cursor needs a transaction: that read goes to the primary's)
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def _writes(clause) -> bool:
    """An INSERT, UPDATE or DELETE, a SELECT that locks rows, or SQL text (which may be either):
    for the primary only."""
    if clause is None:
        return False
    return bool(getattr(clause, "is_dml", False) or isinstance(clause, sa.TextClause)
                or getattr(clause, "_for_update_arg", None) is not None)


def _streams(clause) -> bool:
    """A statement read through a server-side cursor (yield_per, stream_results)."""
    options = getattr(clause, "_execution_options", None) or {}
    return bool(options.get("yield_per") or options.get("stream_results"))


@event.listens_for(RoutingSession, "before_flush")
def _writes_now(session, _context, _instances) -> None:
    """From the first flush on (even one that fails: its retry must read the primary)."""
    session.info[_WROTE] = True


def read_from_the_primary(session) -> None:
    """The rest of this request reads from the primary: for code whose reads decide a write
    (the next free index...), which a replica's older copy would get wrong."""
    session.info[_WROTE] = True


def init_app(app: Flask) -> None:
    """On PostgreSQL: anonymous public GETs read without a transaction, from the replicas
    DATABASE_REPLICA_URLS names when one is usable, else from the primary."""
    primary_url = app.config["SQLALCHEMY_DATABASE_URI"]
    if sa.engine.make_url(primary_url).get_backend_name() != "postgresql":
        return  # SQLite: a file in this process, no round trips to save
    from directory import normalise_database_url

    options = {key: value for key, value in app.config["SQLALCHEMY_ENGINE_OPTIONS"].items()
               if key != "pool_pre_ping"}  # a lost connection is retried instead
    replica_options = options | {"connect_args": options.get("connect_args", {}) | {
        "connect_timeout": int(app.config["REPLICA_CONNECT_TIMEOUT"])}}
    app.extensions[EXTENSION] = Replicas([
        Replica(normalise_database_url(url), replica_options,
                max_lag=float(app.config["REPLICA_MAX_LAG_SECONDS"]),
                check_every=float(app.config["REPLICA_CHECK_SECONDS"]))
        for url in urls_of(app.config.get("DATABASE_REPLICA_URLS"))],
        PrimaryReader(primary_url, options) if app.config["READ_WITHOUT_TRANSACTION"] else None)

    from directory.extensions import db

    readers = app.extensions[EXTENSION]
    with app.app_context():
        # Closing the app's connections (the tests do, between apps) closes the readers' too.
        event.listen(db.engine, "engine_disposed", lambda _engine: readers.dispose())

    @app.before_request
    def choose_where_to_read() -> None:
        db.session.info.pop(_WROTE, None)  # (a test's session outlives its requests)
        g.reader = replicas_of(current_app).choose() if reads_from_a_replica() else None

    app.dispatch_request = _dispatch_retrying_reads(app.dispatch_request)

    @app.after_request
    def remember_a_write(response):
        from directory.extensions import db

        if db.session.info.get(_WROTE):
            session[WROTE_AT] = int(time.time())
        return response


def _dispatch_retrying_reads(dispatch):
    """Flask's dispatch_request (the view), run once more when a reading request lost its
    database connection, or could not get one (a restart, a failover, a replica stopped): on a
    fresh connection from a replica that still answers, or the primary. Not when it has written,
    or was retried already; a second failure is answered like the first ('try again')."""
    from directory.errors import database_out_of_reach
    from directory.extensions import db

    def dispatch_request():
        try:
            return dispatch()
        except sa.exc.OperationalError as exc:
            if (g.get("reader") is None or g.get("reader_retried")
                    or db.session.info.get(_WROTE) or not database_out_of_reach(exc)):
                raise
            g.reader_retried = True
            log.warning("a read lost its database connection (%s): trying once more",
                        type(exc.orig).__name__)
            db.session.rollback()
            g.reader = replicas_of(current_app).choose()
            return dispatch()

    return dispatch_request


def reads_from_a_replica() -> bool:
    """This request may read from a replica (see the module's docstring)."""
    if request.method not in ("GET", "HEAD") or request.url_rule is None:
        return False
    view = current_app.view_functions.get(request.url_rule.endpoint)
    if getattr(view, "access", None) != "public":
        return False
    if "_user_id" in session or current_app.config.get(
            "REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        return False
    wrote_at = session.get(WROTE_AT)
    return not (isinstance(wrote_at, int) and time.time() - wrote_at
                < float(current_app.config["READ_YOUR_WRITES_SECONDS"]))
