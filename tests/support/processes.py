"""Real processes for tests and benchmarks: a service under gunicorn on a free port."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from service_kit.config import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One real service under gunicorn, on a free port, stopped with SIGTERM."""

    def __init__(
        self,
        app_spec: str,
        env: dict[str, str],
        *,
        workers: int = 1,
        threads: int = 4,
        cwd: Path = REPO_ROOT,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app_spec = app_spec
        self.env = {**os.environ, **env}
        self.workers = workers
        self.threads = threads
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server's logging.
        self.log = tempfile.NamedTemporaryFile(prefix="server-", suffix=".log", delete=False)  # noqa: SIM115 (lives as long as the process)

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", self.app_spec,
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            "--no-control-socket",
            "--graceful-timeout", "10",
        ]  # fmt: skip

    def start(self, timeout: float = 20.0) -> "ServerProcess":
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
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
        raise RuntimeError(f"{self.app_spec} did not answer on port {self.port}: {self.output()}")

    def output(self) -> str:
        """What the server has logged so far."""
        return Path(self.log.name).read_text(errors="replace")

    def terminate(self) -> None:
        """SIGTERM: gunicorn stops accepting and lets requests in flight finish."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
