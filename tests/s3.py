"""A real S3 API for the tests: moto's server mode on a free port of 127.0.0.1, never the network.

`s3_server` (session) serves one bucket; `storage_config` is the app's file store for a test:
the local folder unless the test is parametrised with `both_stores` (or indirectly with "s3"),
when it is that bucket under a prefix of the test's own. moto keeps its objects in this process,
so a server stopped and started again on the same port (S3Server.stop/start: an outage) finds
them all again.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

BUCKET = "directory-test"
REGION = "us-east-1"
# Stubs moto accepts; never real keys.
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"

# A test for the local folder and the S3 store alike (the app fixture takes storage_config).
both_stores = pytest.mark.parametrize("storage_config", ["local", "s3"], indirect=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    """moto's S3 API as an HTTP server in a thread, stopped and started on one port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        """Stop answering and close the port: a client is refused at once, as by a store that
        is down."""
        if self._server is not None:
            self._server.stop()
            self._server._server.server_close()
            self._server = None

    def client(self):
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def config(self, prefix: str | None = None) -> dict:
        """The app's settings for this server's bucket, under a prefix of the test's own."""
        return {"STORAGE": "s3", "S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": self.endpoint,
                "S3_REGION": REGION, "S3_ACCESS_KEY_ID": ACCESS_KEY,
                "S3_SECRET_ACCESS_KEY": SECRET_KEY,
                "S3_PREFIX": prefix or f"test-{uuid.uuid4().hex}/",
                "S3_TIMEOUT": 2, "S3_ATTEMPTS": 1}


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on a free local port, with the tests' bucket, for the whole session."""
    for name in ("NO_PROXY", "no_proxy"):  # 127.0.0.1 never through a proxy
        os.environ[name] = ",".join(filter(None, [os.environ.get(name), "127.0.0.1"]))
    server = S3Server()
    server.start()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture
def storage_config(request) -> dict:
    """The test app's file store settings: {} (the local folder) or an S3 bucket's."""
    backend = getattr(request, "param", "local")
    if backend == "local":
        return {}
    assert backend == "s3", backend
    return request.getfixturevalue("s3_server").config()
