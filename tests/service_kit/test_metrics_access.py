"""Who may read /metrics: decided by the connecting address, never by a header a client can
leave out; a request relayed by any kind of proxy header is refused too."""

import pytest
import requests

from service_kit import create_service_app
from service_kit.metrics import may_read_metrics, parse_networks
from tests.support.processes import ServerProcess, free_port

RELAY_HEADERS = [
    {"X-Forwarded-For": "203.0.113.7"},
    {"Forwarded": "for=203.0.113.7;proto=https"},
    {"X-Real-IP": "203.0.113.7"},
]


def app_with(networks: str | None = None):
    config = {"METRICS_ALLOWED_NETWORKS": networks} if networks else {}
    app, _api = create_service_app("demo", __name__, config, title="demo", database=False)
    return app


def metrics_status(app, remote_addr: str, headers: dict | None = None) -> int:
    return (
        app.test_client()
        .get("/metrics", headers=headers or {}, environ_base={"REMOTE_ADDR": remote_addr})
        .status_code
    )


@pytest.mark.parametrize("headers", RELAY_HEADERS, ids=lambda h: next(iter(h)))
def test_a_relayed_request_never_reads_the_metrics(headers):
    assert metrics_status(app_with(), "127.0.0.1", headers) == 404


@pytest.mark.parametrize("remote_addr", ["127.0.0.1", "127.0.0.9", "::1", "::ffff:127.0.0.1"])
def test_loopback_reads_them_by_default(remote_addr):
    assert metrics_status(app_with(), remote_addr) == 200


@pytest.mark.parametrize("remote_addr", ["203.0.113.7", "10.1.2.3", "", "unix:/tmp/sock"])
def test_any_other_address_gets_a_404_by_default(remote_addr):
    assert metrics_status(app_with(), remote_addr) == 404


def test_the_pod_network_when_configured():
    app = app_with("10.0.0.0/8, fc00::/7")
    assert metrics_status(app, "10.244.1.17") == 200
    assert metrics_status(app, "fd00::5") == 200
    assert metrics_status(app, "127.0.0.1") == 404
    # The ingress controller is in the pod network too: what it relays stays hidden.
    assert metrics_status(app, "10.244.1.17", {"X-Real-IP": "203.0.113.7"}) == 404


def test_a_wrong_network_stops_the_start_up():
    with pytest.raises(ValueError, match="METRICS_ALLOWED_NETWORKS"):
        parse_networks("10.0.0.0/8,not-a-network")


def test_the_rule_itself():
    loopback = parse_networks("127.0.0.0/8,::1")
    assert may_read_metrics({"REMOTE_ADDR": "127.0.0.1"}, loopback)
    assert not may_read_metrics({"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=x"}, loopback)
    assert not may_read_metrics({}, loopback)


@pytest.fixture(scope="module")
def gateway():
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = {"CATALOG_URL": nowhere, "FAVORITES_URL": nowhere, "AUTH_URL": nowhere,
           "AUTH_JWKS_URL": nowhere + "/jwks.json"}  # fmt: skip
    with ServerProcess("gateway:create_app()", env, threads=2) as process:
        yield process


@pytest.mark.parametrize("headers", RELAY_HEADERS, ids=lambda h: next(iter(h)))
def test_the_gateway_under_gunicorn_hides_them_from_every_relay(gateway, headers):
    assert requests.get(gateway.url + "/metrics", timeout=5).status_code == 200
    hidden = requests.get(gateway.url + "/metrics", headers=headers, timeout=5)
    assert hidden.status_code == 404
    assert "http_requests_total" not in hidden.text


@pytest.mark.parametrize("path", ["/api/metrics", "/api/courses/metrics", "/api/auth/metrics"])
def test_the_gateway_never_routes_to_a_services_metrics(gateway, path):
    assert requests.get(gateway.url + path, timeout=5).status_code in (400, 401, 404, 502)
    assert "http_requests_total" not in requests.get(gateway.url + path, timeout=5).text
