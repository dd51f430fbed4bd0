"""Response cache for catalog GETs, keyed by the catalog version.

Each GET first reads the catalog version (epoch + counter, bumped in the same transaction as
every write), then looks for the rendered response under that version and the request's path
and query: in this process (an LRU bounded by bytes), then in Redis when REDIS_URL is set
(shared by every worker and pod). A write bumps the version, so the very next request misses
and renders afresh; old entries simply age out. Reading the version *before* the data means an
entry can only ever hold data at least as new as its version.

The ETag is a digest of the stored bytes, so it changes exactly when the representation does;
a hit serves the stored bytes and ETag without touching the data or serialising anything.
Redis is an optimisation only: any Redis error is logged and the request goes on without it,
and Redis is left alone for a few seconds before it is tried again.

The key holds the *validated* query arguments in a canonical order, never the raw query string:
`?b=2&a=1`, `?a=1&b=2` and `?semester=01` share the entry of `?a=1&b=2` and `?semester=1`, so
junk in a query string cannot make every request a miss (and a full render). An unknown
parameter is refused with 400 by the route's query schema (QUERY_ARGS raises on unknown
fields); a cached endpoint that takes no query parameters refuses any query string with 400.

A miss is rendered once per key, not once per reader: a write makes every reader of the whole
list (1.2 MB) miss at the same moment, and sixteen identical renders at once would only slow
each other down. In this process the first reader renders while the others wait for its entry
(a bounded wait: a reader whose renderer takes too long renders itself instead). With Redis, the
renderer also takes a short Redis lock (SET NX PX with a token, released by compare-and-delete),
so other processes poll for the entry, again for a bounded time, instead of rendering it too.
Without Redis, or with Redis failing, each process renders once. Every render is counted in
`catalog_cache_renders_total`.
"""

import hashlib
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

import redis
from flask import Flask, Response, current_app, request
from flask_smorest import abort
from marshmallow import RAISE
from prometheus_client import Counter
from redis.backoff import NoBackoff
from redis.retry import Retry
from werkzeug.exceptions import HTTPException

from service_kit.api import Blueprint
from service_kit.db import get_database

from . import services

log = logging.getLogger(__name__)

CACHE_CONTROL = "no-cache"  # clients may store, but revalidate every time
PRIVATE_CACHE_CONTROL = "private, no-cache"
# Response headers that belong to the representation and are stored with the body.
STORED_HEADERS = ("X-Pagination",)
# How long a reader waits for another's render of the same answer before rendering it itself;
# also how long a render's Redis lock lives, so a renderer that died frees the key by then. A
# render of the whole list takes well under a second even under load.
REBUILD_WAIT_SECONDS = 3.0
REDIS_POLL_SECONDS = 0.02

RENDERS = Counter(
    "catalog_cache_renders_total",
    "Answers of cached catalog GETs rendered from the database (misses), by route template.",
    ["route"],
)


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    etag: str
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, response: Response) -> "CachedResponse":
        body = response.get_data()
        headers = tuple(
            (name, response.headers[name]) for name in STORED_HEADERS if name in response.headers
        )
        digest = hashlib.blake2b(body, digest_size=16)
        for name, value in headers:  # a header change (e.g. a new total) is a new representation
            digest.update(f"\n{name}: {value}".encode())
        return cls(body, f'"{digest.hexdigest()}"', headers)

    def encode(self) -> bytes:
        meta = json.dumps({"etag": self.etag, "headers": self.headers})  # one line, no raw "\n"
        return meta.encode() + b"\n" + self.body

    @classmethod
    def decode(cls, data: bytes) -> "CachedResponse":
        meta, _, body = data.partition(b"\n")
        fields = json.loads(meta)
        return cls(body, fields["etag"], tuple(tuple(pair) for pair in fields["headers"]))


class MemoryStore:
    """A thread-safe LRU of rendered responses, bounded by total body size."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedResponse | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def set(self, key: str, entry: CachedResponse) -> None:
        if len(entry.body) > self.max_bytes // 8:
            return  # one huge answer must not evict everything else
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= len(previous.body)
            self._entries[key] = entry
            self._size += len(entry.body)
            while self._size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._size -= len(evicted.body)

    def __len__(self) -> int:
        return len(self._entries)


class RedisStore:
    """Rendered responses in Redis, shared by all processes; never raises."""

    def __init__(
        self,
        url: str,
        *,
        ttl: int = 600,
        timeout: float = 0.2,
        retry_after: float = 5.0,
        prefix: str = "catalog:response:",
    ):
        self.url = url
        self.ttl = ttl
        self.timeout = timeout
        self.retry_after = retry_after
        self.prefix = prefix
        self._client: redis.Redis | None = None
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def client(self) -> redis.Redis:
        # Created on first use, so no connection exists before gunicorn forks.
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = redis.Redis.from_url(
                        self.url,
                        socket_timeout=self.timeout,
                        socket_connect_timeout=self.timeout,
                        retry=Retry(NoBackoff(), 0),  # a miss is cheaper than a wait
                    )
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + hashlib.sha256(key.encode()).hexdigest()

    def _call(self, operation: Callable[[redis.Redis], object]) -> object:
        if time.monotonic() < self._down_until:
            return None
        try:
            return operation(self.client)
        except (redis.RedisError, OSError, ValueError) as error:
            self._down_until = time.monotonic() + self.retry_after
            log.warning("response cache: Redis unavailable, serving from the database: %s", error)
            return None

    def get(self, key: str) -> CachedResponse | None:
        data = self._call(lambda client: client.get(self._key(key)))
        if not isinstance(data, bytes):
            return None
        try:
            return CachedResponse.decode(data)
        except (ValueError, KeyError, TypeError):
            return None  # something else wrote this key; render afresh

    def set(self, key: str, entry: CachedResponse) -> None:
        self._call(lambda client: client.set(self._key(key), entry.encode(), ex=self.ttl))

    def _lock_key(self, key: str) -> str:
        return self.prefix + "rendering:" + hashlib.sha256(key.encode()).hexdigest()

    def try_lock(self, key: str, token: str, seconds: float) -> bool | None:
        """Take the render lock of `key`: True if taken, False if another holds it, None if
        Redis cannot say (then nobody coordinates, and the caller renders)."""
        milliseconds = max(1, int(seconds * 1000))
        taken = self._call(
            lambda client: bool(client.set(self._lock_key(key), token, nx=True, px=milliseconds))
        )
        return taken if isinstance(taken, bool) else None

    def is_locked(self, key: str) -> bool:
        """Whether someone holds the render lock of `key`; False when Redis cannot say."""
        return bool(self._call(lambda client: client.exists(self._lock_key(key))))

    def unlock(self, key: str, token: str) -> None:
        """Release the lock only if it is still ours: after its expiry another may hold it."""
        self._call(lambda client: client.eval(_UNLOCK_IF_OURS, 1, self._lock_key(key), token))


# Compare-and-delete in one step, so a lock that expired and was taken by another is left alone.
_UNLOCK_IF_OURS = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""


@dataclass
class _Render:
    """One render in progress in this process; readers of the same key wait for `done`."""

    done: threading.Event = field(default_factory=threading.Event)
    entry: CachedResponse | None = None


class RendersInProgress:
    """At most one render per key in this process at a time."""

    def __init__(self):
        self._renders: dict[str, _Render] = {}
        self._lock = threading.Lock()

    def claim(self, key: str) -> tuple[_Render, bool]:
        """The render of `key`, and whether the caller has just started it (and must finish
        it) rather than found it in progress."""
        with self._lock:
            render = self._renders.get(key)
            if render is not None:
                return render, False
            render = self._renders[key] = _Render()
            return render, True

    def finish(self, key: str, render: _Render, entry: CachedResponse | None) -> None:
        with self._lock:
            del self._renders[key]
        render.entry = entry
        render.done.set()


class ResponseCache:
    """This process's LRU in front of Redis (when configured); a disabled cache stores nothing."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        enabled: bool = True,
        rebuild_wait: float = REBUILD_WAIT_SECONDS,
    ):
        self.enabled = enabled
        self.rebuild_wait = rebuild_wait
        self.memory = MemoryStore()
        self.redis = RedisStore(redis_url) if redis_url and enabled else None
        self.renders = RendersInProgress()

    def get(self, key: str) -> CachedResponse | None:
        if not self.enabled:
            return None
        entry = self.memory.get(key)
        if entry is None and self.redis is not None:
            entry = self.redis.get(key)
            if entry is not None:
                self.memory.set(key, entry)
        return entry

    def set(self, key: str, entry: CachedResponse) -> None:
        if not self.enabled:
            return
        self.memory.set(key, entry)
        if self.redis is not None:
            self.redis.set(key, entry)

    def get_or_render(
        self, key: str, render: Callable[[], CachedResponse | None]
    ) -> CachedResponse | None:
        """The entry of `key`, rendered by at most one caller at a time (see the module's
        docstring). `render` gives None for an answer that must not be stored (not a 200);
        a caller that waited in vain renders itself, so this returns None only for such an
        answer of its own."""
        entry = self.get(key)
        if entry is not None or not self.enabled:
            return entry if entry is not None else render()
        in_progress, started = self.renders.claim(key)
        if not started:
            in_progress.done.wait(self.rebuild_wait)
            if in_progress.entry is not None:
                return in_progress.entry
            return self._render_and_store(key, render)  # too slow, or not a 200: our own
        entry = None
        try:
            # Whoever in this process rendered just before our claim has stored the entry in
            # memory by now; another process's render is looked for under the Redis lock.
            entry = self.memory.get(key) or self._render_once_across_processes(key, render)
            return entry
        finally:
            self.renders.finish(key, in_progress, entry)

    def _render_once_across_processes(
        self, key: str, render: Callable[[], CachedResponse | None]
    ) -> CachedResponse | None:
        if self.redis is None:
            return self._render_and_store(key, render)
        token = secrets.token_hex(16)
        taken = self.redis.try_lock(key, token, self.rebuild_wait)
        if taken is None:  # Redis cannot coordinate: this process renders on its own
            return self._render_and_store(key, render)
        if not taken:
            return self._wait_for_another_process(key) or self._render_and_store(key, render)
        try:
            # Another process may have stored the entry and unlocked just before our lock.
            return self.get(key) or self._render_and_store(key, render)
        finally:
            self.redis.unlock(key, token)

    def _wait_for_another_process(self, key: str) -> CachedResponse | None:
        """The entry another process is rendering, once it is in Redis; None when it does not
        come in time or the renderer gave up (its lock is gone)."""
        deadline = time.monotonic() + self.rebuild_wait
        while time.monotonic() < deadline:
            time.sleep(REDIS_POLL_SECONDS)
            entry = self.redis.get(key)
            if entry is not None:
                self.memory.set(key, entry)
                return entry
            if not self.redis.is_locked(key):
                return self.redis.get(key)  # stored and unlocked between the two calls
        return None

    def _render_and_store(
        self, key: str, render: Callable[[], CachedResponse | None]
    ) -> CachedResponse | None:
        entry = render()
        if entry is not None:
            self.set(key, entry)
        return entry


def init_response_cache(app: Flask) -> ResponseCache:
    # CATALOG_CACHE=off measures what the cache saves (bench) and rules it out when an answer
    # looks stale.
    enabled = str(app.config["CATALOG_CACHE"]).strip().lower() not in ("off", "0", "false", "no")
    cache = ResponseCache(app.config.get("REDIS_URL"), enabled=enabled)
    app.extensions["catalog_response_cache"] = cache
    return cache


def _serve(entry: CachedResponse, cache_control: str) -> Response:
    headers = {"ETag": entry.etag, "Cache-Control": cache_control}
    if request.if_none_match and request.if_none_match.contains_weak(entry.etag.strip('"')):
        return current_app.response_class(status=304, headers=headers)
    headers.update(entry.headers)
    return current_app.response_class(entry.body, 200, headers, mimetype="application/json")


def _read_version() -> tuple[str, int] | None:
    """The catalog version, read outside any transaction: one round trip instead of BEGIN,
    SELECT and the ROLLBACK at teardown, and a cache hit never opens the request's session."""
    return get_database().read(services.catalog_version)


def _query_schema(view: Callable):
    """The query-arguments schema `@blp.arguments(..., location="query")` gave `view`, or None."""
    parameters = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    for parameter in parameters:
        if parameter.get("in") == "query":
            return parameter["schema"]
    return None


def canonical_query(schema) -> str | None:
    """The request's query arguments as `schema` validates them, in a canonical order; None
    when they are invalid (the route itself then answers 400)."""
    try:
        arguments = Blueprint.ARGUMENTS_PARSER.parse(
            schema, request, location="query", unknown=RAISE
        )
    except HTTPException:
        return None
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)


def cached_response(view: Callable) -> Callable:
    """A public GET, served from the response cache while the catalog version stands."""
    schema = _query_schema(view)

    @wraps(view)
    def cached(*args, **kwargs):
        if schema is None and request.query_string:
            abort(400, message="This endpoint takes no query parameters.")
        cache: ResponseCache = current_app.extensions["catalog_response_cache"]
        version = _read_version()  # before any data is read
        # No query string: nothing to validate or order (the common case, kept cheap).
        query = canonical_query(schema) if schema is not None and request.query_string else ""
        rendered: list[Response] = []

        def render() -> CachedResponse | None:
            RENDERS.labels(request.url_rule.rule).inc()
            response = view(*args, **kwargs)
            rendered.append(response)
            return CachedResponse.of(response) if response.status_code == 200 else None

        if version is None or query is None:
            entry = render()  # nothing to key it by (or a 400 to come): render, never store
        else:
            epoch, number = version
            entry = cache.get_or_render(f"{epoch}:{number}:{request.path}?{query}", render)
        if entry is None:
            return rendered[-1]  # not a 200: the view's own answer, as it made it
        return _serve(entry, CACHE_CONTROL)

    return cached


def etagged_response(view: Callable) -> Callable:
    """A per-caller GET: ETag and revalidation, but never stored server-side or by shared caches."""

    @wraps(view)
    def etagged(*args, **kwargs):
        response = view(*args, **kwargs)
        if response.status_code != 200:
            return response
        return _serve(CachedResponse.of(response), PRIVATE_CACHE_CONTROL)

    return etagged
