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


def stop_process(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    """Send `sig` (gunicorn drains in-flight requests on SIGTERM), then kill after 15 s."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ServerProcess:
    """One real service under gunicorn, on a free port, stopped with SIGTERM.

    `start()` launches it and waits until `ready_path` answers 200; `launch()` and
    `wait_ready()` do the two halves, to start several processes side by side.
    """

    ready_path = "/health/live"

    def __init__(
        self,
        app_spec: str,
        env: dict[str, str],
        *,
        workers: int = 1,
        threads: int = 4,
        cwd: Path = REPO_ROOT,
        log_path: Path | None = None,
        port: int | None = None,
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app_spec = app_spec
        self.env = {**os.environ, **env}
        self.workers = workers
        self.threads = threads
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server's logging.
        if log_path is None:
            with tempfile.NamedTemporaryFile(prefix="server-", suffix=".log", delete=False) as log:
                log_path = Path(log.name)
        self.log_path = log_path

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", self.app_spec,
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            "--no-control-socket",
            "--graceful-timeout", "10",
        ]  # fmt: skip

    def launch(self) -> "ServerProcess":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self, timeout: float = 20.0) -> "ServerProcess":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.app_spec} exited: {self.output()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.app_spec} did not answer on port {self.port}: {self.output()}")

    def start(self, timeout: float = 20.0) -> "ServerProcess":
        return self.launch().wait_ready(timeout)

    def output(self, last_lines: int | None = None) -> str:
        """What the server has logged so far (or its last lines)."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return text if last_lines is None else "\n".join(text.splitlines()[-last_lines:])

    def terminate(self) -> None:
        """SIGTERM: gunicorn stops accepting and lets requests in flight finish."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class TaskConsumer:
    """A service's worker as the Procfile runs it: the huey consumer of `queue`
    (e.g. "catalog_service.tasks.huey"), its output in `log_path`.

    `new_session=True` puts it in its own process group, so a test can kill it together with
    any child it started (`kill_group`)."""

    def __init__(
        self,
        queue: str,
        env: dict[str, str],
        log_path: Path,
        *,
        workers: int = 2,
        new_session: bool = False,
    ):
        self.queue = queue
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.workers = workers
        self.new_session = new_session
        self.process: subprocess.Popen | None = None

    def start(self) -> "TaskConsumer":
        consumer = Path(sys.executable).parent / "huey_consumer"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(consumer), self.queue, "-w", str(self.workers), "-k", "thread"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.new_session,
            )
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill_group(self) -> None:
        """SIGKILL the consumer and everything it started (needs `new_session=True`)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> "TaskConsumer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
