"""The Alembic history builds exactly the schema the models describe, on both backends."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text

from catalog_service.models import Base, CatalogVersion, MaterialType
from service_kit.migrations import alembic_config
from service_kit.testing import empty_database

VERSION_TABLE = "alembic_version_catalog_service"


def _meant_for(dialect_name: str):
    """Skip schema objects the models create only on another backend (`ddl_if`)."""

    def include_object(obj, name, type_, reflected, compare_to):
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect in (None, dialect_name)

    return include_object


@pytest.fixture
def empty_url(database_backend, tmp_path):
    with empty_database(database_backend, tmp_path, "catalog_migrations") as url:
        yield url


def test_upgrade_head_matches_the_models(empty_url):
    command.upgrade(alembic_config("catalog_service", empty_url), "head")
    engine = create_engine(empty_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "version_table": VERSION_TABLE,
                    "include_object": _meant_for(engine.dialect.name),
                },
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_upgrade_seeds_reference_rows_and_search_index(empty_url):
    command.upgrade(alembic_config("catalog_service", empty_url), "head")
    engine = create_engine(empty_url)
    try:
        with engine.connect() as connection:
            types = connection.execute(
                select(MaterialType.code, MaterialType.label, MaterialType.sort_order).order_by(
                    MaterialType.sort_order
                )
            ).all()
            assert [tuple(row) for row in types] == [
                ("lecture", "Лекция", 1),
                ("seminar", "Семинар", 2),
                ("lab", "Лабораторная работа", 3),
            ]
            version = connection.execute(select(CatalogVersion)).one()
            assert version.id == 1 and version.version == 1 and len(version.epoch) == 32
            indexes = {index["name"] for index in inspect(connection).get_indexes("courses")}
            assert "ix_courses_active_semester_name" in indexes
            if engine.dialect.name == "postgresql":
                assert "ix_courses_search_text_trgm" in indexes
                definition = connection.scalar(
                    text(
                        "SELECT indexdef FROM pg_indexes "
                        "WHERE indexname = 'ix_courses_search_text_trgm'"
                    )
                )
                assert "gin" in definition and "gin_trgm_ops" in definition
    finally:
        engine.dispose()


def test_each_database_gets_its_own_cache_epoch(database_backend, tmp_path):
    epochs = set()
    for name in ("first", "second"):
        with empty_database(database_backend, tmp_path, name) as url:
            command.upgrade(alembic_config("catalog_service", url), "head")
            engine = create_engine(url)
            with engine.connect() as connection:
                epochs.add(connection.scalar(select(CatalogVersion.epoch)))
            engine.dispose()
    assert len(epochs) == 2


def test_downgrade_to_base_removes_every_table(empty_url):
    config = alembic_config("catalog_service", empty_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = create_engine(empty_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}
    finally:
        engine.dispose()
