"""Hostile input to auth's API: clear 4xx JSON errors, never a 500; and the admin's look-up of
one user, which the catalog asks before it assigns a teacher."""

import pytest

from auth_service import services

PASSWORD = "correct-horse"
DEEP = "[" * 1000 + "]" * 1000


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def login(client, email, password=PASSWORD):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def assert_error(response, *statuses) -> dict:
    assert response.status_code in statuses, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == response.status_code and body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def post_raw(client, path, raw: str):
    return client.post(path, data=raw.encode(), content_type="application/json")


@pytest.fixture
def admin_token(client, register_user):
    register_user("admin@example.edu", role="admin")
    return login(client, "admin@example.edu").json["access_token"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"email": "\\ud800", "password": "x"}',
        '{"email": "a@example.edu", "password": "\\udfff"}',
        '{"email": "a@example.edu", "password": "x", "\\ud800": 1}',
    ],
)
def test_login_with_a_lone_surrogate_is_422(client, raw):
    body = assert_error(post_raw(client, "/api/auth/login", raw), 422)
    assert "surrogate" in str(body["errors"])


@pytest.mark.parametrize(
    "field", ["email", "password", "full_name"], ids=["email", "password", "full_name"]
)
def test_register_with_a_lone_surrogate_is_422_and_stores_nothing(client, session, field):
    values = {"email": '"ann@example.edu"', "password": '"long-enough-1"', "full_name": '"Ann"'}
    values[field] = '"ab\\ud800cd-long-enough"'
    raw = "{" + ", ".join(f'"{name}": {value}' for name, value in values.items()) + "}"
    assert_error(post_raw(client, "/api/auth/register", raw), 422)
    assert services.find_user(session, "ann@example.edu") is None


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/register", "/api/auth/refresh"])
def test_deep_nesting_is_400(client, path):
    assert_error(post_raw(client, path, DEEP), 400)
    assert_error(post_raw(client, path, '{"email": ' + DEEP + "}"), 400)


@pytest.mark.parametrize(
    "full_name",
    ["\u202eAnn Lee", "Ann\u200bLee", "\ufeffAnn", "Ann\u2066Lee\u2069", "Ann\nLee", "   "],
)
def test_register_refuses_invisible_characters_in_the_full_name(client, session, full_name):
    body = {"email": "ann@example.edu", "password": "long-enough-1", "full_name": full_name}
    error = assert_error(client.post("/api/auth/register", json=body), 422)
    assert "full_name" in error["errors"]["json"]
    assert services.find_user(session, "ann@example.edu") is None


def test_register_takes_real_names(client):
    body = {"email": "ann@example.edu", "password": "long-enough-1", "full_name": "Анна Ли-Ёлкина"}
    assert client.post("/api/auth/register", json=body).status_code == 201


@pytest.mark.parametrize("body", [{}, None])
def test_patch_user_needs_a_field(client, admin_token, register_user, body):
    user = register_user("ann@example.edu")
    kwargs = {"json": body} if body is not None else {}
    error = assert_error(
        client.patch(f"/api/auth/users/{user.id}", headers=bearer(admin_token), **kwargs), 422
    )
    assert "at least one of: email_verified, is_active, role" in str(error["errors"])


@pytest.mark.parametrize("query", ["", "%20", "\u202e"])
def test_users_query_must_have_text(client, admin_token, query):
    response = client.get(f"/api/auth/users?query={query}", headers=bearer(admin_token))
    assert response.status_code in (200, 400)
    if query == "":
        assert_error(response, 400)


# GET /api/auth/users/{id} -------------------------------------------------------------------


def test_an_admin_looks_up_one_user(client, admin_token, register_user, session):
    user = register_user("ann@example.edu", role="teacher")
    response = client.get(f"/api/auth/users/{user.id}", headers=bearer(admin_token))
    assert response.status_code == 200
    body = response.json
    assert (body["id"], body["email"], body["role"], body["is_active"]) == (
        user.id,
        "ann@example.edu",
        "teacher",
        True,
    )
    assert "password_hash" not in body
    assert response.headers["Cache-Control"] == "no-store"

    user.is_active = False
    session.commit()
    response = client.get(f"/api/auth/users/{user.id}", headers=bearer(admin_token))
    assert response.json["is_active"] is False


@pytest.mark.parametrize("user_id", ["999999", "0", "2147483648", "9" * 30, "x"])
def test_an_unknown_user_is_404(client, admin_token, user_id):
    assert_error(client.get(f"/api/auth/users/{user_id}", headers=bearer(admin_token)), 404)


def test_only_admins_look_up_users(client, register_user):
    user = register_user("ann@example.edu")
    assert_error(client.get(f"/api/auth/users/{user.id}"), 401)
    student = login(client, "ann@example.edu").json["access_token"]
    assert_error(client.get(f"/api/auth/users/{user.id}", headers=bearer(student)), 403)
