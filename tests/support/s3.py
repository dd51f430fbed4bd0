"""A real S3-compatible server process for tests: moto's server mode, on a free port.

boto3 talks to it over HTTP exactly as to MinIO or AWS; nothing in the client is patched.
"""

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import requests

from .processes import free_port, stop_process

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test-access-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class S3Server:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        with tempfile.NamedTemporaryFile(prefix="s3-", suffix=".log", delete=False) as log:
            self.log_path = Path(log.name)

    def start(self, timeout: float = 30.0) -> "S3Server":
        script = Path(sys.executable).parent / "moto_server"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(script), "-H", "127.0.0.1", "-p", str(self.port)],
                env={**os.environ, **CREDENTIALS},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {self.log_path.read_text()}")
            with contextlib.suppress(requests.RequestException):
                requests.get(self.url, timeout=1)
                return self
            time.sleep(0.1)
        raise RuntimeError("moto_server did not answer in time")

    def stop(self) -> None:
        stop_process(self.process)

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        )

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def object_keys(self, bucket: str) -> list[str]:
        answer = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in answer.get("Contents", []))

    def environment(self, bucket: str) -> dict[str, str]:
        """What a catalog process needs to use this server."""
        return {
            **CREDENTIALS,
            "FILE_STORAGE": "s3",
            "S3_ENDPOINT_URL": self.url,
            "S3_BUCKET": bucket,
            "S3_REGION": CREDENTIALS["AWS_DEFAULT_REGION"],
        }

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
