"""The catalog lookup: one batched call, active courses only, anything odd is 'unavailable';
and the Sider's copy of the course list: revalidated with its ETag, one load at a time, a rename
or a withdrawal seen on the first read after a revalidation."""

import threading

import pytest

from favorites_service.catalog import Catalog
from service_kit import UpstreamUnavailable
from tests.support.processes import free_port


def test_active_courses_by_id_from_the_real_catalog(catalog, courses):
    retired = catalog.add_course("Снятый с программы курс", 2)
    catalog.deactivate(retired["id"])
    lookup = Catalog(catalog.url)
    found = lookup.active_courses([courses[0]["id"], courses[2]["id"], retired["id"], 999_999])
    assert found == {courses[0]["id"]: courses[0], courses[2]["id"]: courses[2]}


def test_no_ids_asks_nothing(scripted_upstream):
    assert Catalog(scripted_upstream.url).active_courses([]) == {}
    assert scripted_upstream.requests == []


def test_one_request_for_many_ids(scripted_upstream):
    scripted_upstream.answer(200, [{"id": 3, "name": "C", "description": "", "semester": 1}])
    found = Catalog(scripted_upstream.url).active_courses([5, 3, 4, 3])
    assert list(found) == [3]
    [(path, _headers)] = scripted_upstream.requests
    assert path == "/api/courses?ids=3%2C4%2C5"


def test_courses_not_asked_for_are_ignored(scripted_upstream):
    scripted_upstream.answer(200, [{"id": 8, "name": "Other", "description": "", "semester": 1}])
    assert Catalog(scripted_upstream.url).active_courses([3]) == {}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<html>not json</html>"),
        (200, {"id": 3}),
        (200, [3]),
        (200, [{"name": "no id", "description": "", "semester": 1}]),
        (200, [{"id": "3", "name": "C", "description": "", "semester": 1}]),
        (200, [{"id": True, "name": "C", "description": "", "semester": 1}]),
        (200, [{"id": 3, "name": None, "description": "", "semester": 1}]),
        (200, [{"id": 3, "name": "C", "description": "", "semester": "1"}]),
        (404, []),
        (500, b'{"code": 500}'),
        (503, []),
    ],
)
def test_a_misbehaving_catalog_is_unavailable(scripted_upstream, status, body):
    scripted_upstream.answer(status, body)
    with pytest.raises(UpstreamUnavailable):
        Catalog(scripted_upstream.url).active_courses([3])


def test_an_unreachable_catalog_is_unavailable():
    with pytest.raises(UpstreamUnavailable):
        Catalog(f"http://127.0.0.1:{free_port()}").active_courses([3])


# The Sider's copy of the catalog's course list


def test_the_copy_follows_a_rename_and_a_withdrawal_of_the_real_catalog(catalog):
    course = catalog.add_course("Теория графов", 4, "Пути и потоки")
    lookup = Catalog(catalog.url, refresh_seconds=0)  # revalidate on every read
    assert lookup.listed_courses([course["id"], 999_999]) == {course["id"]: course}
    renamed = catalog.admin.patch(f"{catalog.url}/api/courses/{course['id']}",
                                  json={"name": "Теория графов и сетей"}, timeout=5)  # fmt: skip
    assert renamed.status_code == 200
    assert lookup.listed_courses([course["id"]])[course["id"]]["name"] == "Теория графов и сетей"
    catalog.deactivate(course["id"])
    assert lookup.listed_courses([course["id"]]) == {}


def test_a_warm_copy_asks_nothing_until_it_is_due_and_then_asks_conditionally(scripted_upstream):
    clock = FakeClock()
    scripted_upstream.answer(200, [{"id": 3, "name": "C", "description": "", "semester": 1}])
    scripted_upstream.etag = '"v1"'
    lookup = Catalog(scripted_upstream.url, refresh_seconds=1.0)
    lookup.directory.clock = clock
    for _ in range(5):
        assert list(lookup.listed_courses([3])) == [3]
    assert len(scripted_upstream.requests) == 1  # five reads, one load
    clock.now += 1.5
    assert list(lookup.listed_courses([3])) == [3]  # the 304 keeps the copy
    [(_, first), (path, second)] = scripted_upstream.requests
    assert "If-None-Match" not in first
    assert path == "/api/courses" and second["If-None-Match"] == '"v1"'


def test_a_course_newer_than_the_copy_is_asked_for_by_id(catalog):
    lookup = Catalog(catalog.url, refresh_seconds=3600)
    lookup.listed_courses([1])  # the copy is taken now and kept for an hour
    course = catalog.add_course("Криптография", 5)
    assert lookup.listed_courses([course["id"]]) == {course["id"]: course}


def test_a_changed_list_replaces_the_copy(scripted_upstream):
    scripted_upstream.answer(200, [{"id": 3, "name": "C", "description": "", "semester": 1}])
    scripted_upstream.etag = '"v1"'
    lookup = Catalog(scripted_upstream.url, refresh_seconds=0)
    assert lookup.listed_courses([3])[3]["name"] == "C"
    scripted_upstream.answer(200, [{"id": 3, "name": "C++", "description": "", "semester": 1}])
    scripted_upstream.etag = '"v2"'
    assert lookup.listed_courses([3])[3]["name"] == "C++"


def test_a_failed_revalidation_is_unavailable_and_tried_again(scripted_upstream):
    courses = [{"id": 3, "name": "C", "description": "", "semester": 1}]
    scripted_upstream.answer(200, courses)
    lookup = Catalog(scripted_upstream.url, refresh_seconds=0)
    assert list(lookup.listed_courses([3])) == [3]
    scripted_upstream.answer(404, [])
    with pytest.raises(UpstreamUnavailable):
        lookup.listed_courses([3])  # a catalog that fails is seen as failing, not hidden
    scripted_upstream.answer(200, courses)
    assert list(lookup.listed_courses([3])) == [3]


def test_readers_at_once_share_one_first_load(scripted_upstream):
    scripted_upstream.answer(200, [{"id": 3, "name": "C", "description": "", "semester": 1}])
    scripted_upstream.delay = 0.3
    lookup = Catalog(scripted_upstream.url, refresh_seconds=60)
    found = []
    readers = [
        threading.Thread(target=lambda: found.append(lookup.listed_courses([3]))) for _ in range(8)
    ]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert len(found) == 8 and all(list(courses) == [3] for courses in found)
    assert len(scripted_upstream.requests) == 1


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
