"""Fixtures of the gateway's own tests: the app on Flask's test client, with real tokens."""

import pytest

from gateway import create_app
from tests.support.processes import free_port
from tests.support.tokens import TokenIssuer


@pytest.fixture(scope="session")
def issuer():
    with TokenIssuer() as token_issuer:
        yield token_issuer


@pytest.fixture
def app(issuer):
    nowhere = f"http://127.0.0.1:{free_port()}"  # no upstream runs in these tests
    return create_app(
        {
            "AUTH_JWKS_URL": issuer.jwks_url,
            "CATALOG_URL": nowhere,
            "FAVORITES_URL": nowhere,
            "AUTH_URL": nowhere,
            "ASSISTANT_URL": nowhere,
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()
