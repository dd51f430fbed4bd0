"""Fixtures of the assistant tests: a real catalog process holding a course with teaching text,
a migrated assistant database per backend, an app bound to both, and tokens."""

from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from assistant_service import create_app
from assistant_service.catalog import Catalog
from assistant_service.models import Base, Price
from catalog_service import services as catalog_services
from catalog_service.demo_content import material_bodies
from service_kit.auth import Principal
from service_kit.db import make_engine
from service_kit.permissions import ROLE_PERMISSIONS
from tests.support.databases import clear_tables, migrated_database
from tests.support.processes import ServerProcess

TEACHER = 20  # teaches the algorithms course
OTHER_TEACHER = 21  # teaches the other course only
STUDENT = 31
ADMIN = 1
COURSE_NAME = "Алгоритмы и структуры данных"


def principal(user_id: int, role: str) -> Principal:
    return Principal(user_id, role, frozenset(ROLE_PERMISSIONS[role]))


@dataclass(frozen=True)
class CatalogWorld:
    url: str
    course_id: int
    other_course_id: int
    empty_course_id: int
    material_ids: dict[tuple[str, int], int]
    database_url: str


@pytest.fixture(scope="session")
def catalog_world(database_backend, token_issuer, tmp_path_factory) -> CatalogWorld:
    """The catalog as a real process: the algorithms course with its demo texts (taught by
    TEACHER), another course (OTHER_TEACHER) with one text, and a course with no text."""
    directory = tmp_path_factory.mktemp("assistant-catalog")
    with migrated_database("catalog_service", database_backend, directory) as url:
        admin = principal(ADMIN, "admin")
        engine = create_engine(url)
        with Session(engine, expire_on_commit=False) as session:
            course = catalog_services.create_course(
                session, name=COURSE_NAME, description="Основы алгоритмов.", semester=1
            )
            catalog_services.assign_teacher(session, course.id, TEACHER)
            material_ids = {}
            for (type_code, lesson), body in sorted(material_bodies("algorithms").items()):
                title = body.splitlines()[0].removeprefix("# ").strip()
                material = catalog_services.create_material(
                    session, admin, course.id,
                    {"lesson_number": lesson, "material_type_code": type_code, "title": title,
                     "body": body},
                )  # fmt: skip
                material_ids[(type_code, lesson)] = material.id
            other = catalog_services.create_course(
                session, name="Программирование на Python", description="", semester=1
            )
            catalog_services.assign_teacher(session, other.id, OTHER_TEACHER)
            catalog_services.create_material(
                session, admin, other.id,
                {"lesson_number": 1, "material_type_code": "lecture", "title": "Переменные",
                 "body": "# Переменные\n\nПеременная — это имя, связанное со значением."},
            )  # fmt: skip
            empty = catalog_services.create_course(
                session, name="Курс без текстов", description="", semester=2
            )
        engine.dispose()
        env = {
            "DATABASE_URL": url,
            "AUTH_JWKS_URL": token_issuer.jwks_url,
            "REDIS_URL": "",
            "FILE_STORAGE": "local",
            "FILE_STORAGE_DIR": str(directory / "files"),
        }
        with ServerProcess("catalog_service:create_app()", env, threads=8) as catalog:
            yield CatalogWorld(catalog.url, course.id, other.id, empty.id, material_ids, url)


@pytest.fixture
def catalog(catalog_world) -> Catalog:
    return Catalog(catalog_world.url, cache_seconds=0)


@pytest.fixture(scope="session")
def migrated_assistant_database(database_backend, tmp_path_factory):
    """The migrated database and the price rows its migrations seeded."""
    directory = tmp_path_factory.mktemp("assistant")
    with migrated_database("assistant_service", database_backend, directory) as url:
        engine = make_engine(url)
        with engine.connect() as connection:
            seeded = [dict(row._mapping) for row in connection.execute(select(Price.__table__))]
        engine.dispose()
        yield url, seeded


@pytest.fixture
def database_url(migrated_assistant_database):
    """The migrated assistant database, emptied for this test, with the seeded prices."""
    url, seeded_prices = migrated_assistant_database
    clear_tables(url, Base.metadata)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(insert(Price.__table__), seeded_prices)
    engine.dispose()
    return url


@pytest.fixture
def session(database_url):
    engine = make_engine(database_url)  # as the service makes it: SQLite checks foreign keys
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture
def app_config(database_url, token_issuer, catalog_world) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "AUTH_JWKS_URL": token_issuer.jwks_url,
        "CATALOG_URL": catalog_world.url,
        "REDIS_URL": None,
        "OPENAI_API_KEY": None,
        "OPENAI_BASE_URL": None,
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    app.extensions["database"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()
