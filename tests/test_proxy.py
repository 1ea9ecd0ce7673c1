"""nginx (deploy/nginx.conf) in front of real gunicorn: stalled clients never reach a sync worker.

The app runs under gunicorn as in production (gunicorn.conf.py, 2 sync workers,
DIRECTORY_PROXY_FIX=1) over the session's test database, behind Debian's nginx on free loopback
ports.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from deploy import nginx

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
STALLED = WORKERS + 2  # more stalled connections than there are workers
PROMPTLY = 5.0  # seconds: an answer slower than this would count as blocked
BODY = 100_000


class Gunicorn:
    """The app under gunicorn: its own address, and the JSON lines it logs."""

    def __init__(self, base: str, log: Path):
        self.base = base
        self.log = log

    def logged(self, request_id: str, timeout: float = 5) -> dict:
        """The app's request-log line for this request id (written before the answer is sent,
        so it is there as soon as the answer is)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log.read_text(errors="replace").splitlines():
                if request_id in line and line.startswith("{"):
                    entry = json.loads(line)
                    if entry.get("request_id") == request_id:
                        return entry
            if time.monotonic() > deadline:
                raise AssertionError(f"the app logged no request {request_id}")
            time.sleep(0.05)

    def paths_logged(self) -> list[str]:
        return [json.loads(line).get("path") for line in
                self.log.read_text(errors="replace").splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def gunicorn(migrated_database, tmp_path_factory):
    """gunicorn.conf.py with 2 sync workers over the test database (never the repository's
    instance/), trusting one proxy's X-Forwarded-For/-Proto."""
    tmp = tmp_path_factory.mktemp("gunicorn")
    port = nginx.free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DIRECTORY_", "GUNICORN_", "WEB_CONCURRENCY"))}
    env.update(DIRECTORY_DATABASE_URL=migrated_database, DIRECTORY_AUTO_UPGRADE="false",
               DIRECTORY_INSTANCE_PATH=str(tmp / "instance"),
               DIRECTORY_SECRET_KEY="test-proxy-secret-key", DIRECTORY_PROXY_FIX="1",
               DIRECTORY_MAIL_OUTBOX=str(tmp / "outbox"),
               DIRECTORY_UPLOAD_FOLDER=str(tmp / "uploads"))
    log = tmp / "gunicorn.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 — our own arguments
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
             "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        server = Gunicorn(f"http://127.0.0.1:{port}", log)
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"gunicorn exited:\n{log.read_text()[-3000:]}"
            try:
                if requests.get(server.base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"gunicorn never answered:\n{log.read_text()}"
            time.sleep(0.1)
        yield server
    finally:
        nginx.stop(process, timeout=15)


@pytest.fixture(scope="module")
def proxy(gunicorn, tmp_path_factory):
    """deploy/nginx.conf rendered for loopback, in front of gunicorn."""
    upstream = gunicorn.base.removeprefix("http://")
    with nginx.run([upstream], tmp_path_factory.mktemp("nginx")) as running:
        # Every worker has loaded its templates before anything is timed.
        for _ in range(2 * WORKERS):
            requests.get(running.base + "/", timeout=30).raise_for_status()
        yield running


def stall(base: str, count: int, source: str = "127.0.0.1") -> list[tuple[socket.socket, str]]:
    """`count` connections that each send a form's headers, announce a 100 kB body and send
    none of it: (socket, request id)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    stalled = []
    for _ in range(count):
        connection = socket.create_connection((host, int(port)), timeout=5,
                                              source_address=(source, 0))
        request_id = f"stalled-{secrets.token_hex(6)}"
        connection.sendall(
            f"POST /account/login HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Request-ID: {request_id}\r\nContent-Length: {BODY}\r\n\r\n".encode())
        stalled.append((connection, request_id))
    return stalled


def timed_get(url: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    try:
        response = requests.get(url, timeout=PROMPTLY * 2)
    except requests.Timeout:
        pytest.fail(f"{url} did not answer within {PROMPTLY * 2:g} s: the workers are blocked")
    return response, time.monotonic() - started


def test_stalled_request_bodies_do_not_block_the_site(proxy, gunicorn):
    stalled = stall(proxy.base, STALLED)
    stalled_at = time.monotonic()
    try:
        time.sleep(0.3)  # long enough for gunicorn's workers to have taken them, were they sent
        for path in ("/healthz", "/", "/healthz", "/"):
            response, took = timed_get(proxy.base + path)
            assert response.status_code == 200, (path, response.status_code)
            assert took < PROMPTLY, f"{path} took {took:.1f} s behind {STALLED} stalled clients"
        for connection, _ in stalled:  # still open, still waiting: nginx has answered none
            connection.setblocking(False)
            with pytest.raises(BlockingIOError):
                connection.recv(1)
            connection.setblocking(True)

        # A client that finally sends its body: nginx passes the whole request at once, so the
        # app's worker spends milliseconds on it, not the seconds the client took.
        time.sleep(max(0.0, 2.0 - (time.monotonic() - stalled_at)))
        connection, request_id = stalled[0]
        form = b"email=a%40example.org&password="
        connection.settimeout(PROMPTLY)
        connection.sendall(form + b"x" * (BODY - len(form)))
        waited = time.monotonic() - stalled_at
        status_line = connection.makefile("rb").readline()
        assert status_line.split()[1] == b"400", status_line  # no CSRF token: the app's 400 page
        entry = gunicorn.logged(request_id)
        assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/account/login",
                                                                     400)
        assert entry["duration_ms"] < (waited - 1.0) * 1000, (entry, waited)
    finally:
        for connection, _ in stalled:
            connection.close()


def test_the_app_sees_the_clients_address_not_a_forged_one(proxy, gunicorn):
    # A client on 127.0.0.2 (nginx's own connections to gunicorn come from 127.0.0.1) that
    # claims to be someone else.
    host, port = proxy.base.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10,
                                            source_address=("127.0.0.2", 0))
    request_id = f"address-{secrets.token_hex(6)}"
    try:
        connection.request("GET", "/healthz", headers={"X-Request-ID": request_id,
                                                       "X-Forwarded-For": "203.0.113.7"})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 200
    assert response.getheader("X-Request-ID") == request_id
    assert gunicorn.logged(request_id)["remote_addr"] == "127.0.0.2"


def test_static_files_come_from_nginx_and_pages_keep_the_apps_headers(proxy, gunicorn):
    css = requests.get(proxy.base + "/static/css/site.css", timeout=10)
    assert css.status_code == 200
    assert css.content == (ROOT / "static" / "css" / "site.css").read_bytes()
    assert css.headers["Cache-Control"] == "public, max-age=3600"
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    assert css.headers["Content-Type"].startswith("text/css")
    again = requests.get(proxy.base + "/static/css/site.css", timeout=10,
                         headers={"If-None-Match": css.headers["ETag"]})
    assert again.status_code == 304
    missing = requests.get(proxy.base + "/static/css/no-such-file.css", timeout=10)
    assert missing.status_code == 404
    assert "Content-Security-Policy" in missing.headers  # the app's own 404 page
    assert "/static/css/site.css" not in gunicorn.paths_logged()

    page = requests.get(proxy.base + "/", timeout=10)
    direct = requests.get(gunicorn.base + "/", timeout=10)
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
                   "Referrer-Policy", "Cache-Control"):
        assert page.headers.get(header) == direct.headers.get(header), header
    assert "Server" not in page.headers or "nginx/" not in page.headers["Server"]


def test_a_body_over_the_apps_limit_is_refused_by_nginx(proxy, gunicorn):
    host, port = proxy.base.removeprefix("http://").rsplit(":", 1)
    request_id = f"large-{secrets.token_hex(6)}"
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"POST /account/login HTTP/1.1\r\nHost: {host}\r\n"
                           f"X-Request-ID: {request_id}\r\n"
                           f"Content-Length: {32 * 1024 * 1024 + 1}\r\n\r\n".encode())
        status_line = connection.makefile("rb").readline()
    assert status_line.split()[1] == b"413", status_line  # at once, before any body
    assert request_id not in gunicorn.log.read_text()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make a test certificate: apt-get install openssl"
    subprocess.run(  # noqa: S603 — our own arguments
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


def test_https_server_block(gunicorn, certificate, tmp_path):
    cert, key = certificate
    upstream = gunicorn.base.removeprefix("http://")
    with nginx.run([upstream], tmp_path / "nginx", certificate=cert,
                   certificate_key=key) as running:
        redirect = requests.get(running.base + "/search?q=x", timeout=10, allow_redirects=False)
        assert redirect.status_code == 301
        assert redirect.headers["Location"] == "https://127.0.0.1/search?q=x"
        page = requests.get(running.https + "/", timeout=10, verify=str(cert))
    assert page.status_code == 200
    # The app knows the request came over https (X-Forwarded-Proto, trusted with PROXY_FIX=1).
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")


def test_nginx_keeps_public_pages_briefly_and_never_a_visitors_own(proxy, gunicorn):
    path = f"/about?probe={secrets.token_hex(4)}"  # a page no other test asked nginx for
    first = requests.get(proxy.base + path, timeout=10)
    assert first.status_code == 200 and first.headers["X-Cache-Status"] == "MISS"
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    request_id = f"cached-{secrets.token_hex(6)}"
    second = requests.get(proxy.base + path, timeout=10, headers={"X-Request-ID": request_id})
    assert second.headers["X-Cache-Status"] == "HIT" and second.content == first.content
    time.sleep(0.5)  # (the app logs each request before it answers)
    assert request_id not in gunicorn.log.read_text()  # served by nginx alone

    # Someone with a session: the app answers, and nothing of theirs is kept.
    request_id = f"session-{secrets.token_hex(6)}"
    mine = requests.get(proxy.base + path, timeout=10, cookies={"session": "theirs"},
                        headers={"X-Request-ID": request_id})
    assert mine.headers["X-Cache-Status"] == "BYPASS"
    assert gunicorn.logged(request_id)["path"] == "/about"

    # A page the app marks no-store is asked for every time.
    for _ in range(2):
        login = requests.get(proxy.base + "/account/login", timeout=10)
        assert login.headers["Cache-Control"] == "no-store"
        assert login.headers["X-Cache-Status"] == "MISS"
