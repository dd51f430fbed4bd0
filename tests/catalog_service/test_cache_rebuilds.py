"""One render per answer after a write: readers that miss together wait for the first one's
render (in this process, and through Redis across processes), for a bounded time only."""

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import REGISTRY

from catalog_service import create_app, services
from catalog_service.cache import CachedResponse, RedisStore, ResponseCache
from catalog_service.schemas import CourseSchema
from tests.support.processes import free_port

READERS = 8
# Long enough that every reader arrives while the first one is still rendering.
SLOW_RENDER_SECONDS = 0.3


def renders_of(route: str) -> float:
    return REGISTRY.get_sample_value("catalog_cache_renders_total", {"route": route}) or 0.0


def read_together(apps, path: str, readers_per_app: int = READERS) -> list:
    """`path` read by `readers_per_app` threads of each app, all released at once."""
    clients = [app.test_client() for app in apps for _ in range(readers_per_app)]
    start = threading.Barrier(len(clients))

    def read(client):
        start.wait()
        return client.get(path)

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(read, clients))


@pytest.fixture
def slow_list(monkeypatch):
    """Make rendering the course list slow, so that readers really overlap."""
    list_courses = services.list_courses

    def slowly(*args, **kwargs):
        time.sleep(SLOW_RENDER_SECONDS)
        return list_courses(*args, **kwargs)

    monkeypatch.setattr(services, "list_courses", slowly)


@pytest.fixture
def blocked_list(monkeypatch):
    """The next render of the course list blocks until `release` is set; later ones do not."""
    list_courses = services.list_courses
    entered, release = threading.Event(), threading.Event()

    def first_blocks(*args, **kwargs):
        if not entered.is_set():
            entered.set()
            assert release.wait(10), "the test never released the blocked render"
        return list_courses(*args, **kwargs)

    monkeypatch.setattr(services, "list_courses", first_blocks)
    yield entered, release
    release.set()


def rename(client, bearer, course_id: int, name: str) -> None:
    admin = bearer(1, "admin")
    response = client.patch(f"/api/courses/{course_id}", json={"name": name}, headers=admin)
    assert response.status_code == 200


def assert_all_show(responses, name: str) -> None:
    assert {response.status_code for response in responses} == {200}
    assert len({response.get_data() for response in responses}) == 1
    assert len({response.headers["ETag"] for response in responses}) == 1
    assert name in [course["name"] for course in responses[0].get_json()]


# --- one render per answer -----------------------------------------------------------------


def test_readers_after_a_write_cause_one_render(app, client, catalog, bearer, slow_list):
    assert client.get("/api/courses").status_code == 200  # cached, then made stale
    rename(client, bearer, catalog.python.id, "Python 3")
    before = renders_of("/api/courses")

    responses = read_together([app], "/api/courses")

    assert renders_of("/api/courses") - before == 1
    assert_all_show(responses, "Python 3")


def test_readers_of_two_processes_sharing_redis_cause_one_render(
    redis_apps, catalog, bearer, slow_list
):
    first = redis_apps[0].test_client()
    assert first.get("/api/courses").status_code == 200
    rename(first, bearer, catalog.python.id, "Python 3")
    before = renders_of("/api/courses")

    responses = read_together(redis_apps, "/api/courses", READERS // 2)

    assert renders_of("/api/courses") - before == 1
    assert_all_show(responses, "Python 3")


def test_different_answers_render_separately(app, catalog, slow_list):
    before = renders_of("/api/courses")
    read_together([app], "/api/courses?semester=1", 2)
    read_together([app], "/api/courses?semester=2", 2)
    assert renders_of("/api/courses") - before == 2


def test_renders_are_on_the_metrics_page(client, catalog):
    client.get("/api/semesters")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'catalog_cache_renders_total{route="/api/semesters"}' in metrics


# --- bounded waits -------------------------------------------------------------------------


def test_a_reader_renders_itself_when_the_renderer_takes_too_long(app, catalog, blocked_list):
    entered, release = blocked_list
    app.extensions["catalog_response_cache"].rebuild_wait = 0.2
    before = renders_of("/api/courses")
    with ThreadPoolExecutor(1) as pool:
        stuck = pool.submit(app.test_client().get, "/api/courses")
        assert entered.wait(10)

        waited = app.test_client().get("/api/courses")  # waits 0.2 s, then renders

        assert waited.status_code == 200
        assert len(waited.get_json()) == 3
        release.set()
        assert stuck.result(timeout=10).get_data() == waited.get_data()
    assert renders_of("/api/courses") - before == 2


def test_another_process_renders_itself_when_the_lock_holder_takes_too_long(
    redis_apps, catalog, blocked_list
):
    entered, release = blocked_list
    for app in redis_apps:
        app.extensions["catalog_response_cache"].rebuild_wait = 0.2
    first, second = (app.test_client() for app in redis_apps)
    with ThreadPoolExecutor(1) as pool:
        stuck = pool.submit(first.get, "/api/courses")  # holds the Redis lock while blocked
        assert entered.wait(10)

        waited = second.get("/api/courses")

        assert waited.status_code == 200
        assert len(waited.get_json()) == 3
        release.set()
        assert stuck.result(timeout=10).status_code == 200


def test_a_failed_render_lets_the_waiters_render_themselves():
    cache = ResponseCache()
    entry = CachedResponse(b"[]", '"e"')
    entered, release = threading.Event(), threading.Event()
    calls = []

    def fails_after_a_while():
        calls.append("failed")
        entered.set()
        release.wait(10)
        raise RuntimeError("the database went away")

    def renders():
        calls.append("rendered")
        return entry

    with ThreadPoolExecutor(2) as pool:
        failing = pool.submit(cache.get_or_render, "key", fails_after_a_while)
        assert entered.wait(10)
        waiting = pool.submit(cache.get_or_render, "key", renders)
        time.sleep(0.1)  # lets the second reader find the render in progress and wait for it
        release.set()
        with pytest.raises(RuntimeError):
            failing.result(timeout=10)
        assert waiting.result(timeout=10) is entry
    assert calls == ["failed", "rendered"]
    assert cache.get_or_render("key", renders) is entry  # stored, and no render left claimed
    assert calls == ["failed", "rendered"]


def test_an_answer_that_is_not_a_200_is_rendered_by_each_reader(app, catalog):
    before = renders_of("/api/courses/<id:course_id>")
    responses = read_together([app], "/api/courses/999999", 3)
    assert {response.status_code for response in responses} == {404}
    assert renders_of("/api/courses/<id:course_id>") - before == 3


# --- Redis down ----------------------------------------------------------------------------


def test_redis_down_every_read_still_answers(app_config, catalog, bearer, slow_list):
    app = create_app({**app_config, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    client = app.test_client()
    try:
        assert client.get("/api/courses").status_code == 200
        rename(client, bearer, catalog.python.id, "Python 3")
        before = renders_of("/api/courses")

        responses = read_together([app], "/api/courses")

        assert renders_of("/api/courses") - before == 1  # one render per process still
        assert_all_show(responses, "Python 3")
    finally:
        app.extensions["database"].dispose()


def test_a_render_lock_is_released_only_by_its_holder(redis_url):
    store, key = RedisStore(redis_url), f"lock-test-{uuid.uuid4()}"
    assert store.try_lock(key, "mine", 5) is True
    assert store.try_lock(key, "theirs", 5) is False
    store.unlock(key, "theirs")  # not theirs to release
    assert store.is_locked(key)
    store.unlock(key, "mine")
    assert not store.is_locked(key)


def test_a_render_lock_without_redis_is_neither_taken_nor_refused():
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    assert store.try_lock("key", "mine", 5) is None
    assert not store.is_locked("key")


# --- every write is seen on the next read --------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def cached_client(request, app_config):
    config = dict(app_config)
    if request.param == "redis":
        config["REDIS_URL"] = request.getfixturevalue("redis_url")
    app = create_app(config)
    yield app.test_client()
    app.extensions["database"].dispose()


def listed(client, path: str = "/api/courses") -> dict[int, str]:
    return {course["id"]: course["name"] for course in client.get(path).get_json()}


def test_a_rename_is_seen_by_the_next_read(cached_client, catalog, bearer):
    course = catalog.calculus.id
    list_etag = cached_client.get("/api/courses").headers["ETag"]
    assert listed(cached_client)[course] == "Математический анализ"
    assert cached_client.get(f"/api/courses/{course}").status_code == 200

    rename(cached_client, bearer, course, "Матан")

    response = cached_client.get("/api/courses")
    assert response.headers["ETag"] != list_etag
    assert listed(cached_client)[course] == "Матан"
    assert cached_client.get(f"/api/courses/{course}").get_json()["name"] == "Матан"
    assert listed(cached_client, "/api/courses?semester=2") == {course: "Матан"}


def test_a_withdrawn_course_leaves_the_list_at_once(cached_client, catalog, bearer):
    course = catalog.python.id
    assert course in listed(cached_client)
    assert cached_client.get(f"/api/courses/{course}").status_code == 200

    withdrawn = cached_client.patch(
        f"/api/courses/{course}", json={"is_active": False}, headers=bearer(1, "admin")
    )

    assert withdrawn.status_code == 200
    assert course not in listed(cached_client)
    assert course not in listed(cached_client, f"/api/courses?ids={course},{catalog.calculus.id}")
    assert cached_client.get(f"/api/courses/{course}").status_code == 404
    page = cached_client.get("/api/courses?page=1&page_size=10")
    assert course not in [c["id"] for c in page.get_json()]
    assert json.loads(page.headers["X-Pagination"])["total"] == 2


def test_a_teachers_material_edit_is_seen_by_the_next_read(cached_client, session, catalog, bearer):
    services.assign_teacher(session, catalog.algorithms.id, 20)
    teacher = bearer(20, "teacher")
    course = f"/api/courses/{catalog.algorithms.id}"
    material = f"{course}/materials/{catalog.lab.id}"
    assert cached_client.get(material).get_json()["title"] == "Практика: Сортировки"
    assert cached_client.get(course).get_json()["material_counts"]["lab"] == 1

    edited = cached_client.patch(
        material,
        json={"title": "Практика: Кучи", "material_type_code": "seminar"},
        headers=teacher,
    )

    assert edited.status_code == 200
    assert cached_client.get(material).get_json()["title"] == "Практика: Кучи"
    counts = cached_client.get(course).get_json()["material_counts"]
    assert (counts["lab"], counts["seminar"]) == (0, 2)
    seminars = cached_client.get(f"{course}/materials?type=seminar").get_json()["materials"]
    assert "Практика: Кучи" in [m["title"] for m in seminars]


# --- the whole list, read as listings -------------------------------------------------------


def test_a_listing_holds_every_field_a_list_shows():
    # A field of CourseSchema missing from CourseListing would silently vanish from the lists.
    assert set(CourseSchema().fields) == set(services.CourseListing.__slots__)
