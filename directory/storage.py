"""Files: the local folder or an S3-compatible object store, chosen once by configuration.

Every uploaded file the app keeps (evidence, profile photos, import files waiting for their
confirmation) goes through the one store on the app, `current()`. Keys are our own names of the
form "<area>/<name>" (evidence/<hex>, photos/<key>-<size>.jpg, imports/<token>.csv): in the local
folder they are paths under UPLOAD_FOLDER (folders of mode 0o700, files of mode 0o600, as
before); in S3 they are object keys under S3_PREFIX in S3_BUCKET.

The app reads every file itself and streams it to whoever may see it, so the object store is
never public and no URL of it leaves the app. A store that cannot be reached (S3 down, a full
disk) raises `StorageUnavailable`: the upload forms answer it with a message beside the file
field, anything else with a 503 page ("try again"), never a stack trace.
"""

from __future__ import annotations

import logging
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

log = logging.getLogger(__name__)

KEY = re.compile(r"[a-z]+/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}")
BACKENDS = ("local", "s3")
# Beside an upload field when the store could not take the file (the form keeps what was typed).
UNAVAILABLE = ("Your file could not be stored just now (our file store is out of reach). Nothing "
               "was saved: please choose the file again and retry in a few minutes.")


class StorageUnavailable(Exception):  # noqa: N818 — reads as what happened
    """The store cannot be reached or refused to work (not: the file does not exist)."""


class NotStored(LookupError):
    """No file under that key."""


class AlreadyStored(Exception):  # noqa: N818
    """A file is already under that key (put with exclusive=True)."""


@dataclass(frozen=True)
class Entry:
    """A stored file, as listed: its key and when it was last written (epoch seconds)."""

    key: str
    modified: float


def _unavailable(message: str) -> StorageUnavailable:
    """The error to raise, logged once where it happens (the answer to the user says less)."""
    log.error("storage unavailable: %s", message)
    return StorageUnavailable(message)


def _checked(key: str) -> str:
    if not KEY.fullmatch(key or "") or ".." in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage(ABC):
    """What the app does with files: put, get, delete, exists, list by area."""

    name: str

    @abstractmethod
    def put(self, key: str, data: bytes, *, exclusive: bool = False) -> None:
        """Store the bytes under the key (AlreadyStored when exclusive and it is taken)."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The stored bytes (NotStored when there is no such file)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the file; nothing happens when there is none."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether a file is stored under the key."""

    @abstractmethod
    def list(self, area: str) -> Iterator[Entry]:
        """The files of one area ("evidence", "photos", "imports")."""

    def discard(self, *keys: str) -> bool:
        """Delete the files if the store answers; log and go on if not (True: all deleted).

        For files nothing refers to any more (after a rollback, a replaced photo): a store out
        of reach then leaves an orphan file, never a record pointing at a missing one."""
        done = True
        for key in keys:
            try:
                self.delete(key)
            except StorageUnavailable as exc:
                log.warning("storage: could not delete %s (left behind): %s", key, exc)
                done = False
        return done


# --------------------------------------------------------------------------- local folder


class LocalStorage(Storage):
    """Files under a folder of this machine, readable by the app's user only."""

    name = "local"

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """Where a key's file is (or would be)."""
        return self.root / _checked(key)

    def _folder(self, key: str) -> Path:
        folder = self.path(key).parent
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.stat().st_mode & 0o077:
            folder.chmod(0o700)  # made by an older version with the default mode
        return folder

    def put(self, key: str, data: bytes, *, exclusive: bool = False) -> None:
        path = self.path(key)
        try:
            self._folder(key)
            if exclusive:
                self._write(path, data)
                return
            # Written beside, then renamed over: a reader never sees half a file.
            partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
            partial.unlink(missing_ok=True)
            self._write(partial, data)
            os.replace(partial, path)
        except FileExistsError as exc:
            raise AlreadyStored(key) from exc
        except OSError as exc:
            raise _unavailable(f"{type(exc).__name__}: {exc.strerror or exc}") from exc

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        """A new file of mode 0o600 whatever the umask; removed again if writing fails."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NotStored(key) from exc
        except OSError as exc:
            raise _unavailable(f"{type(exc).__name__}: {exc.strerror or exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise _unavailable(f"{type(exc).__name__}: {exc.strerror or exc}") from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list(self, area: str) -> Iterator[Entry]:
        folder = self.root / area
        if not folder.is_dir():
            return
        for path in folder.iterdir():
            try:
                modified = path.stat().st_mtime
            except OSError:
                continue  # deleted meanwhile
            if path.is_file() and not path.name.startswith("."):
                yield Entry(f"{area}/{path.name}", modified)


# --------------------------------------------------------------------------- S3


class S3Storage(Storage):
    """Objects in a bucket of any S3-compatible store (AWS, MinIO, Ceph, Garage...), via boto3.

    The objects stay private: the app reads them and streams them to the user it authorised.
    """

    name = "s3"

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, access_key: str | None = None,
                 secret_key: str | None = None, timeout: float = 5, attempts: int = 3) -> None:
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix
        # Without keys, boto3 finds its own (AWS_* environment, an instance role...).
        self._options = dict(
            endpoint_url=endpoint_url or None, region_name=region or None,
            aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
            config=Config(connect_timeout=timeout, read_timeout=timeout,
                          retries={"max_attempts": attempts, "mode": "standard"},
                          s3={"addressing_style": "path"} if endpoint_url else None))
        self._client = None
        self._pid = None

    @property
    def client(self):
        """boto3's client, made in this process on first use (a client and its connections
        are never shared with processes forked after the app was built, e.g. gunicorn's
        workers with --preload); thread-safe once made."""
        if self._client is None or self._pid != os.getpid():
            import boto3

            self._client = boto3.session.Session().client("s3", **self._options)
            self._pid = os.getpid()
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + _checked(key)

    def _call(self, operation: str, **params):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(Bucket=self.bucket, **params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise NotStored(params.get("Key", "")) from exc
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict") or status == 412:
                raise AlreadyStored(params.get("Key", "")) from exc
            raise _unavailable(f"S3 {operation}: {code or status}: "
                               f"{error.get('Message', '')}") from exc
        except BotoCoreError as exc:  # no connection, a timeout, no credentials...
            raise _unavailable(f"S3 {operation}: {exc}") from exc

    def put(self, key: str, data: bytes, *, exclusive: bool = False) -> None:
        extra = {"IfNoneMatch": "*"} if exclusive else {}
        self._call("put_object", Key=self._key(key), Body=data, **extra)

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError

        answer = self._call("get_object", Key=self._key(key))
        try:
            with answer["Body"] as body:
                return body.read()
        except (BotoCoreError, OSError) as exc:  # the connection broke mid-body
            raise _unavailable(f"S3 get_object: {exc}") from exc

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=self._key(key))

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Key=self._key(key))
        except NotStored:
            return False
        return True

    def list(self, area: str) -> Iterator[Entry]:
        start = f"{self.prefix}{area}/"
        token = None
        while True:
            page = self._call("list_objects_v2", Prefix=start,
                              **({"ContinuationToken": token} if token else {}))
            for item in page.get("Contents", []):
                yield Entry(item["Key"][len(self.prefix):], item["LastModified"].timestamp())
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]


# --------------------------------------------------------------------------- the app's store


def from_config(config) -> Storage:
    """The store the configuration names (STORAGE: "local", the default, or "s3")."""
    backend = (config.get("STORAGE") or "local").lower()
    if backend == "local":
        return LocalStorage(config["UPLOAD_FOLDER"])
    if backend == "s3":
        if not config.get("S3_BUCKET"):
            raise RuntimeError("STORAGE is 's3' but no S3_BUCKET is set: set DIRECTORY_S3_BUCKET "
                               "(and DIRECTORY_S3_ENDPOINT_URL for a store other than AWS).")
        return S3Storage(str(config["S3_BUCKET"]), prefix=_text(config.get("S3_PREFIX")) or "",
                         endpoint_url=config.get("S3_ENDPOINT_URL"),
                         region=config.get("S3_REGION"),
                         access_key=_text(config.get("S3_ACCESS_KEY_ID")),
                         secret_key=_text(config.get("S3_SECRET_ACCESS_KEY")),
                         timeout=float(config.get("S3_TIMEOUT") or 5),
                         attempts=int(config.get("S3_ATTEMPTS") or 3))
    raise RuntimeError(f"STORAGE is {backend!r}: it must be one of {', '.join(BACKENDS)}.")


def _text(value) -> str | None:
    """A setting as text (DIRECTORY_* values that look like JSON numbers arrive parsed)."""
    return None if value is None or value == "" else str(value)


def init_app(app: Flask) -> None:
    """Choose the app's store once, from its configuration."""
    app.extensions["storage"] = from_config(app.config)


def current() -> Storage:
    """The store of the current app."""
    return current_app.extensions["storage"]


def older_than(area: str, seconds: float) -> list[str]:
    """The keys of an area's files written more than `seconds` ago (for the sweeps)."""
    limit = time.time() - seconds
    return [entry.key for entry in current().list(area) if entry.modified < limit]
