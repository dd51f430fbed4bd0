"""The catalog lookup: one batched call, active courses only, anything odd is 'unavailable'."""

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
