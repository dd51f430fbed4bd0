"""Alembic, driven from code: each service keeps its own history in `<service>/migrations`.

Each service records its revision in its own version table, so the services stay independent
even if an operator points two of them at one database.
"""

import contextlib
from collections.abc import Iterator

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, engine_from_config, pool, text

from .config import normalize_database_url


def alembic_config(service_package: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", f"{service_package}:migrations")
    # ConfigParser treats % as interpolation; URLs may carry %-escaped passwords.
    config.set_main_option(
        "sqlalchemy.url", normalize_database_url(database_url).replace("%", "%%")
    )
    config.attributes["version_table"] = f"alembic_version_{service_package}"
    return config


def upgrade(service_package: str, database_url: str, revision: str = "head") -> None:
    with _migration_lock(service_package, normalize_database_url(database_url)):
        command.upgrade(alembic_config(service_package, database_url), revision)


@contextlib.contextmanager
def _migration_lock(service_package: str, database_url: str) -> Iterator[None]:
    """On PostgreSQL, one migrator at a time: replicas that start together (init containers)
    would otherwise race on CREATE TABLE and the loser would crash once."""
    if not database_url.startswith("postgresql"):
        yield  # SQLite is local to one host and serialises writers itself
        return
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            key = {"key": f"alembic:{service_package}"}
            connection.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), key)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(hashtext(:key))"), key)
    finally:
        engine.dispose()


def run_migrations(target_metadata: MetaData) -> None:
    """The body of every service's `migrations/env.py`."""
    config = context.config
    version_table = config.attributes.get("version_table", "alembic_version")
    options = {
        "target_metadata": target_metadata,
        "version_table": version_table,
        "compare_type": True,
        "render_as_batch": True,  # SQLite can only ALTER through table copies
    }
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
