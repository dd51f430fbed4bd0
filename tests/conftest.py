"""Fixtures every test folder shares. Service folders add `app` and `client` of their own."""

import os
import tempfile

import pytest

from tests.support.databases import database_backends, empty_database
from tests.support.openai_standin import OpenAIStandIn
from tests.support.s3 import S3Server
from tests.support.tokens import TokenIssuer


def pytest_configure(config):
    # Local state (SQLite task queues, uploaded files, generated keys) of every process a test
    # starts goes to a directory of this run, never to the repository's var/.
    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="course-portal-test-"))


@pytest.fixture(scope="session", params=database_backends())
def database_backend(request) -> str:
    """Each database test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set."""
    return request.param


@pytest.fixture(scope="session")
def token_issuer():
    """Signs real RS256 access tokens; its JWKS is served over HTTP on a free port."""
    with TokenIssuer() as issuer:
        yield issuer


@pytest.fixture
def bearer(token_issuer):
    """`bearer(user_id, role)` → the Authorization header of a real access token."""

    def make(user_id: int, role: str = "student", **overrides) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_issuer.token(user_id, role, **overrides)}"}

    return make


@pytest.fixture
def empty_database_url(database_backend, tmp_path, request):
    """A new, empty database on the test's backend, dropped afterwards."""
    with empty_database(database_backend, tmp_path, request.module.__name__.split(".")[-1]) as url:
        yield url


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server process (moto's server mode) for the whole run."""
    with S3Server() as server:
        yield server


@pytest.fixture(scope="session")
def openai_server():
    """An OpenAI-compatible stand-in server process for the whole run (the real API is paid and
    unreachable here); tests script it and call `reset()` when they do."""
    with OpenAIStandIn() as server:
        yield server
