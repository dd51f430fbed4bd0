"""The gateway's HTTP/1.1 response reader, fed exact bytes over a real socket pair, and the
life of the connection it reads from."""

import socket
import threading
import time

import pytest

from gateway import upstream as upstream_module
from gateway.errors import EdgeError
from gateway.upstream import (
    ClosedWithoutResponse,
    Connection,
    ProtocolError,
    Upstream,
    UpstreamResponse,
)

_open_sockets: list[socket.socket] = []


@pytest.fixture(autouse=True)
def _close_sockets():
    yield
    while _open_sockets:
        _open_sockets.pop().close()


def an_upstream(timeout: float = 2.0) -> Upstream:
    return Upstream("test", "http://127.0.0.1:9", connect_timeout=timeout, read_timeout=timeout)


def response_from(
    raw: bytes, method: str = "GET", *, close: bool = True, upstream: Upstream | None = None
) -> UpstreamResponse:
    """Parse `raw` as the upstream's bytes; `close` ends the connection after them."""
    ours, theirs = socket.socketpair()
    _open_sockets.extend((ours, theirs))
    ours.settimeout(2)
    theirs.sendall(raw)
    if close:
        theirs.shutdown(socket.SHUT_WR)
    return UpstreamResponse(upstream or an_upstream(), Connection(ours), method)


def test_content_length_body_and_repeated_headers():
    response = response_from(
        b"HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        b"Content-Length: 5\r\n\r\nhello",
        close=False,
    )
    assert (response.status, response.reason) == (201, "Created")
    assert [v for n, v in response.headers if n == "Set-Cookie"] == ["a=1", "b=2"]
    assert response.read_all() == b"hello"
    assert response.complete and not response.will_close


def test_chunked_body_with_extensions_and_trailers_is_unframed():
    response = response_from(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n",
        close=False,
    )
    assert response.chunked and response.length is None
    assert response.read_all() == b"Wikipedia in\r\n\r\nchunks."
    assert response.complete and not response.will_close


def test_chunked_body_read_piece_by_piece():
    response = response_from(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n",
        close=False,
    )
    pieces = []
    while piece := response.read_some(4):
        pieces.append(piece)
    assert b"".join(pieces) == b"0123456789abc"
    assert max(len(p) for p in pieces) <= 4
    assert response.complete


def test_transfer_encoding_wins_over_content_length():
    response = response_from(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n"
    )
    assert response.read_all() == b"ok"


def test_body_without_length_ends_with_the_connection():
    response = response_from(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil EOF")
    assert response.will_close and response.length is None
    assert response.read_all() == b"until EOF"


@pytest.mark.parametrize(
    ("head", "method"),
    [
        (b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 12\r\n\r\n', "GET"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", "DELETE"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "HEAD"),
    ],
)
def test_responses_that_have_no_body(head, method):
    response = response_from(head, method, close=False)
    assert response.length == 0
    assert response.read_all() == b""
    assert not response.will_close


def test_interim_100_continue_is_skipped():
    response = response_from(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    assert response.status == 200
    assert response.read_all() == b"ok"


def test_connection_close_and_named_headers():
    response = response_from(
        b"HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nContent-Length: 0\r\n\r\n"
    )
    assert response.will_close
    assert response.connection_tokens == {"close", "x-hop"}


def test_http_1_0_closes_unless_kept_alive():
    assert response_from(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").will_close
    kept = response_from(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", close=False
    )
    assert not kept.will_close


def test_folded_header_is_joined_into_one_line():
    response = response_from(
        b"HTTP/1.1 200 OK\r\nX-Long: first\r\n  second\r\nContent-Length: 0\r\n\r\n"
    )
    assert ("X-Long", "first second") in response.headers


def test_status_without_reason_phrase():
    response = response_from(b"HTTP/1.1 418\r\nContent-Length: 0\r\n\r\n")
    assert (response.status, response.reason) == (418, "")


def test_closed_before_any_byte_is_a_reset_not_a_protocol_error():
    with pytest.raises(ClosedWithoutResponse):
        response_from(b"")


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage\r\n\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\xb2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n continuation first\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Cut: off",
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"x" * 70000 + b"\r\n\r\n",
    ],
)
def test_malformed_heads_are_protocol_errors(raw):
    with pytest.raises(ProtocolError):
        response_from(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    ],
)
def test_broken_bodies_are_a_502_for_the_service(raw):
    response = response_from(raw)
    with pytest.raises(EdgeError) as raised:
        response.read_all()
    assert raised.value.status == 502
    assert raised.value.message == "The test service is unavailable."
    assert isinstance(raised.value.__cause__, ProtocolError)


def parked(upstream: Upstream) -> Connection | None:
    return getattr(upstream._local, "connection", None)


def test_body_read_to_its_end_puts_the_connection_back():
    upstream = an_upstream()
    response = response_from(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close=False, upstream=upstream
    )
    assert parked(upstream) is None
    connection = response._connection
    assert response.read_all() == b"ok"
    assert parked(upstream) is connection
    assert connection.sock.fileno() != -1


def test_streamed_body_read_to_its_end_puts_the_connection_back():
    upstream = an_upstream()
    response = response_from(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        close=False,
        upstream=upstream,
    )
    connection = response._connection
    assert b"".join(response) == b"abc"
    response.close()  # as the WSGI server does after the last piece: nothing more to do
    assert parked(upstream) is connection


def test_response_closed_before_its_end_closes_the_connection():
    upstream = an_upstream()
    response = response_from(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", close=False, upstream=upstream
    )
    connection = response._connection
    assert next(iter(response)) == b"half"
    response.close()  # the client went away
    assert parked(upstream) is None
    assert connection.sock.fileno() == -1


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\n\r\nok",
    ],
)
def test_connection_the_service_closes_is_not_kept(raw):
    upstream = an_upstream()
    response = response_from(raw, upstream=upstream)
    connection = response._connection
    assert response.read_all() == b"ok"
    assert parked(upstream) is None
    assert connection.sock.fileno() == -1


def test_body_failure_closes_the_connection():
    upstream = an_upstream()
    response = response_from(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", upstream=upstream
    )
    connection = response._connection
    with pytest.raises(EdgeError):
        response.read_all()
    assert parked(upstream) is None
    assert connection.sock.fileno() == -1


def test_a_body_that_stops_arriving_is_a_504():
    ours, theirs = socket.socketpair()
    _open_sockets.extend((ours, theirs))
    ours.settimeout(0.05)
    theirs.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
    response = UpstreamResponse(an_upstream(), Connection(ours), "GET")
    with pytest.raises(EdgeError) as raised:
        response.read_all()
    assert raised.value.status == 504
    assert raised.value.message == "The test service did not answer in time."
    assert ours.fileno() == -1


def test_a_streamed_body_that_breaks_is_a_502_and_closes_the_connection():
    response = response_from(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
    connection = response._connection
    pieces = iter(response)
    assert next(pieces) == b"half"
    with pytest.raises(EdgeError) as raised:
        next(pieces)
    assert raised.value.status == 502
    assert connection.sock.fileno() == -1


def test_a_parked_connection_is_reused_only_while_young(monkeypatch):
    """A service closes idle keep-alive connections after its own timeout; a request written
    into one it is closing is lost (a POST is never resent), so an old one is not reused."""
    upstream = an_upstream()
    response = response_from(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close=False, upstream=upstream
    )
    connection = response._connection
    response.read_all()
    assert upstream._idle_connection() is connection  # young: reused
    upstream.keep(connection)
    clock = time.monotonic() + upstream_module.IDLE_REUSE_SECONDS + 0.1
    monkeypatch.setattr(upstream_module.time, "monotonic", lambda: clock)
    assert upstream._idle_connection() is None  # old: closed, a fresh one will be made
    assert connection.sock.fileno() == -1


@pytest.mark.parametrize(("carries_body", "status", "kept"), [
    (True, 404, False), (True, 200, True), (False, 404, True),
])  # fmt: skip
def test_a_refused_request_with_a_body_does_not_keep_its_connection(carries_body, status, kept):
    """A service that refuses a request may leave its body unread and then drop the
    connection: the next request must not be written into it."""
    server = socket.create_server(("127.0.0.1", 0))
    _open_sockets.append(server)
    port = server.getsockname()[1]
    upstream = Upstream("test", f"http://127.0.0.1:{port}", connect_timeout=2, read_timeout=2)

    def answer():
        connection, _ = server.accept()
        _open_sockets.append(connection)
        connection.recv(65536)
        connection.sendall(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nno".encode())

    thread = threading.Thread(target=answer)
    thread.start()
    body = b'{"a": 1}' if carries_body else b""
    head = f"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    response = upstream.exchange("POST", head + body, carries_body=carries_body)
    assert response.read_all() == b"no"
    thread.join()
    assert (parked(upstream) is not None) is kept
