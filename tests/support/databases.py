"""Real databases for tests: SQLite always, PostgreSQL too when TEST_DATABASE_URL is set."""

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url

from service_kit.config import normalize_database_url
from service_kit.migrations import upgrade


def database_backends() -> list[str]:
    """`sqlite` always; `postgresql` too when TEST_DATABASE_URL points at a server."""
    return ["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]


@contextlib.contextmanager
def empty_database(backend: str, directory: Path, name: str) -> Iterator[str]:
    """A new, empty database for the length of the block; its URL is yielded."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / (name + '-' + uuid.uuid4().hex[:8] + '.db')}"
        return
    server_url = normalize_database_url(os.environ["TEST_DATABASE_URL"])
    database = f"test_{name}_{uuid.uuid4().hex[:10]}"
    # pre_ping: a fault test may restart PostgreSQL while a session-long database is open.
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as connection:
        # With the C locale Postgres does not fold Cyrillic; C.UTF-8 does.
        connection.execute(
            text(
                f"CREATE DATABASE \"{database}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            )
        )
    try:
        yield make_url(server_url).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def migrated_database(package: str, backend: str, directory: Path) -> Iterator[str]:
    """An empty database brought to the latest migration of `package`."""
    with empty_database(backend, directory, package) as url:
        upgrade(package, url)
        yield url


def clear_tables(url: str, metadata: MetaData, keep: tuple[str, ...] = ()) -> None:
    """Delete every row except in `keep` (reference data seeded by migrations)."""
    engine = create_engine(normalize_database_url(url))
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            if table.name not in keep:
                connection.execute(table.delete())
    engine.dispose()


def schema_differences(package: str, metadata: MetaData, url: str) -> list:
    """What `alembic upgrade head` built in `url` but the models do not describe, or the other
    way round (alembic's autogenerate diff; empty when they match). Schema objects the models
    create only on another backend (`ddl_if`) are left out."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(normalize_database_url(url))
    dialect = engine.dialect.name

    def meant_for_this_backend(obj, name, type_, reflected, compare_to):
        if name and ("_fts" in name or name.endswith("_fts_idx")):
            return False  # full-text structures made by migrations alone (FTS5, GIN expressions)
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect in (None, dialect)

    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "version_table": f"alembic_version_{package}",
                    "include_object": meant_for_this_backend,
                },
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()
