"""The catalog's write API: who may do what (real RS256 tokens), validation, and the answers."""

import pytest

from catalog_service import services
from tests.catalog_service.fake_users import FakeUsers, route_users

ADMIN_ID, TEACHER_ID, OTHER_TEACHER_ID, STUDENT_ID = 1, 20, 21, 30


def assert_error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == status and body["message"]
    return body


@pytest.fixture
def as_admin(bearer):
    return bearer(ADMIN_ID, "admin")


@pytest.fixture
def as_teacher(bearer, session, catalog):
    services.assign_teacher(session, catalog.algorithms.id, TEACHER_ID)
    return bearer(TEACHER_ID, "teacher")


@pytest.fixture
def as_other_teacher(bearer, session, catalog):
    services.assign_teacher(session, catalog.python.id, OTHER_TEACHER_ID)
    return bearer(OTHER_TEACHER_ID, "teacher")


@pytest.fixture
def as_student(bearer):
    return bearer(STUDENT_ID, "student")


def material_body(**overrides):
    body = {
        "lesson_number": 3,
        "material_type_code": "lecture",
        "title": "Деревья поиска",
        "description": "Слайды лекции.",
        "file_url": "https://files.example.edu/algo/lecture-03.pdf",
    }
    return {**body, **overrides}


def writes(catalog):
    """(method, path, body) of every write endpoint, aimed at the algorithms course."""
    course, material = catalog.algorithms.id, catalog.lecture.id
    return [
        ("post", "/api/courses", {"name": "Новый курс", "semester": 1}),
        ("patch", f"/api/courses/{course}", {"name": "Другое имя"}),
        ("put", f"/api/courses/{course}/teachers/5", None),
        ("delete", f"/api/courses/{course}/teachers/5", None),
        ("post", f"/api/courses/{course}/materials", material_body()),
        ("patch", f"/api/courses/{course}/materials/{material}", {"title": "Новое"}),
        ("delete", f"/api/courses/{course}/materials/{material}", None),
    ]


def call(client, method, path, body, headers):
    return getattr(client, method)(path, json=body, headers=headers)


# --- who may write -------------------------------------------------------------------------


def test_every_write_needs_a_token(client, catalog, token_issuer):
    bad_headers = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "Bearer not.a.token"},
        *(
            {"Authorization": f"Bearer {token}"}
            for token in token_issuer.forged_tokens(ADMIN_ID).values()
        ),
    ]
    for method, path, body in writes(catalog):
        for headers in bad_headers:
            response = call(client, method, path, body, headers)
            assert_error(response, 401)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.get("/api/teacher/courses"), 401)
    # Nothing was changed by any of them.
    assert client.get(f"/api/courses/{catalog.algorithms.id}").get_json()["teacher_ids"] == []


def test_students_are_refused_everywhere(client, catalog, as_student, session):
    services.assign_teacher(session, catalog.algorithms.id, STUDENT_ID)  # even when assigned
    for method, path, body in writes(catalog):
        assert_error(call(client, method, path, body, as_student), 403)


def test_teachers_cannot_administer_courses(client, catalog, as_teacher):
    for method, path, body in writes(catalog)[:4]:
        assert_error(call(client, method, path, body, as_teacher), 403)


def test_teacher_writes_materials_of_own_course_only(client, catalog, as_teacher):
    own, other = catalog.algorithms.id, catalog.python.id
    created = client.post(f"/api/courses/{own}/materials", json=material_body(), headers=as_teacher)
    assert created.status_code == 201
    material_id = created.get_json()["id"]

    assert_error(
        client.post(f"/api/courses/{other}/materials", json=material_body(), headers=as_teacher),
        403,
    )
    other_material = f"/api/courses/{other}/materials/{catalog.python_lecture.id}"
    assert_error(client.patch(other_material, json={"title": "x"}, headers=as_teacher), 403)
    assert_error(client.delete(other_material, headers=as_teacher), 403)

    own_material = f"/api/courses/{own}/materials/{material_id}"
    patched = client.patch(own_material, json={"lesson_number": 4}, headers=as_teacher)
    assert patched.status_code == 200 and patched.get_json()["lesson_number"] == 4
    assert client.delete(own_material, headers=as_teacher).status_code == 204
    assert_error(client.get(own_material), 404)


def test_admin_may_do_everything(client, catalog, as_admin, monkeypatch):
    route_users(monkeypatch, FakeUsers(everyone=True))
    for method, path, body in writes(catalog):
        response = call(client, method, path, body, as_admin)
        assert response.status_code in (200, 201, 204), (method, path, response.get_json())


def test_user_id_comes_only_from_the_token(client, catalog, as_teacher, bearer):
    own = catalog.algorithms.id
    # A body naming someone else is not a material: unknown fields are refused.
    for field in ("user_id", "course_id", "teacher_id", "id"):
        response = client.post(
            f"/api/courses/{own}/materials",
            json=material_body(**{field: OTHER_TEACHER_ID}),
            headers=as_teacher,
        )
        assert_error(response, 422)
    # Headers or query strings naming another user change nothing.
    spoofed = {**as_teacher, "X-User-Id": str(OTHER_TEACHER_ID)}
    mine = client.get(f"/api/teacher/courses?user_id={OTHER_TEACHER_ID}", headers=spoofed)
    assert [course["id"] for course in mine.get_json()] == [own]
    # A student's token with a teacher's id in the header still cannot write.
    student = {**bearer(STUDENT_ID, "student"), "X-User-Id": str(TEACHER_ID)}
    assert_error(
        client.post(f"/api/courses/{own}/materials", json=material_body(), headers=student), 403
    )


def test_teacher_courses_lists_own_active_courses(client, session, catalog, as_teacher, bearer):
    services.assign_teacher(session, catalog.hidden.id, TEACHER_ID)
    services.assign_teacher(session, catalog.calculus.id, TEACHER_ID)
    response = client.get("/api/teacher/courses", headers=as_teacher)
    assert response.status_code == 200
    assert [course["name"] for course in response.get_json()] == [
        "Алгоритмы и структуры данных",
        "Математический анализ",
    ]
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert client.get("/api/teacher/courses", headers=bearer(99, "student")).get_json() == []


# --- answers -------------------------------------------------------------------------------


def test_create_course_answers_like_get(client, as_admin):
    response = client.post(
        "/api/courses",
        json={"name": " Компиляторы ", "description": "Грамматики", "semester": 4},
        headers=as_admin,
    )
    assert response.status_code == 201
    created = response.get_json()
    assert (created["name"], created["semester"], created["is_active"]) == ("Компиляторы", 4, True)
    assert created == client.get(f"/api/courses/{created['id']}").get_json()
    names = [course["name"] for course in client.get("/api/courses/search?query=ГРАММ").get_json()]
    assert names == ["Компиляторы"]


def test_deactivating_a_course_hides_it_everywhere(client, catalog, as_admin, as_teacher):
    course = catalog.algorithms.id
    response = client.patch(f"/api/courses/{course}", json={"is_active": False}, headers=as_admin)
    assert response.status_code == 200 and response.get_json()["is_active"] is False
    assert course not in [c["id"] for c in client.get("/api/courses").get_json()]
    assert client.get(f"/api/courses?ids={course}").get_json() == []
    assert client.get("/api/courses/search?query=алгоритм").get_json() == []
    semesters = client.get("/api/semesters").get_json()
    assert course not in [c["id"] for group in semesters for c in group["courses"]]
    assert_error(client.get(f"/api/courses/{course}"), 404)
    assert_error(client.get(f"/api/courses/{course}/materials"), 404)
    assert_error(client.get(f"/api/courses/{course}/materials/{catalog.lecture.id}"), 404)
    assert client.get("/api/teacher/courses", headers=as_teacher).get_json() == []
    assert_error(
        client.post(f"/api/courses/{course}/materials", json=material_body(), headers=as_teacher),
        404,
    )
    back = client.patch(f"/api/courses/{course}", json={"is_active": True}, headers=as_admin)
    assert back.get_json()["is_active"] is True
    assert client.get(f"/api/courses/{course}").status_code == 200


def test_patch_course_any_subset(client, catalog, as_admin):
    path = f"/api/courses/{catalog.calculus.id}"
    assert client.patch(path, json={"semester": 3}, headers=as_admin).get_json()["semester"] == 3
    body = client.patch(path, json={"description": "Ряды"}, headers=as_admin).get_json()
    assert (body["name"], body["description"], body["semester"]) == (
        "Математический анализ",
        "Ряды",
        3,
    )

    # Nothing to change is a mistake, not a no-op: `{}` or no body at all is a 422.
    for nothing in ({"json": {}}, {}, {"data": "", "content_type": "application/json"}):
        error = assert_error(client.patch(path, headers=as_admin, **nothing), 422)
        assert "at least one of" in str(error["errors"])
    assert client.get(path).get_json() == body


def test_patch_material_needs_a_field(client, catalog, as_teacher):
    path = f"/api/courses/{catalog.algorithms.id}/materials/{catalog.lecture.id}"
    before = client.get(path).get_json()
    assert_error(client.patch(path, json={}, headers=as_teacher), 422)
    assert_error(client.patch(path, headers=as_teacher), 422)
    assert client.get(path).get_json() == before


def test_teacher_assignment(client, catalog, as_admin, bearer, monkeypatch):
    route_users(monkeypatch, FakeUsers(everyone=True))
    course = catalog.python.id
    assigned = client.put(f"/api/courses/{course}/teachers/44", headers=as_admin)
    assert assigned.status_code == 200 and assigned.get_json()["teacher_ids"] == [44]
    again = client.put(f"/api/courses/{course}/teachers/44", headers=as_admin)
    assert again.get_json()["teacher_ids"] == [44]
    teacher = bearer(44, "teacher")
    assert [c["id"] for c in client.get("/api/teacher/courses", headers=teacher).get_json()] == [
        course
    ]
    assert client.delete(f"/api/courses/{course}/teachers/44", headers=as_admin).status_code == 204
    assert client.delete(f"/api/courses/{course}/teachers/44", headers=as_admin).status_code == 204
    assert client.get("/api/teacher/courses", headers=teacher).get_json() == []
    assert_error(client.put("/api/courses/999999/teachers/44", headers=as_admin), 404)
    big_user = 2**63 - 1
    huge = client.put(f"/api/courses/{course}/teachers/{big_user}", headers=as_admin)
    assert huge.get_json()["teacher_ids"] == [big_user]
    for user_id in ("0", "-1", str(2**63), "x"):
        assert_error(client.put(f"/api/courses/{course}/teachers/{user_id}", headers=as_admin), 404)


def test_material_writes_answer_like_get(client, catalog, as_teacher):
    base = f"/api/courses/{catalog.algorithms.id}/materials"
    created = client.post(base, json=material_body(), headers=as_teacher)
    assert created.status_code == 201
    body = created.get_json()
    assert (body["material_type"], body["material_type_code"], body["title"]) == (
        "Лекция",
        "lecture",
        "Деревья поиска",
    )
    assert body == client.get(f"{base}/{body['id']}").get_json()
    patched = client.patch(
        f"{base}/{body['id']}", json={"material_type_code": "seminar"}, headers=as_teacher
    )
    assert patched.get_json()["material_type"] == "Семинар"
    assert patched.get_json() == client.get(f"{base}/{body['id']}").get_json()
    deleted = client.delete(f"{base}/{body['id']}", headers=as_teacher)
    assert deleted.status_code == 204 and deleted.get_data() == b""


def test_material_writes_on_missing_things(client, catalog, as_admin):
    assert_error(
        client.post("/api/courses/999999/materials", json=material_body(), headers=as_admin), 404
    )
    elsewhere = f"/api/courses/{catalog.python.id}/materials/{catalog.lecture.id}"
    assert_error(client.patch(elsewhere, json={"title": "x"}, headers=as_admin), 404)
    assert_error(client.delete(elsewhere, headers=as_admin), 404)
    assert_error(client.delete("/api/courses/1/materials/2147483648", headers=as_admin), 404)


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"lesson_number": 0},
        {"lesson_number": -1},
        {"lesson_number": 1001},
        {"lesson_number": "1"},
        {"lesson_number": 1.5},
        {"lesson_number": 2**70},
        {"material_type_code": "exam"},
        {"material_type_code": "Лекция"},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 301},
        {"title": "нуль\x00байт"},
        {"title": "две\nстроки"},
        {"title": None},
        {"description": "x" * 5001},
        {"file_url": "javascript:alert(1)"},
        {"file_url": "JavaScript:alert(1)"},
        {"file_url": "data:text/html,<script>alert(1)</script>"},
        {"file_url": "ftp://files.example.edu/a.pdf"},
        {"file_url": "file:///etc/passwd"},
        {"file_url": "/relative/path.pdf"},
        {"file_url": "https://"},
        {"file_url": "https:///no-host"},
        {"file_url": "https://exa mple.edu/a.pdf"},
        {"file_url": "https://files.example.edu/" + "a" * 2000},
        {"file_url": 42},
    ],
)
def test_invalid_materials_are_422(client, catalog, as_teacher, changes):
    base = f"/api/courses/{catalog.algorithms.id}/materials"
    assert_error(client.post(base, json=material_body(**changes), headers=as_teacher), 422)
    path = f"{base}/{catalog.lecture.id}"
    assert_error(client.patch(path, json=changes, headers=as_teacher), 422)


def test_lone_surrogates_are_422(client, catalog, as_teacher):
    """JSON may escape half a surrogate pair; Postgres could not store it."""
    path = f"/api/courses/{catalog.algorithms.id}/materials/{catalog.lecture.id}"
    raw = '{"title": "\\ud800"}'
    response = client.patch(path, data=raw, content_type="application/json", headers=as_teacher)
    assert_error(response, 422)


@pytest.mark.parametrize("missing", ["lesson_number", "material_type_code", "title"])
def test_new_material_needs_its_fields(client, catalog, as_teacher, missing):
    body = material_body()
    del body[missing]
    response = client.post(
        f"/api/courses/{catalog.algorithms.id}/materials", json=body, headers=as_teacher
    )
    assert missing in assert_error(response, 422)["errors"]["json"]


def test_http_urls_are_fine(client, catalog, as_teacher):
    response = client.post(
        f"/api/courses/{catalog.algorithms.id}/materials",
        json=material_body(file_url="http://intranet.example.edu/a.pdf", description=""),
        headers=as_teacher,
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "course",
    [
        {"semester": 1},
        {"name": "", "semester": 1},
        {"name": "  ", "semester": 1},
        {"name": "x" * 201, "semester": 1},
        {"name": "Курс"},
        {"name": "Курс", "semester": 0},
        {"name": "Курс", "semester": 13},
        {"name": "Курс", "semester": "1"},
        {"name": "Курс", "semester": 1, "description": "x" * 5001},
        {"name": "Курс", "semester": 1, "is_active": "maybe"},
        {"name": "Курс", "semester": 1, "id": 5},
        {"name": "Курс\x07", "semester": 1},
    ],
)
def test_invalid_courses_are_422(client, as_admin, course):
    assert_error(client.post("/api/courses", json=course, headers=as_admin), 422)


def test_invalid_course_changes_are_422(client, catalog, as_admin):
    path = f"/api/courses/{catalog.python.id}"
    for changes in ({"name": ""}, {"semester": 20}, {"is_active": None}, {"search_text": "x"}):
        assert_error(client.patch(path, json=changes, headers=as_admin), 422)


def test_bodies_that_are_not_json_objects(client, catalog, as_admin):
    for data in ("[]", "null", '"text"', "{not json"):
        response = client.post(
            "/api/courses", data=data, content_type="application/json", headers=as_admin
        )
        assert response.status_code in (400, 422)
        assert response.get_json()["code"] == response.status_code


def test_oversized_body_is_413(client, as_admin):
    response = client.post(
        "/api/courses",
        data=b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        content_type="application/json",
        headers=as_admin,
    )
    assert_error(response, 413)
