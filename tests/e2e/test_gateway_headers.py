"""Proxied API answers carry the gateway's security headers, once, over real HTTP."""

import pytest
import requests

from gateway.security import API_HEADERS
from tests.support.processes import ServerProcess, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway():
    upstream = ServerProcess("tests.e2e.gateway_upstream:create_app()", {}, threads=2).start()
    env = {
        "CATALOG_URL": upstream.url,
        "FAVORITES_URL": upstream.url,
        "AUTH_URL": upstream.url,
        "AUTH_JWKS_URL": f"http://127.0.0.1:{free_port()}/jwks.json",
    }
    try:
        with ServerProcess("gateway:create_app()", env, threads=2) as process:
            yield process
    finally:
        upstream.stop()


@pytest.mark.parametrize("path", ["/api/courses/echo", "/api/courses/big", "/api/courses/etag"])
def test_proxied_answers_carry_the_api_headers_once(gateway, path):
    response = requests.get(gateway.url + path, timeout=5)
    assert response.status_code == 200
    raw = response.raw.headers
    for name, value in API_HEADERS:
        assert raw.getlist(name) == [value], name


def test_a_conditional_304_carries_them_too(gateway):
    etag = requests.get(gateway.url + "/api/courses/etag", timeout=5).headers["ETag"]
    response = requests.get(
        gateway.url + "/api/courses/etag", headers={"If-None-Match": etag}, timeout=5
    )
    assert response.status_code == 304
    assert response.headers["X-Content-Type-Options"] == "nosniff"
