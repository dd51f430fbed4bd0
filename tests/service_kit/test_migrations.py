"""Migrations run through service_kit: concurrent migrators on one database do not race."""

import threading

import pytest
from sqlalchemy import create_engine, inspect

from service_kit.migrations import upgrade
from tests.support.databases import empty_database


def test_concurrent_migrations_of_one_database_all_succeed(database_backend, tmp_path):
    if database_backend == "sqlite":
        pytest.skip("the lock is PostgreSQL's; SQLite serialises writers on its own")
    with empty_database(database_backend, tmp_path, "migrate_race") as url:
        errors = []

        def migrate():
            try:
                upgrade("favorites_service", url)
            except Exception as error:  # any failure of any migrator fails the test
                errors.append(error)

        threads = [threading.Thread(target=migrate) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        engine = create_engine(url)
        assert "user_courses" in inspect(engine).get_table_names()
        engine.dispose()
