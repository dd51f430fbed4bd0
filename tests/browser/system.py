"""The whole portal as real processes, for browser and end-to-end tests.

`PortalSystem` migrates and demo-seeds auth, catalog and favorites databases in a temporary
directory (and migrates the assistant's), makes the demo teacher the teacher of a few demo
courses, and starts the four services, the assistant's worker and the gateway on free ports,
wired to each other as in production. The assistant's model provider is the OpenAI stand-in
(`portal.openai`), a real process too.
"""

import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from service_kit.config import REPO_ROOT
from tests.support.databases import migrated_database
from tests.support.oidc_provider import OidcProviderProcess
from tests.support.openai_standin import OpenAIStandIn
from tests.support.processes import ServerProcess, TaskConsumer, free_port
from tests.support.smtp_server import SmtpServerProcess

DEMO_STUDENT = ("student@example.edu", "student-demo-1")
DEMO_TEACHER = ("teacher@example.edu", "teacher-demo-1")
DEMO_ADMIN = ("admin@example.edu", "admin-demo-1")
OIDC_CLIENT_ID = "course-portal"
SERVICES = ("auth_service", "catalog_service", "favorites_service", "assistant_service")
# The curated dataset the assistant's worker loads at start-up, and its course.
DEMO_DATASET = "Демонстрационный набор"
DEMO_DATASET_COURSE = "Алгоритмы и структуры данных"


class QuickTaskConsumer(TaskConsumer):
    """A worker that looks at an idle queue at least every quarter second (huey's default backs
    off to 10 s), so a task queued by a test starts at once."""

    def start(self) -> "QuickTaskConsumer":
        consumer = Path(sys.executable).parent / "huey_consumer"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(consumer), self.queue, "-w", str(self.workers), "-k", "thread", "-m", "0.25"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self


class PortalSystem:
    """The five processes on free ports, the assistant's worker and the OpenAI stand-in, wired
    to each other as in production.

    `stop(name)` / `start(name)` take one service down and bring it back on the same port, for
    tests of how the rest copes.
    """

    def __init__(self, directory: Path, backend: str = "sqlite"):
        self.directory = directory
        self.backend = backend
        self.processes: dict[str, ServerProcess] = {}
        self.database_urls: dict[str, str] = {}
        self.openai: OpenAIStandIn | None = None
        self.worker: TaskConsumer | None = None
        self.oidc: OidcProviderProcess | None = None
        self.smtp: SmtpServerProcess | None = None
        self.mail_worker: TaskConsumer | None = None
        self._exit = contextlib.ExitStack()

    @property
    def url(self) -> str:
        return self.processes["gateway"].url

    def _base_env(self) -> dict[str, str]:
        # VAR_DIR keeps the locally generated signing key, the catalog's task queue and its
        # uploaded files inside the test directory; no Redis, so caches, queues and
        # login/registration counters start empty and belong to this run alone.
        return {
            "VAR_DIR": str(self.directory),
            "FILE_STORAGE": "local",
            "FILE_STORAGE_DIR": str(self.directory / "files"),
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": "",
        }

    def _manage(self, package: str, *args: str) -> str:
        env = {**os.environ, **self._base_env(), "DATABASE_URL": self.database_urls[package]}
        env.pop("JWT_PRIVATE_KEY_FILE", None)
        result = subprocess.run(
            [sys.executable, "-m", package, *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            command = " ".join((package, *args))
            raise RuntimeError(f"{command} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def __enter__(self) -> "PortalSystem":
        try:
            for package in SERVICES:
                self.database_urls[package] = self._exit.enter_context(
                    migrated_database(package, self.backend, self.directory)
                )
            self._manage("auth_service", "seed-demo")
            teacher_id = self._manage("auth_service", "user-id", "--email", DEMO_TEACHER[0]).strip()
            self._manage("catalog_service", "seed-demo", "--teacher-id", teacher_id)

            # The university's sign-in provider; it sends browsers back to the gateway.
            self.oidc = self._exit.enter_context(
                OidcProviderProcess(self.directory / "oidc-provider.log")
            )
            gateway_port = free_port()
            public_url = f"http://127.0.0.1:{gateway_port}"
            self._start_mail(public_url)
            auth = self._server(
                "auth",
                "auth_service:create_app()",
                {
                    "PUBLIC_BASE_URL": public_url,
                    "OIDC_ISSUER": self.oidc.issuer,
                    "OIDC_CLIENT_ID": OIDC_CLIENT_ID,
                    "OIDC_CLIENT_SECRET": "portal-secret",
                    "OIDC_ROLE_CLAIM": "groups",
                    "OIDC_ROLE_MAP": "teachers=teacher",
                    "OIDC_STATE_SECRET": "browser-tests-" + "s" * 32,
                },
            )
            jwks = {"AUTH_JWKS_URL": auth.url + "/.well-known/jwks.json"}
            # The catalog asks auth whether a user it assigns as a teacher exists.
            catalog = self._server(
                "catalog", "catalog_service:create_app()", {**jwks, "AUTH_URL": auth.url}
            )
            favorites = self._server(
                "favorites", "favorites_service:create_app()", {**jwks, "CATALOG_URL": catalog.url}
            )
            assistant = self._start_assistant({**jwks, "CATALOG_URL": catalog.url})
            self._server(
                "gateway",
                "gateway:create_app()",
                {
                    **jwks,
                    "AUTH_URL": auth.url,
                    "CATALOG_URL": catalog.url,
                    "FAVORITES_URL": favorites.url,
                    "ASSISTANT_URL": assistant.url,
                },
                workers=2,
                port=gateway_port,
            )
            self._wait_for_demo_dataset()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start_mail(self, public_url: str) -> None:
        """A real SMTP server (STARTTLS, a login) and auth's worker delivering through it."""
        self.smtp = self._exit.enter_context(SmtpServerProcess(self.directory / "smtp"))
        env = {
            **self._base_env(),
            **self.smtp.env,
            "DATABASE_URL": self.database_urls["auth_service"],
            "PUBLIC_BASE_URL": public_url,
            "MAIL_RETRY_SECONDS": "1",
        }
        self.mail_worker = TaskConsumer(
            "auth_service.tasks.huey", env, self.directory / "auth-worker.log", workers=1
        )
        self.mail_worker.env.pop("JWT_PRIVATE_KEY_FILE", None)
        self._exit.callback(self.mail_worker.stop)
        self.mail_worker.start()

    def _start_assistant(self, env: dict) -> ServerProcess:
        """The assistant, its worker (which loads the curated demo dataset once the catalog
        answers) and the stand-in of its model provider."""
        self.openai = OpenAIStandIn(log_path=self.directory / "openai-standin.log")
        self._exit.enter_context(self.openai)
        env = {
            **env,
            "OPENAI_API_KEY": self.openai.api_key,
            "OPENAI_BASE_URL": self.openai.base_url,
            "OPENAI_MAX_RETRIES": "0",
            # The worker asks about a running fine-tuning job this often: a live loss curve.
            "ASSISTANT_JOB_POLL_SECONDS": "0.5",
        }
        assistant = self._server("assistant", "assistant_service:create_app()", env)
        worker_env = {
            **self._base_env(),
            **env,
            "DATABASE_URL": self.database_urls["assistant_service"],
            "ASSISTANT_DEMO_DATASET": "on",
        }
        # One worker thread: each thread runs the start-up hook, which queues the demo dataset.
        self.worker = QuickTaskConsumer(
            "assistant_service.tasks.huey",
            worker_env,
            self.directory / "assistant-worker.log",
            workers=1,
        )
        self.worker.env.pop("JWT_PRIVATE_KEY_FILE", None)
        self._exit.callback(self.worker.stop)
        self.worker.start()
        return assistant

    def _wait_for_demo_dataset(self, timeout: float = 60.0) -> None:
        """Until the worker has loaded the demo dataset, examples split and all: its work
        (snapshot, passages, token counts) then competes with no test for the processor."""
        token = self.access_token(*DEMO_TEACHER)
        courses = self.api("GET", "/api/teacher/courses", token).json()
        course = next(c for c in courses if c["name"] == DEMO_DATASET_COURSE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._demo_dataset_split(token, course["id"]):
                return
            time.sleep(0.2)
        raise RuntimeError(f"no demo dataset after {timeout} s: {self.worker.output()[-3000:]}")

    def _demo_dataset_split(self, token: str, course_id: int) -> bool:
        answer = self.api("GET", f"/api/assistant/courses/{course_id}/datasets", token)
        demo = [d for d in answer.json() if d["name"] == DEMO_DATASET] if answer.ok else []
        if not demo:
            return False
        test_split = self.api(
            "GET",
            f"/api/assistant/datasets/{demo[0]['id']}/examples",
            token,
            params={"split": "test", "page_size": 1},
        )
        return test_split.ok and bool(test_split.json())

    def _server(
        self, name: str, app_spec: str, env: dict, workers: int = 1, port: int | None = None
    ) -> ServerProcess:
        package = {"gateway": None}.get(name, f"{name}_service")
        full_env = {**self._base_env(), **env}
        if package:
            full_env["DATABASE_URL"] = self.database_urls[package]
        process = ServerProcess(app_spec, full_env, workers=workers, threads=8, port=port)
        process.env.pop("JWT_PRIVATE_KEY_FILE", None)
        self.processes[name] = process
        self._exit.callback(process.stop)
        return process.start()

    def stop(self, name: str) -> None:
        self.processes[name].stop()

    def start(self, name: str) -> None:
        process = self.processes[name]
        if process.process is None or process.process.poll() is not None:
            process.start()

    def __exit__(self, *exc) -> None:
        self._exit.close()

    # ---- test data through the public API ---------------------------------------------------

    def register_user(self, role_name: str = "student") -> tuple[str, str]:
        """A new account nobody else uses, so tests never share favorites."""
        email = f"{role_name}-{uuid.uuid4().hex[:10]}@example.edu"
        password = "browser-test-1"
        response = requests.post(
            self.url + "/api/auth/register",
            json={"email": email, "password": password, "full_name": "Тестовый Студент"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        # Verified at once (as an admin may): these tests are about what the user does next.
        # The verification mail itself is tested in tests/e2e/test_email_links.py.
        verified = self.api(
            "PATCH",
            f"/api/auth/users/{response.json()['id']}",
            self.access_token(*DEMO_ADMIN),
            json={"email_verified": True},
        )
        assert verified.status_code == 200, verified.text
        return email, password

    def login(self, email: str, password: str) -> dict:
        """The token pair a login returns: access_token, refresh_token, expires_in."""
        response = requests.post(
            self.url + "/api/auth/login", json={"email": email, "password": password}, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()

    def access_token(self, email: str, password: str) -> str:
        return self.login(email, password)["access_token"]

    def api(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def add_favorites(self, token: str, course_ids) -> None:
        for course_id in course_ids:
            response = self.api("POST", "/api/user/courses", token, json={"course_id": course_id})
            assert response.status_code in (200, 201), response.text
