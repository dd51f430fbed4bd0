"""Fixtures of the favourites tests: a migrated database per backend, a session, tokens."""

import pytest
from sqlalchemy.orm import Session

from favorites_service.models import Base
from service_kit.db import make_engine
from service_kit.testing import TokenIssuer, clear_tables, migrated_database


@pytest.fixture(scope="session")
def token_issuer():
    with TokenIssuer() as issuer:
        yield issuer


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
