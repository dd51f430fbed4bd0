"""service_kit.db: the per-request session's engine and the pre-ping-free hot-path reads."""

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from service_kit.config import env_config
from service_kit.db import Database, get_session, init_db
from tests.support.databases import empty_database


@pytest.fixture
def database(database_backend, tmp_path):
    with empty_database(database_backend, tmp_path, "db") as url:
        database = Database(url)
        yield database
        database.dispose()


def select_one(connection) -> int:
    return connection.execute(text("SELECT 1")).scalar_one()


def test_read_runs_a_query_outside_a_transaction(database):
    assert database.read(select_one) == 1
    assert database.read(lambda c: c.in_transaction()) is False


def test_read_survives_connections_the_server_dropped(database, database_backend):
    if database_backend == "sqlite":
        pytest.skip("SQLite has no server to drop connections")
    assert database.read(select_one) == 1  # the pool now holds a live connection
    admin = create_engine(database.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        dropped = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    assert dropped >= 1
    assert database.read(select_one) == 1


def test_read_does_not_retry_errors_that_are_not_disconnects(database):
    calls = []

    def broken(connection):
        calls.append(1)
        return connection.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(DBAPIError):
        database.read(broken)
    assert len(calls) == 1


def test_a_session_whose_connection_died_closes_without_an_error(database, database_backend):
    """A restart of the database between a request's query and its teardown: the rollback on
    close fails, and the request's answer must stand instead of becoming a 500."""
    if database_backend == "sqlite":
        pytest.skip("SQLite has no server to drop connections")
    app = Flask(__name__)
    app.config["DATABASE_URL"] = database.url
    init_db(app)
    with app.app_context():
        get_session().execute(text("SELECT 1"))  # a transaction holds a connection now
        admin = create_engine(database.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        admin.dispose()
    # Leaving the app context ran the teardown: no exception reached here.
    app.extensions["database"].dispose()


def test_both_pools_take_their_sizes_from_the_configuration(database_backend, tmp_path):
    if database_backend == "sqlite":
        pytest.skip("SQLite's file pool is not sized: there is no server to spare")
    with empty_database(database_backend, tmp_path, "pools") as url:
        database = Database.from_config(
            {"DATABASE_URL": url, "DATABASE_POOL_SIZE": 3, "DATABASE_MAX_OVERFLOW": 2}
        )
        try:
            assert database.read(select_one) == 1
            with database.session() as session:
                session.execute(text("SELECT 1"))
            for engine in (database.engine, database._read_engine):
                assert engine.pool.size() == 3
                assert engine.pool._max_overflow == 2
        finally:
            database.dispose()


@pytest.mark.parametrize("value", ["lots", "0", "-1", "1000"])
def test_a_pool_size_out_of_range_stops_the_start_up_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("DATABASE_POOL_SIZE", value)
    with pytest.raises(ValueError, match="DATABASE_POOL_SIZE"):
        env_config("catalog")
