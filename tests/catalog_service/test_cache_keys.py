"""The response cache cannot be bypassed with query-string junk: unknown parameters are refused,
and the cache key holds the validated arguments in a canonical order."""

import pytest

from tests.catalog_service.test_cache import rename_behind_the_catalogs_back


def names(response) -> set[str]:
    return {course["name"] for course in response.get_json()}


@pytest.mark.parametrize(
    "target",
    [
        "/api/courses?x=1",
        "/api/courses?semester=1&cachebuster=42",
        "/api/courses/search?query=анализ&x=1",
        "/api/search?query=анализ&x=1",
        "/api/courses/{course}/materials?type=lecture&x=1",
    ],
)
def test_an_unknown_query_parameter_is_a_400(client, catalog, target):
    response = client.get(target.format(course=catalog.calculus.id))
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == 400
    assert "x" in str(body["errors"]) or "cachebuster" in str(body["errors"])


@pytest.mark.parametrize(
    "target",
    [
        "/api/semesters?x=1",
        "/api/material-types?x=1",
        "/api/courses/{course}?x=1",
        "/api/courses/{course}/materials/{material}?x=1",
    ],
)
def test_an_endpoint_without_query_parameters_refuses_any(client, catalog, target):
    path = target.format(course=catalog.algorithms.id, material=catalog.lecture.id)
    response = client.get(path)
    assert response.status_code == 400
    assert response.get_json()["message"] == "This endpoint takes no query parameters."
    assert client.get(path.split("?")[0]).status_code == 200


def test_junk_never_reaches_the_cache(app, client, catalog):
    client.get("/api/courses")
    store = app.extensions["catalog_response_cache"].memory
    entries = len(store)
    for number in range(20):
        assert client.get(f"/api/courses?x={number}").status_code == 400
        assert client.get(f"/api/semesters?x={number}").status_code == 400
    assert len(store) == entries


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/api/courses?page=1&page_size=50", "/api/courses?page_size=50&page=1"),
        ("/api/courses?semester={semester}", "/api/courses?semester=0{semester}"),
        ("/api/courses?page=1&page_size=50", "/api/courses?page=01&page_size=050"),
    ],
)
def test_the_same_arguments_share_one_entry(client, database_url, catalog, first, second):
    semester = catalog.calculus.semester
    first, second = first.format(semester=semester), second.format(semester=semester)
    assert "Математический анализ" in names(client.get(first))
    rename_behind_the_catalogs_back(database_url, catalog.calculus.id, "Матан")
    # Only a cached answer still shows the old name: the second spelling found the first's entry.
    assert "Математический анализ" in names(client.get(second))


def test_different_arguments_keep_different_entries(client, database_url, catalog):
    assert "Математический анализ" in names(client.get("/api/courses?page=1&page_size=50"))
    rename_behind_the_catalogs_back(database_url, catalog.calculus.id, "Матан")
    assert "Матан" in names(client.get("/api/courses?page=1&page_size=49"))
