"""The gateway's own answers: web UI, health, JSON errors, and refusals at the edge."""

import pytest

from gateway import create_app
from tests.support.processes import free_port


def assert_json_error(response, status):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == status and body["message"]
    assert response.headers["X-Request-ID"]
    return body


def test_root_serves_the_web_ui(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b"<html" in response.data.lower()


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/vendor/uplot/uPlot.esm.js", "javascript"),
        ("/vendor/uplot/uPlot.min.css", "css"),
        ("/vendor/eventsource-parser/index.js", "javascript"),
    ],
)
def test_a_library_vendored_in_a_nested_folder_is_served(client, path, kind):
    response = client.get(path)
    assert response.status_code == 200
    assert kind in response.mimetype  # a module script needs a JavaScript type
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/../pyproject.toml", "/%2e%2e/pyproject.toml", "/__init__.py"])
def test_files_outside_the_web_folder_are_not_served(client, path):
    assert_json_error(client.get(path), 404)


def test_unknown_page_is_a_json_404(client):
    assert_json_error(client.get("/no/such/page"), 404)


def test_wrong_method_on_a_page_is_a_json_405(client):
    assert_json_error(client.post("/"), 405)


def test_live_touches_nothing(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_when_the_signing_keys_load(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_ready_without_signing_keys_public_reads_still_work():
    # An auth outage must not take the gateway out of rotation: it can serve public reads,
    # and protected routes answer 503 (see below) until the keys load.
    app = create_app(
        {
            "AUTH_JWKS_URL": f"http://127.0.0.1:{free_port()}/jwks.json",
            "JWKS_CACHE_FILE": "/nonexistent/jwks.json",
        }
    )
    response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    assert "jwks" not in response.get_json()["checks"]


def test_health_is_never_routed_to_a_service(client):
    assert_json_error(client.get("/api/health/live"), 404)


def test_unknown_api_path_is_a_json_404(client):
    body = assert_json_error(client.get("/api/unknown"), 404)
    assert body["status"] == "Not Found"


def test_hostile_path_is_a_json_400(client):
    assert_json_error(client.get("/api/courses/%2e%2e/teacher/courses"), 400)


def test_dead_upstream_is_a_json_502(client):
    body = assert_json_error(client.get("/api/courses"), 502)
    assert "catalog" in body["message"]


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a b", "bearer not.a.token"],
)
def test_protected_route_without_a_usable_token_is_401(client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/api/user/courses", headers=headers)
    assert_json_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_every_forged_token_is_401(client, issuer):
    for name, token in issuer.forged_tokens(3).items():
        response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name


def test_valid_token_passes_the_edge(client, issuer):
    # Past the edge check the request goes to the (dead) favourites upstream: 502, not 401.
    response = client.get(
        "/api/user/courses", headers={"Authorization": f"Bearer {issuer.token(3)}"}
    )
    assert_json_error(response, 502)


def test_public_route_ignores_a_bad_token_at_the_edge(client):
    # Verification stays off the public path; the catalog judges the token if it cares.
    response = client.get("/api/courses", headers={"Authorization": "Bearer junk"})
    assert_json_error(response, 502)


def test_without_signing_keys_protected_routes_are_503_not_401(issuer):
    app = create_app({"AUTH_JWKS_URL": f"http://127.0.0.1:{free_port()}/jwks.json"})
    response = app.test_client().get(
        "/api/user/courses", headers={"Authorization": f"Bearer {issuer.token(3)}"}
    )
    body = assert_json_error(response, 503)
    assert body["message"] == "Sign-in cannot be checked right now."


def test_body_over_the_cap_is_413(client, issuer):
    response = client.post(
        "/api/user/courses",
        data=b"x" * (1024 * 1024 + 1),
        headers={"Authorization": f"Bearer {issuer.token(3)}"},
    )
    assert_json_error(response, 413)


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "99999999999999999999999"])
def test_invalid_content_length_is_400(client, issuer, length):
    environ = {"CONTENT_LENGTH": length}
    response = client.post(
        "/api/user/courses",
        environ_overrides=environ,
        headers={"Authorization": f"Bearer {issuer.token(3)}"},
    )
    assert_json_error(response, 400)


@pytest.mark.parametrize(
    ("name", "value"),
    [("GATEWAY_UPSTREAM_READ_TIMEOUT", "soon"), ("GATEWAY_UPSTREAM_CONNECT_TIMEOUT", "-1")],
)
def test_invalid_timeout_settings_stop_the_start(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        create_app()


def test_timeouts_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("GATEWAY_UPSTREAM_READ_TIMEOUT", "7.5")
    monkeypatch.setenv("GATEWAY_UPSTREAM_CONNECT_TIMEOUT", "0.5")
    proxy = create_app().extensions["api_proxy"]
    upstream = proxy.upstreams["catalog"]
    assert (upstream.read_timeout, upstream.connect_timeout) == (7.5, 0.5)


@pytest.mark.parametrize("path", ["/api/docsX", "/api/docs-old/openapi.json"])
def test_paths_that_only_look_like_the_docs_go_to_the_proxy(client, path):
    body = assert_json_error(client.get(path), 404)
    assert body["message"] == "No API endpoint at this path."


def test_proxied_requests_are_counted_by_route_prefix_not_raw_path(client):
    def count(route, status):
        text = client.get("/metrics").get_data(as_text=True)
        for line in text.splitlines():
            if (
                line.startswith("http_requests_total{")
                and 'service="gateway"' in line
                and f'route="{route}"' in line
                and f'status="{status}"' in line
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = count("/api/teacher", 401)
    client.get("/api/teacher/courses/12345")
    client.get("/api/teacher/anything")
    assert count("/api/teacher", 401) == before + 2
    assert "/api/teacher/courses/12345" not in client.get("/metrics").get_data(as_text=True)
