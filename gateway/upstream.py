"""HTTP/1.1 to one upstream service over per-thread keep-alive connections.

The response head is parsed here by hand, not by http.client: its header parsing goes through the
email package and cost more than the rest of the forwarding path together. Bodies are never
decoded: a gzip body stays the bytes the service sent; only chunked framing is undone (the
gateway's own server frames the body again for the client).
"""

import logging
import re
import select
import socket
import threading
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
MAX_LINE_BYTES = 65536
MAX_HEADERS = 200
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(r"[0-9]{1,18}")


class UpstreamFailure(Exception):
    """The upstream could not be reached, broke the protocol, or did not answer in time."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ProtocolError(Exception):
    """The upstream's bytes are not a valid HTTP/1.1 response."""


class ClosedWithoutResponse(ConnectionResetError):
    """The connection closed before a status line arrived (typically a stale keep-alive)."""


class UpstreamResponse:
    """A response whose head is read; the body is read with `read_all` or `read_some`."""

    __slots__ = (
        "_chunk_left",
        "_fp",
        "_remaining",
        "chunked",
        "connection_tokens",
        "headers",
        "length",
        "reason",
        "status",
        "will_close",
    )

    def __init__(self, sock: socket.socket, method: str):
        self._fp = sock.makefile("rb")
        try:
            self._read_head(method)
        except BaseException:
            self._fp.close()
            raise

    def _read_head(self, method: str) -> None:
        fp = self._fp
        while True:
            line = fp.readline(MAX_LINE_BYTES + 1)
            if not line:
                raise ClosedWithoutResponse("the connection closed before a response")
            version, _, rest = line.partition(b" ")
            code = rest[:3]
            if (
                version not in (b"HTTP/1.1", b"HTTP/1.0")
                or not code.isdigit()
                or len(line) > MAX_LINE_BYTES
                or rest[3:4] not in (b" ", b"\r", b"\n", b"")
            ):
                raise ProtocolError(f"bad status line {line[:80]!r}")
            status = int(code)
            headers = _read_headers(fp)
            if status >= 200 or status == 101:
                break
            # 100 Continue and other interim responses: the final one follows.
        if status == 101:
            raise ProtocolError("protocol upgrades are not relayed")
        self.status = status
        self.reason = rest[4:].strip().decode("latin-1")
        self.headers = headers
        length = None
        chunked = False
        tokens = frozenset()
        for name, value in headers:
            lower = name.lower()
            if lower == "content-length":
                if not _DIGITS.fullmatch(value) or (length is not None and int(value) != length):
                    raise ProtocolError(f"bad Content-Length {value!r}")
                length = int(value)
            elif lower == "transfer-encoding":
                chunked = value.lower().rsplit(",", 1)[-1].strip() == "chunked"
                if not chunked:
                    raise ProtocolError(f"unsupported Transfer-Encoding {value!r}")
            elif lower == "connection":
                tokens = tokens | {t.strip().lower() for t in value.split(",") if t.strip()}
        self.connection_tokens = tokens
        self.will_close = "close" in tokens or (
            version == b"HTTP/1.0" and "keep-alive" not in tokens
        )
        if method == "HEAD" or status in (204, 304):
            chunked, length = False, 0
        elif chunked:
            length = None  # Transfer-Encoding wins over Content-Length (RFC 9112 6.3)
        elif length is None:
            self.will_close = True  # the body ends when the connection does
        self.chunked = chunked
        self.length = length
        self._remaining = length
        self._chunk_left = 0

    def read_all(self) -> bytes:
        """The whole body, as the service sent it (chunked framing removed)."""
        fp = self._fp
        if self.chunked:
            parts = []
            while chunk := self.read_some(1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        if self.length is None:
            body = fp.read()
        else:
            body = fp.read(self.length) if self.length else b""
            if len(body) != self.length:
                raise ProtocolError("the body ended early")
        self._remaining = 0
        return body

    def read_some(self, limit: int) -> bytes:
        """Up to `limit` bytes of the body as soon as any arrive; b"" at its end."""
        fp = self._fp
        if self.chunked:
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
            if self._chunk_left == 0 and fp.readline(3) not in (b"\r\n", b"\n"):
                raise ProtocolError("a chunk did not end with CRLF")
            return data
        if self._remaining is None:
            return fp.read1(limit)
        if self._remaining == 0:
            return b""
        data = fp.read1(min(limit, self._remaining))
        if not data:
            raise ProtocolError("the body ended early")
        self._remaining -= len(data)
        return data

    @property
    def complete(self) -> bool:
        return self._remaining == 0 and not self.chunked

    def close(self) -> None:
        self._fp.close()


def _read_headers(fp) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    while True:
        line = fp.readline(MAX_LINE_BYTES + 1)
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise ProtocolError("the connection closed inside the headers")
        if len(line) > MAX_LINE_BYTES or len(headers) >= MAX_HEADERS:
            raise ProtocolError("headers too large")
        if line[0] in b" \t":  # obsolete line folding continues the previous value
            if not headers:
                raise ProtocolError("a continuation line without a header")
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip().decode('latin-1')}")
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b" " in name:
            raise ProtocolError(f"bad header line {line[:80]!r}")
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))


def _read_chunk_size(fp) -> int:
    line = fp.readline(MAX_LINE_BYTES + 1)
    size = line.split(b";", 1)[0].strip()
    if not _CHUNK_SIZE.fullmatch(size):
        raise ProtocolError(f"bad chunk size line {line[:80]!r}")
    return int(size, 16)


class Upstream:
    """One service: its address and, per worker thread, one keep-alive connection to it."""

    def __init__(self, name: str, base_url: str, *, connect_timeout: float, read_timeout: float):
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the {name} URL must be http://host[:port], got {base_url!r}")
        self.name = name
        self.address = (parts.hostname, parts.port or 80)
        self.host_header = parts.netloc
        self.path_prefix = parts.path.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._local = threading.local()

    def exchange(self, method: str, request: bytes) -> UpstreamResponse:
        """Send one request and read the response head. The caller reads the body, then calls
        `release` (or `discard` if it gave up midway)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None and connection[1].poll(0):
            # An idle keep-alive connection with something to read was closed by the service.
            self.discard()
            connection = None
        reused = connection is not None
        while True:
            if connection is None:
                connection = self._connect()
            try:
                connection[0].sendall(request)
                return UpstreamResponse(connection[0], method)
            except (ConnectionResetError, BrokenPipeError) as error:
                self.discard()
                # The service closed the idle connection just as we reused it: try once more.
                if reused and method in IDEMPOTENT_METHODS:
                    reused, connection = False, None
                    continue
                raise self.unavailable(error) from error
            except TimeoutError as error:
                self.discard()
                raise self.timed_out() from error
            except (OSError, ProtocolError) as error:
                self.discard()
                raise self.unavailable(error) from error

    def read_all(self, response: UpstreamResponse) -> bytes:
        """The whole body; the connection is kept for the next request when that is allowed."""
        try:
            body = response.read_all()
        except TimeoutError as error:
            self.discard()
            raise self.timed_out() from error
        except (OSError, ProtocolError) as error:
            self.discard()
            raise self.unavailable(error) from error
        response.close()
        if response.will_close:
            self.discard()
        return body

    def release(self, response: UpstreamResponse) -> None:
        """After the body was read through `read_some`: keep the connection if it may be."""
        response.close()
        if response.will_close or not response.complete:
            self.discard()

    def discard(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection[0].close()

    def _connect(self) -> tuple[socket.socket, select.poll]:
        try:
            sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        except TimeoutError as error:
            raise self.timed_out() from error
        except OSError as error:
            raise self.unavailable(error) from error
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.read_timeout)
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        self._local.connection = (sock, poller)
        return sock, poller

    def unavailable(self, error: BaseException) -> UpstreamFailure:
        log.warning("upstream %s failed: %r", self.name, error)
        return UpstreamFailure(502, f"The {self.name} service is unavailable.")

    def timed_out(self) -> UpstreamFailure:
        log.warning("upstream %s timed out", self.name)
        return UpstreamFailure(504, f"The {self.name} service did not answer in time.")
