"""Test helpers: real databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set) and
real processes under gunicorn on free ports."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import requests
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url

from .config import REPO_ROOT, normalize_database_url
from .migrations import upgrade


def database_backends() -> list[str]:
    """`sqlite` always; `postgresql` too when TEST_DATABASE_URL points at a server."""
    return ["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def empty_database(backend: str, directory: Path, name: str) -> Iterator[str]:
    """A new, empty database for the length of the block; its URL is yielded."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / (name + '-' + uuid.uuid4().hex[:8] + '.db')}"
        return
    server_url = normalize_database_url(os.environ["TEST_DATABASE_URL"])
    database = f"test_{name}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        # With the C locale Postgres does not fold Cyrillic; C.UTF-8 does.
        connection.execute(
            text(
                f"CREATE DATABASE \"{database}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            )
        )
    try:
        yield make_url(server_url).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def migrated_database(package: str, backend: str, directory: Path) -> Iterator[str]:
    """An empty database brought to the latest migration of `package`."""
    with empty_database(backend, directory, package) as url:
        upgrade(package, url)
        yield url


def clear_tables(url: str, metadata: MetaData, keep: tuple[str, ...] = ()) -> None:
    """Delete every row except in `keep` (reference data seeded by migrations)."""
    engine = create_engine(normalize_database_url(url))
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            if table.name not in keep:
                connection.execute(table.delete())
    engine.dispose()


class ServerProcess:
    """One real service under gunicorn, on a free port, stopped with SIGTERM."""

    def __init__(self, app_spec: str, env: dict[str, str], *, workers: int = 1, threads: int = 4):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app_spec = app_spec
        self.env = {**os.environ, **env}
        self.workers = workers
        self.threads = threads
        self.process: subprocess.Popen | None = None
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server's logging.
        self.log = tempfile.NamedTemporaryFile(prefix="server-", suffix=".log", delete=False)  # noqa: SIM115 (lives as long as the process)

    def start(self, timeout: float = 20.0) -> "ServerProcess":
        command = [
            sys.executable, "-m", "gunicorn", self.app_spec,
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            "--no-control-socket",
            "--graceful-timeout", "10",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.app_spec} exited: {self.output()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/health/live", timeout=0.5).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.app_spec} did not start on port {self.port}")

    def output(self) -> str:
        """What the server has logged so far."""
        return Path(self.log.name).read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
