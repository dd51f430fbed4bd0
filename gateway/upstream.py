"""HTTP/1.1 to one upstream service over per-thread keep-alive connections.

The response head is parsed here by hand, not by http.client: its header parsing goes through the
email package and cost more than the rest of the forwarding path together. Bodies are never
decoded: a gzip body stays the bytes the service sent; only chunked framing is undone (the
gateway's own server frames the body again for the client).

A connection belongs to the response read over it: reading the body to its end puts the connection
back into its thread's slot when the service keeps it open; closing the response earlier closes
the connection. Every network or protocol failure becomes an `EdgeError` (504 on a timeout, else
502) in `Upstream.failure`.

A `Bulkhead` caps how many of the worker's threads wait on one service at once. The slot is taken
before the request goes out and handed back when the response is closed (read to its end, cut
off, or failed), so a hung service holds at most its share of threads and every other request to
it is refused at once with a 503 instead of queueing behind them.
"""

import logging
import re
import select
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from .errors import EdgeError

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
MAX_LINE_BYTES = 65536
MAX_HEADERS = 200
# Streamed bodies move in pieces this large: big enough that a 50 MiB file costs few Python
# iterations through the gateway, small enough that memory does not grow with the file.
STREAM_CHUNK_BYTES = 512 * 1024
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(r"[0-9]{1,18}")
_VERSIONS = (b"HTTP/1.1", b"HTTP/1.0")
_AFTER_STATUS_CODE = (b" ", b"\r", b"\n", b"")
_LINE_ENDS = (b"\r\n", b"\n")


class ProtocolError(Exception):
    """The upstream's bytes are not a valid HTTP/1.1 response."""


class ClosedWithoutResponse(ConnectionResetError):
    """The connection closed before a status line arrived (typically a stale keep-alive)."""


# What talking to a service can raise: TimeoutError is an OSError.
FAILURES = (OSError, ProtocolError)
# A reused keep-alive connection the service had already closed.
_STALE = (ConnectionResetError, BrokenPipeError)


class Bulkhead:
    """At most `limit` threads of this process inside exchanges with one service.

    When every slot is taken, a request waits for one only while the service shows progress (a
    slot was taken or handed back within `progress_window` seconds) and for `max_wait` seconds
    at most: a busy service drains its queue, so a burst waits its turn; a stuck one hands
    nothing back, so from `progress_window` after its last sign of life the requests past its
    share are refused at once with a 503 and Retry-After instead of waiting on it.
    """

    __slots__ = ("_last_activity", "_slots", "limit", "max_wait", "name", "progress_window")

    def __init__(
        self, name: str, limit: int, *, max_wait: float = 5.0, progress_window: float = 0.5
    ):
        if limit < 1:
            raise ValueError("a bulkhead needs at least one slot")
        self.name = name
        self.limit = limit
        self.max_wait = max_wait
        self.progress_window = progress_window
        self._slots = threading.Semaphore(limit)
        self._last_activity = float("-inf")

    def enter(self) -> None:
        slots = self._slots
        if slots.acquire(False):
            self._last_activity = time.monotonic()
            return
        now = time.monotonic()
        deadline = now + self.max_wait
        while now - self._last_activity < self.progress_window and now < deadline:
            if slots.acquire(timeout=min(self.progress_window, deadline - now)):
                self._last_activity = time.monotonic()
                return
            now = time.monotonic()
        log.warning("upstream %s holds all %d of its threads: refused", self.name, self.limit)
        raise EdgeError(503, f"The {self.name} service is busy; try again shortly.", retry_after=1)

    def leave(self) -> None:
        self._last_activity = time.monotonic()
        self._slots.release()


# An idle connection older than this is not reused: a service closes idle keep-alive connections
# after its own timeout (gunicorn's default is 2 s, the images' 5 s), and a request written just
# as it does is lost to a reset — fatal for a POST, which is never sent twice. Reusing only
# connections clearly younger than the service's timeout closes that race.
IDLE_REUSE_SECONDS = 1.0


class Connection:
    """One open keep-alive socket to a service, a poller to see whether it was closed, and
    when it went idle."""

    __slots__ = ("idle_since", "poller", "sock")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)
        self.idle_since = 0.0

    def close(self) -> None:
        self.sock.close()


class Upstream:
    """One service: its address and, per worker thread, one idle keep-alive connection to it."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        concurrency: int | None = None,
    ):
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the {name} URL must be http://host[:port], got {base_url!r}")
        self.name = name
        self.address = (parts.hostname, parts.port or 80)
        self.host_header = parts.netloc
        self.path_prefix = parts.path.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # None: no cap (tests of the protocol alone).
        self.bulkhead = Bulkhead(name, concurrency, max_wait=read_timeout) if concurrency else None
        self._local = threading.local()

    def exchange(
        self,
        method: str,
        request: bytes,
        body: Iterable[bytes] | None = None,
        *,
        carries_body: bool = False,
    ) -> "UpstreamResponse":
        """Send one request (`body`, if given, is streamed after `request`, the head) and read
        the response head; the response owns the connection and this thread's bulkhead slot.
        Raises EdgeError: 503 when the service already holds its share of threads."""
        bulkhead = self.bulkhead
        if bulkhead is not None:
            bulkhead.enter()
        try:
            response = self._exchange(method, request, body)
        except BaseException:
            if bulkhead is not None:
                bulkhead.leave()
            raise
        if carries_body and response.status >= 400:
            # A service that refuses a request (no route, no permission) may not read its body,
            # and then drop the connection while the next request is already on its way.
            response.will_close = True
        return response

    def _exchange(
        self, method: str, request: bytes, body: Iterable[bytes] | None
    ) -> "UpstreamResponse":
        connection = self._idle_connection()
        reused = connection is not None
        while True:
            try:
                if connection is None:
                    connection = self._connect()
                connection.sock.sendall(request)
                if body is None:
                    return UpstreamResponse(self, connection, method)
                break
            except FAILURES as error:
                if connection is not None:
                    connection.close()
                # The service closed the idle connection just as we reused it: try once more.
                if reused and method in IDEMPOTENT_METHODS and isinstance(error, _STALE):
                    reused, connection = False, None
                    continue
                raise self.failure(error) from error
        # A streamed body is read once from the client, so it is never retried.
        return self._respond_after_body(connection, body, method)

    def _respond_after_body(
        self, connection: Connection, body: Iterable[bytes], method: str
    ) -> "UpstreamResponse":
        try:
            self._send_body(connection, body)
            response = UpstreamResponse(self, connection, method)
            # A service that answered before reading the whole body (a 401, 403, 413) may have
            # left it unread and will reset the connection: never reuse it after an upload.
            response.will_close = True
            return response
        except FAILURES as error:
            connection.close()
            raise self.failure(error) from error
        except BaseException:  # the client's body was refused (EdgeError) or cut off
            connection.close()
            raise

    def _send_body(self, connection: Connection, body: Iterable[bytes]) -> None:
        """Stream a request body. A service that answers before reading all of it (a 401, a
        413) may close its side: then its answer, already sent, is what the client gets."""
        sock = connection.sock
        for chunk in body:
            try:
                sock.sendall(chunk)
            except _STALE:
                return  # the response is waiting to be read

    def failure(self, error: BaseException) -> EdgeError:
        """The answer to a failed exchange with this service: 504 on a timeout, else 502."""
        if isinstance(error, TimeoutError):
            log.warning("upstream %s timed out", self.name)
            return EdgeError(504, f"The {self.name} service did not answer in time.")
        log.warning("upstream %s failed: %r", self.name, error)
        return EdgeError(502, f"The {self.name} service is unavailable.")

    def keep(self, connection: Connection) -> None:
        """Park a connection whose response was read to its end, for this thread's next
        request."""
        connection.idle_since = time.monotonic()
        self._local.connection = connection

    def _idle_connection(self) -> Connection | None:
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None:
            return None
        local.connection = None
        if (
            time.monotonic() - connection.idle_since > IDLE_REUSE_SECONDS
            or connection.poller.poll(0)  # an idle connection with something to read was closed
        ):
            connection.close()
            return None
        return connection

    def _connect(self) -> Connection:
        sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.read_timeout)
        return Connection(sock)


class UpstreamResponse:
    """A response whose head is read. The body is read with `read_all`, or by iterating the
    response (a WSGI body); either, read to the end, hands the connection back to the upstream.
    `close` before the end closes the connection instead."""

    __slots__ = (
        "_chunk_left",
        "_connection",
        "_fp",
        "_remaining",
        "_upstream",
        "chunked",
        "connection_tokens",
        "headers",
        "length",
        "reason",
        "status",
        "will_close",
    )

    def __init__(self, upstream: Upstream, connection: Connection, method: str):
        self._upstream = upstream
        self._connection: Connection | None = connection
        self._fp = connection.sock.makefile("rb")
        try:
            self._read_head(method)
        except BaseException:
            self._fp.close()
            raise

    # The head

    def _read_head(self, method: str) -> None:
        version, self.status, self.reason, self.headers = _read_final_head(self._fp)
        length, chunked, tokens = _framing(self.headers)
        self.connection_tokens = tokens
        self.will_close = "close" in tokens or (
            version == b"HTTP/1.0" and "keep-alive" not in tokens
        )
        if method == "HEAD" or self.status in (204, 304):
            chunked, length = False, 0
        elif chunked:
            length = None  # Transfer-Encoding wins over Content-Length (RFC 9112 6.3)
        elif length is None:
            self.will_close = True  # the body ends when the connection does
        self.chunked = chunked
        self.length = length
        self._remaining = length
        self._chunk_left = 0

    # The body

    def read_all(self) -> bytes:
        """The whole body, as the service sent it (chunked framing removed)."""
        fp = self._fp
        try:
            if self.chunked:
                parts = []
                while part := self._read_some_chunked(1 << 20):
                    parts.append(part)
                body = b"".join(parts)
            elif self._remaining is None:
                body = fp.read()  # until the service closes the connection
            else:
                body = fp.read(self._remaining) if self._remaining else b""
                if len(body) != self._remaining:
                    raise ProtocolError("the body ended early")
        except FAILURES as error:
            raise self._failed(error) from error
        self._remaining = 0
        self.close()
        return body

    def __iter__(self) -> Iterator[bytes]:
        """The body piece by piece, as soon as the service sends it."""
        read_some = self.read_some
        try:
            while chunk := read_some(STREAM_CHUNK_BYTES):
                yield chunk
        except FAILURES as error:
            # Too late for an error status: the exception makes the server cut the client's
            # connection, so the client sees the truncation.
            raise self._failed(error) from error
        self.close()

    def read_some(self, limit: int) -> bytes:
        """Up to `limit` bytes of the body as soon as any arrive; b"" at its end."""
        if self.chunked:
            return self._read_some_chunked(limit)
        if self._remaining is None:
            return self._fp.read1(limit)
        if self._remaining == 0:
            return b""
        data = self._fp.read1(min(limit, self._remaining))
        if not data:
            raise ProtocolError("the body ended early")
        self._remaining -= len(data)
        return data

    @property
    def complete(self) -> bool:
        return self._remaining == 0 and not self.chunked

    def close(self) -> None:
        """Done with the response: a connection whose body was read to its end goes back to
        the upstream, unless the service closes it; otherwise it is closed."""
        connection = self._connection
        if connection is None:
            return
        self._connection = None
        upstream = self._upstream
        try:
            self._fp.close()
            if self.complete and not self.will_close:
                upstream.keep(connection)
            else:
                connection.close()
        finally:
            if upstream.bulkhead is not None:
                upstream.bulkhead.leave()

    def _failed(self, error: BaseException) -> EdgeError:
        self.close()
        return self._upstream.failure(error)

    def _read_some_chunked(self, limit: int) -> bytes:
        fp = self._fp
        if self._chunk_left == 0:
            self._chunk_left = _read_chunk_size(fp)
            if self._chunk_left == 0:
                _read_headers(fp)  # trailers: hop-by-hop, dropped
                self.chunked, self._remaining = False, 0
                return b""
        data = fp.read1(min(limit, self._chunk_left))
        if not data:
            raise ProtocolError("the body ended early")
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and fp.readline(3) not in _LINE_ENDS:
            raise ProtocolError("a chunk did not end with CRLF")
        return data


def _read_final_head(fp) -> tuple[bytes, int, str, list[tuple[str, str]]]:
    """(version, status, reason, headers) of the final response, past any interim 1xx ones."""
    while True:
        version, status, reason = _read_status_line(fp)
        headers = _read_headers(fp)
        if status == 101:
            raise ProtocolError("protocol upgrades are not relayed")
        if status >= 200:
            return version, status, reason, headers
        # 100 Continue and other interim responses: the final one follows.


def _read_status_line(fp) -> tuple[bytes, int, str]:
    line = fp.readline(MAX_LINE_BYTES + 1)
    if not line:
        raise ClosedWithoutResponse("the connection closed before a response")
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if (
        version not in _VERSIONS
        or not code.isdigit()
        or len(line) > MAX_LINE_BYTES
        or rest[3:4] not in _AFTER_STATUS_CODE
    ):
        raise ProtocolError(f"bad status line {line[:80]!r}")
    return version, int(code), rest[4:].strip().decode("latin-1")


def _framing(headers: list[tuple[str, str]]) -> tuple[int | None, bool, frozenset[str]]:
    """(Content-Length or None, whether chunked, Connection tokens) from the headers."""
    length = None
    chunked = False
    tokens: frozenset[str] = frozenset()
    for name, value in headers:
        lower = name.lower()
        if lower == "content-length":
            if not _DIGITS.fullmatch(value) or (length is not None and int(value) != length):
                raise ProtocolError(f"bad Content-Length {value!r}")
            length = int(value)
        elif lower == "transfer-encoding":
            chunked = _is_chunked(value)
        elif lower == "connection":
            tokens = tokens | connection_tokens(value)
    return length, chunked, tokens


def connection_tokens(value: str) -> set[str]:
    """The header names and options listed in a Connection header, lower-cased."""
    return {token.strip().lower() for token in value.split(",") if token.strip()}


def _is_chunked(transfer_encoding: str) -> bool:
    if transfer_encoding.lower().rsplit(",", 1)[-1].strip() != "chunked":
        raise ProtocolError(f"unsupported Transfer-Encoding {transfer_encoding!r}")
    return True


def _read_headers(fp) -> list[tuple[str, str]]:
    """The header fields up to the blank line that ends them, in order, repeats kept."""
    headers: list[tuple[str, str]] = []
    for line in _header_lines(fp):
        if line[0] in b" \t":  # obsolete line folding continues the previous value
            _continue_last(headers, line)
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b" " in name:
            raise ProtocolError(f"bad header line {line[:80]!r}")
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    return headers


def _header_lines(fp) -> list[bytes]:
    lines: list[bytes] = []
    while True:
        line = fp.readline(MAX_LINE_BYTES + 1)
        if line in _LINE_ENDS:
            return lines
        if not line:
            raise ProtocolError("the connection closed inside the headers")
        if len(line) > MAX_LINE_BYTES or len(lines) >= MAX_HEADERS:
            raise ProtocolError("headers too large")
        lines.append(line)


def _continue_last(headers: list[tuple[str, str]], line: bytes) -> None:
    if not headers:
        raise ProtocolError("a continuation line without a header")
    name, value = headers[-1]
    headers[-1] = (name, f"{value} {line.strip().decode('latin-1')}")


def _read_chunk_size(fp) -> int:
    line = fp.readline(MAX_LINE_BYTES + 1)
    size = line.split(b";", 1)[0].strip()
    if not _CHUNK_SIZE.fullmatch(size):
        raise ProtocolError(f"bad chunk size line {line[:80]!r}")
    return int(size, 16)
