"""Fixtures shared by the end-to-end tests."""

import pytest

from tests.support.databases import migrated_database


@pytest.fixture(scope="module")
def auth_database(database_backend, tmp_path_factory):
    """A migrated auth database of the module's backend, for an auth process of its own."""
    with migrated_database(
        "auth_service", database_backend, tmp_path_factory.mktemp("auth")
    ) as url:
        yield url
