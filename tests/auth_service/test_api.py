"""The auth HTTP API through the Flask test client, on both database backends."""

import json
import os
from datetime import timedelta

import jwt
import pytest

from auth_service import create_app, services
from auth_service.throttle import LoginLimits
from tests.support.processes import free_port
from tests.support.tokens import TokenIssuer

PASSWORD = "correct-horse"


def register(client, email="ann@example.edu", password=PASSWORD, full_name="Ann Lee", **kwargs):
    return client.post(
        "/api/auth/register",
        json={"email": email, "password": password, "full_name": full_name},
        **kwargs,
    )


def login(client, email="ann@example.edu", password=PASSWORD, **kwargs):
    return client.post("/api/auth/login", json={"email": email, "password": password}, **kwargs)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_token(client, register_user):
    register_user("admin@example.edu", role="admin")
    return login(client, "admin@example.edu").json["access_token"]


def assert_error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json["code"] == status
    assert response.json["message"]


# Register ---------------------------------------------------------------------------------------


def test_register_creates_a_student(client):
    response = register(client, email="Ann@Example.edu")
    assert response.status_code == 201
    body = response.json
    assert body["email"] == "ann@example.edu"
    assert body["full_name"] == "Ann Lee"
    assert body["role"] == "student"
    assert body["is_active"] is True
    assert "password" not in body and "password_hash" not in body
    assert response.headers["Cache-Control"] == "no-store"


def test_register_twice_with_another_case_is_409(client):
    register(client)
    assert_error(register(client, email="ANN@EXAMPLE.EDU"), 409)


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD, "full_name": "A"},
        {"email": "a@example.edu", "password": "short", "full_name": "A"},
        {"email": "a@example.edu", "password": "x" * 129, "full_name": "A"},
        {"email": "a@example.edu", "password": PASSWORD, "full_name": ""},
        {"email": "a@example.edu", "password": PASSWORD, "full_name": "   "},
        {"email": "a@example.edu", "password": PASSWORD, "full_name": "x" * 201},
        {"email": "a@example.edu", "password": PASSWORD, "full_name": "Ann\x00"},
        {"email": "a@example.edu", "password": PASSWORD},
        {"email": "a@" + "x" * 260 + ".edu", "password": PASSWORD, "full_name": "A"},
        {"email": 5, "password": PASSWORD, "full_name": "A"},
        {"email": "a@example.edu", "password": PASSWORD, "full_name": "A", "role": "admin"},
    ],
)
def test_register_refuses_invalid_bodies_with_422(client, body):
    response = client.post("/api/auth/register", json=body)
    assert_error(response, 422)
    assert response.json["errors"]


def test_register_accepts_boundary_lengths_and_cyrillic(client):
    response = register(client, password="x" * 8, full_name="Иван Петров")
    assert response.status_code == 201
    assert response.json["full_name"] == "Иван Петров"
    assert register(client, email="b@example.edu", password="y" * 128).status_code == 201


@pytest.mark.parametrize(
    "data", ["not json", "[1, 2]", "null", "", '{"email": ' + "9" * 5000 + "}"]
)
def test_register_refuses_junk_bodies_without_a_500(client, data):
    response = client.post(
        "/api/auth/register", data=data, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.json["code"] == response.status_code


# Login ------------------------------------------------------------------------------------------


def test_login_returns_the_token_pair(client):
    register(client)
    response = login(client)
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_email_and_wrong_password_read_the_same(client):
    register(client)
    unknown = login(client, email="nobody@example.edu")
    wrong = login(client, password="wrong-password")
    assert_error(unknown, 401)
    assert_error(wrong, 401)
    assert unknown.json == wrong.json


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.edu"},
        {"password": PASSWORD},
        {"email": "", "password": PASSWORD},
        {"email": "a@example.edu", "password": "x" * 1025},
        {"email": ["a"], "password": PASSWORD},
    ],
)
def test_login_refuses_malformed_bodies_with_422(client, body):
    assert_error(client.post("/api/auth/login", json=body), 422)


def test_repeated_failures_get_429_with_retry_after(client):
    register(client)
    attacker = {"X-Forwarded-For": "203.0.113.66"}
    for _ in range(LoginLimits().free_failures):
        assert login(client, password="wrong-password", headers=attacker).status_code == 401
    response = login(client, headers=attacker)  # the right password, from the guessing client
    assert_error(response, 429)
    assert 0 < int(response.headers["Retry-After"]) <= LoginLimits().window_seconds


def test_failures_from_anywhere_never_lock_the_owner_out(client, register_user):
    # Before: five wrong passwords from anywhere made the owner's right one answer 429 for
    # 15 minutes (admins and teachers too), renewable for ever.
    register_user("teacher@example.edu", role="teacher")
    for number in range(30):
        attacker = {"X-Forwarded-For": f"203.0.113.{number % 3}"}
        login(client, "teacher@example.edu", "wrong-password", headers=attacker)
    owner = {"X-Forwarded-For": "192.0.2.10"}
    assert login(client, "teacher@example.edu", headers=owner).status_code == 200


@pytest.fixture
def small_client_limit(app_config):
    limits = LoginLimits(free_failures=5, failures_per_client=3, delay_base_seconds=60)
    app = create_app({**app_config, "LOGIN_LIMITS": limits})
    yield app.test_client()
    app.extensions["database"].dispose()


def test_the_per_client_limit_follows_the_forwarded_address(small_client_limit):
    client = small_client_limit
    behind_gateway = {"X-Forwarded-For": "198.51.100.7"}
    for number in range(3):
        login(client, f"guess{number}@example.edu", headers=behind_gateway)
    # Past the client's failures, a repeated guess at one account waits at once ...
    assert login(client, "next@example.edu", headers=behind_gateway).status_code == 401
    assert login(client, "next@example.edu", headers=behind_gateway).status_code == 429
    # ... while another browser behind the same gateway is another client.
    other = {"X-Forwarded-For": "198.51.100.8"}
    assert login(client, "next@example.edu", headers=other).status_code == 401
    assert login(client, "next@example.edu", headers=other).status_code == 401


def test_a_classroom_behind_one_address_logs_in_at_once(small_client_limit, register_user):
    # Before: after 50 failures from one address every user behind it was refused.
    classroom = {"X-Forwarded-For": "198.51.100.20"}
    for number in range(6):  # a classmate guessing: twice the per-client limit of failures
        login(small_client_limit, f"victim{number}@example.edu", "guess", headers=classroom)
    for number in range(20):
        register_user(f"student{number}@example.edu")
        response = login(small_client_limit, f"student{number}@example.edu", headers=classroom)
        assert response.status_code == 200


def test_an_untrusted_caller_cannot_dodge_the_limit_with_x_forwarded_for(small_client_limit):
    client = small_client_limit
    outsider = {"REMOTE_ADDR": "203.0.113.9"}
    for number in range(6):
        response = login(
            client,
            "ann@example.edu",
            headers={"X-Forwarded-For": f"10.0.0.{number}"},
            environ_base=outsider,
        )
    assert response.status_code == 429


def test_failures_are_counted_in_redis_when_it_is_configured(app_config, redis_prefix):
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set")
    config = {**app_config, "REDIS_URL": redis_url, "LOGIN_THROTTLE_PREFIX": redis_prefix}
    first, second = create_app(config), create_app(config)  # two workers, one count
    try:
        register(first.test_client())
        for app in (first, second, first, second, first):
            assert login(app.test_client(), password="wrong-password").status_code == 401
        assert login(second.test_client()).status_code == 429
        other = {"X-Forwarded-For": "192.0.2.10"}  # the owner, elsewhere
        assert login(second.test_client(), headers=other).status_code == 200
        assert second.test_client().get("/health/ready").json["checks"]["redis"] == "ok"
    finally:
        first.extensions["database"].dispose()
        second.extensions["database"].dispose()


def test_login_fails_closed_when_redis_is_down(app_config):
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app({**app_config, "REDIS_URL": unreachable})
    try:
        client = app.test_client()
        register(client)
        assert_error(login(client), 503)  # never an unthrottled password check
        ready = client.get("/health/ready")
        assert ready.status_code == 503 and ready.json["checks"]["redis"] == "unavailable"
    finally:
        app.extensions["database"].dispose()


def test_probing_for_existing_emails_is_throttled_like_registration(app_config):
    # Before: the 409 for a taken email came before the throttle, so 120 probes in 0.3 s told
    # which accounts exist.
    limits = LoginLimits(registrations_per_client=3)
    app = create_app({**app_config, "LOGIN_LIMITS": limits})
    try:
        client = app.test_client()
        prober = {"X-Forwarded-For": "203.0.113.66"}
        assert register(client, headers=prober).status_code == 201
        answers = [register(client, headers=prober).status_code for _ in range(5)]
        assert answers == [409, 409, 429, 429, 429]
        # Another address registers as usual.
        other = {"X-Forwarded-For": "192.0.2.10"}
        assert register(client, email="bob@example.edu", headers=other).status_code == 201
    finally:
        app.extensions["database"].dispose()


def test_many_registrations_from_one_address_get_429_with_retry_after(app_config):
    limits = LoginLimits(registrations_per_client=2)
    app = create_app({**app_config, "LOGIN_LIMITS": limits})
    try:
        client = app.test_client()
        assert register(client, email="a@example.edu").status_code == 201
        assert register(client, email="b@example.edu").status_code == 201
        response = register(client, email="c@example.edu")
        assert_error(response, 429)
        assert 0 < int(response.headers["Retry-After"]) <= limits.registration_window_seconds
    finally:
        app.extensions["database"].dispose()


# Refresh and logout ----------------------------------------------------------------------------


@pytest.fixture
def tokens(client):
    register(client)
    return login(client).json


def test_refresh_rotates_and_detects_reuse(client, tokens, monkeypatch):
    monkeypatch.setattr(services, "REFRESH_REUSE_GRACE", timedelta(0))
    rotated = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    assert rotated.json["refresh_token"] != tokens["refresh_token"]
    assert rotated.headers["Cache-Control"] == "no-store"
    reused = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_error(reused, 401)
    family_gone = client.post(
        "/api/auth/refresh", json={"refresh_token": rotated.json["refresh_token"]}
    )
    assert_error(family_gone, 401)


@pytest.mark.parametrize("body", [{"refresh_token": ""}, {"refresh_token": "x" * 257}, []])
def test_refresh_and_logout_refuse_malformed_bodies(client, body):
    assert_error(client.post("/api/auth/refresh", json=body), 422)
    assert_error(client.post("/api/auth/logout", json=body), 422)


def test_without_a_token_in_body_or_cookie_refresh_is_401_and_logout_204(client):
    assert_error(client.post("/api/auth/refresh", json={}, headers=BROWSER), 401)
    assert client.post("/api/auth/logout", json={}, headers=BROWSER).status_code == 204


def test_logout_revokes_and_is_idempotent(client, tokens):
    body = {"refresh_token": tokens["refresh_token"]}
    first = client.post("/api/auth/logout", json=body)
    assert first.status_code == 204 and first.data == b""
    assert client.post("/api/auth/logout", json=body).status_code == 204
    assert client.post("/api/auth/logout", json={"refresh_token": "unknown"}).status_code == 204
    assert_error(client.post("/api/auth/refresh", json=body), 401)


# Me ---------------------------------------------------------------------------------------------


def test_me_describes_the_caller(client, tokens, admin_token):
    response = client.get("/api/auth/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    body = response.json
    assert body["email"] == "ann@example.edu"
    assert body["role"] == "student"
    # A new account reads, and writes nothing until its address is verified.
    assert body["email_verified"] is False
    assert body["permissions"] == []

    verified = client.patch(
        f"/api/auth/users/{body['id']}", json={"email_verified": True}, headers=bearer(admin_token)
    )
    assert verified.json["email_verified"] is True
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    me = client.get("/api/auth/me", headers=bearer(refreshed.json["access_token"])).json
    assert me["permissions"] == ["assistant:use", "favorites:write"]


def test_me_without_a_token_is_401(client):
    response = client.get("/api/auth/me")
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_forged_tokens_are_401(client, tokens):
    # Tokens of another issuer's keys, and every classic forgery, with this service's claims.
    with TokenIssuer() as stranger:
        forged = stranger.forged_tokens(1)
        forged["valid elsewhere"] = stranger.token(1, "admin")
    for kind, token in forged.items():
        response = client.get("/api/auth/me", headers=bearer(token))
        assert response.status_code == 401, kind


def test_a_deactivated_callers_token_no_longer_opens_me(client, tokens, admin_token):
    me = client.get("/api/auth/me", headers=bearer(tokens["access_token"])).json
    client.patch(
        f"/api/auth/users/{me['id']}",
        json={"is_active": False},
        headers=bearer(admin_token),
    )
    assert_error(client.get("/api/auth/me", headers=bearer(tokens["access_token"])), 401)


# Admin: users -----------------------------------------------------------------------------------


def test_users_list_needs_users_admin(client, tokens):
    assert_error(client.get("/api/auth/users"), 401)
    assert_error(client.get("/api/auth/users", headers=bearer(tokens["access_token"])), 403)


def test_users_list_pages_and_searches(client, admin_token, register_user):
    for number in range(3):
        register_user(f"student{number}@example.edu", full_name=f"Student {number}")
    response = client.get(
        "/api/auth/users?page=1&page_size=2&query=STUDENT", headers=bearer(admin_token)
    )
    assert response.status_code == 200
    assert [user["email"] for user in response.json] == [
        "student0@example.edu",
        "student1@example.edu",
    ]
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 3 and pagination["total_pages"] == 2
    assert pagination["next_page"] == 2
    everyone = client.get("/api/auth/users", headers=bearer(admin_token)).json
    assert len(everyone) == 4


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=" + "9" * 40,
        "page_size=0",
        "page_size=101",
        "query=",
        "query=" + "x" * 101,
    ],
)
def test_users_list_refuses_bad_query_strings_with_400(client, admin_token, query):
    assert_error(client.get(f"/api/auth/users?{query}", headers=bearer(admin_token)), 400)


def test_admin_changes_a_role_and_the_next_refresh_carries_it(client, tokens, admin_token):
    me = client.get("/api/auth/me", headers=bearer(tokens["access_token"])).json
    response = client.patch(
        f"/api/auth/users/{me['id']}",
        json={"role": "teacher", "email_verified": True},
        headers=bearer(admin_token),
    )
    assert response.status_code == 200
    assert response.json["role"] == "teacher"
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    me_again = client.get("/api/auth/me", headers=bearer(refreshed.json["access_token"])).json
    assert "materials:write" in me_again["permissions"]


def test_an_admin_cannot_lock_themself_out_over_http(client, admin_token):
    me = client.get("/api/auth/me", headers=bearer(admin_token)).json
    for change in ({"is_active": False}, {"role": "student"}):
        response = client.patch(
            f"/api/auth/users/{me['id']}", json=change, headers=bearer(admin_token)
        )
        assert_error(response, 409)


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/auth/users/999999", {"role": "teacher"}, 404),
        ("/api/auth/users/0", {"role": "teacher"}, 404),
        ("/api/auth/users/-1", {"role": "teacher"}, 404),
        ("/api/auth/users/" + "9" * 30, {"role": "teacher"}, 404),
        ("/api/auth/users/abc", {"role": "teacher"}, 404),
        ("/api/auth/users/١", {"role": "teacher"}, 404),
        ("/api/auth/users/2147483648", {"role": "teacher"}, 404),
        ("/api/auth/users/{id}", {"role": "superuser"}, 422),
        ("/api/auth/users/{id}", {"role": ""}, 422),
        ("/api/auth/users/{id}", {"is_active": "maybe"}, 422),
        ("/api/auth/users/{id}", {"email": "x@example.edu"}, 422),
    ],
)
def test_patch_user_refuses_hostile_input(client, admin_token, register_user, path, body, status):
    user = register_user("ann@example.edu")
    response = client.patch(path.format(id=user.id), json=body, headers=bearer(admin_token))
    assert_error(response, status)


def test_patch_user_needs_users_admin(client, tokens, register_user):
    other = register_user("bob@example.edu")
    response = client.patch(
        f"/api/auth/users/{other.id}",
        json={"role": "admin"},
        headers=bearer(tokens["access_token"]),
    )
    assert_error(response, 403)


# Keys and health --------------------------------------------------------------------------------


def test_the_jwks_is_served_at_both_paths(client, tokens):
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    for path in ("/.well-known/jwks.json", "/api/auth/jwks.json"):
        response = client.get(path)
        assert response.status_code == 200
        assert [key["kid"] for key in response.json["keys"]] == [kid]
        assert "d" not in response.json["keys"][0]
        assert "max-age" in response.headers["Cache-Control"]


def test_readiness_checks_database_and_keys(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "jwks": "ok"}


def test_readiness_fails_without_a_key_file(app_config, tmp_path):
    app = create_app({**app_config, "JWT_PRIVATE_KEY_FILE": str(tmp_path / "missing.pem")})
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.json["checks"]["jwks"] == "unavailable"


def test_the_openapi_document_describes_the_auth_endpoints(client):
    spec = client.get("/openapi.json").json
    paths = spec["paths"]
    for path in (
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/auth/me",
        "/api/auth/users",
        "/api/auth/users/{user_id}",
    ):
        assert path in paths
    assert paths["/api/auth/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in paths["/api/auth/login"]["post"]
    assert "429" in paths["/api/auth/login"]["post"]["responses"]


# The refresh cookie and CSRF -------------------------------------------------------------------

BROWSER = {"X-CSRF": "1"}


def refresh_cookie(client):
    return client.get_cookie("portal_refresh", path="/api/auth")


def test_login_sets_an_httponly_strict_cookie_and_a_browser_gets_no_token_in_the_body(client):
    # Before: the web UI kept the 30-day refresh token in localStorage, in reach of any script.
    register(client)
    response = login(client, headers=BROWSER)
    assert response.status_code == 200
    assert "refresh_token" not in response.json and response.json["access_token"]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("portal_refresh=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/api/auth", "Max-Age=2592000"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain http to a loopback host (make run) only
    assert refresh_cookie(client).http_only


def test_api_clients_keep_the_json_body_form(client, tokens):
    assert tokens["refresh_token"]
    rotated = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200 and rotated.json["refresh_token"]


def test_the_cookie_is_secure_over_https_and_on_real_hosts(client):
    register(client)
    for headers in (
        {"X-Forwarded-Proto": "https"},
        {"X-Forwarded-Host": "portal.example.edu"},
    ):
        response = login(client, headers=headers)
        assert "; Secure" in response.headers["Set-Cookie"]


def test_refresh_and_logout_by_cookie_need_the_csrf_header(client):
    register(client)
    login(client, headers=BROWSER)
    # A cross-site form can make the browser send the cookie (were it not SameSite), never the
    # custom header: refused.
    assert_error(client.post("/api/auth/refresh", json={}), 403)
    assert_error(client.post("/api/auth/logout", json={}), 403)
    renewed = client.post("/api/auth/refresh", json={}, headers=BROWSER)
    assert renewed.status_code == 200 and "refresh_token" not in renewed.json
    assert renewed.json["access_token"]
    assert refresh_cookie(client) is not None


def test_a_foreign_origin_is_refused(client):
    register(client)
    login(client, headers=BROWSER)
    evil = {**BROWSER, "Origin": "https://evil.example"}
    assert_error(client.post("/api/auth/refresh", json={}, headers=evil), 403)
    assert_error(login(client, headers={"Origin": "https://evil.example"}), 403)
    own = {**BROWSER, "Origin": "http://localhost"}
    assert client.post("/api/auth/refresh", json={}, headers=own).status_code == 200
    through_gateway = {
        **BROWSER,
        "Origin": "https://portal.example.edu",
        "X-Forwarded-Host": "portal.example.edu",
    }
    assert client.post("/api/auth/refresh", json={}, headers=through_gateway).status_code == 200


def test_logout_by_cookie_revokes_and_clears_it(client):
    register(client)
    login(client, headers=BROWSER)
    spent = refresh_cookie(client).value
    response = client.post("/api/auth/logout", json={}, headers=BROWSER)
    assert response.status_code == 204
    assert "Max-Age=0" in response.headers["Set-Cookie"]
    assert refresh_cookie(client) is None
    assert_error(client.post("/api/auth/refresh", json={"refresh_token": spent}), 401)


def test_racing_refreshes_by_cookie_both_succeed(client):
    register(client)
    login(client, headers=BROWSER)
    spent = refresh_cookie(client).value
    assert client.post("/api/auth/refresh", json={}, headers=BROWSER).status_code == 200
    # The other tab's request, sent with the cookie as it was a moment ago.
    client.set_cookie("portal_refresh", spent, path="/api/auth")
    assert client.post("/api/auth/refresh", json={}, headers=BROWSER).status_code == 200


# Revocation ------------------------------------------------------------------------------------


def test_revocations_are_published_for_the_verifiers(client, admin_token, register_user):
    teacher = register_user("teacher@example.edu", role="teacher")
    assert client.get("/.well-known/revocations.json").json["revocations"] == {}
    before = int(__import__("time").time())
    client.patch(
        f"/api/auth/users/{teacher.id}", json={"role": "student"}, headers=bearer(admin_token)
    )
    response = client.get("/.well-known/revocations.json")
    assert response.headers["Cache-Control"] == "no-store"
    not_before = response.json["revocations"][str(teacher.id)]
    assert before <= not_before <= before + 2


def test_a_demoted_admins_old_token_cannot_write_here(client, admin_token, register_user):
    other_admin = register_user("boss@example.edu", role="admin")
    boss_token = login(client, "boss@example.edu").json["access_token"]
    me = client.get("/api/auth/me", headers=bearer(admin_token)).json
    demote = client.patch(
        f"/api/auth/users/{me['id']}", json={"role": "teacher"}, headers=bearer(boss_token)
    )
    assert demote.status_code == 200
    response = client.patch(
        f"/api/auth/users/{other_admin.id}",
        json={"is_active": False},
        headers=bearer(admin_token),
    )
    assert_error(response, 401)
    assert "revoked" in response.json["message"]


def test_logout_everywhere_ends_every_login(client, tokens):
    other = login(client).json
    response = client.post("/api/auth/logout-all", headers=bearer(tokens["access_token"]))
    assert response.status_code == 204
    for pair in (tokens, other):
        assert_error(
            client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 401
        )
    # The old access tokens may still read, but no longer write.
    assert client.get("/api/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
    again = client.post("/api/auth/logout-all", headers=bearer(other["access_token"]))
    assert_error(again, 401)
    # A new login works at once, also for writes.
    fresh = login(client).json["access_token"]
    assert client.post("/api/auth/logout-all", headers=bearer(fresh)).status_code == 204
