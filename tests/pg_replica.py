"""A PostgreSQL primary and its streaming replica, each a real cluster of its own on a free
loopback port in a temporary folder (initdb, pg_basebackup -R, pg_ctl from Debian's PostgreSQL),
for tests/test_replicas.py and tools/fault_test.py. The servers run as the `postgres` user (as
root, the tests switch to it; run as postgres itself, they need nothing else)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

BIN = Path("/usr/lib/postgresql/15/bin")
SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 4
hot_standby = on
fsync = off
full_page_writes = off
shared_buffers = 32MB
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a PostgreSQL program as the postgres user (it refuses to run as root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True,  # noqa: S603
                          **kwargs)


@dataclass
class Server:
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/directory"

    def start(self) -> None:
        _as_postgres([str(BIN / "pg_ctl"), "-D", str(self.folder), "-l",
                      str(self.folder / "server.log"), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        _as_postgres([str(BIN / "pg_ctl"), "-D", str(self.folder), "-m", mode, "-w", "stop"])

    def execute(self, sql: str, database: str = "directory"):
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname={database}",
                             autocommit=True, connect_timeout=5) as connection:
            cursor = connection.execute(sql)
            return cursor.fetchall() if cursor.description else None


@dataclass
class Pair:
    primary: Server
    replica: Server

    def wait_for_replay(self, timeout: float = 15) -> None:
        """Until the replica has replayed everything the primary has written."""
        target = self.primary.execute("SELECT pg_current_wal_flush_lsn()::text")[0][0]
        deadline = time.monotonic() + timeout
        while True:
            done = self.replica.execute(
                f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")[0][0]
            if done:
                return
            assert time.monotonic() < deadline, "the replica never caught up"
            time.sleep(0.05)


@contextlib.contextmanager
def primary_and_replica() -> Iterator[Pair]:
    """A primary with a database `directory`, and a hot standby streaming from it."""
    for program in ("initdb", "pg_ctl", "pg_basebackup"):
        assert (BIN / program).exists(), (
            f"{BIN / program} is missing: apt-get install postgresql-15")
    if os.geteuid() == 0:
        pwd.getpwnam("postgres")  # the user the servers run as
    top = Path(tempfile.mkdtemp(prefix="pg-replica-"))
    if os.geteuid() == 0:
        shutil.chown(top, "postgres")
    primary = Server(top / "primary", free_port())
    replica = Server(top / "replica", free_port())
    started: list[Server] = []
    try:
        _as_postgres([str(BIN / "initdb"), "-D", str(primary.folder), "-U", "postgres",
                      "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])
        with (primary.folder / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS.format(port=primary.port, sockets=top))
        primary.start()
        started.append(primary)
        primary.execute("CREATE DATABASE directory", database="postgres")
        _as_postgres([str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
                      "-U", "postgres", "-D", str(replica.folder), "-R", "-X", "stream",
                      "-c", "fast", "--no-sync"])
        with (replica.folder / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {replica.port}\n")
        replica.start()
        started.append(replica)
        pair = Pair(primary, replica)
        pair.wait_for_replay()
        yield pair
    finally:
        for server in reversed(started):
            with contextlib.suppress(subprocess.CalledProcessError):
                server.stop("immediate")
        shutil.rmtree(top, ignore_errors=True)
