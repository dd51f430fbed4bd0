"""Fixtures of the auth tests: a migrated database per backend, a signing key, a fast password
hasher (tests only), the app, and throttle stores on the database and on Redis."""

import os
import uuid

import pytest
import redis
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from auth_service import create_app, services
from auth_service.keys import SigningKeys, create_key_file
from auth_service.models import Base
from auth_service.passwords import PasswordHasher
from auth_service.services import TokenSettings
from auth_service.throttle import (
    DatabaseThrottleStore,
    LoginLimits,
    LoginThrottle,
    RedisThrottleStore,
)
from service_kit.auth import TokenVerifier
from tests.support.databases import clear_tables, migrated_database
from tests.support.tokens import TokenIssuer

REFERENCE_TABLES = ("roles", "permissions", "role_permissions")
# The lowest argon2id cost: the tests check behaviour, not the cost (deployments use OWASP's).
FAST_HASH = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
ISSUER, AUDIENCE = TokenIssuer.ISSUER, TokenIssuer.AUDIENCE


@pytest.fixture(scope="session")
def migrated_auth_database(database_backend, tmp_path_factory):
    directory = tmp_path_factory.mktemp("auth")
    with migrated_database("auth_service", database_backend, directory) as url:
        yield url


@pytest.fixture
def database_url(migrated_auth_database):
    """The migrated auth database, emptied for this test (the roles stay)."""
    clear_tables(migrated_auth_database, Base.metadata, keep=REFERENCE_TABLES)
    return migrated_auth_database


@pytest.fixture
def session(database_url):
    engine = create_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture(scope="session")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "jwt-private.pem"
    create_key_file(path)
    return path


@pytest.fixture(scope="session")
def hasher():
    return PasswordHasher(**FAST_HASH)


@pytest.fixture
def settings(key_file):
    return TokenSettings(ISSUER, AUDIENCE, SigningKeys(key_file))


@pytest.fixture
def verifier(settings):
    """Checks tokens exactly as the other services do, against the service's own keys."""
    return TokenVerifier(None, ISSUER, AUDIENCE, jwks_source=settings.keys.jwks)


@pytest.fixture
def throttle(session):
    return LoginThrottle(DatabaseThrottleStore(session), LoginLimits())


@pytest.fixture
def app_config(database_url, key_file):
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": None,
        "JWT_PRIVATE_KEY_FILE": str(key_file),
        "JWT_GENERATE_MISSING_KEY": False,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "PASSWORD_HASH_PARAMETERS": FAST_HASH,
        "TRUSTED_PROXIES": "127.0.0.1",
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    app.extensions["database"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def redis_url() -> str | None:
    return os.environ.get("TEST_REDIS_URL")


@pytest.fixture
def redis_prefix():
    """Keys of this test only, removed afterwards."""
    prefix = f"test:auth:{uuid.uuid4().hex}:"
    yield prefix
    url = redis_url()
    if url:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(params=["database", "redis"])
def throttle_store(request, session, redis_prefix):
    """Where login attempts are counted: the auth database, and Redis when TEST_REDIS_URL is
    set."""
    if request.param == "database":
        return DatabaseThrottleStore(session)
    url = redis_url()
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    return RedisThrottleStore(redis.Redis.from_url(url), prefix=redis_prefix)


@pytest.fixture
def register_user(session, hasher):
    """`register_user(email, password="correct-horse", role="student")` → a stored user."""

    def make(email: str, password: str = "correct-horse", role: str = "student", **extra):
        user, _created = services.save_user(
            session, hasher, email, password, role, extra.get("full_name", "Test User")
        )
        return user

    return make
