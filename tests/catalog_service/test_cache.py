"""ETags, revalidation and the version-keyed response cache (in-process and Redis)."""

import json
import time

import redis
from sqlalchemy import create_engine, update

from catalog_service import create_app, services
from catalog_service.cache import CachedResponse, MemoryStore, RedisStore
from catalog_service.models import CatalogVersion, Course
from tests.catalog_service.fake_users import FakeUsers, route_users
from tests.support.processes import free_port


def catalog_gets(catalog) -> list[str]:
    course, material = catalog.algorithms.id, catalog.lecture.id
    return [
        "/api/courses",
        "/api/courses?semester=1",
        f"/api/courses?ids={course}",
        "/api/courses?page=1&page_size=2",
        "/api/semesters",
        "/api/courses/search?query=алгоритм",
        f"/api/courses/{course}",
        f"/api/courses/{course}/materials",
        f"/api/courses/{course}/materials?type=lecture",
        f"/api/courses/{course}/materials/{material}",
    ]


def etag_of(client, path) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.headers["ETag"]


def rename_behind_the_catalogs_back(database_url: str, course_id: int, name: str) -> None:
    """Change data without bumping the version: only a cache would keep showing the old name."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(update(Course).where(Course.id == course_id).values(name=name))
    engine.dispose()


def bump_version(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(update(CatalogVersion).values(version=CatalogVersion.version + 1))
    engine.dispose()


# --- headers and revalidation --------------------------------------------------------------


def test_every_catalog_get_has_a_strong_etag_and_no_cache(client, catalog):
    for path in catalog_gets(catalog):
        response = client.get(path)
        assert response.status_code == 200, path
        etag = response.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/"), path
        assert response.headers["Cache-Control"] == "no-cache", path
        assert response.mimetype == "application/json"


def test_errors_carry_no_etag(client, catalog):
    for path in ("/api/courses/999999", "/api/courses/search", "/api/courses?semester=99"):
        response = client.get(path)
        assert response.status_code in (400, 404)
        assert "ETag" not in response.headers


def test_if_none_match_gives_304_without_body(client, catalog):
    for path in catalog_gets(catalog):
        etag = etag_of(client, path)
        for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            response = client.get(path, headers={"If-None-Match": header})
            assert response.status_code == 304, (path, header)
            assert response.get_data() == b""
            assert response.headers["ETag"] == etag
            assert response.headers["Cache-Control"] == "no-cache"
        assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_etag_is_stable_across_processes(app_config, catalog):
    first, second = create_app(app_config), create_app(app_config)
    try:
        for path in catalog_gets(catalog):
            assert etag_of(first.test_client(), path) == etag_of(second.test_client(), path)
    finally:
        first.extensions["database"].dispose()
        second.extensions["database"].dispose()


def test_paginated_answers_keep_their_header_when_cached(client, catalog):
    first = client.get("/api/courses?page=1&page_size=2")
    again = client.get("/api/courses?page=1&page_size=2")
    assert json.loads(again.headers["X-Pagination"])["total"] == 3
    assert again.headers["X-Pagination"] == first.headers["X-Pagination"]
    assert again.get_data() == first.get_data()


def test_teacher_courses_etag_is_private(client, session, catalog, bearer):
    services.assign_teacher(session, catalog.python.id, 20)
    headers = bearer(20, "teacher")
    etag = client.get("/api/teacher/courses", headers=headers).headers["ETag"]
    revalidated = client.get("/api/teacher/courses", headers={**headers, "If-None-Match": etag})
    assert revalidated.status_code == 304
    assert revalidated.headers["Cache-Control"] == "private, no-cache"
    services.assign_teacher(session, catalog.algorithms.id, 20)
    assert client.get("/api/teacher/courses", headers=headers).headers["ETag"] != etag


# --- the server-side cache -----------------------------------------------------------------


def test_answers_come_from_the_cache_until_the_version_moves(client, database_url, catalog):
    path = f"/api/courses/{catalog.calculus.id}"
    assert client.get(path).get_json()["name"] == "Математический анализ"
    rename_behind_the_catalogs_back(database_url, catalog.calculus.id, "Матан")
    assert client.get(path).get_json()["name"] == "Математический анализ"  # cached
    bump_version(database_url)
    assert client.get(path).get_json()["name"] == "Матан"


def test_cache_switched_off_renders_every_answer_afresh(app_config, database_url, catalog):
    app = create_app({**app_config, "CATALOG_CACHE": "off"})
    client = app.test_client()
    path = f"/api/courses/{catalog.calculus.id}"
    etag = etag_of(client, path)
    rename_behind_the_catalogs_back(database_url, catalog.calculus.id, "Матан")

    response = client.get(path)
    revalidated = client.get(path, headers={"If-None-Match": response.headers["ETag"]})

    app.extensions["database"].dispose()
    assert response.get_json()["name"] == "Матан"
    assert response.headers["ETag"] != etag
    assert revalidated.status_code == 304
    assert len(app.extensions["catalog_response_cache"].memory) == 0


def test_every_kind_of_write_is_seen_on_the_next_request(client, catalog, bearer, monkeypatch):
    route_users(monkeypatch, FakeUsers(everyone=True))
    """Each write changes the answers it affects (new body, new ETag) right away."""
    admin = bearer(1, "admin")
    course = catalog.algorithms.id
    detail, materials = f"/api/courses/{course}", f"/api/courses/{course}/materials"
    created_id = {}

    def create_material():
        body = {
            "lesson_number": 9,
            "material_type_code": "lab",
            "title": "Графы",
            "file_url": "https://files.example.edu/g.pdf",
        }
        response = client.post(materials, json=body, headers=admin)
        created_id["id"] = response.get_json()["id"]
        return response

    steps = [
        (
            lambda: client.post(
                "/api/courses", json={"name": "Новый", "semester": 1}, headers=admin
            ),
            "/api/courses",
            lambda body: "Новый" in [c["name"] for c in body],
        ),
        (
            lambda: client.patch(detail, json={"name": "АиСД"}, headers=admin),
            "/api/courses/search?query=аисд",
            lambda body: [c["id"] for c in body] == [course],
        ),
        (
            lambda: client.put(f"{detail}/teachers/7", headers=admin),
            detail,
            lambda body: body["teacher_ids"] == [7],
        ),
        (
            lambda: client.delete(f"{detail}/teachers/7", headers=admin),
            detail,
            lambda body: body["teacher_ids"] == [],
        ),
        (create_material, materials, lambda body: body["materials"][-1]["title"] == "Графы"),
        (
            lambda: client.patch(
                f"{materials}/{created_id['id']}", json={"title": "Деревья"}, headers=admin
            ),
            f"{materials}?type=lab",
            lambda body: body["materials"][-1]["title"] == "Деревья",
        ),
        (
            lambda: client.delete(f"{materials}/{created_id['id']}", headers=admin),
            detail,
            lambda body: body["material_counts"]["lab"] == 1,
        ),
        (
            lambda: client.patch(detail, json={"is_active": False}, headers=admin),
            "/api/semesters",
            lambda body: course not in [c["id"] for g in body for c in g["courses"]],
        ),
    ]
    for write, path, shows_the_change in steps:
        before = etag_of(client, path)
        assert client.get(path).status_code == 200  # now certainly cached
        assert write().status_code in (200, 201, 204)
        response = client.get(path, headers={"If-None-Match": before})
        assert response.status_code == 200, path
        assert shows_the_change(response.get_json()), path
        assert response.headers["ETag"] != before, path


def test_etag_changes_only_when_the_answer_changes(client, catalog, bearer):
    admin = bearer(1, "admin")
    algorithms = f"/api/courses/{catalog.algorithms.id}/materials"
    python = f"/api/courses/{catalog.python.id}"
    algorithms_etag, python_etag = etag_of(client, algorithms), etag_of(client, python)
    # A write elsewhere moves the version but not these answers.
    client.patch(f"/api/courses/{catalog.calculus.id}", json={"semester": 3}, headers=admin)
    assert etag_of(client, algorithms) == algorithms_etag
    assert etag_of(client, python) == python_etag
    # A write that changes nothing keeps the answer and its ETag.
    client.patch(python, json={"name": "Программирование на Python"}, headers=admin)
    assert etag_of(client, python) == python_etag
    client.patch(python, json={"description": "Новое описание"}, headers=admin)
    assert etag_of(client, python) != python_etag


def test_memory_store_is_bounded_by_bytes():
    store = MemoryStore(max_bytes=8000)
    entry = CachedResponse(b"x" * 900, '"e"')
    for number in range(20):
        store.set(f"key-{number}", entry)
    assert len(store) == 8
    assert store.get("key-0") is None and store.get("key-19") is entry
    store.set("huge", CachedResponse(b"x" * 1001, '"h"'))  # over an eighth: not kept
    assert store.get("huge") is None


def test_cached_response_round_trips():
    entry = CachedResponse(b'{"a":\n"\xd0\x91"}', '"abc"', (("X-Pagination", '{"total": 1}'),))
    assert CachedResponse.decode(entry.encode()) == entry


# --- Redis ---------------------------------------------------------------------------------


def test_redis_shares_answers_between_processes(redis_apps, database_url, catalog):
    first, second = (app.test_client() for app in redis_apps)
    path = f"/api/courses/{catalog.calculus.id}"
    etag = etag_of(first, path)
    rename_behind_the_catalogs_back(database_url, catalog.calculus.id, "Матан")
    # The second process never rendered this answer: it comes from Redis, old name and all.
    response = second.get(path)
    assert response.get_json()["name"] == "Математический анализ"
    assert response.headers["ETag"] == etag
    assert second.get(path, headers={"If-None-Match": etag}).status_code == 304


def test_a_write_in_one_process_is_seen_by_the_other(redis_apps, catalog, bearer):
    first, second = (app.test_client() for app in redis_apps)
    path = f"/api/courses/{catalog.algorithms.id}/materials"
    assert len(second.get(path).get_json()["materials"]) == 4
    first.delete(f"{path}/{catalog.lab.id}", headers=bearer(1, "admin"))
    assert len(second.get(path).get_json()["materials"]) == 3


def test_redis_down_degrades_to_the_database(app_config, catalog, bearer):
    closed_port = free_port()
    app = create_app({**app_config, "REDIS_URL": f"redis://127.0.0.1:{closed_port}/0"})
    client = app.test_client()
    try:
        started = time.monotonic()
        for path in catalog_gets(catalog):
            assert client.get(path).status_code == 200, path
        assert time.monotonic() - started < 5
        path = f"/api/courses/{catalog.python.id}"
        client.patch(path, json={"name": "Python 3"}, headers=bearer(1, "admin"))
        assert client.get(path).get_json()["name"] == "Python 3"
    finally:
        app.extensions["database"].dispose()


def test_redis_store_never_raises():
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", retry_after=60)
    entry = CachedResponse(b"{}", '"e"')
    store.set("key", entry)  # refused connection: logged, not raised
    started = time.monotonic()
    assert store.get("key") is None
    assert time.monotonic() - started < 0.05  # left alone after the failure


def test_redis_store_ignores_foreign_values(redis_url):
    store = RedisStore(redis_url)
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(store._key("garbage"), b"not a cached response", ex=60)
        assert store.get("garbage") is None
    finally:
        client.close()
