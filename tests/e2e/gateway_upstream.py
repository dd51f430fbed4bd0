"""A small upstream service for the gateway's end-to-end tests, run under gunicorn.

It answers under every /api prefix the gateway routes, so one process can stand in for catalog,
auth and favourites. The last path segment picks the behaviour:

- `echo`: what arrived (method, raw target, headers, body digest, the gateway's source port)
- `gzip`: a gzip-encoded body; `cookies`: two Set-Cookie headers; `big`: a 1 MiB body
- `etag`: an ETag, and 304 for a matching If-None-Match; `redirect`: a 302
- `slow?seconds=N`: answers after N seconds
- `/__seen`: the raw targets every request arrived with, so a test can prove nothing was sent
- `/openapi.json`: a small OpenAPI document, for the gateway's merged docs
"""

import gzip
import hashlib
import json
import threading
import time
from urllib.parse import parse_qs

GZIP_TEXT = ("Лекция 1. Введение в курс. " * 200).encode()
GZIPPED = gzip.compress(GZIP_TEXT, mtime=0)
BIG_BODY = bytes(range(256)) * 4096  # 1 MiB, larger than the gateway buffers whole
ETAG = '"v1-abc"'

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Stand-in catalog", "version": "1"},
    "paths": {
        "/api/courses/echo": {
            "get": {
                "summary": "What arrived",
                "tags": ["echo"],
                "responses": {"200": {"$ref": "#/components/responses/Echo"}},
            }
        },
        "/api/teacher/echo": {"get": {"summary": "What arrived, for a teacher"}},
        "/internal/only": {"get": {"summary": "Not routed by the gateway"}},
    },
    "components": {
        "responses": {"Echo": {"description": "the request as seen"}},
        "schemas": {"Error": {"type": "object", "properties": {"code": {"type": "integer"}}}},
    },
    "tags": [{"name": "echo"}],
}

_seen: list[str] = []
_seen_lock = threading.Lock()


def create_app():
    return upstream


def _respond(start_response, status: str, headers: list, body: bytes = b""):
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _json(start_response, value, status: str = "200 OK", headers: list | None = None):
    body = json.dumps(value, ensure_ascii=False).encode()
    return _respond(
        start_response, status, [("Content-Type", "application/json"), *(headers or [])], body
    )


def upstream(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/health/live":
        return _json(start_response, {"status": "ok"})
    if path == "/openapi.json":
        return _json(start_response, OPENAPI)
    if path == "/__seen":
        with _seen_lock:
            return _json(start_response, list(_seen))
    with _seen_lock:
        _seen.append(environ.get("RAW_URI", path))

    body = environ["wsgi.input"].read()
    action = path.rstrip("/").rsplit("/", 1)[-1]
    query = parse_qs(environ.get("QUERY_STRING", ""))

    if action == "gzip":
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Encoding", "gzip")]
        return _respond(start_response, "200 OK", headers, GZIPPED)
    if action == "cookies":
        headers = [
            ("Set-Cookie", "first=1; Path=/; HttpOnly"),
            ("Set-Cookie", "second=2; Path=/; Secure"),
            ("X-Upstream-Request-ID", environ.get("HTTP_X_REQUEST_ID", "")),
        ]
        return _respond(start_response, "200 OK", headers, b"ok")
    if action == "big":
        return _respond(
            start_response, "200 OK", [("Content-Type", "application/octet-stream")], BIG_BODY
        )
    if action == "etag":
        headers = [("ETag", ETAG), ("Cache-Control", "no-cache")]
        if environ.get("HTTP_IF_NONE_MATCH") == ETAG:
            start_response("304 Not Modified", headers)
            return []
        return _json(start_response, {"version": 1}, headers=headers)
    if action == "redirect":
        headers = [("Location", "/api/courses/echo"), ("Content-Type", "text/plain")]
        return _respond(start_response, "302 Found", headers, b"elsewhere")
    if action == "slow":
        time.sleep(float(query.get("seconds", ["3"])[0]))
        return _json(start_response, {"slow": True})
    if action == "status":
        code = int(query.get("code", ["418"])[0])
        return _json(start_response, {"code": code}, status=f"{code} Custom")

    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = environ["CONTENT_LENGTH"]
    return _json(
        start_response,
        {
            "method": environ["REQUEST_METHOD"],
            "target": environ.get("RAW_URI"),
            "headers": headers,
            "body_length": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "gateway_port": environ.get("REMOTE_PORT"),
        },
    )
