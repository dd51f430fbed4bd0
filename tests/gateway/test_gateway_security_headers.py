"""Browser security headers on every answer of the gateway: the web UI, its files, the API docs,
health, and the JSON errors of the edge."""

import pytest

from gateway.security import API_HEADERS, DOCS_CSP, WEB_UI_CSP

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def assert_common(response):
    for name, value in COMMON.items():
        assert response.headers.get_all(name) == [value], name
    assert "camera=()" in response.headers["Permissions-Policy"]


@pytest.mark.parametrize("path", ["/", "/app.js", "/app.css", "/health/live", "/no/such/page"])
def test_web_ui_answers_carry_the_strict_policy(client, path):
    response = client.get(path)
    assert_common(response)
    assert response.headers.get_all("Content-Security-Policy") == [WEB_UI_CSP]


def test_the_web_ui_policy_allows_no_inline_code_and_no_framing():
    policy = directives(WEB_UI_CSP)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert "unsafe" not in WEB_UI_CSP


@pytest.mark.parametrize(
    "path", ["/api/docs", "/api/docs/assets/docs-init.js", "/api/docs/assets/swagger-ui.css"]
)
def test_api_docs_carry_a_policy_swagger_ui_works_with(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert_common(response)
    assert response.headers.get_all("Content-Security-Policy") == [DOCS_CSP]
    policy = directives(DOCS_CSP)
    assert policy["script-src"] == "'self'"  # Swagger UI is started by a file, not inline
    assert policy["frame-ancestors"] == "'none'"


def test_the_docs_page_has_no_inline_script(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert "<script>" not in page
    assert page.count("<script src=") == 2


@pytest.mark.parametrize(
    "path", ["/api/courses", "/api/unknown", "/api/courses/%2e%2e/x", "/api/user/courses"]
)
def test_edge_errors_carry_the_api_headers(client, path):
    response = client.get(path)
    assert response.status_code in (400, 401, 404, 502)
    assert_common(response)
    assert (
        response.headers["Content-Security-Policy"] == dict(API_HEADERS)["Content-Security-Policy"]
    )
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"


def test_no_strict_transport_security_from_the_gateway(client):
    # HSTS belongs to the TLS terminator (the Ingress); the gateway may be spoken to over HTTP.
    assert "Strict-Transport-Security" not in client.get("/").headers
