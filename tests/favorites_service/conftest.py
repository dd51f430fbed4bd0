"""Fixtures of the favourites tests: a migrated database per backend, tokens, and the real
catalog service running under gunicorn."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy.orm import Session

from favorites_service import create_app
from favorites_service.models import Base
from service_kit.db import make_engine
from tests.support.databases import clear_tables, migrated_database
from tests.support.processes import ServerProcess
from tests.support.tokens import TokenIssuer


@pytest.fixture(scope="session")
def migrated_favorites_database(database_backend, tmp_path_factory):
    directory = tmp_path_factory.mktemp("favorites")
    with migrated_database("favorites_service", database_backend, directory) as url:
        yield url


@pytest.fixture
def database_url(migrated_favorites_database):
    """The migrated favourites database, emptied for this test."""
    clear_tables(migrated_favorites_database, Base.metadata)
    return migrated_favorites_database


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


class RunningCatalog:
    """The real catalog service under gunicorn on its own migrated database.

    Courses are made and deactivated through its admin API, as an administrator would.
    """

    def __init__(self, issuer: TokenIssuer, database_url: str):
        self.server = ServerProcess(
            "catalog_service:create_app()",
            {"DATABASE_URL": database_url, "AUTH_JWKS_URL": issuer.jwks_url},
        )
        self.url = self.server.url
        self.issuer = issuer
        self._admin = requests.Session()

    @property
    def admin(self) -> requests.Session:
        """Requests as an administrator, with a token minted now: the catalog runs for the whole
        test session, longer than an access token lives (15 minutes)."""
        self._admin.headers["Authorization"] = f"Bearer {self.issuer.token(1, 'admin')}"
        return self._admin

    def add_course(self, name: str, semester: int = 1, description: str = "") -> dict:
        response = self.admin.post(
            f"{self.url}/api/courses",
            json={"name": name, "description": description, "semester": semester},
            timeout=5,
        )
        assert response.status_code == 201, response.text
        course = response.json()
        return {key: course[key] for key in ("id", "name", "description", "semester")}

    def deactivate(self, course_id: int) -> None:
        response = self.admin.patch(
            f"{self.url}/api/courses/{course_id}", json={"is_active": False}, timeout=5
        )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="session")
def catalog(token_issuer, tmp_path_factory):
    directory = tmp_path_factory.mktemp("catalog")
    with migrated_database("catalog_service", "sqlite", directory) as url:
        running = RunningCatalog(token_issuer, url)
        with running.server:
            yield running


@pytest.fixture(scope="session")
def courses(catalog) -> list[dict]:
    """Three active courses of the catalog, as the Sider shows them."""
    return [
        catalog.add_course("Математический анализ", 1, "Пределы, производные, интегралы"),
        catalog.add_course("Linear Algebra", 1, "Matrices and vector spaces"),
        catalog.add_course("Базы данных", 3, "SQL, транзакции, индексы"),
    ]


@pytest.fixture
def app_for(database_url, token_issuer):
    """`app_for(catalog_url)`: the favourites app, asking the catalog at that URL."""
    apps = []

    def make(catalog_url: str):
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "CATALOG_URL": catalog_url,
                "AUTH_JWKS_URL": token_issuer.jwks_url,
            }
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["database"].dispose()


@pytest.fixture
def app(app_for, catalog):
    return app_for(catalog.url)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(token_issuer):
    """`auth(user_id)`: the Authorization header of a student's access token."""

    def headers(user_id: int, role: str = "student", permissions=None) -> dict:
        return {"Authorization": f"Bearer {token_issuer.token(user_id, role, permissions)}"}

    return headers


class ScriptedUpstream:
    """A real HTTP server on loopback that answers every GET with `status` and `body`, and
    records what it was asked: the catalog misbehaving in ways the real one cannot be made to.
    With `etag` set it sends that ETag and answers a matching If-None-Match with 304; `delay`
    holds each answer that many seconds."""

    def __init__(self):
        self.status, self.body = 200, b"[]"
        self.etag: str | None = None
        self.delay = 0.0
        self.requests: list[tuple[str, dict]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                upstream.requests.append((self.path, dict(self.headers)))
                time.sleep(upstream.delay)
                unchanged = upstream.etag and self.headers.get("If-None-Match") == upstream.etag
                self.send_response(304 if unchanged else upstream.status)
                if upstream.etag:
                    self.send_header("ETag", upstream.etag)
                body = b"" if unchanged else upstream.body
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, status: int, body: object) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted_upstream():
    upstream = ScriptedUpstream()
    yield upstream
    upstream.close()
