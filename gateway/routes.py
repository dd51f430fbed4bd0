"""Which service answers which /api path, and which requests need a token.

The table is the whole routing policy of the edge. It is compiled once into a dict keyed by
prefix, so a lookup costs one dict probe per path segment. A service is named once, in its
routes; its base URL is the `<SERVICE>_URL` setting (catalog: CATALOG_URL), so adding a service
is adding its route lines.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

READS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Route:
    """Requests under `prefix` go to `service`, under `upstream_path` there.

    `public_methods` need no token; every other method needs a valid access token at the edge.
    `upstream_path` is the service's path for `prefix` (the rest of the path follows it
    unchanged); by default the service sees the path the client sent.
    """

    prefix: str
    service: str
    public_methods: frozenset[str] = frozenset()
    upstream_path: str = ""
    # Paths under the prefix (a regular expression for the rest of the path) whose request
    # bodies stream to the service: file uploads, exempt from the 1 MiB body cap.
    streamed_uploads: re.Pattern | None = None

    def __post_init__(self) -> None:
        if not self.upstream_path:
            object.__setattr__(self, "upstream_path", self.prefix)

    def is_public(self, method: str) -> bool:
        return method in self.public_methods

    def streams_upload(self, path: str) -> bool:
        """Whether the body of a request to `path` (under this route) streams."""
        pattern = self.streamed_uploads
        return pattern is not None and pattern.fullmatch(path, len(self.prefix)) is not None

    def public_path(self, service_path: str) -> str | None:
        """The path a client uses for the service's `service_path`, when it lies under this
        route's `upstream_path`; else None."""
        base = self.upstream_path
        if service_path == base or service_path.startswith(base + "/"):
            return self.prefix + service_path[len(base) :]
        return None


ROUTES: tuple[Route, ...] = (
    Route(
        "/api/courses",
        "catalog",
        public_methods=READS,
        streamed_uploads=re.compile(r"/[0-9]+/materials/[0-9]+/file"),
    ),
    Route("/api/semesters", "catalog", public_methods=READS),
    Route("/api/material-types", "catalog", public_methods=READS),
    Route("/api/search", "catalog", public_methods=READS),
    Route("/api/teacher", "catalog"),
    Route("/api/recycle-bin", "catalog"),
    Route("/api/auth", "auth"),
    Route("/api/auth/register", "auth", public_methods=frozenset({"POST"})),
    Route("/api/auth/login", "auth", public_methods=frozenset({"POST"})),
    Route("/api/auth/refresh", "auth", public_methods=frozenset({"POST"})),
    Route("/api/auth/logout", "auth", public_methods=frozenset({"POST"})),
    # Sign-in through a university provider: browser navigations (login, callback) and the list
    # of providers for the login form; linking (POST) needs the caller's token.
    Route("/api/auth/providers", "auth", public_methods=READS),
    # Following a mail's link, and asking for one: no token (the link is the proof).
    Route("/api/auth/verify-email", "auth", public_methods=frozenset({"POST"})),
    Route("/api/auth/verify-email/resend", "auth"),
    Route("/api/auth/password-reset", "auth", public_methods=frozenset({"POST"})),
    Route("/api/auth/oidc", "auth", public_methods=READS),
    Route(
        "/api/auth/jwks.json", "auth", public_methods=READS, upstream_path="/.well-known/jwks.json"
    ),
    Route("/api/user/courses", "favorites"),
    Route(
        "/api/assistant",
        "assistant",
        streamed_uploads=re.compile(r"/datasets/[0-9]+/import"),
    ),
)


class RouteTable:
    """Longest-prefix match on whole path segments: /api/coursesX is not under /api/courses."""

    def __init__(self, routes: tuple[Route, ...] = ROUTES):
        self._by_prefix = {route.prefix: route for route in routes}
        if len(self._by_prefix) != len(routes):
            raise ValueError("two routes share a prefix")
        for route in routes:
            for path in (route.prefix, route.upstream_path):
                if not path.startswith("/") or path.endswith("/") or "//" in path:
                    raise ValueError(f"route path {path!r} must be /segment[/segment...]")

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._by_prefix.values())

    @property
    def services(self) -> tuple[str, ...]:
        """The routed services' names, sorted."""
        return tuple(sorted({route.service for route in self._by_prefix.values()}))

    def match(self, path: str) -> Route | None:
        """The route owning `path` (a raw path without query), or None."""
        by_prefix = self._by_prefix
        end = len(path)
        while end > 0:
            route = by_prefix.get(path[:end])
            if route is not None:
                return route
            end = path.rfind("/", 0, end)
        return None


def service_urls(config: Mapping[str, str], routes: RouteTable) -> dict[str, str]:
    """Each routed service's base URL, read once from its `<SERVICE>_URL` setting."""
    return {service: config[f"{service.upper()}_URL"] for service in routes.services}
