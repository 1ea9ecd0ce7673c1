"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py` (serves wsgi:app).

Environment: GUNICORN_BIND (default 127.0.0.1:8000), GUNICORN_WORKERS (default 2 × cores, at
most 8; WEB_CONCURRENCY is honoured too), GUNICORN_TIMEOUT (seconds, default 30). Command-line
options (-b, -w, ...) override these. The app itself reads DIRECTORY_* (see README, "Production").
"""

import multiprocessing
import os

from directory.ops.logs import LOGGING

wsgi_app = "wsgi:app"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")

# Sync workers: one request at a time each, so a slow request never delays another in its worker.
# Each worker creates the app after the fork (preload off): its own database pool, its own
# connections. Booting a worker never needs the database (nor Redis): with PRODUCTION on, the
# schema upgrade is the release step `flask --app wsgi db upgrade`, so a worker started or
# replaced while the database is down boots, answers /readyz with 503 and serves once it is back.
worker_class = "sync"
workers = int(os.environ.get("GUNICORN_WORKERS") or os.environ.get("WEB_CONCURRENCY")
              or min(2 * multiprocessing.cpu_count(), 8))
preload_app = False

# A worker silent this long is killed and replaced; on shutdown, workers get as long to finish.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5

# Workers' heartbeat files in memory, not on a disk that may stall.
SHM = "/dev/shm"  # noqa: S108 — a tmpfs for gunicorn's heartbeat files, not temporary data
if os.path.isdir(SHM):
    worker_tmp_dir = SHM

# Logs: JSON lines on stderr. No access log: the app writes one line per request itself
# (logger "directory.request", with the request id, status, duration and user).
accesslog = None
errorlog = "-"
loglevel = "info"
logconfig_dict = LOGGING
proc_name = "dry-needling-directory"


def post_worker_init(worker):
    """Before a worker's first request: load the gazetteer (once per process, as the app would
    on its first search), then move everything loaded so far out of the garbage collector's
    sight. The app, its templates' code and the gazetteer live as long as the process; without
    this, every full collection walks all of them again (tens of milliseconds each, under load).
    Nothing here touches the database. The log says when the worker is ready for requests."""
    import gc

    from directory import geo

    geo.gazetteer()
    gc.freeze()
    worker.log.info("Worker ready (pid: %s)", worker.pid)
