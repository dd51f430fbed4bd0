"""Where uploaded files live: the local filesystem (the embedded default, under var/files) or any
S3-compatible store through boto3 (MinIO in compose and the k8s dev overlay, a bucket in prod).

Keys are the sha256 of the content, so the same file uploaded twice is stored once, and an object
never changes once written. Writes are atomic: a local file is written under a temporary name and
renamed; an S3 object appears only when its (multipart) upload completes. An upload cut off midway
therefore leaves no object behind.
"""

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

import boto3
from botocore.client import Config
from botocore.exceptions import BotoCoreError, ClientError

from service_kit import UpstreamUnavailable

CHUNK = 1024 * 1024
_KEY = re.compile(r"[0-9a-f]{64}")


class StorageError(UpstreamUnavailable):
    """The store could not be reached or refused the operation: a 503 for the client, who may
    retry (nothing was recorded as stored); the store's own words go to the log."""

    retry_after = 2

    def __init__(self, detail: str):
        super().__init__("The file store is unavailable; try again shortly.")
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


# What boto3 raises when the store answers with an error (ClientError) or not at all (timeouts,
# refused or dropped connections: BotoCoreError).
_S3_FAILURES = (ClientError, BotoCoreError)


class FileStorage(Protocol):
    def put(self, key: str, source: BinaryIO, content_type: str) -> None:
        """Store `source` (read from its current position) under `key`; no-op if present."""

    def exists(self, key: str) -> bool: ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes [start, end] (inclusive, as in HTTP ranges) in chunks."""

    def delete(self, key: str) -> None:
        """Remove `key`; fine when it is not there."""

    def stale_partial_writes(self, older_than: float, keep: Collection[str] = ()) -> int:
        """Remove leftovers of writes that never finished (except of the keys in `keep`, which
        may be in flight); returns how many."""


def check_key(key: str) -> str:
    """Keys are lowercase hex sha256 digests, so no key can name a path outside the store."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class LocalStorage:
    """Files under `root`, fanned out by the key's first two characters."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.partial = self.root / ".partial"

    def path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key

    def put(self, key: str, source: BinaryIO, content_type: str) -> None:
        target = self.path(key)
        if target.exists():
            return
        self.partial.mkdir(parents=True, exist_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.partial, prefix=key[:8] + "-")
        try:
            with os.fdopen(descriptor, "wb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException as error:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            if isinstance(error, OSError):  # a full or read-only disk
                raise StorageError(f"writing {key}: {error}") from error
            raise

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self.path(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError as error:
            raise StorageError(f"object {key} is missing") from error
        return _read_range(handle, start, end)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def stale_partial_writes(self, older_than: float, keep: Collection[str] = ()) -> int:
        if not self.partial.is_dir():
            return 0
        removed = 0
        cutoff = time.time() - older_than
        kept = {key[:8] + "-" for key in keep}  # a partial file is named after its key
        for leftover in self.partial.iterdir():
            if leftover.name[:9] in kept:
                continue
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    removed += 1
        return removed


def _read_range(handle: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            chunk = handle.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


class S3Storage:
    """Objects in one bucket of an S3-compatible store; credentials the boto3 way
    (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the pod's role)."""

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None):
        self.bucket = bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            config=Config(
                connect_timeout=2,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": "path"},  # MinIO and friends
            ),
        )

    def put(self, key: str, source: BinaryIO, content_type: str) -> None:
        check_key(key)
        if self.exists(key):
            return
        try:
            self.client.upload_fileobj(
                source, self.bucket, key, ExtraArgs={"ContentType": content_type}
            )
        except _S3_FAILURES as error:
            raise StorageError(str(error)) from error

    def exists(self, key: str) -> bool:
        check_key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(str(error)) from error
        except BotoCoreError as error:
            raise StorageError(str(error)) from error
        return True

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        check_key(key)
        byte_range = f"bytes={start}-{'' if end is None else end}"
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key, Range=byte_range)
        except _S3_FAILURES as error:
            raise StorageError(str(error)) from error
        return _stream_body(answer["Body"])

    def delete(self, key: str) -> None:
        check_key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except _S3_FAILURES as error:
            raise StorageError(str(error)) from error

    def stale_partial_writes(self, older_than: float, keep: Collection[str] = ()) -> int:
        """Abort multipart uploads left unfinished by a process that died mid-upload: those
        that have made no progress (no part stored) for `older_than` seconds, unless their key
        is in `keep`."""
        removed = 0
        cutoff = time.time() - older_than
        answer = self.client.list_multipart_uploads(Bucket=self.bucket)
        for upload in answer.get("Uploads", []):
            if upload["Key"] not in keep and self._last_progress(upload) < cutoff:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                removed += 1
        return removed

    def _last_progress(self, upload: dict) -> float:
        """When an upload last moved: its newest part, else when it began. A long upload still
        sending parts is never taken for an abandoned one (and a store that misreports
        `Initiated`, as some S3 emulators do, cannot make it look abandoned)."""
        parts = self.client.list_parts(
            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        ).get("Parts", [])
        return max(
            [upload["Initiated"].timestamp(), *(part["LastModified"].timestamp() for part in parts)]
        )


def _stream_body(body) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


def storage_from_config(config: dict) -> FileStorage:
    if config["FILE_STORAGE"] == "s3":
        return S3Storage(
            config["S3_BUCKET"], endpoint_url=config["S3_ENDPOINT_URL"], region=config["S3_REGION"]
        )
    return LocalStorage(config["FILE_STORAGE_DIR"])
