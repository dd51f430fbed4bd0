"""The merged API docs: which paths show, how clashes are resolved, caching, the page."""

from gateway.docs import FRESH_SECONDS, RETRY_SECONDS, MergedDocs, merge_specs
from gateway.routes import ROUTES, RouteTable
from service_kit.errors import UpstreamUnavailable

ROUTES_TABLE = RouteTable(ROUTES)
ERROR_SCHEMA = {"type": "object", "properties": {"code": {"type": "integer"}}}


def spec(paths: dict, schemas: dict | None = None, tags: list | None = None) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas or {}},
        "tags": tags or [],
    }


def error_ref(name: str = "Error") -> dict:
    return {
        "responses": {
            "400": {
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                }
            }
        }
    }


CATALOG = spec(
    {"/api/courses": {"get": error_ref()}, "/api/teacher/courses": {"get": {}}},
    {"Error": ERROR_SCHEMA, "Course": {"type": "object"}},
    [{"name": "courses"}],
)
AUTH = spec(
    {
        "/api/auth/login": {"post": {}},
        "/.well-known/jwks.json": {"get": {"summary": "keys"}},
        "/api/courses": {"get": {}},  # auth does not own this path: left out
    },
    {"Error": ERROR_SCHEMA},
    [{"name": "auth"}, {"name": "courses"}],
)
FAVORITES = spec(
    {"/api/user/courses": {"get": error_ref(), "post": {}}},
    {"Error": {"type": "object", "properties": {"detail": {"type": "string"}}}},
)


def test_paths_of_every_service_appear_under_their_gateway_names():
    merged = merge_specs(
        {"catalog": CATALOG, "auth": AUTH, "favorites": FAVORITES}, ROUTES_TABLE, []
    )
    assert set(merged["paths"]) == {
        "/api/courses",
        "/api/teacher/courses",
        "/api/auth/login",
        "/api/auth/jwks.json",
        "/api/user/courses",
    }
    assert merged["paths"]["/api/auth/jwks.json"]["get"]["summary"] == "keys"
    assert merged["paths"]["/api/courses"] == CATALOG["paths"]["/api/courses"]
    assert [tag["name"] for tag in merged["tags"]] == ["auth", "courses"]


def test_identical_components_are_shared_and_different_ones_renamed():
    merged = merge_specs(
        {"catalog": CATALOG, "auth": AUTH, "favorites": FAVORITES}, ROUTES_TABLE, []
    )
    schemas = merged["components"]["schemas"]
    assert schemas["Error"] == ERROR_SCHEMA
    assert schemas["FavoritesError"]["properties"] == {"detail": {"type": "string"}}
    favorites_ref = merged["paths"]["/api/user/courses"]["get"]["responses"]["400"]
    assert favorites_ref["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/FavoritesError"
    )
    catalog_ref = merged["paths"]["/api/courses"]["get"]["responses"]["400"]
    assert (
        catalog_ref["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"
    )


def test_inputs_are_not_modified():
    before = repr(FAVORITES)
    merge_specs({"catalog": CATALOG, "favorites": FAVORITES}, ROUTES_TABLE, [])
    assert repr(FAVORITES) == before


def test_missing_services_are_named_in_the_description():
    merged = merge_specs({"catalog": CATALOG}, ROUTES_TABLE, ["favorites", "auth"])
    assert "auth, favorites" in merged["info"]["description"]
    assert set(merged["paths"]) == {"/api/courses", "/api/teacher/courses"}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_merge_is_cached_and_refreshed_sooner_while_a_service_is_down():
    calls = {"catalog": 0, "auth": 0}
    auth_up = False

    def catalog():
        calls["catalog"] += 1
        return CATALOG

    def auth():
        calls["auth"] += 1
        if not auth_up:
            raise UpstreamUnavailable("down")
        return AUTH

    clock = Clock()
    merged = MergedDocs({"catalog": catalog, "auth": auth}, ROUTES_TABLE, clock=clock)
    first = merged.document()
    assert "/api/auth/login" not in first["paths"]
    assert merged.document() is first and calls == {"catalog": 1, "auth": 1}

    auth_up = True
    clock.now += RETRY_SECONDS
    second = merged.document()
    assert "/api/auth/login" in second["paths"]
    assert calls == {"catalog": 2, "auth": 2}

    clock.now += RETRY_SECONDS  # complete now: kept for longer
    assert merged.document() is second
    clock.now += FRESH_SECONDS
    assert merged.document() is not second


def test_docs_page_uses_only_local_assets(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "https://" not in html and "http://" not in html
    assert client.get("/api/docs/").status_code == 200


def test_swagger_ui_assets_are_vendored(client):
    bundle = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert b"SwaggerUIBundle" in bundle.data
    assert client.get("/api/docs/assets/swagger-ui.css").mimetype == "text/css"
    init = client.get("/api/docs/assets/docs-init.js")
    assert b"/api/docs/openapi.json" in init.data
    assert b"validatorUrl: null" in init.data  # no calls to an outside validator


def test_unknown_docs_asset_is_a_json_404(client):
    response = client.get("/api/docs/assets/../../__init__.py")
    assert response.status_code == 404
    assert response.get_json()["code"] == 404


def test_merged_document_with_every_service_down_is_still_a_document(client):
    response = client.get("/api/docs/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["paths"] == {}
    assert "did not answer" in document["info"]["description"]


def test_a_hung_service_holds_one_thread_not_every_docs_request():
    import threading

    release = threading.Event()
    hanging = threading.Event()

    def catalog():
        if merged_ready.is_set():
            hanging.set()
            release.wait(10)  # the catalog hangs on the refresh
        return CATALOG

    merged_ready = threading.Event()
    clock = Clock()
    merged = MergedDocs({"catalog": catalog}, ROUTES_TABLE, clock=clock)
    first = merged.document()
    merged_ready.set()
    clock.now += FRESH_SECONDS
    refresher = threading.Thread(target=merged.document)
    refresher.start()
    assert hanging.wait(5)
    # Every other request meanwhile gets the previous document at once.
    answers = []
    others = [threading.Thread(target=lambda: answers.append(merged.document())) for _ in range(5)]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(1)
    assert answers == [first] * 5
    release.set()
    refresher.join(5)
