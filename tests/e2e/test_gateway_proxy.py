"""The gateway under gunicorn in front of real upstream processes, spoken to over raw HTTP.

`requests` would normalise `..` and decode gzip for us, so these tests use raw sockets and
http.client and look at the bytes the gateway actually sends and receives.
"""

import contextlib
import gzip
import hashlib
import http.client
import json
import socket
import socketserver
import threading
import time
import uuid

import pytest

from tests.support.processes import ServerProcess, free_port
from tests.support.tokens import TokenIssuer

pytestmark = pytest.mark.e2e

UPSTREAM_APP = "tests.e2e.gateway_upstream:create_app()"
READ_TIMEOUT = 1.0
MiB = 1024 * 1024
GZIP_TEXT = ("Лекция 1. Введение в курс. " * 200).encode()


class RawUpstream:
    """An HTTP/1.1 server that writes its responses byte by byte, including the hop-by-hop
    headers and connection tricks that a WSGI server would never let an app produce.

    Paths (last segment): `hop` answers with hop-by-hop headers, `chunked` with a chunked body,
    `close-after` answers and then closes the connection without saying so, `drop-reused`
    closes without answering when it is not the first request on its connection.
    """

    def __init__(self):
        self.requests: list[tuple[int, str, str]] = []  # (connection number, method, target)
        self.dropped = 0
        self.lock = threading.Lock()
        self.connections = 0
        upstream = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with upstream.lock:
                    upstream.connections += 1
                    connection = upstream.connections
                served = 0
                while True:
                    request_line = self.rfile.readline()
                    if not request_line:
                        return
                    method, target, _version = request_line.decode("latin-1").split(" ", 2)
                    length = 0
                    while (line := self.rfile.readline()) not in (b"\r\n", b""):
                        name, _, value = line.decode("latin-1").partition(":")
                        if name.lower() == "content-length":
                            length = int(value)
                    if length:
                        self.rfile.read(length)
                    served += 1
                    action = target.split("?")[0].rsplit("/", 1)[-1]
                    with upstream.lock:
                        upstream.requests.append((connection, method, target))
                    if action == "drop-reused" and served > 1:
                        with upstream.lock:
                            upstream.dropped += 1
                        return
                    self.wfile.write(upstream.response(action))
                    if action == "close-after":
                        return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def response(action: str) -> bytes:
        if action == "hop":
            return (
                b"HTTP/1.1 200 OK\r\n"
                b"Content-Type: text/plain\r\n"
                b"Connection: keep-alive, X-Secret-Hop\r\n"
                b"Keep-Alive: timeout=5, max=100\r\n"
                b"X-Secret-Hop: must not leave the gateway\r\n"
                b"Proxy-Authenticate: Basic realm=x\r\n"
                b"Trailer: X-Checksum\r\n"
                b"Upgrade: h2c\r\n"
                b"X-Kept: yes\r\n"
                b"Content-Length: 3\r\n\r\nhop"
            )
        if action == "chunked":
            return (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
                b"5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n"
            )
        return b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def issuer():
    with TokenIssuer() as token_issuer:
        yield token_issuer


@pytest.fixture(scope="module")
def upstream():
    with ServerProcess(UPSTREAM_APP, {}, workers=1, threads=4) as process:
        yield process


@pytest.fixture(scope="module")
def raw_upstream():
    server = RawUpstream()
    yield server
    server.stop()


def gateway_env(issuer, upstream, raw_upstream) -> dict[str, str]:
    return {
        "CATALOG_URL": upstream.url,
        "FAVORITES_URL": raw_upstream.url,
        "AUTH_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "AUTH_JWKS_URL": issuer.jwks_url,
        "GATEWAY_UPSTREAM_READ_TIMEOUT": str(READ_TIMEOUT),
    }


@pytest.fixture(scope="module")
def gateway(issuer, upstream, raw_upstream):
    env = gateway_env(issuer, upstream, raw_upstream)
    with ServerProcess("gateway:create_app()", env, workers=1, threads=4) as process:
        yield process


@pytest.fixture(scope="module")
def single_thread_gateway(issuer, upstream, raw_upstream):
    """One worker thread, so consecutive requests surely share its upstream connection."""
    env = gateway_env(issuer, upstream, raw_upstream)
    with ServerProcess("gateway:create_app()", env, workers=1, threads=1) as process:
        yield process


@pytest.fixture
def student(issuer):
    return {"Authorization": f"Bearer {issuer.token(7)}"}


def request(server, method, target, *, headers=None, body=None, connection=None):
    """One request over http.client, target sent verbatim; returns (response, raw body)."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = headers or {}
    conn.putrequest(method, target, skip_host="Host" in headers, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    content = response.read()
    if connection is None:
        conn.close()
    return response, content


def raw_exchange(server, request_bytes: bytes):
    """Send bytes as they are (no client-side normalisation) and read one response."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request_bytes)
        response = http.client.HTTPResponse(sock, method="GET")
        response.begin()
        return response, response.read()


def seen_by(upstream) -> list[str]:
    _, content = request(upstream, "GET", "/__seen")
    return json.loads(content)


def assert_error(response, content, status):
    assert response.status == status
    assert response.getheader("Content-Type") == "application/json"
    body = json.loads(content)
    assert body["code"] == status
    assert isinstance(body["message"], str) and body["message"]
    return body


# Routing and forwarding


def test_public_get_is_forwarded_with_path_and_query_unchanged(gateway):
    target = "/api/courses/echo?query=%D0%BB%D0%B5%D0%BA&x=a%2Fb&empty="
    response, content = request(gateway, "GET", target)
    assert response.status == 200
    echo = json.loads(content)
    assert echo["method"] == "GET"
    assert echo["target"] == target


def test_upstream_status_and_body_pass_through(gateway):
    response, content = request(gateway, "GET", "/api/courses/status?code=418")
    assert response.status == 418
    assert json.loads(content) == {"code": 418}


def test_unknown_api_path_is_a_json_404_without_an_upstream_call(gateway, upstream):
    for target in ("/api/coursesX/echo", "/api/nothing", "/api", "/api/"):
        response, content = request(gateway, "GET", target)
        assert_error(response, content, 404)
    assert not [t for t in seen_by(upstream) if t.startswith(("/api/coursesX", "/api/nothing"))]


def test_non_api_unknown_path_is_a_json_404(gateway):
    response, content = request(gateway, "GET", "/no/such/page.html")
    assert_error(response, content, 404)


HOSTILE_REQUEST_TARGETS = [
    "/api/courses/../teacher/courses",
    "/api/courses/./echo",
    "/api/courses/%2e%2e/teacher/courses",
    "/api/courses/%2E%2E/teacher/courses",
    "/api/courses/%252e%252e/teacher/courses",
    "/api/courses/echo%2f..%2f..%2fteacher",
    "/api/courses//evil.example/echo",
    "/api/courses\\..\\teacher",
    "/api/courses/%5c..%5cteacher",
    "/api/courses@evil.example/echo",
    "/api/courses/echo%00",
    "//evil.example/api/courses/echo",
    "http://evil.example/api/courses/echo",
]


@pytest.mark.parametrize("target", HOSTILE_REQUEST_TARGETS)
def test_hostile_raw_paths_are_refused_before_any_upstream_call(gateway, upstream, target):
    marker = uuid.uuid4().hex
    request_bytes = (
        f"GET {target}?marker={marker} HTTP/1.1\r\nHost: portal.test\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    response, content = raw_exchange(gateway, request_bytes)
    assert response.status in (400, 404)
    assert_error(response, content, response.status)
    assert not [t for t in seen_by(upstream) if marker in t]


def test_control_characters_never_reach_an_upstream(gateway, upstream):
    marker = uuid.uuid4().hex
    request_bytes = f"GET /api/courses/echo\x01{marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    response, _content = raw_exchange(gateway, request_bytes)
    assert response.status == 400  # gunicorn's parser or the gateway: either way, refused
    assert not [t for t in seen_by(upstream) if marker in t]


# Headers


def test_request_headers_forwarded_and_edge_headers_set(gateway, student):
    headers = {
        "Accept": "application/json",
        "Accept-Encoding": "gzip",
        "Authorization": student["Authorization"],
        "X-User-Id": "1",
        "X-User-Role": "admin",
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Host": "spoofed.example",
        "Forwarded": "for=203.0.113.9",
        "Connection": "keep-alive, X-Drop-Me",
        "X-Drop-Me": "hop-by-hop by naming",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Proxy-Authorization": "Basic c2VjcmV0",
        "X-Custom": "kept",
        "Host": "portal.test:8000",
    }
    response, content = request(gateway, "GET", "/api/courses/echo", headers=headers)
    assert response.status == 200
    seen = json.loads(content)["headers"]
    assert seen["accept"] == "application/json"
    assert seen["accept-encoding"] == "gzip"
    assert seen["authorization"] == student["Authorization"]
    assert seen["x-custom"] == "kept"
    assert not [name for name in seen if name.startswith("x-user-")]
    for dropped in ("x-drop-me", "keep-alive", "te", "proxy-authorization", "forwarded"):
        assert dropped not in seen
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == "portal.test:8000"
    assert seen["host"] == f"127.0.0.1:{gateway_upstream_port(gateway)}"


def gateway_upstream_port(gateway) -> int:
    return int(gateway.env["CATALOG_URL"].rsplit(":", 1)[1])


def test_response_hop_by_hop_headers_are_dropped_and_the_rest_kept(gateway, student):
    response, content = request(gateway, "GET", "/api/user/courses/hop", headers=student)
    assert response.status == 200
    assert content == b"hop"
    names = {name.lower() for name, _ in response.getheaders()}
    for dropped in ("keep-alive", "x-secret-hop", "proxy-authenticate", "trailer", "upgrade"):
        assert dropped not in names
    assert response.getheader("X-Kept") == "yes"
    assert response.getheader("Connection") in (None, "keep-alive")


def test_chunked_upstream_body_arrives_whole(gateway, student):
    response, content = request(gateway, "GET", "/api/user/courses/chunked", headers=student)
    assert response.status == 200
    assert content == b"firstsecond"


def test_repeated_set_cookie_headers_are_kept_apart(gateway):
    response, _ = request(gateway, "GET", "/api/courses/cookies")
    cookies = [value for name, value in response.getheaders() if name.lower() == "set-cookie"]
    assert cookies == ["first=1; Path=/; HttpOnly", "second=2; Path=/; Secure"]


def test_gzip_body_passes_through_byte_for_byte(gateway, upstream):
    headers = {"Accept-Encoding": "gzip"}
    _direct, direct_body = request(upstream, "GET", "/api/courses/gzip", headers=headers)
    response, content = request(gateway, "GET", "/api/courses/gzip", headers=headers)
    assert response.status == 200
    assert response.getheader("Content-Encoding") == "gzip"
    assert response.getheader("Content-Length") == str(len(content))
    assert content == direct_body
    assert gzip.decompress(content) == GZIP_TEXT


def test_large_body_is_streamed_intact(gateway, upstream):
    _, direct_body = request(upstream, "GET", "/api/courses/big")
    response, content = request(gateway, "GET", "/api/courses/big")
    assert response.status == 200
    assert len(content) == MiB
    assert hashlib.sha256(content).digest() == hashlib.sha256(direct_body).digest()


def test_request_id_generated_passed_upstream_and_returned(gateway):
    response, content = request(gateway, "GET", "/api/courses/echo")
    request_id = response.getheader("X-Request-ID")
    assert request_id and len(request_id) >= 16
    assert json.loads(content)["headers"]["x-request-id"] == request_id
    assert len(response.getheaders()) == len({n.lower() for n, _ in response.getheaders()})


def test_safe_request_id_is_kept(gateway):
    headers = {"X-Request-ID": "trace-42.a:b"}
    response, content = request(gateway, "GET", "/api/courses/echo", headers=headers)
    assert response.getheader("X-Request-ID") == "trace-42.a:b"
    assert json.loads(content)["headers"]["x-request-id"] == "trace-42.a:b"


def test_unsafe_request_id_is_replaced(gateway):
    headers = {"X-Request-ID": "<script>alert(1)</script>"}
    response, content = request(gateway, "GET", "/api/courses/echo", headers=headers)
    request_id = response.getheader("X-Request-ID")
    assert request_id != headers["X-Request-ID"]
    assert request_id.isalnum()
    assert json.loads(content)["headers"]["x-request-id"] == request_id


def test_request_id_is_returned_on_gateway_errors_too(gateway):
    response, _ = request(gateway, "GET", "/api/nothing", headers={"X-Request-ID": "err-1"})
    assert response.getheader("X-Request-ID") == "err-1"


# Redirects and conditional requests


def test_redirect_is_passed_through_not_followed(gateway):
    response, content = request(gateway, "GET", "/api/courses/redirect")
    assert response.status == 302
    assert response.getheader("Location") == "/api/courses/echo"
    assert content == b"elsewhere"


def test_conditional_request_and_304_pass_through(gateway):
    first, body = request(gateway, "GET", "/api/courses/etag")
    etag = first.getheader("ETag")
    assert first.status == 200 and etag == '"v1-abc"' and json.loads(body) == {"version": 1}
    again, again_body = request(
        gateway, "GET", "/api/courses/etag", headers={"If-None-Match": etag}
    )
    assert again.status == 304
    assert again_body == b""
    assert again.getheader("ETag") == etag
    assert again.getheader("Cache-Control") == "no-cache"


# Bodies


def test_post_body_is_forwarded_intact(gateway, student):
    body = json.dumps({"title": "Лекция 1", "lesson_number": 1}).encode()
    headers = {**student, "Content-Type": "application/json; charset=utf-8"}
    response, content = request(gateway, "POST", "/api/courses/echo", headers=headers, body=body)
    echo = json.loads(content)
    assert response.status == 200
    assert echo["method"] == "POST"
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert echo["headers"]["content-type"] == "application/json; charset=utf-8"
    assert echo["headers"]["content-length"] == str(len(body))


def test_chunked_request_body_is_forwarded_with_a_length(gateway, student):
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    pieces = [b"a" * 1000, b"b" * 5000, "ё".encode()]
    conn.request(
        "PUT", "/api/courses/echo", body=iter(pieces), headers=student, encode_chunked=True
    )
    response = conn.getresponse()
    echo = json.loads(response.read())
    conn.close()
    assert response.status == 200
    assert echo["body_sha256"] == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert echo["headers"]["content-length"] == str(len(b"".join(pieces)))
    assert "transfer-encoding" not in echo["headers"]


def test_body_over_one_mebibyte_is_413_before_the_upstream(gateway, upstream, student):
    marker = uuid.uuid4().hex
    response, content = request(
        gateway, "POST", f"/api/courses/echo?m={marker}", headers=student, body=b"x" * (MiB + 1)
    )
    assert_error(response, content, 413)
    assert not [t for t in seen_by(upstream) if marker in t]


def test_chunked_body_over_one_mebibyte_is_413(gateway, upstream, student):
    marker = uuid.uuid4().hex
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    chunks = (b"y" * 65536 for _ in range(17))  # 1 MiB + 64 KiB, no length announced
    conn.request(
        "POST", f"/api/courses/echo?m={marker}", body=chunks, headers=student, encode_chunked=True
    )
    response = conn.getresponse()
    assert_error(response, response.read(), 413)
    conn.close()
    assert not [t for t in seen_by(upstream) if marker in t]


def test_body_of_exactly_one_mebibyte_is_accepted(gateway, student):
    body = b"z" * MiB
    response, content = request(gateway, "POST", "/api/courses/echo", headers=student, body=body)
    assert response.status == 200
    assert json.loads(content)["body_length"] == MiB


# Edge authentication


def test_protected_route_without_token_is_401_before_any_upstream_call(gateway, upstream):
    marker = uuid.uuid4().hex
    response, content = request(gateway, "GET", f"/api/teacher/courses?m={marker}")
    assert_error(response, content, 401)
    assert response.getheader("WWW-Authenticate", "").startswith("Bearer")
    assert not [t for t in seen_by(upstream) if marker in t]


def test_forged_tokens_are_401_at_the_edge(gateway, upstream, issuer):
    marker = uuid.uuid4().hex
    for name, token in issuer.forged_tokens(7).items():
        headers = {"Authorization": f"Bearer {token}"}
        response, content = request(gateway, "GET", f"/api/teacher/x?m={marker}", headers=headers)
        assert response.status == 401, name
        assert_error(response, content, 401)
    assert not [t for t in seen_by(upstream) if marker in t]


def test_course_writes_need_a_token_but_reads_do_not(gateway, student):
    response, content = request(gateway, "POST", "/api/courses/echo", body=b"{}")
    assert_error(response, content, 401)
    response, _ = request(gateway, "GET", "/api/courses/echo")
    assert response.status == 200
    response, _ = request(gateway, "POST", "/api/courses/echo", headers=student, body=b"{}")
    assert response.status == 200


def test_valid_token_reaches_the_upstream_with_its_authorization(gateway, student):
    response, content = request(gateway, "GET", "/api/teacher/echo", headers=student)
    assert response.status == 200
    assert json.loads(content)["headers"]["authorization"] == student["Authorization"]


# Upstream failures


def test_dead_upstream_is_a_json_502(gateway):
    response, content = request(gateway, "POST", "/api/auth/login", body=b"{}")
    body = assert_error(response, content, 502)
    assert "auth" in body["message"]


def test_slow_upstream_is_a_json_504_after_the_read_timeout(gateway):
    started = time.monotonic()
    response, content = request(gateway, "GET", "/api/courses/slow?seconds=4")
    elapsed = time.monotonic() - started
    assert_error(response, content, 504)
    assert READ_TIMEOUT * 0.9 <= elapsed < READ_TIMEOUT + 1.5


@pytest.fixture
def unanswered_listener():
    """A loopback port whose accept queue is full: connecting to it hangs, as to a dead host."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    for sock in (*fillers, listener):
        sock.close()


def test_upstream_that_never_accepts_is_a_json_504_after_the_connect_timeout(
    issuer, upstream, raw_upstream, unanswered_listener
):
    env = {
        **gateway_env(issuer, upstream, raw_upstream),
        "CATALOG_URL": unanswered_listener,
        "GATEWAY_UPSTREAM_CONNECT_TIMEOUT": "0.3",
        "GATEWAY_UPSTREAM_READ_TIMEOUT": "5",  # so only the connect timeout can end it
    }
    with ServerProcess("gateway:create_app()", env, workers=1, threads=2) as gateway:
        started = time.monotonic()
        response, content = request(gateway, "GET", "/api/courses")
        elapsed = time.monotonic() - started
    body = assert_error(response, content, 504)
    assert "catalog" in body["message"]
    assert 0.25 <= elapsed < 2


def test_gateway_keeps_answering_after_an_upstream_timeout(gateway):
    request(gateway, "GET", "/api/courses/slow?seconds=2")
    response, _ = request(gateway, "GET", "/api/courses/echo")
    assert response.status == 200


# Keep-alive


def test_client_keep_alive_connection_carries_many_requests(gateway):
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    statuses = [request(gateway, "GET", "/api/courses/echo", connection=conn)[0].status
                for _ in range(5)]  # fmt: skip
    conn.close()
    assert statuses == [200] * 5


def test_upstream_connections_are_reused(gateway):
    ports = set()
    for _ in range(20):
        _, content = request(gateway, "GET", "/api/courses/echo")
        ports.add(json.loads(content)["gateway_port"])
    assert len(ports) <= 4  # at most one connection per gateway thread


def test_single_thread_reuses_one_upstream_connection(single_thread_gateway):
    ports = {
        json.loads(request(single_thread_gateway, "GET", "/api/courses/echo")[1])["gateway_port"]
        for _ in range(10)
    }
    assert len(ports) == 1


def test_connection_closed_by_the_upstream_while_idle_is_replaced(single_thread_gateway, student):
    for method in ("GET", "POST", "GET", "POST"):
        body = b"{}" if method == "POST" else None
        response, content = request(
            single_thread_gateway,
            method,
            "/api/user/courses/close-after",
            headers=student,
            body=body,
        )
        assert (response.status, content) == (200, b"ok")


def test_stale_connection_is_retried_once_for_idempotent_methods(
    single_thread_gateway, raw_upstream, student
):
    request(single_thread_gateway, "GET", "/api/user/courses/ok", headers=student)
    dropped_before = raw_upstream.dropped
    response, content = request(
        single_thread_gateway, "GET", "/api/user/courses/drop-reused", headers=student
    )
    assert (response.status, content) == (200, b"ok")
    assert raw_upstream.dropped == dropped_before + 1


def test_stale_connection_is_not_retried_for_a_post(single_thread_gateway, raw_upstream, student):
    request(single_thread_gateway, "GET", "/api/user/courses/ok", headers=student)
    dropped_before = raw_upstream.dropped
    response, content = request(
        single_thread_gateway, "POST", "/api/user/courses/drop-reused", headers=student, body=b"{}"
    )
    assert_error(response, content, 502)
    assert raw_upstream.dropped == dropped_before + 1


# API docs


def test_docs_merge_what_answers_and_name_what_does_not(gateway):
    response, content = request(gateway, "GET", "/api/docs/openapi.json")
    assert response.status == 200
    document = json.loads(content)
    assert document["openapi"].startswith("3.")
    assert "/api/courses/echo" in document["paths"]
    assert "/api/teacher/echo" in document["paths"]
    assert "/internal/only" not in document["paths"]  # not reachable through the gateway
    assert "Echo" in document["components"]["responses"]
    # auth is down and the favourites stand-in serves no JSON: both are named, not fatal.
    assert "auth" in document["info"]["description"]
    assert "favorites" in document["info"]["description"]


def test_docs_page_and_its_assets_are_served_locally(gateway):
    response, content = request(gateway, "GET", "/api/docs")
    assert response.status == 200
    page = content.decode()
    assert "/api/docs/assets/swagger-ui-bundle.js" in page
    assert "http://" not in page and "https://" not in page
    for asset, kind in (
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("docs-init.js", "javascript"),
    ):
        asset_response, asset_content = request(gateway, "GET", f"/api/docs/assets/{asset}")
        assert asset_response.status == 200, asset
        assert kind in asset_response.getheader("Content-Type")
        assert len(asset_content) > 100


def test_head_response_keeps_the_connection_in_step(single_thread_gateway):
    conn = http.client.HTTPConnection("127.0.0.1", single_thread_gateway.port, timeout=10)
    head, head_body = request(single_thread_gateway, "HEAD", "/api/courses/big", connection=conn)
    assert head.status == 200
    assert head.getheader("Content-Length") == str(MiB)
    assert head_body == b""
    first = json.loads(request(single_thread_gateway, "GET", "/api/courses/echo")[1])
    second = json.loads(request(single_thread_gateway, "GET", "/api/courses/echo")[1])
    conn.close()
    assert first["method"] == "GET" and first["gateway_port"] == second["gateway_port"]
