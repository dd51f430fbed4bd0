"""The service-to-service client against a real HTTP server on loopback."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service_kit import UpstreamUnavailable
from service_kit.http_client import ServiceClient
from tests.support.processes import free_port


class Upstream(BaseHTTPRequestHandler):
    calls: dict[str, int] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        Upstream.calls[self.path] = Upstream.calls.get(self.path, 0) + 1
        if self.path == "/slow":
            time.sleep(1.5)
            return self.reply(200, b"[]")
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/list")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if self.path == "/garbage":
            return self.reply(200, b"<html>not json</html>")
        if self.path == "/object":
            return self.reply(200, b'{"a": 1}')
        if self.path == "/flaky" and Upstream.calls[self.path] == 1:
            return self.reply(503, b"{}")
        if self.path == "/down":
            return self.reply(503, b"{}")
        echo = {"request_id": self.headers.get("X-Request-ID")}
        return self.reply(200, json.dumps([echo]).encode())

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def upstream_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def client(upstream_url):
    Upstream.calls.clear()
    return ServiceClient(upstream_url, name="test", read_timeout=0.5, backoff=0.01)


def test_get_json_returns_the_document(client):
    assert client.get_json("/list", expect=list) == [{"request_id": None}]


def test_read_timeout_is_enforced(client):
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable):
        client.get_json("/slow", expect=list)
    # Three attempts of 0.5 s at most, never the upstream's 1.5 s each.
    assert time.monotonic() - started < 2.5


def test_redirects_are_not_followed(client):
    with pytest.raises(UpstreamUnavailable, match="302"):
        client.get_json("/redirect", expect=list)
    assert Upstream.calls.get("/list") is None


def test_invalid_documents_are_rejected(client):
    with pytest.raises(UpstreamUnavailable, match="invalid JSON"):
        client.get_json("/garbage", expect=list)
    with pytest.raises(UpstreamUnavailable, match="unexpected"):
        client.get_json("/object", expect=list)


def test_idempotent_get_is_retried_at_most_twice(client):
    assert client.get_json("/flaky", expect=list)
    assert Upstream.calls["/flaky"] == 2
    with pytest.raises(UpstreamUnavailable):
        client.get_json("/down", expect=list)
    assert Upstream.calls["/down"] == 3


def test_unreachable_host_is_a_domain_error():
    client = ServiceClient(f"http://127.0.0.1:{free_port()}", name="gone", retries=0)
    with pytest.raises(UpstreamUnavailable, match="gone"):
        client.get_json("/list")
