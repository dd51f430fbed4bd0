"""The forwarding path: a plain WSGI app that relays /api requests to the services.

Every API request crosses this code, so it stays lean: the route table, header rules and error
bodies are prepared once; each worker thread keeps one keep-alive connection per upstream; the
request goes out as one buffer and the response comes back as the upstream's raw bytes (gzip
stays gzip, repeated headers stay repeated). Flask is not involved here.
"""

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus

from service_kit.auth import InvalidToken, KeysUnavailable
from service_kit.errors import error_body
from service_kit.metrics import UNMATCHED_ROUTE, observe_request
from service_kit.request_log import incoming_request_id

from .errors import EdgeError
from .paths import is_safe_target, split_target
from .routes import RouteTable
from .security import API_HEADERS, REPLACED_BY_EDGE
from .upstream import STREAM_CHUNK_BYTES, Upstream, UpstreamResponse, connection_tokens

log = logging.getLogger(__name__)
request_log = logging.getLogger("request")

MAX_BODY_BYTES = 1024 * 1024
# Streamed file uploads (routes with `streamed_uploads`); the service applies its own limit.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
# Responses up to this size are read whole before answering, so an upstream failure mid-body
# still becomes a clean 502/504; larger or unsized bodies are streamed.
BUFFERED_RESPONSE_BYTES = 256 * 1024
METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by the gateway itself, whatever the client sent.
_REPLACED_REQUEST_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "expect",  # the body is already read in full; nothing to wait for upstream
        "x-request-id",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "forwarded",
    }
)
# gunicorn writes its own Date and Server; the gateway's request id and security headers win
# over the upstream's.
_REPLACED_RESPONSE_HEADERS = HOP_BY_HOP | {"date", "server", "x-request-id"} | REPLACED_BY_EDGE

StartResponse = Callable[..., object]
# The Authorization header value -> the caller's user id; raises InvalidToken.
TokenCheck = Callable[[str], object]


class ApiProxy:
    """WSGI app for everything under /api that the gateway does not answer itself."""

    def __init__(
        self,
        service_urls: dict[str, str],
        *,
        routes: RouteTable | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        upstream_concurrency: int | None = None,
        token_check: TokenCheck,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
    ):
        self.routes = routes or RouteTable()
        self.upstreams = {
            service: Upstream(
                service,
                url,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                concurrency=upstream_concurrency,
            )
            for service, url in service_urls.items()
        }
        # Per route prefix: its service, and the path there that stands for the prefix.
        self._upstream_paths = {
            route.prefix: (
                self.upstreams[route.service],
                self.upstreams[route.service].path_prefix + route.upstream_path,
            )
            for route in self.routes.routes
        }
        self.token_check = token_check
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self._header_names: dict[str, str] = {}  # HTTP_* environ key -> header name or ""

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = incoming_request_id(environ.get("HTTP_X_REQUEST_ID"))
        method = environ["REQUEST_METHOD"]
        target = raw_target(environ)
        path, query = split_target(target)
        user_id = None
        route_label = UNMATCHED_ROUTE  # a bounded label set: route prefixes, never raw paths
        try:
            if not is_safe_target(target):
                raise EdgeError(400, "The request path is not allowed.")
            route = self.routes.match(path)
            if route is None:
                raise EdgeError(404, "No API endpoint at this path.")
            route_label = route.prefix
            if not route.is_public(method):
                user_id = self._check_token(environ.get("HTTP_AUTHORIZATION"))
            upstream, upstream_path = self._upstream_paths[route.prefix]
            target = upstream_path + path[len(route.prefix) :] + query
            if method in METHODS_WITH_BODY and route.streams_upload(path):
                length = self._upload_length(environ)
                request = self._upstream_request(
                    environ, upstream, target, None, request_id, streamed_length=length
                )
                chunks = _upload_chunks(environ["wsgi.input"], length, self.max_upload_bytes)
                response = upstream.exchange(method, request, chunks)
            else:
                body = self._read_body(environ, method)
                request = self._upstream_request(environ, upstream, target, body, request_id)
                response = upstream.exchange(method, request, carries_body=bool(body))
            status, headers, content = _relay(response, request_id)
        except EdgeError as error:
            status, headers, content = _error(error, request_id)
        start_response(status, headers)
        _log_request(environ, method, path, status, started, request_id, user_id)
        observe_request(
            "gateway", method, route_label, int(status[:3]), time.perf_counter() - started
        )
        return content

    def _check_token(self, authorization: str | None) -> object:
        if not authorization:
            raise EdgeError(401, "A bearer access token is required.")
        try:
            return self.token_check(authorization)
        except InvalidToken as error:
            raise EdgeError(401, "The access token is invalid or expired.") from error
        except KeysUnavailable as error:
            # Without keys no token can be judged: the caller did nothing wrong.
            raise EdgeError(503, "Sign-in cannot be checked right now.") from error

    def _read_body(self, environ: dict, method: str) -> bytes | None:
        length_header = environ.get("CONTENT_LENGTH")
        stream = environ["wsgi.input"]
        if length_header:
            if not length_header.isdigit() or len(length_header) > 18:
                raise EdgeError(400, "Invalid Content-Length.")
            length = int(length_header)
            if length > self.max_body_bytes:
                raise EdgeError(413, f"The request body exceeds {self.max_body_bytes} bytes.")
            body = stream.read(length) if length else b""
            if len(body) != length:
                raise EdgeError(400, "The request body ended early.")
            return body
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return self._read_chunked(stream)
        return b"" if method in METHODS_WITH_BODY else None

    def _upload_length(self, environ: dict) -> int | None:
        """The streamed upload's Content-Length, or None for a chunked one."""
        length_header = environ.get("CONTENT_LENGTH")
        if not length_header:
            if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
                return None
            raise EdgeError(411, "An upload needs a Content-Length or chunked encoding.")
        if not length_header.isdigit() or len(length_header) > 18:
            raise EdgeError(400, "Invalid Content-Length.")
        length = int(length_header)
        if length > self.max_upload_bytes:
            raise EdgeError(413, f"The upload exceeds {self.max_upload_bytes} bytes.")
        return length

    def _read_chunked(self, stream) -> bytes:
        chunks, size, limit = [], 0, self.max_body_bytes
        while True:
            chunk = stream.read(min(STREAM_CHUNK_BYTES, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise EdgeError(413, f"The request body exceeds {limit} bytes.")
            chunks.append(chunk)

    def _upstream_request(
        self,
        environ: dict,
        upstream: Upstream,
        target: str,
        body: bytes | None,
        request_id: str,
        *,
        streamed_length: int | None = -1,
    ) -> bytes:
        """The request head (and `body`, when read whole). A streamed body follows the head
        with its Content-Length, or chunked when `streamed_length` is None."""
        lines = self._client_header_lines(environ)
        content_type = environ.get("CONTENT_TYPE")
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        elif streamed_length is None:
            lines.append("Transfer-Encoding: chunked")
        elif streamed_length >= 0:
            lines.append(f"Content-Length: {streamed_length}")
        client = environ.get("REMOTE_ADDR") or "unknown"
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        # Appended, never replaced: the last address is the one the gateway itself saw.
        lines.append(
            f"X-Forwarded-For: {forwarded_for}, {client}"
            if forwarded_for
            else f"X-Forwarded-For: {client}"
        )
        lines.append(f"X-Forwarded-Proto: {environ.get('wsgi.url_scheme', 'http')}")
        host = environ.get("HTTP_HOST")
        if host:
            lines.append(f"X-Forwarded-Host: {host}")
        head = (
            f"{environ['REQUEST_METHOD']} {target} HTTP/1.1\r\n"
            f"Host: {upstream.host_header}\r\n"
            f"X-Request-ID: {request_id}\r\n" + "\r\n".join(lines) + "\r\n\r\n"
        )
        try:
            encoded = head.encode("latin-1")
        except UnicodeEncodeError as error:
            raise EdgeError(400, "Request headers must be Latin-1.") from error
        return encoded + body if body else encoded

    def _client_header_lines(self, environ: dict) -> list[str]:
        """The client's headers that go on to the service, as `Name: value` lines."""
        known = self._header_names
        lines = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                name = known.get(key)
                if name is None:
                    name = self._header_name(key)
                if name:
                    lines.append(f"{name}: {value}")
        connection_tokens = environ.get("HTTP_CONNECTION")
        if connection_tokens:
            lines = _without_named_headers(lines, connection_tokens)
        return lines

    def _header_name(self, environ_key: str) -> str:
        """The header to forward for an HTTP_* environ key, or "" to drop it (memoised)."""
        name = environ_key[5:].replace("_", "-").title()
        lower = name.lower()
        if (
            lower in HOP_BY_HOP
            or lower in _REPLACED_REQUEST_HEADERS
            or lower.startswith(("x-user-", "proxy-"))
        ):
            forwarded = ""
        else:
            forwarded = name
        # Bounded: a client inventing header names must not grow this forever.
        if len(self._header_names) < 512:
            self._header_names[environ_key] = forwarded
        return forwarded


def _upload_chunks(stream, length: int | None, limit: int) -> Iterator[bytes]:
    """The client's upload, piece by piece, as the service is to receive it: `length` bytes
    exactly, or re-chunked when the client sent it chunked. Memory stays one piece, whatever
    the size; a body that ends early or grows past `limit` stops the exchange."""
    sent = 0
    while length is None or sent < length:
        want = STREAM_CHUNK_BYTES if length is None else min(STREAM_CHUNK_BYTES, length - sent)
        chunk = stream.read(want)
        if not chunk:
            if length is not None:
                raise EdgeError(400, "The request body ended early.")
            yield b"0\r\n\r\n"
            return
        sent += len(chunk)
        if sent > limit:
            raise EdgeError(413, f"The upload exceeds {limit} bytes.")
        yield chunk if length is not None else b"%x\r\n%b\r\n" % (len(chunk), chunk)


def _relay(
    response: UpstreamResponse, request_id: str
) -> tuple[str, list[tuple[str, str]], Iterable[bytes]]:
    """The client's status, headers and body for the upstream's response. Small bodies are read
    whole; larger or unsized ones are relayed as the response itself, piece by piece."""
    status = _STATUS_LINES.get(response.status) or f"{response.status} {response.reason}"
    dropped = _REPLACED_RESPONSE_HEADERS
    if response.connection_tokens:
        dropped = dropped | response.connection_tokens
    headers = [(name, value) for name, value in response.headers if name.lower() not in dropped]
    headers.append(("X-Request-ID", request_id))
    headers.extend(API_HEADERS)
    length = response.length
    if length is not None and length <= BUFFERED_RESPONSE_BYTES:
        content = response.read_all()
        return status, headers, [content] if content else []
    return status, headers, response


_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def raw_target(environ: dict) -> str:
    """The request target exactly as the client sent it."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target:
        return target
    query = environ.get("QUERY_STRING")
    path = environ.get("PATH_INFO", "")
    return f"{path}?{query}" if query else path


def _without_named_headers(lines: list[str], connection_value: str) -> list[str]:
    named = connection_tokens(connection_value)
    return [line for line in lines if line.partition(":")[0].lower() not in named]


def _error(error: EdgeError, request_id: str):
    """The gateway's own JSON error answer."""
    status = error.status
    body = json.dumps(
        error_body(status, error.message), ensure_ascii=False, separators=(",", ":")
    ).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("X-Request-ID", request_id),
        *API_HEADERS,
    ]
    if status == 401:
        headers.append(("WWW-Authenticate", "Bearer"))
    if error.retry_after is not None:
        headers.append(("Retry-After", str(error.retry_after)))
    return _STATUS_LINES[status], headers, [body]


def _log_request(environ, method, path, status, started, request_id, user_id) -> None:
    if not request_log.isEnabledFor(logging.INFO):
        return
    fields = {
        "service": "gateway",
        "method": method,
        "path": path,
        "status": int(status[:3]),
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "request_id": request_id,
    }
    if user_id is not None:
        fields["user_id"] = user_id
    request_log.info("request", extra={"fields": fields})
