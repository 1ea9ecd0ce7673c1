"""Render deploy/nginx.conf (nginx in front of gunicorn); run it on loopback for tests and tools.

Production (Debian's nginx; see README, "Production"):

    .venv/bin/python deploy/nginx.py --upstream 127.0.0.1:8001 --upstream 127.0.0.1:8002 \\
        --server-name directory.example.org \\
        --certificate /etc/letsencrypt/live/directory.example.org/fullchain.pem \\
        --certificate-key /etc/letsencrypt/live/directory.example.org/privkey.pem \\
        -o /etc/nginx/nginx.conf
    nginx -t && systemctl reload nginx

Without --certificate it serves plain http only (local use). With --prefix DIR every file nginx
writes (pid, logs, temporary bodies) is inside DIR and its workers run as the user who starts it:
`run()` does that on a free loopback port (tests/test_proxy.py, tools/loadkit.py).
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TEMPLATE = "nginx.conf"
STATIC_ROOT = ROOT / "static"
NGINX = "/usr/sbin/nginx"  # Debian's; not on a normal user's PATH
# Debian's own places for what nginx writes (its systemd unit expects this pid file).
SYSTEM_PATHS = {"pid": "/run/nginx.pid", "error_log": "/var/log/nginx/error.log",
                "access_log": "/var/log/nginx/access.log", "temp": "/var/lib/nginx"}
CONNECTIONS_PER_CLIENT = 100
# A value pasted into the configuration: one word, nothing that could end a directive.
SAFE_VALUE = re.compile(r"[A-Za-z0-9_.:/@\[\]*-]+")


def render(*, upstreams: Sequence[str] = ("127.0.0.1:8000",), listen: str = "80",
           static_root: str | Path = STATIC_ROOT, server_name: str = "_",
           certificate: str | Path | None = None, certificate_key: str | Path | None = None,
           https_listen: str = "443", prefix: str | Path | None = None,
           user: str | None = "www-data",
           connections_per_client: int = CONNECTIONS_PER_CLIENT,
           mime_types: str | Path = "/etc/nginx/mime.types") -> str:
    """The configuration text. With a prefix, pid, logs and temporary files are inside it (and
    `user` should be None, or the user running nginx); without, Debian's paths."""
    if not upstreams:
        raise ValueError("at least one upstream (gunicorn's address, host:port) is needed")
    if bool(certificate) != bool(certificate_key):
        raise ValueError("https needs both a certificate and its key")
    if connections_per_client < 1:
        raise ValueError("connections per client must be at least 1")
    if prefix is not None:
        prefix = Path(prefix).resolve()
        paths = {"pid": prefix / "nginx.pid", "error_log": prefix / "logs" / "error.log",
                 "access_log": prefix / "logs" / "access.log", "temp": prefix / "temp"}
    else:
        paths = dict(SYSTEM_PATHS)
    values = {"listen": listen, "https_listen": https_listen, "server_name": server_name,
              "static_root": Path(static_root).resolve(), "user": user,
              "certificate": certificate, "certificate_key": certificate_key,
              "mime_types": mime_types, **paths}
    for name, value in [*values.items(), *(("upstream", u) for u in upstreams)]:
        if value is None:
            continue
        if not SAFE_VALUE.fullmatch(str(value).replace(" ", "_") if name == "user"
                                    else str(value)):
            raise ValueError(f"{name} {str(value)!r}: only letters, digits and . _ : / @ - "
                             f"[ ] * are allowed (no spaces, quotes or ;)")
    environment = jinja2.Environment(  # an nginx configuration, not HTML: nothing to escape
        loader=jinja2.FileSystemLoader(HERE), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False)  # noqa: S701
    text = environment.get_template(TEMPLATE).render(
        upstreams=list(upstreams), connections_per_client=connections_per_client, **values)
    return text.rstrip("\n") + "\n"


def nginx_binary() -> str:
    """Debian's nginx, or the one on PATH; a clear message when there is none."""
    found = NGINX if os.access(NGINX, os.X_OK) else shutil.which("nginx")
    if not found:
        raise RuntimeError("nginx is not installed: apt-get install nginx (`make test` does)")
    return found


def current_user() -> str | None:
    """For a `user` directive that keeps the workers as whoever runs nginx (only root may
    switch users; without the directive root's workers would become nobody, who may not read
    the prefix or the static files)."""
    if os.geteuid() != 0:
        return None  # the directive would be ignored, with a warning
    entry = pwd.getpwuid(os.geteuid())
    return f"{entry.pw_name} {grp.getgrgid(entry.pw_gid).gr_name}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Proxy:
    """A running nginx: its plain-http base URL (https too when it has a certificate)."""

    base: str
    https: str | None
    prefix: Path
    config: Path
    process: subprocess.Popen

    @property
    def error_log(self) -> Path:
        return self.prefix / "logs" / "error.log"

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "access.log"


@contextlib.contextmanager
def run(upstreams: Sequence[str], prefix: str | Path, *, host: str = "127.0.0.1",
        startup_timeout: float = 15, **options) -> Iterator[Proxy]:
    """nginx in the foreground in front of the upstreams, on free ports of `host`, writing only
    inside `prefix`; yields a Proxy and stops nginx (its whole process group) afterwards.
    `options` go to render() (certificate and certificate_key add an https port)."""
    prefix = Path(prefix).resolve()
    for folder in (prefix / "logs", prefix / "temp"):
        folder.mkdir(parents=True, exist_ok=True)
    binary = nginx_binary()
    options.setdefault("user", current_user())
    for attempt in range(3):  # another process may take a free port before nginx binds it
        port = free_port(host)
        https_port = free_port(host) if options.get("certificate") else None
        config = prefix / "nginx.conf"
        if https_port:
            options["https_listen"] = f"{host}:{https_port}"
        config.write_text(render(upstreams=upstreams, listen=f"{host}:{port}", prefix=prefix,
                                 **options))
        process = subprocess.Popen(  # noqa: S603 — our own arguments
            [binary, "-p", str(prefix), "-e", str(prefix / "logs" / "error.log"),
             "-c", str(config), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        try:
            _wait_until_listening(process, host, [p for p in (port, https_port) if p],
                                  startup_timeout)
        except _BindFailed:
            if attempt == 2:
                raise
            continue
        except BaseException:
            stop(process)
            raise
        break
    try:
        yield Proxy(base=f"http://{host}:{port}",
                    https=f"https://{host}:{https_port}" if https_port else None,
                    prefix=prefix, config=config, process=process)
    finally:
        stop(process)


class _BindFailed(RuntimeError):
    pass


def _wait_until_listening(process: subprocess.Popen, host: str, ports: list[int],
                          timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(ports)
    while waiting:
        if process.poll() is not None:
            message = process.stderr.read().decode(errors="replace").strip()
            process.stderr.close()
            if "bind()" in message and "in use" in message:
                raise _BindFailed(message)
            raise RuntimeError(f"nginx exited ({process.returncode}): {message}")
        try:
            with socket.create_connection((host, waiting[0]), timeout=1):
                waiting.pop(0)
                continue
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"nginx did not listen on {host}:{waiting[0]} within "
                               f"{timeout:g} s")
        time.sleep(0.05)


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a process started in its own session, and everything in its group: TERM, then
    KILL after `timeout` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # workers left behind by a killed master
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def main(argv: Sequence[str] | None = None) -> None:
    """Render the configuration to stdout or a file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("--upstream", action="append", dest="upstreams", metavar="HOST:PORT",
                        help="a gunicorn address (repeat for several; default 127.0.0.1:8000)")
    parser.add_argument("--listen", default="80", help="plain http: port or address:port")
    parser.add_argument("--server-name", default="_", help="the site's host name")
    parser.add_argument("--certificate", help="TLS certificate chain (PEM): adds https")
    parser.add_argument("--certificate-key", help="its private key (PEM)")
    parser.add_argument("--https-listen", default="443", help="https: port or address:port")
    parser.add_argument("--static-root", type=Path, default=STATIC_ROOT,
                        help="the repository's static/ folder on the nginx host")
    parser.add_argument("--user", help="nginx's worker user (default www-data; with --prefix, "
                        "whoever runs nginx)")
    parser.add_argument("--connections-per-client", type=int, default=CONNECTIONS_PER_CLIENT,
                        help="connections open at once from one address")
    parser.add_argument("--prefix", type=Path,
                        help="keep pid, logs and temporary files in this folder (local use)")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    if not args.static_root.is_dir():
        parser.error(f"--static-root {args.static_root}: no such folder")
    try:
        text = render(upstreams=args.upstreams or ["127.0.0.1:8000"], listen=args.listen,
                      static_root=args.static_root, server_name=args.server_name,
                      certificate=args.certificate, certificate_key=args.certificate_key,
                      https_listen=args.https_listen, prefix=args.prefix,
                      user=args.user or (current_user() if args.prefix else "www-data"),
                      connections_per_client=args.connections_per_client)
    except ValueError as exc:
        parser.error(str(exc))
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
