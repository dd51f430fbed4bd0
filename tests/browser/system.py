"""The whole portal as real processes, for browser and end-to-end tests.

`PortalSystem` migrates and demo-seeds auth, catalog and favorites databases in a temporary
directory, makes the demo teacher the teacher of a few demo courses, and starts the three
services and the gateway under gunicorn on free ports, wired to each other as in production.
"""

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import requests

from service_kit.config import REPO_ROOT
from tests.support.databases import migrated_database
from tests.support.processes import ServerProcess

DEMO_STUDENT = ("student@example.edu", "student-demo-1")
DEMO_TEACHER = ("teacher@example.edu", "teacher-demo-1")
DEMO_ADMIN = ("admin@example.edu", "admin-demo-1")


class PortalSystem:
    """The four processes on free ports, wired to each other as in production.

    `stop(name)` / `start(name)` take one service down and bring it back on the same port, for
    tests of how the rest copes.
    """

    def __init__(self, directory: Path, backend: str = "sqlite"):
        self.directory = directory
        self.backend = backend
        self.processes: dict[str, ServerProcess] = {}
        self.database_urls: dict[str, str] = {}
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
            for package in ("auth_service", "catalog_service", "favorites_service"):
                self.database_urls[package] = self._exit.enter_context(
                    migrated_database(package, self.backend, self.directory)
                )
            self._manage("auth_service", "seed-demo")
            teacher_id = self._manage("auth_service", "user-id", "--email", DEMO_TEACHER[0]).strip()
            self._manage("catalog_service", "seed-demo", "--teacher-id", teacher_id)

            auth = self._server("auth", "auth_service:create_app()", {})
            jwks = {"AUTH_JWKS_URL": auth.url + "/.well-known/jwks.json"}
            catalog = self._server("catalog", "catalog_service:create_app()", jwks)
            favorites = self._server(
                "favorites", "favorites_service:create_app()", {**jwks, "CATALOG_URL": catalog.url}
            )
            self._server(
                "gateway",
                "gateway:create_app()",
                {
                    **jwks,
                    "AUTH_URL": auth.url,
                    "CATALOG_URL": catalog.url,
                    "FAVORITES_URL": favorites.url,
                },
                workers=2,
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _server(self, name: str, app_spec: str, env: dict, workers: int = 1) -> ServerProcess:
        package = {"gateway": None}.get(name, f"{name}_service")
        full_env = {**self._base_env(), **env}
        if package:
            full_env["DATABASE_URL"] = self.database_urls[package]
        process = ServerProcess(app_spec, full_env, workers=workers, threads=8)
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
