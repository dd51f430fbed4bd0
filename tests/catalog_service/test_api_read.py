"""The public catalog API through the Flask test client: every read endpoint and error path."""

import json

import pytest

from catalog_service import services

COURSE_FIELDS = ["id", "name", "description", "semester"]
HOSTILE_IDS = ["0", "-1", "2147483648", str(2**63 + 1), "9" * 5000, "abc", "1.5", "1e3", "%00", "١"]


def assert_error(response, status):
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == status and body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def new_course(session, name, description="", semester=1):
    return services.create_course(session, name=name, description=description, semester=semester)


# --- GET /api/courses ----------------------------------------------------------------------


def test_courses_whole_list_ordered(client, catalog):
    response = client.get("/api/courses")
    assert response.status_code == 200
    assert "X-Pagination" not in response.headers
    body = response.get_json()
    assert [list(course) for course in body] == [COURSE_FIELDS] * 3
    assert [course["name"] for course in body] == [
        "Алгоритмы и структуры данных",
        "Программирование на Python",
        "Математический анализ",
    ]
    assert body[0] == {
        "id": catalog.algorithms.id,
        "name": "Алгоритмы и структуры данных",
        "description": "Изучение основных алгоритмов.",
        "semester": 1,
    }


def test_courses_cyrillic_is_sent_as_text(client, catalog):
    assert "Алгоритмы".encode() in client.get("/api/courses").get_data()


def test_courses_by_semester(client, catalog):
    body = client.get("/api/courses?semester=2").get_json()
    assert [course["id"] for course in body] == [catalog.calculus.id]


@pytest.mark.parametrize("semester", ["0", "13", "-1", "x", "99999999999999999999999", ""])
def test_courses_bad_semester(client, catalog, semester):
    assert_error(client.get(f"/api/courses?semester={semester}"), 400)


def test_courses_by_ids(client, catalog):
    ids = f"{catalog.calculus.id},{catalog.hidden.id}, {catalog.algorithms.id},999999"
    body = client.get(f"/api/courses?ids={ids}").get_json()
    assert [course["id"] for course in body] == [catalog.algorithms.id, catalog.calculus.id]


def test_courses_ids_up_to_one_hundred(client, catalog):
    hundred = ",".join(str(n) for n in range(1, 101))
    assert client.get(f"/api/courses?ids={hundred}").status_code == 200
    body = assert_error(client.get(f"/api/courses?ids={hundred},101"), 400)
    assert "ids" in body["errors"]["query"]


@pytest.mark.parametrize("ids", ["", ",", "1,x", "1,-2", "0", "2147483648", "1;2", "١", "9" * 5000])
def test_courses_bad_ids(client, catalog, ids):
    assert_error(client.get(f"/api/courses?ids={ids}"), 400)


def test_courses_paginated_with_header(client, catalog):
    response = client.get("/api/courses?page=1&page_size=2")
    assert response.status_code == 200
    assert [course["name"] for course in response.get_json()] == [
        "Алгоритмы и структуры данных",
        "Программирование на Python",
    ]
    assert json.loads(response.headers["X-Pagination"]) == {
        "total": 3,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 1,
        "next_page": 2,
    }
    last = client.get("/api/courses?page=2&page_size=2")
    assert [course["name"] for course in last.get_json()] == ["Математический анализ"]
    assert json.loads(last.headers["X-Pagination"])["previous_page"] == 1
    only_size = client.get("/api/courses?page_size=1")
    assert len(only_size.get_json()) == 1
    assert json.loads(only_size.headers["X-Pagination"])["total_pages"] == 3


def test_courses_page_with_filters(client, catalog):
    response = client.get("/api/courses?semester=1&page=1&page_size=100")
    assert len(response.get_json()) == 2
    assert json.loads(response.headers["X-Pagination"])["total"] == 2


@pytest.mark.parametrize(
    "query", ["page=0", "page=-1", "page_size=0", "page_size=101", "page=x", "page=10000001"]
)
def test_courses_bad_pagination(client, catalog, query):
    assert_error(client.get(f"/api/courses?{query}"), 400)


# --- GET /api/semesters --------------------------------------------------------------------


def test_semesters_grouped(client, catalog):
    body = client.get("/api/semesters").get_json()
    assert [(group["semester"], group["title"]) for group in body] == [
        (1, "1-й семестр"),
        (2, "2-й семестр"),
    ]
    assert [course["name"] for course in body[0]["courses"]] == [
        "Алгоритмы и структуры данных",
        "Программирование на Python",
    ]
    assert list(body[0]["courses"][0]) == COURSE_FIELDS


def test_semesters_empty_catalog(client):
    assert client.get("/api/semesters").get_json() == []


# --- GET /api/courses/{id} -----------------------------------------------------------------


def test_course_details(client, session, catalog):
    services.assign_teacher(session, catalog.algorithms.id, 12)
    body = client.get(f"/api/courses/{catalog.algorithms.id}").get_json()
    assert body["id"] == catalog.algorithms.id and body["name"] == "Алгоритмы и структуры данных"
    assert body["teacher_ids"] == [12]
    assert body["material_counts"] == {"lecture": 2, "seminar": 1, "lab": 1}
    assert body["is_active"] is True
    assert body["updated_at"].endswith("+00:00")


def test_inactive_course_is_not_found(client, catalog):
    assert_error(client.get(f"/api/courses/{catalog.hidden.id}"), 404)
    assert_error(client.get("/api/courses/999999"), 404)


@pytest.mark.parametrize("course_id", HOSTILE_IDS)
def test_course_hostile_ids(client, catalog, course_id):
    response = client.get(f"/api/courses/{course_id}")
    assert response.status_code in (400, 404)
    assert_error(response, response.status_code)
    assert_error(client.get(f"/api/courses/{course_id}/materials"), response.status_code)
    assert client.get(f"/api/courses/1/materials/{course_id}").status_code in (400, 404)


# --- GET /api/courses/search ---------------------------------------------------------------


def search(client, query, **params):
    response = client.get("/api/courses/search", query_string={"query": query, **params})
    assert response.status_code == 200, response.get_json()
    return [course["name"] for course in response.get_json()]


def test_search_cyrillic_any_case(client, catalog):
    assert search(client, "АЛГОРИТМ") == ["Алгоритмы и структуры данных"]
    assert search(client, "основы ПРОГРАММИРОВАНИЯ") == ["Программирование на Python"]
    assert search(client, "pYtHoN") == ["Программирование на Python"]
    assert search(client, "скрытый") == []
    assert list(client.get("/api/courses/search?query=python").get_json()[0]) == COURSE_FIELDS


def test_search_yo_and_ye(client, session):
    new_course(session, "Ёмкие структуры", "")
    new_course(session, "Теория", "емкие задачи")
    assert search(client, "ЁМКИЕ") == ["Ёмкие структуры", "Теория"]
    assert search(client, "емкие") == ["Ёмкие структуры", "Теория"]


def test_search_wildcards_are_literal(client, session):
    new_course(session, "Скидка 50%", "")
    new_course(session, "Скидка 500", "")
    new_course(session, "a_b", "")
    new_course(session, "axb", "")
    new_course(session, "C:\\dir", "")
    new_course(session, "C:dir", "")
    assert search(client, "50%") == ["Скидка 50%"]
    assert search(client, "a_b") == ["a_b"]
    assert search(client, "\\") == ["C:\\dir"]
    assert search(client, "%_%") == []


def test_search_name_matches_first(client, session):
    new_course(session, "Аналитика", "Про сети и графы", semester=1)
    new_course(session, "Компьютерные сети", "TCP/IP", semester=5)
    assert search(client, "сети") == ["Компьютерные сети", "Аналитика"]


def test_search_limit(client, session):
    for number in range(55):
        new_course(session, f"Курс {number:02d}", "")
    assert len(search(client, "курс")) == 50
    assert len(search(client, "курс", limit=100)) == 55
    assert search(client, "курс", limit=2) == ["Курс 00", "Курс 01"]


def test_search_query_of_one_hundred_characters_is_fine(client, catalog):
    assert search(client, "я" * 100) == []


@pytest.mark.parametrize(
    "query_string",
    [
        "",
        "query=",
        "query=%20%20",
        "query=%00",
        "query=" + "a" * 101,
        "query=x&limit=0",
        "query=x&limit=101",
        "query=x&limit=abc",
        "query=x&limit=" + "9" * 5000,
    ],
)
def test_search_bad_queries(client, catalog, query_string):
    assert_error(client.get(f"/api/courses/search?{query_string}"), 400)


# --- GET /api/courses/{id}/materials -------------------------------------------------------


def test_materials_sorted_by_type_then_lesson(client, catalog):
    body = client.get(f"/api/courses/{catalog.algorithms.id}/materials").get_json()
    assert (body["course_id"], body["course_name"]) == (
        catalog.algorithms.id,
        "Алгоритмы и структуры данных",
    )
    assert [(m["material_type"], m["lesson_number"]) for m in body["materials"]] == [
        ("Лекция", 1),
        ("Лекция", 2),
        ("Семинар", 1),
        ("Лабораторная работа", 1),
    ]
    assert body["materials"][0] == {
        "id": catalog.lecture.id,
        "lesson_number": 1,
        "material_type": "Лекция",
        "material_type_code": "lecture",
        "title": "Введение в алгоритмы",
        "file_url": catalog.lecture.file_url,
        "has_text": False,
        "has_file": False,
    }


@pytest.mark.parametrize(
    ("value", "code"),
    [("lecture", "lecture"), ("Лекция", "lecture"), ("seminar", "seminar"),
     ("Семинар", "seminar"), ("lab", "lab"), ("Лабораторная работа", "lab")],
)  # fmt: skip
def test_materials_filter_by_code_or_label(client, catalog, value, code):
    response = client.get(
        f"/api/courses/{catalog.algorithms.id}/materials", query_string={"type": value}
    )
    materials = response.get_json()["materials"]
    assert materials and {m["material_type_code"] for m in materials} == {code}


def test_materials_unknown_type_is_400_naming_allowed(client, catalog):
    response = client.get(
        f"/api/courses/{catalog.algorithms.id}/materials", query_string={"type": "экзамен"}
    )
    body = assert_error(response, 400)
    assert "lecture" in body["message"] and "Лабораторная работа" in body["message"]
    assert_error(client.get(f"/api/courses/{catalog.algorithms.id}/materials?type="), 400)
    assert_error(
        client.get(f"/api/courses/{catalog.algorithms.id}/materials?type=" + "x" * 500), 400
    )


def test_materials_unknown_or_inactive_course(client, catalog):
    assert_error(client.get("/api/courses/999999/materials"), 404)
    assert_error(client.get(f"/api/courses/{catalog.hidden.id}/materials"), 404)
    assert_error(client.get("/api/courses/999999/materials?type=lecture"), 404)


def test_materials_empty_course(client, catalog):
    body = client.get(f"/api/courses/{catalog.calculus.id}/materials").get_json()
    assert body["materials"] == []


# --- GET /api/courses/{id}/materials/{material_id} -----------------------------------------


def test_material_details(client, catalog):
    body = client.get(
        f"/api/courses/{catalog.algorithms.id}/materials/{catalog.seminar.id}"
    ).get_json()
    assert body["title"] == "Разбор базовых алгоритмов"
    assert (body["lesson_number"], body["material_type"], body["material_type_code"]) == (
        1,
        "Семинар",
        "seminar",
    )
    assert body["description"] == "Описание: Разбор базовых алгоритмов"
    assert body["file_url"].startswith("https://") and body["updated_at"]
    assert body["course_id"] == catalog.algorithms.id


def test_material_of_another_course_is_not_found(client, catalog):
    assert_error(
        client.get(f"/api/courses/{catalog.python.id}/materials/{catalog.lecture.id}"), 404
    )
    assert_error(client.get(f"/api/courses/{catalog.algorithms.id}/materials/999999"), 404)
    assert_error(client.get(f"/api/courses/999999/materials/{catalog.lecture.id}"), 404)


# --- documentation -------------------------------------------------------------------------


def test_openapi_documents_every_endpoint(client):
    spec = client.get("/openapi.json").get_json()
    paths = spec["paths"]
    for path in (
        "/api/courses",
        "/api/semesters",
        "/api/courses/search",
        "/api/courses/{course_id}",
        "/api/courses/{course_id}/materials",
        "/api/courses/{course_id}/materials/{material_id}",
        "/api/courses/{course_id}/teachers/{user_id}",
        "/api/teacher/courses",
    ):
        assert path in paths, path
    parameters = paths["/api/courses/{course_id}"]["parameters"]
    assert parameters[0]["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    assert paths["/api/courses"]["get"]["summary"] == "All active courses, by semester then name."
