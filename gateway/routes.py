"""Which service answers which /api path, and which requests need a token.

The table is the whole routing policy of the edge. It is compiled once into a dict keyed by
prefix, so a lookup costs one dict probe per path segment.
"""

from dataclasses import dataclass

READS = frozenset({"GET", "HEAD"})
EVERY_METHOD = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Route:
    """Requests under `prefix` go to the service at config[`upstream`].

    `public_methods` need no token; every other method needs a valid access token at the edge.
    `upstream_prefix`, when set, replaces `prefix` in the forwarded path.
    """

    prefix: str
    upstream: str
    public_methods: frozenset[str] = frozenset()
    upstream_prefix: str | None = None

    def is_public(self, method: str) -> bool:
        return method in self.public_methods


ROUTES: tuple[Route, ...] = (
    Route("/api/courses", "CATALOG_URL", public_methods=READS),
    Route("/api/semesters", "CATALOG_URL", public_methods=READS),
    Route("/api/teacher", "CATALOG_URL"),
    Route("/api/auth", "AUTH_URL"),
    Route("/api/auth/register", "AUTH_URL", public_methods=frozenset({"POST"})),
    Route("/api/auth/login", "AUTH_URL", public_methods=frozenset({"POST"})),
    Route("/api/auth/refresh", "AUTH_URL", public_methods=frozenset({"POST"})),
    Route("/api/auth/logout", "AUTH_URL", public_methods=frozenset({"POST"})),
    Route(
        "/api/auth/jwks.json",
        "AUTH_URL",
        public_methods=READS,
        upstream_prefix="/.well-known/jwks.json",
    ),
    Route("/api/user/courses", "FAVORITES_URL"),
)

UPSTREAM_SERVICE_NAMES = {
    "CATALOG_URL": "catalog",
    "AUTH_URL": "auth",
    "FAVORITES_URL": "favorites",
}


class RouteTable:
    """Longest-prefix match on whole path segments: /api/coursesX is not under /api/courses."""

    def __init__(self, routes: tuple[Route, ...] = ROUTES):
        self._by_prefix = {route.prefix: route for route in routes}
        if len(self._by_prefix) != len(routes):
            raise ValueError("two routes share a prefix")
        for prefix in self._by_prefix:
            if not prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
                raise ValueError(f"route prefix {prefix!r} must be /segment[/segment...]")

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._by_prefix.values())

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
