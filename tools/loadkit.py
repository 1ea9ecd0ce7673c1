"""What the load and fault tests share: the big PostgreSQL database, gunicorn, nginx, and wrk.

The database is filled once by `generate()` from tools/bench_search.py (practitioners clustered by
town population) and kept: a later run finds the same number of generated practitioners and
reuses it. The app is served as in production: gunicorn (the repository's gunicorn.conf.py when
there is one) behind nginx (deploy/nginx.conf, rendered and started by deploy/nginx.py; `direct`
leaves nginx out), with the mail worker beside it (`flask --app wsgi worker`, the only sender, as
in production) delivering to a real SMTP server in the tool's process (tests/smtp.py's SmtpSink),
and wrk (Debian's, /usr/bin/wrk) requests a search at a different point near one of the largest
cities each time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench_search import generate, towns  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from directory import PACKAGE, create_app, normalise_database_url  # noqa: E402
from directory.extensions import db  # noqa: E402
from directory.models import User  # noqa: E402
from tests.smtp import SmtpSink  # noqa: E402

# A separate cluster for this work (see README "Load and fault tests"), never the main one.
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5433/directory_load"
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "directory-load"
DEFAULT_SIZE = 1_000_000
SEARCH_PATH = "/?near=%.4f,%.4f&radius=25&unit=km"
API_PATH = "/api/v1/practitioners?near=%.4f,%.4f&radius=25&unit=km"

# Each request searches 25 km around a point near one of the largest cities. Every thread counts
# its responses per second by status class, so a run can show when errors happened.
WRK_SCRIPT = """
local cities = {%(cities)s}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("seed", 42 + #threads)
end
function init(args)
  math.randomseed(seed)
  ok, bad = {}, {}
end
request = function()
  local c = cities[math.random(#cities)]
  local lat = c[1] + (math.random() - 0.5) * 0.1
  local lng = c[2] + (math.random() - 0.5) * 0.1
  return wrk.format("GET", string.format("%(path)s", lat, lng))
end
response = function(status, headers, body)
  local s = os.time()
  if status >= 200 and status < 400 then
    ok[s] = (ok[s] or 0) + 1
  else
    bad[s] = (bad[s] or 0) + 1
  end
end
done = function(summary, latency, requests)
  local seconds = {}
  for _, thread in ipairs(threads) do
    for name, sink in pairs({ok = thread:get("ok"), bad = thread:get("bad")}) do
      for s, n in pairs(sink) do
        seconds[s] = seconds[s] or {ok = 0, bad = 0}
        seconds[s][name] = seconds[s][name] + n
      end
    end
  end
  for s, counts in pairs(seconds) do
    io.write(string.format("second %%d ok %%d bad %%d\\n", s, counts.ok, counts.bad))
  end
end
"""


def database_url(url: str) -> str:
    """The SQLAlchemy URL the app would use for this one (psycopg 3 for PostgreSQL)."""
    return normalise_database_url(url)


def ensure_database(url: str, fresh: bool = False) -> None:
    """Create the PostgreSQL database when it does not exist (drop it first when fresh)."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = target.database
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists and fresh:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = False
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def make_app(url: str, workdir: Path):
    """The app over the load database, for preparing data (not for serving)."""
    instance = workdir / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_UPGRADE": False,
                       "SECRET_KEY": "load-test-setup", "TESTING": False,
                       "MAIL_OUTBOX": str(instance / "outbox"),
                       "UPLOAD_FOLDER": str(instance / "uploads")})


def prepare(url: str, size: int, workdir: Path, fresh: bool = False) -> None:
    """Bring the schema to head and generate `size` listed practitioners unless already there."""
    from flask_migrate import upgrade

    ensure_database(url, fresh=fresh)
    app = make_app(url, workdir)
    with app.app_context():
        upgrade(directory=str(PACKAGE / "migrations"))
        generated = db.session.scalar(
            select(func.count()).select_from(User).where(User.email.like("bench%@example.com"),
                                                          User.role == "practitioner"))
        if generated == size:
            log(f"reusing the {size:,} generated practitioners in {make_url(url).database}")
        elif generated:
            raise SystemExit(f"{make_url(url).database} holds {generated:,} generated "
                             f"practitioners, not {size:,}: run again with --fresh to rebuild it")
        else:
            started = time.perf_counter()
            log(f"generating {size:,} practitioners (a few minutes for 1,000,000)...")
            generate(size)
            log(f"generated {size:,} in {time.perf_counter() - started:.0f} s")


def log(message: str) -> None:
    """Progress on stderr, so stdout is only the report."""
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(url: str, instance: Path, direct: bool, mail_port: int) -> dict[str, str]:
    """The environment of gunicorn and the mail worker: the load database, rate limits off, no
    stray DIRECTORY_* settings (DIRECTORY_PRODUCTION unset), and mail by SMTP to the sink, sent
    only by the worker (the web processes' sender thread off, as in production)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIRECTORY_")}
    env.update(DIRECTORY_DATABASE_URL=url, DIRECTORY_AUTO_UPGRADE="false",
               DIRECTORY_INSTANCE_PATH=str(instance), DIRECTORY_RATELIMIT_ENABLED="false",
               DIRECTORY_OUTBOX_IN_PROCESS="false", DIRECTORY_MAIL_BACKEND="smtp",
               DIRECTORY_MAIL_SERVER="127.0.0.1", DIRECTORY_MAIL_PORT=str(mail_port))
    if not direct:
        env["DIRECTORY_PROXY_FIX"] = "1"  # the client's address from nginx, as in production
    return env


@dataclass
class Served:
    """What serve() runs: the base URL to measure, gunicorn's command, the SMTP sink the worker
    delivers to, and the worker's process."""

    base: str
    command: list[str]
    sink: SmtpSink
    worker: subprocess.Popen


@contextlib.contextmanager
def serve(url: str, workdir: Path, workers: int | None = None, direct: bool = False):
    """gunicorn serving wsgi:app over the database, rate limits off, behind nginx as in
    production (deploy/nginx.conf; `direct`: without it), and the mail worker delivering to an
    SMTP sink of this process; yields a Served."""
    from deploy.nginx import stop

    port = free_port()
    instance = workdir / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per command
    sink = SmtpSink().start()
    env = server_env(url, instance, direct, sink.port)
    command = [sys.executable, "-m", "gunicorn"]
    config = ROOT / "gunicorn.conf.py"
    if config.exists():
        command += ["-c", str(config)]
    if workers or not config.exists():
        command += ["-w", str(workers or 2)]
    command += ["-b", f"127.0.0.1:{port}", "wsgi:app"]
    with contextlib.ExitStack() as stack:
        stack.callback(sink.stop)
        logfile = stack.enter_context((workdir / "gunicorn.log").open("a"))
        logfile.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
        logfile.flush()
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=logfile, stderr=logfile,
                                  start_new_session=True)  # noqa: S603 — our own arguments
        stack.callback(stop, server, 30)
        gunicorn = f"http://127.0.0.1:{port}"
        wait_until_up(gunicorn, server)
        worker = stack.enter_context(mail_worker(env, workdir))
        base = gunicorn if direct else stack.enter_context(proxy(gunicorn, workdir))
        warm_up(base)
        yield Served(base, command, sink, worker)


WORKER_COMMAND = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]


@contextlib.contextmanager
def mail_worker(env: dict[str, str], workdir: Path, timeout: float = 60):
    """`flask --app wsgi worker` with the servers' environment, in a process group of its own,
    its output in workdir/worker.log; yields the process once it says it is delivering, and
    stops it (TERM: it finishes the message in hand; KILL after 30 s) on the way out."""
    from deploy.nginx import stop

    path = workdir / "worker.log"
    with path.open("a") as logfile:
        logfile.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(WORKER_COMMAND)} "
                      f"(mail to 127.0.0.1:{env['DIRECTORY_MAIL_PORT']})\n")
        logfile.flush()
        start = path.stat().st_size
        worker = subprocess.Popen(WORKER_COMMAND, cwd=ROOT, env=env, stdout=logfile,  # noqa: S603
                                  stderr=logfile, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while b"worker: delivering mail" not in path.read_bytes()[start:]:
                if worker.poll() is not None:
                    raise SystemExit(f"the mail worker exited; see {path}")
                if time.monotonic() > deadline:
                    raise SystemExit(f"the mail worker did not start within {timeout:g} s; "
                                     f"see {path}")
                time.sleep(0.2)
            log(f"mail worker running (pid {worker.pid}), delivering to "
                f"127.0.0.1:{env['DIRECTORY_MAIL_PORT']}")
            yield worker
        finally:
            stop(worker, 30)


# Every load-generating connection comes from 127.0.0.1: the production limit per client address
# (100) would refuse wrk's connections beyond it with 429, so the tools allow more.
LOAD_CONNECTIONS_PER_CLIENT = 4096


@contextlib.contextmanager
def proxy(upstream: str, workdir: Path):
    """Debian's nginx with deploy/nginx.conf (as in production, plain http) in front of the
    upstream base URL, on a free loopback port, its pid, logs and temporary files in
    workdir/nginx; yields its base URL."""
    from deploy import nginx

    with nginx.run([upstream.removeprefix("http://")], workdir / "nginx",
                   connections_per_client=LOAD_CONNECTIONS_PER_CLIENT) as running:
        log(f"nginx on {running.base} in front of {upstream} ({running.config})")
        yield running.base


def describe_front(direct: bool) -> str:
    """What stands between wrk and gunicorn, for the report."""
    if direct:
        return "none (--direct: wrk talks to gunicorn)"
    from deploy import nginx

    version = subprocess.run([nginx.nginx_binary(), "-v"], capture_output=True, text=True)
    return (f"{version.stderr.strip().removeprefix('nginx version: ')} with deploy/nginx.conf "
            f"(request and response buffering), {LOAD_CONNECTIONS_PER_CLIENT} connections per "
            f"client allowed")


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    """Wait for the first page gunicorn serves."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited; see gunicorn.log in the work directory")
        try:
            if requests.get(base + "/about", timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer within a minute")


def warm_up(base: str, rounds: int = 4) -> None:
    """A few searches at once, so each worker has loaded the gazetteer before wrk starts."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    paths = [SEARCH_PATH % (51.5, -0.12), API_PATH % (40.7, -74.0)] * rounds * 2
    with ThreadPoolExecutor(max_workers=rounds * 2) as pool:
        list(pool.map(lambda path: requests.get(base + path, timeout=60), paths))


def cities(count: int = 10) -> list[tuple[str, float, float]]:
    """The largest places in the gazetteer: (name, lat, lng)."""
    return [(t[0], t[1], t[2]) for t in towns(count)]


def wrk_script(workdir: Path, name: str, path: str, places) -> Path:
    """A wrk Lua script requesting `path` (with %.4f,%.4f for the point) near the places."""
    script = workdir / f"{name}.lua"
    script.write_text(WRK_SCRIPT % {
        "cities": ", ".join(f"{{{lat}, {lng}}}" for _, lat, lng in places),
        "path": path})
    return script


def run_wrk(base: str, script: Path, seconds: int, connections: int = 64, threads: int = 2,
            timeout: int = 10) -> dict:
    """Run wrk and read its summary: requests/s, latency percentiles, errors, per-second counts."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}s",
         "--latency", "-s", str(script), base + "/"],
        capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def parse_wrk(output: str) -> dict:
    """The figures of wrk's --latency report, and the per-second lines of our script."""
    found = {"raw": output, "latency": {}, "socket_errors": {}, "non_2xx_3xx": 0,
             "seconds": {}}
    for pct in ("50", "75", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", output, re.M)
        if match:
            found["latency"][pct] = _ms(match.group(1))
    match = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    found["requests"] = int(match.group(1))
    found["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                      output)
    if match:
        found["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                          map(int, match.groups()), strict=True))
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if match:
        found["non_2xx_3xx"] = int(match.group(1))
    found["errors"] = found["non_2xx_3xx"] + sum(found["socket_errors"].values())
    for second, ok, bad in re.findall(r"^second (\d+) ok (\d+) bad (\d+)$", output, re.M):
        found["seconds"][int(second)] = (int(ok), int(bad))
    return found


def machine() -> str:
    """Cores and load average, for the report."""
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
            f"at the start")


def secret_marker() -> str:
    """A short unique token for this run."""
    return secrets.token_hex(4)
