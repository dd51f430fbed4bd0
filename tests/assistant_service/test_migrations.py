"""The assistant's Alembic history builds exactly the schema its models describe, on both
backends, seeds the price table, and goes down to nothing again."""

from alembic import command
from sqlalchemy import create_engine, inspect, select

from assistant_service.models import Base, Price
from service_kit.migrations import alembic_config
from tests.support.databases import schema_differences


def test_upgrade_head_matches_the_models(empty_database_url):
    command.upgrade(alembic_config("assistant_service", empty_database_url), "head")
    assert schema_differences("assistant_service", Base.metadata, empty_database_url) == []


def test_upgrade_seeds_the_published_prices(empty_database_url):
    command.upgrade(alembic_config("assistant_service", empty_database_url), "head")
    engine = create_engine(empty_database_url)
    with engine.connect() as connection:
        mini = connection.execute(
            select(Price).where(Price.model == "gpt-4o-mini-2024-07-18")
        ).one()
    engine.dispose()
    assert [float(v) for v in (mini.training, mini.input, mini.cached_input, mini.output)] == [
        3.0, 0.3, 0.15, 1.2,
    ]  # fmt: skip


def test_downgrade_to_base_removes_every_table(empty_database_url):
    config = alembic_config("assistant_service", empty_database_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = create_engine(empty_database_url)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert tables <= {"alembic_version_assistant_service"}
