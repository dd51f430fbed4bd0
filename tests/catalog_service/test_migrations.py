"""The Alembic history builds exactly the schema the models describe, on both backends."""

from alembic import command
from sqlalchemy import create_engine, inspect, select, text

from catalog_service.models import Base, CatalogVersion, MaterialType
from service_kit.migrations import alembic_config
from tests.support.databases import empty_database, schema_differences

VERSION_TABLE = "alembic_version_catalog_service"


def test_upgrade_head_matches_the_models(empty_database_url):
    command.upgrade(alembic_config("catalog_service", empty_database_url), "head")
    assert schema_differences("catalog_service", Base.metadata, empty_database_url) == []


def test_upgrade_seeds_reference_rows_and_search_index(empty_database_url):
    command.upgrade(alembic_config("catalog_service", empty_database_url), "head")
    engine = create_engine(empty_database_url)
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


def test_search_name_is_filled_for_courses_created_before_it_existed(empty_database_url):
    config = alembic_config("catalog_service", empty_database_url)
    command.upgrade(config, "0001")
    engine = create_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO courses (name, description, semester, is_active, search_text, "
                    "created_at, updated_at) VALUES ('Ёж', 'Колючий', 1, true, :text, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"text": "еж\nколючии"},
            )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT search_name FROM courses")) == "еж"
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table(empty_database_url):
    config = alembic_config("catalog_service", empty_database_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = create_engine(empty_database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}
    finally:
        engine.dispose()
