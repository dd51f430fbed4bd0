"""The route table: longest prefix on whole segments, and who needs a token."""

import pytest

from gateway.routes import ROUTES, Route, RouteTable, service_urls

TABLE = RouteTable(ROUTES)


@pytest.mark.parametrize(
    ("path", "prefix"),
    [
        ("/api/courses", "/api/courses"),
        ("/api/courses/", "/api/courses"),
        ("/api/courses/7", "/api/courses"),
        ("/api/courses/7/materials/3", "/api/courses"),
        ("/api/courses/search", "/api/courses"),
        ("/api/semesters", "/api/semesters"),
        ("/api/teacher/courses", "/api/teacher"),
        ("/api/auth/login", "/api/auth/login"),
        ("/api/auth/me", "/api/auth"),
        ("/api/auth/users/5", "/api/auth"),
        ("/api/auth/jwks.json", "/api/auth/jwks.json"),
        ("/api/user/courses", "/api/user/courses"),
        ("/api/user/courses/order", "/api/user/courses"),
    ],
)
def test_longest_prefix_owns_the_path(path, prefix):
    assert TABLE.match(path).prefix == prefix


@pytest.mark.parametrize(
    "path",
    [
        "/api/coursesX",
        "/api/courses-admin",
        "/api/semestersX/1",
        "/api/teachers",
        "/api/user",
        "/api/user/coursesX",
        "/api/users/courses",
        "/api",
        "/api/",
        "/",
        "",
        "/API/courses",
        "/courses",
        "api/courses",
    ],
)
def test_paths_outside_every_route_match_nothing(path):
    assert TABLE.match(path) is None


def test_login_is_public_only_for_post_while_the_rest_of_auth_needs_a_token():
    assert TABLE.match("/api/auth/login").is_public("POST")
    assert not TABLE.match("/api/auth/login").is_public("GET")
    assert not TABLE.match("/api/auth/me").is_public("GET")
    assert not TABLE.match("/api/auth/loginX").is_public("POST")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_course_reads_are_public(method):
    assert TABLE.match("/api/courses/3/materials").is_public(method)
    assert TABLE.match("/api/semesters").is_public(method)


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE"])
def test_course_writes_need_a_token(method):
    assert not TABLE.match("/api/courses/3/materials").is_public(method)


@pytest.mark.parametrize("path", ["/api/teacher/courses", "/api/user/courses"])
def test_personal_routes_need_a_token_for_every_method(path):
    route = TABLE.match(path)
    assert not any(route.is_public(m) for m in ("GET", "HEAD", "POST", "PUT", "DELETE"))


def test_jwks_is_rewritten_to_the_well_known_path():
    route = TABLE.match("/api/auth/jwks.json")
    assert route.upstream_path == "/.well-known/jwks.json"
    assert route.public_path("/.well-known/jwks.json") == "/api/auth/jwks.json"


def test_other_routes_keep_the_path_the_client_sent():
    route = TABLE.match("/api/courses/7")
    assert route.upstream_path == route.prefix == "/api/courses"
    assert route.public_path("/api/courses/7") == "/api/courses/7"
    assert route.public_path("/api/coursesX") is None


def test_each_service_url_comes_from_its_setting():
    config = {
        "CATALOG_URL": "http://catalog:8001",
        "FAVORITES_URL": "http://favorites:8002",
        "AUTH_URL": "http://auth:8003",
        "ASSISTANT_URL": "http://assistant:8004",
        "REDIS_URL": "redis://cache",
    }
    assert service_urls(config, TABLE) == {
        "assistant": "http://assistant:8004",
        "auth": "http://auth:8003",
        "catalog": "http://catalog:8001",
        "favorites": "http://favorites:8002",
    }


def test_a_new_service_is_one_route_line():
    table = RouteTable((*ROUTES, Route("/api/grades", "grades")))
    assert table.match("/api/grades/3").service == "grades"
    assert "grades" in table.services


@pytest.mark.parametrize("prefix", ["/api/x/", "api/x", "/api//x"])
def test_malformed_prefixes_are_refused(prefix):
    with pytest.raises(ValueError):
        RouteTable((Route(prefix, "catalog"),))


@pytest.mark.parametrize("upstream_path", ["/x/", "x", "//x"])
def test_malformed_upstream_paths_are_refused(upstream_path):
    with pytest.raises(ValueError):
        RouteTable((Route("/api/x", "catalog", upstream_path=upstream_path),))


def test_duplicate_prefixes_are_refused():
    with pytest.raises(ValueError):
        RouteTable((Route("/api/x", "catalog"), Route("/api/x", "auth")))
