"""Fixtures of the catalog tests: a migrated database per backend, a session, an app, tokens,
and a small catalog built through services.py."""

import os
from dataclasses import dataclass

import pytest
import redis
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from catalog_service import create_app, services
from catalog_service.models import Base, CatalogVersion
from service_kit.auth import Principal
from service_kit.permissions import ROLE_PERMISSIONS
from tests.support.databases import clear_tables, migrated_database

REFERENCE_TABLES = ("material_types", "catalog_version")

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

ADMIN = Principal(user_id=1, role="admin", permissions=frozenset(ROLE_PERMISSIONS["admin"]))


@pytest.fixture(scope="session")
def migrated_catalog_database(database_backend, tmp_path_factory):
    directory = tmp_path_factory.mktemp("catalog")
    with migrated_database("catalog_service", database_backend, directory) as url:
        yield url


@pytest.fixture
def database_url(migrated_catalog_database):
    """The migrated catalog database, emptied for this test (reference rows stay)."""
    url = migrated_catalog_database
    clear_tables(url, Base.metadata, keep=REFERENCE_TABLES)
    # Emptying tables is not a catalog write; bump the version so no cache outlives the test.
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(update(CatalogVersion).values(version=CatalogVersion.version + 1))
    engine.dispose()
    return url


@pytest.fixture
def session(database_url):
    engine = create_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture(params=["local", "s3"])
def storage_config(request, tmp_path, monkeypatch) -> dict:
    """Where uploaded files go: a directory, or a fresh bucket on a real S3 server process."""
    if request.param == "local":
        return {"FILE_STORAGE": "local", "FILE_STORAGE_DIR": str(tmp_path / "files")}
    server = request.getfixturevalue("s3_server")
    environment = server.environment(server.new_bucket())
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, environment[name])  # boto3 reads its credentials from here
    return {name: value for name, value in environment.items() if not name.startswith("AWS")}


@pytest.fixture
def app_config(database_url, token_issuer, tmp_path):
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "AUTH_JWKS_URL": token_issuer.jwks_url,
        "REDIS_URL": None,  # the in-process cache unless a test asks for Redis
        "FILE_STORAGE": "local",
        "FILE_STORAGE_DIR": str(tmp_path / "files"),
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    app.extensions["database"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def redis_url():
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at TEST_REDIS_URL={TEST_REDIS_URL}")
    finally:
        client.close()
    return TEST_REDIS_URL


@pytest.fixture
def redis_apps(app_config, redis_url):
    """Two apps (two processes, as far as caching goes) sharing one Redis."""
    apps = [create_app({**app_config, "REDIS_URL": redis_url}) for _ in range(2)]
    yield apps
    for app in apps:
        app.extensions["database"].dispose()


@dataclass
class SampleCatalog:
    algorithms: services.CourseDetails
    python: services.CourseDetails
    calculus: services.CourseDetails
    hidden: services.CourseDetails
    lecture: object
    seminar: object
    lab: object
    lecture_2: object
    python_lecture: object


@pytest.fixture
def catalog(session) -> SampleCatalog:
    """Three active courses over two semesters, one inactive, materials of every type."""
    algorithms = services.create_course(
        session,
        name="Алгоритмы и структуры данных",
        description="Изучение основных алгоритмов.",
        semester=1,
    )
    python = services.create_course(
        session,
        name="Программирование на Python",
        description="Основы программирования на Python.",
        semester=1,
    )
    calculus = services.create_course(
        session, name="Математический анализ", description="Пределы и производные.", semester=2
    )
    hidden = services.create_course(
        session, name="Скрытый курс", description="Снят с программы.", semester=1, is_active=False
    )

    def material(course, type_code, lesson, title):
        return services.create_material(
            session,
            ADMIN,
            course.id,
            {
                "lesson_number": lesson,
                "material_type_code": type_code,
                "title": title,
                "description": f"Описание: {title}",
                "file_url": f"https://files.example.edu/{course.id}/{type_code}-{lesson}.pdf",
            },
        )

    # Created out of order, so sorting is really exercised.
    lab = material(algorithms, "lab", 1, "Практика: Сортировки")
    lecture_2 = material(algorithms, "lecture", 2, "Сортировки")
    seminar = material(algorithms, "seminar", 1, "Разбор базовых алгоритмов")
    lecture = material(algorithms, "lecture", 1, "Введение в алгоритмы")
    python_lecture = material(python, "lecture", 1, "Синтаксис Python")
    return SampleCatalog(
        algorithms, python, calculus, hidden, lecture, seminar, lab, lecture_2, python_lecture
    )
