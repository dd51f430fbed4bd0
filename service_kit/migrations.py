"""Alembic, driven from code: each service keeps its own history in `<service>/migrations`.

Each service records its revision in its own version table, so the services stay independent
even if an operator points two of them at one database.
"""

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, engine_from_config, pool

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
    command.upgrade(alembic_config(service_package, database_url), revision)


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
