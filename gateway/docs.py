"""API docs at /api/docs: Swagger UI (served from gateway/static, no CDN) over one OpenAPI
document merged from every service's /openapi.json.

Only the paths a client can reach through the gateway are kept, under the names the gateway gives
them (auth's /.well-known/jwks.json appears as /api/auth/jwks.json). The merge is cached; a
service that is down leaves its paths out and is named in the description, and the next request
after a short while asks it again.
"""

import copy
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Blueprint, current_app, jsonify, send_from_directory

from service_kit.errors import UpstreamUnavailable
from service_kit.http_client import ServiceClient

from .routes import RouteTable

SWAGGER_UI_DIR = Path(__file__).resolve().parent / "static" / "swagger-ui"
FRESH_SECONDS = 60.0  # every service answered: the docs change only with a deployment
RETRY_SECONDS = 5.0  # a service was missing: ask again soon

docs = Blueprint("docs", __name__)

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Course portal API</title>
  <link rel="icon" type="image/png" href="/api/docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/api/docs/assets/docs-init.js"></script>
</body>
</html>
"""

_INIT_SCRIPT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/docs/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
  });
});
"""


@docs.get("/api/docs")
@docs.get("/api/docs/")
def page():
    """Swagger UI over the merged API of all services."""
    return current_app.response_class(_PAGE, mimetype="text/html")


@docs.get("/api/docs/openapi.json")
def openapi():
    """The OpenAPI document of everything behind /api, merged from the services."""
    return jsonify(current_app.extensions["api_docs"].document())


@docs.get("/api/docs/assets/docs-init.js")
def init_script():
    """Starts Swagger UI on the merged document."""
    return current_app.response_class(_INIT_SCRIPT, mimetype="text/javascript")


@docs.get("/api/docs/assets/<path:filename>")
def asset(filename: str):
    """Swagger UI's own files, vendored from the swagger-ui-dist package."""
    return send_from_directory(SWAGGER_UI_DIR, filename)


SpecSource = Callable[[], dict]  # returns a service's OpenAPI document; raises when it cannot


class MergedDocs:
    """The merged document, rebuilt when stale; safe to share between threads."""

    def __init__(
        self,
        sources: dict[str, SpecSource],
        routes: RouteTable,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.sources = sources
        self.routes = routes
        self.clock = clock
        self._document: dict | None = None
        self._expires = float("-inf")
        self._lock = threading.Lock()

    def document(self) -> dict:
        """The merged document. One thread at a time asks the services; meanwhile the others
        get the previous document at once instead of queueing behind a slow service (only the
        very first build is waited for)."""
        previous = self._document
        if previous is not None and self.clock() < self._expires:
            return previous
        if not self._lock.acquire(blocking=previous is None):
            return previous
        try:
            if self._document is None or self.clock() >= self._expires:
                specs, missing = {}, []
                for service, source in self.sources.items():
                    try:
                        specs[service] = source()
                    except UpstreamUnavailable:
                        missing.append(service)
                self._document = merge_specs(specs, self.routes, missing)
                self._expires = self.clock() + (RETRY_SECONDS if missing else FRESH_SECONDS)
            return self._document
        finally:
            self._lock.release()


def http_spec_source(base_url: str, service: str) -> SpecSource:
    client = ServiceClient(
        base_url, name=service, connect_timeout=1.0, read_timeout=3.0, retries=0, pool_size=2
    )
    return lambda: client.get_json("/openapi.json", expect=dict)


def init_docs(app, routes: RouteTable, service_urls: dict[str, str]) -> MergedDocs:
    sources = {service: http_spec_source(url, service) for service, url in service_urls.items()}
    merged = MergedDocs(sources, routes)
    app.extensions["api_docs"] = merged
    app.register_blueprint(docs)
    return merged


def merge_specs(specs: dict[str, dict], routes: RouteTable, missing: list[str]) -> dict:
    """One OpenAPI 3.1 document from several; colliding component names that mean different
    things are prefixed with their service's name."""
    merged: dict = {
        "openapi": "3.1.0",
        "info": {
            "title": "Course portal API",
            "version": "1.0",
            "description": _description(missing),
        },
        "paths": {},
        "components": {},
        "tags": [],
    }
    tag_names: set[str] = set()
    for service in sorted(specs):
        spec = _with_unique_components(copy.deepcopy(specs[service]), service, merged)
        _merge_components(merged["components"], spec)
        _merge_paths(merged["paths"], spec, service, routes)
        _merge_tags(merged["tags"], spec, tag_names)
    merged["paths"] = dict(sorted(merged["paths"].items()))
    return merged


def _merge_components(components: dict, spec: dict) -> None:
    for kind, members in (spec.get("components") or {}).items():
        if isinstance(members, dict):
            components.setdefault(kind, {}).update(members)


def _merge_paths(paths: dict, spec: dict, service: str, routes: RouteTable) -> None:
    """Add the spec's paths that the gateway routes to `service`, under their gateway names."""
    for path, item in (spec.get("paths") or {}).items():
        public_path = _gateway_path(path, service, routes)
        if public_path is not None and isinstance(item, dict):
            paths.setdefault(public_path, {}).update(item)


def _merge_tags(tags: list, spec: dict, tag_names: set[str]) -> None:
    for tag in spec.get("tags") or []:
        if isinstance(tag, dict) and tag.get("name") not in tag_names:
            tag_names.add(tag.get("name"))
            tags.append(tag)


def _description(missing: list[str]) -> str:
    text = "Every endpoint of the portal, as reached through the gateway."
    if missing:
        text += (
            f" The {', '.join(sorted(missing))} service did not answer, so its endpoints are "
            "missing here for now."
        )
    return text


def _gateway_path(path: str, service: str, routes: RouteTable) -> str | None:
    """The path a client uses through the gateway for `path` of `service`, or None when the
    gateway does not route it to that service."""
    for route in routes.routes:
        if route.service != service:
            continue
        public_path = route.public_path(path)
        # Only when that path comes back to this route: a more specific one may own it.
        if public_path is not None and routes.match(public_path) == route:
            return public_path
    return None


def _with_unique_components(spec: dict, service: str, merged: dict) -> dict:
    """Rename this spec's components that clash with different ones already merged."""
    renames: dict[str, str] = {}
    components = spec.get("components") or {}
    for kind, members in components.items():
        if not isinstance(members, dict):
            continue
        existing = merged["components"].get(kind, {})
        for name in list(members):
            if name in existing and existing[name] != members[name]:
                new_name = f"{service.capitalize()}{name}"
                members[new_name] = members.pop(name)
                renames[f"#/components/{kind}/{name}"] = f"#/components/{kind}/{new_name}"
    if not renames:
        return spec
    text = json.dumps(spec)
    for old, new in renames.items():
        text = text.replace(json.dumps(old), json.dumps(new))
    return json.loads(text)
