"""The whole portal as real processes (gateway + three services under gunicorn, demo data) for
the fuzz suites, with the catalog wired to auth (it asks auth before assigning a teacher)."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.browser.system import DEMO_ADMIN, DEMO_STUDENT, DEMO_TEACHER, PortalSystem
from tests.support.databases import database_backends


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.path)).parent == here:
            item.add_marker(pytest.mark.e2e)


@dataclass
class Portal:
    system: PortalSystem
    tokens: dict[str, str]  # role → access token

    @property
    def url(self) -> str:
        return self.system.url

    def spec(self) -> dict:
        response = requests.get(self.url + "/api/docs/openapi.json", timeout=10)
        response.raise_for_status()
        return response.json()


def start_portal(directory: Path, backend: str) -> Iterator[Portal]:
    with PortalSystem(directory, backend) as system:
        tokens = {
            role: system.access_token(*account)
            for role, account in (
                ("admin", DEMO_ADMIN),
                ("teacher", DEMO_TEACHER),
                ("student", DEMO_STUDENT),
            )
        }
        yield Portal(system, tokens)


@pytest.fixture(scope="module")
def sqlite_portal(tmp_path_factory) -> Iterator[Portal]:
    """On SQLite, as `make run` starts it."""
    yield from start_portal(tmp_path_factory.mktemp("fuzz-portal"), "sqlite")


@pytest.fixture(scope="module")
def portal(tmp_path_factory) -> Iterator[Portal]:
    """On PostgreSQL when TEST_DATABASE_URL names a server (as in CI), else on SQLite."""
    yield from start_portal(tmp_path_factory.mktemp("fuzz-portal"), database_backends()[-1])
