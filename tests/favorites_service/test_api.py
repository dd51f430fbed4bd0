"""The Sider's endpoints through the Flask test client, with the real catalog process."""

import pytest

from favorites_service import services
from tests.support.processes import free_port

FIELDS = {"course_id", "added_at", "position", "course", "available"}


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == status and body["message"]
    return body


def add(client, headers, course_id):
    return client.post("/api/user/courses", json={"course_id": course_id}, headers=headers)


def listed(client, headers) -> list[int]:
    response = client.get("/api/user/courses", headers=headers)
    assert response.status_code == 200
    return [favorite["course_id"] for favorite in response.get_json()]


# Adding


def test_add_answers_201_with_the_entry_as_the_list_shows_it(client, auth, courses):
    course = courses[0]
    response = add(client, auth(7), course["id"])
    assert response.status_code == 201
    entry = response.get_json()
    assert set(entry) == FIELDS
    assert entry["course_id"] == course["id"]
    assert entry["position"] == 0
    assert entry["course"] == course
    assert entry["available"] is True
    assert entry["added_at"].endswith("+00:00")
    assert client.get("/api/user/courses", headers=auth(7)).get_json() == [entry]


def test_add_again_answers_200_with_the_existing_entry(client, auth, courses):
    first = add(client, auth(7), courses[1]["id"]).get_json()
    again = add(client, auth(7), courses[1]["id"])
    assert again.status_code == 200
    assert again.get_json() == first
    assert listed(client, auth(7)) == [courses[1]["id"]]


def test_new_favourites_go_to_the_end(client, auth, courses):
    chosen = [courses[2], courses[0], courses[1]]
    for course in chosen:
        add(client, auth(7), course["id"])
    favorites = client.get("/api/user/courses", headers=auth(7)).get_json()
    assert [f["course"] for f in favorites] == chosen
    assert [f["position"] for f in favorites] == [0, 1, 2]


def test_add_of_a_course_the_catalog_does_not_have_is_404(client, auth, catalog):
    retired = catalog.add_course("Устаревший курс", 4)
    catalog.deactivate(retired["id"])
    assert_error(add(client, auth(7), retired["id"]), 404)
    assert_error(add(client, auth(7), 2_000_000_000), 404)
    assert listed(client, auth(7)) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"course_id": None},
        {"course_id": "1"},
        {"course_id": 1.5},
        {"course_id": True},
        {"course_id": 0},
        {"course_id": -3},
        {"course_id": 2**31},
        {"course_id": 10**30},
        {"course_id": [1]},
        {"course_id": {"id": 1}},
        {"course_id": 1, "user_id": 8},
        [{"course_id": 1}],
        "1",
        42,
    ],
)
def test_add_with_a_bad_body_is_422(client, auth, body):
    assert_error(client.post("/api/user/courses", json=body, headers=auth(7)), 422)
    assert listed(client, auth(7)) == []


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("\x00\xff", "application/json"),
        # json.loads raises a plain ValueError past 4,300 digits, not a JSONDecodeError.
        ('{"course_id": 1' + "0" * 5000 + "}", "application/json"),
    ],
)
def test_add_with_an_unreadable_body_is_a_json_4xx(client, auth, data, content_type):
    response = client.post(
        "/api/user/courses", data=data, content_type=content_type, headers=auth(7)
    )
    assert response.status_code in (400, 422)
    assert response.get_json()["code"] == response.status_code


def test_a_full_sider_refuses_new_courses_with_409(client, auth, session, courses):
    for course_id in range(1000, 1000 + services.MAX_FAVORITES - 1):
        services.store_favorite(session, 7, course_id)
    assert add(client, auth(7), courses[0]["id"]).status_code == 201
    body = assert_error(add(client, auth(7), courses[1]["id"]), 409)
    assert str(services.MAX_FAVORITES) in body["message"]
    assert add(client, auth(7), courses[0]["id"]).status_code == 200


# Removing


def test_remove_answers_204_also_when_absent(client, auth, courses):
    add(client, auth(7), courses[0]["id"])
    add(client, auth(7), courses[1]["id"])
    for _ in range(2):
        response = client.delete(f"/api/user/courses/{courses[0]['id']}", headers=auth(7))
        assert response.status_code == 204 and response.get_data() == b""
    favorites = client.get("/api/user/courses", headers=auth(7)).get_json()
    assert [(f["course_id"], f["position"]) for f in favorites] == [(courses[1]["id"], 0)]


@pytest.mark.parametrize(
    "course_id",
    ["abc", "-1", "0", "1.5", "99999999999999999999", "2147483648", "%00", "1%20", "ⅷ", "1;2"],
)
def test_remove_with_a_hostile_id_is_a_json_404(client, auth, courses, course_id):
    add(client, auth(7), courses[0]["id"])
    assert_error(client.delete(f"/api/user/courses/{course_id}", headers=auth(7)), 404)
    assert listed(client, auth(7)) == [courses[0]["id"]]


# Reordering


def test_reorder_saves_and_answers_the_new_list(client, auth, courses):
    ids = [course["id"] for course in courses]
    for course_id in ids:
        add(client, auth(7), course_id)
    new_order = [ids[2], ids[0], ids[1]]
    response = client.put(
        "/api/user/courses/order", json={"course_ids": new_order}, headers=auth(7)
    )
    assert response.status_code == 200
    assert response.headers["X-Catalog-Status"] == "ok"
    favorites = response.get_json()
    assert [f["course_id"] for f in favorites] == new_order
    assert [f["position"] for f in favorites] == [0, 1, 2]
    assert all(f["course"] and f["available"] for f in favorites)
    assert listed(client, auth(7)) == new_order


@pytest.mark.parametrize(
    "body",
    [
        {"course_ids": "first"},
        {"course_ids": None},
        {"course_ids": [1, "2"]},
        {"course_ids": [0]},
        {"course_ids": [True]},
        {"course_ids": list(range(1, services.MAX_FAVORITES + 2))},
        {},
        [1, 2],
    ],
)
def test_reorder_with_a_bad_body_is_422(client, auth, body):
    assert_error(client.put("/api/user/courses/order", json=body, headers=auth(7)), 422)


def test_reorder_that_is_not_a_permutation_is_422_and_changes_nothing(client, auth, courses):
    ids = [course["id"] for course in courses]
    for course_id in ids:
        add(client, auth(7), course_id)
    for wrong in ([ids[0], ids[1]], [*ids, 999], [ids[0], ids[0], ids[1], ids[2]], []):
        response = client.put(
            "/api/user/courses/order", json={"course_ids": wrong}, headers=auth(7)
        )
        body = assert_error(response, 422)
        assert body["errors"]["json"]["course_ids"]
    assert listed(client, auth(7)) == ids


def test_reorder_of_an_empty_sider(client, auth):
    response = client.put("/api/user/courses/order", json={"course_ids": []}, headers=auth(7))
    assert response.status_code == 200 and response.get_json() == []


# Who may do what


def test_every_endpoint_needs_a_valid_token(client, token_issuer):
    calls = [
        ("get", "/api/user/courses", None),
        ("post", "/api/user/courses", {"course_id": 1}),
        ("delete", "/api/user/courses/1", None),
        ("put", "/api/user/courses/order", {"course_ids": []}),
    ]
    tokens = [None, *token_issuer.forged_tokens(7).values()]
    for method, path, body in calls:
        for token in tokens:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = getattr(client, method)(path, json=body, headers=headers)
            body_seen = assert_error(response, 401)
            assert "Bearer" in response.headers["WWW-Authenticate"], body_seen


def test_writes_need_the_favorites_permission(client, auth, courses):
    reader = auth(7, permissions=[])
    assert client.get("/api/user/courses", headers=reader).status_code == 200
    assert_error(add(client, reader, courses[0]["id"]), 403)
    assert_error(client.delete("/api/user/courses/1", headers=reader), 403)
    assert_error(
        client.put("/api/user/courses/order", json={"course_ids": []}, headers=reader), 403
    )
    assert listed(client, auth(7)) == []


def test_one_user_never_sees_or_changes_anothers_favourites(client, auth, courses):
    alice, bob = auth(7), auth(8)
    add(client, alice, courses[0]["id"])
    add(client, alice, courses[1]["id"])

    # Nothing in the query, headers or body can name another user.
    spoofing = {**bob, "X-User-Id": "7", "X-User": "7", "X-Forwarded-User": "7"}
    assert listed(client, spoofing) == []
    assert client.get("/api/user/courses?user_id=7", headers=bob).get_json() == []
    assert_error(
        client.post(
            "/api/user/courses", json={"course_id": courses[2]["id"], "user_id": 7}, headers=bob
        ),
        422,
    )
    response = client.delete(f"/api/user/courses/{courses[0]['id']}", headers=spoofing)
    assert response.status_code == 204
    reorder = {"course_ids": [courses[1]["id"], courses[0]["id"]]}
    assert_error(client.put("/api/user/courses/order", json=reorder, headers=bob), 422)

    assert add(client, bob, courses[0]["id"]).status_code == 201
    assert listed(client, alice) == [courses[0]["id"], courses[1]["id"]]
    assert listed(client, bob) == [courses[0]["id"]]


def test_user_ids_as_large_as_a_token_allows(client, auth, courses):
    largest = 999_999_999_999_999_999  # 18 digits, the most a token's sub may carry
    assert add(client, auth(largest), courses[0]["id"]).status_code == 201
    assert listed(client, auth(largest)) == [courses[0]["id"]]
    assert (
        client.delete(f"/api/user/courses/{courses[0]['id']}", headers=auth(largest)).status_code
        == 204
    )


# The catalog changing or failing


def test_a_course_the_catalog_dropped_stays_listed_as_unavailable(client, auth, catalog, courses):
    doomed = catalog.add_course("Курс, который закроют", 2)
    add(client, auth(7), courses[0]["id"])
    add(client, auth(7), doomed["id"])
    catalog.deactivate(doomed["id"])
    response = client.get("/api/user/courses", headers=auth(7))
    assert response.headers["X-Catalog-Status"] == "ok"
    first, dropped = response.get_json()
    assert (first["course"], first["available"]) == (courses[0], True)
    assert (dropped["course_id"], dropped["course"], dropped["available"]) == (
        doomed["id"],
        None,
        False,
    )


def test_an_unreachable_catalog_degrades_the_list_and_refuses_adds(app_for, auth, courses, client):
    add(client, auth(7), courses[0]["id"])
    add(client, auth(7), courses[1]["id"])
    offline = app_for(f"http://127.0.0.1:{free_port()}").test_client()

    response = offline.get("/api/user/courses", headers=auth(7))
    assert response.status_code == 200
    assert response.headers["X-Catalog-Status"] == "unavailable"
    favorites = response.get_json()
    assert [f["course_id"] for f in favorites] == [courses[0]["id"], courses[1]["id"]]
    assert all(f["course"] is None and f["available"] is None for f in favorites)

    body = assert_error(add(offline, auth(7), courses[2]["id"]), 503)
    assert "catalog" in body["message"]
    response = offline.delete(f"/api/user/courses/{courses[1]['id']}", headers=auth(7))
    assert response.status_code == 204
    assert listed(client, auth(7)) == [courses[0]["id"]]


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, b"<html>oops</html>"), (200, {"courses": []}), (200, [{"id": "1"}]), (500, [])],
)
def test_a_catalog_answering_garbage_degrades_the_list(
    app_for, auth, client, courses, scripted_upstream, status, body
):
    add(client, auth(7), courses[0]["id"])
    scripted_upstream.answer(status, body)
    confused = app_for(scripted_upstream.url).test_client()
    response = confused.get("/api/user/courses", headers=auth(7))
    assert response.status_code == 200
    assert response.headers["X-Catalog-Status"] == "unavailable"
    assert response.get_json()[0]["course"] is None
    assert_error(add(confused, auth(7), courses[1]["id"]), 503)


def test_the_list_asks_the_catalog_once_and_passes_the_request_id(
    app_for, auth, client, courses, scripted_upstream
):
    for course in courses:
        add(client, auth(7), course["id"])
    scripted_upstream.answer(200, courses)
    response = (
        app_for(scripted_upstream.url)
        .test_client()
        .get("/api/user/courses", headers={**auth(7), "X-Request-ID": "sider-list-1"})
    )
    assert [f["course"] for f in response.get_json()] == courses
    [(path, headers)] = scripted_upstream.requests
    assert path == "/api/courses"  # the whole list, kept and revalidated (test_catalog.py)
    assert headers["X-Request-ID"] == "sider-list-1"


def test_an_empty_sider_does_not_ask_the_catalog(app_for, auth, scripted_upstream):
    client = app_for(scripted_upstream.url).test_client()
    response = client.get("/api/user/courses", headers=auth(7))
    assert response.get_json() == []
    assert scripted_upstream.requests == []


# Odds and ends


def test_the_list_is_never_cached(client, auth):
    response = client.get("/api/user/courses", headers=auth(7))
    assert response.headers["Cache-Control"] == "no-store"


def test_ready_checks_the_database_and_the_signing_keys(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "jwks": "ok"}


def test_openapi_documents_the_sider(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths) == {
        "/api/user/courses",
        "/api/user/courses/{course_id}",
        "/api/user/courses/order",
    }
    assert "X-Catalog-Status" in paths["/api/user/courses"]["get"]["responses"]["200"]["headers"]
