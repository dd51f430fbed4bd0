"""The gateway in front of the real auth and catalog services, each under gunicorn, on each
database backend: sign-in, tokens, the catalog's caching and errors, and the merged API docs.
"""

import http.client
import os
import subprocess
import sys
import uuid

import pytest
import requests

from auth_service.keys import create_key_file
from service_kit.config import REPO_ROOT
from tests.support.databases import migrated_database
from tests.support.processes import ServerProcess, free_port

pytestmark = pytest.mark.e2e

ADMIN_EMAIL = "admin@portal.test"
ADMIN_PASSWORD = "admin-password-1"


def run_cli(package: str, *args: str, env: dict[str, str]) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", package, *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return completed.stdout


@pytest.fixture(scope="module")
def auth(database_backend, tmp_path_factory):
    directory = tmp_path_factory.mktemp("auth")
    key_file = directory / "jwt-private.pem"
    create_key_file(key_file)
    with migrated_database("auth_service", database_backend, directory) as url:
        env = {"DATABASE_URL": url, "JWT_PRIVATE_KEY_FILE": str(key_file), "REDIS_URL": ""}
        run_cli(
            "auth_service",
            "create-user",
            "--email", ADMIN_EMAIL,
            "--password", ADMIN_PASSWORD,
            "--role", "admin",
            env=env,
        )  # fmt: skip
        with ServerProcess("auth_service:create_app()", env, threads=4) as process:
            yield process


@pytest.fixture(scope="module")
def catalog(database_backend, tmp_path_factory, auth):
    directory = tmp_path_factory.mktemp("catalog")
    with migrated_database("catalog_service", database_backend, directory) as url:
        env = {
            "DATABASE_URL": url,
            "AUTH_JWKS_URL": auth.url + "/.well-known/jwks.json",
            "REDIS_URL": "",
        }
        run_cli("catalog_service", "seed-demo", env=env)
        with ServerProcess("catalog_service:create_app()", env, threads=4) as process:
            yield process


@pytest.fixture(scope="module")
def gateway(auth, catalog):
    env = {
        "AUTH_URL": auth.url,
        "CATALOG_URL": catalog.url,
        "FAVORITES_URL": f"http://127.0.0.1:{free_port()}",  # not started in these tests
        "AUTH_JWKS_URL": auth.url + "/.well-known/jwks.json",
    }
    with ServerProcess("gateway:create_app()", env, workers=2, threads=8) as process:
        yield process


def login(gateway, email: str, password: str) -> dict[str, str]:
    response = requests.post(
        gateway.url + "/api/auth/login", json={"email": email, "password": password}, timeout=10
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def admin(gateway):
    return login(gateway, ADMIN_EMAIL, ADMIN_PASSWORD)


def test_a_student_registers_signs_in_and_is_known_through_the_gateway(gateway):
    email = f"student-{uuid.uuid4().hex[:8]}@portal.test"
    registered = requests.post(
        gateway.url + "/api/auth/register",
        json={"email": email, "password": "long-enough-1", "full_name": "Анна Студентова"},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    student = login(gateway, email, "long-enough-1")
    me = requests.get(gateway.url + "/api/auth/me", headers=student, timeout=10)
    assert me.status_code == 200
    assert me.json()["email"] == email
    assert me.json()["role"] == "student"
    # A valid student token passes the edge; the catalog itself decides on the write.
    write = requests.post(
        gateway.url + "/api/courses",
        json={"name": "x", "description": "y", "semester": 1},
        headers=student,
        timeout=10,
    )
    assert write.status_code == 403
    assert write.json()["code"] == 403


def test_wrong_password_is_the_auth_services_401(gateway):
    response = requests.post(
        gateway.url + "/api/auth/login",
        json={"email": ADMIN_EMAIL, "password": "not-the-password"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["code"] == 401


def test_me_without_a_token_stops_at_the_gateway(gateway, auth):
    request_id = f"no-token-{uuid.uuid4().hex}"
    response = requests.get(
        gateway.url + "/api/auth/me", headers={"X-Request-ID": request_id}, timeout=10
    )
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == request_id
    assert request_id not in auth.output()


def test_jwks_through_the_gateway_is_auths_key_set(gateway, auth):
    via_gateway = requests.get(gateway.url + "/api/auth/jwks.json", timeout=10)
    direct = requests.get(auth.url + "/.well-known/jwks.json", timeout=10)
    assert via_gateway.status_code == 200
    assert via_gateway.json() == direct.json()
    assert via_gateway.json()["keys"][0]["kty"] == "RSA"


def test_course_list_through_the_gateway_is_byte_identical(gateway, catalog):
    direct = requests.get(catalog.url + "/api/courses", timeout=10)
    via_gateway = requests.get(gateway.url + "/api/courses", timeout=10)
    assert via_gateway.status_code == 200
    assert via_gateway.content == direct.content
    assert via_gateway.headers["ETag"] == direct.headers["ETag"]
    assert len(via_gateway.json()) > 0


def test_revalidation_gets_a_304_with_no_body(gateway):
    first = requests.get(gateway.url + "/api/semesters", timeout=10)
    etag = first.headers["ETag"]
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    conn.request("GET", "/api/semesters", headers={"If-None-Match": etag})
    response = conn.getresponse()
    assert response.status == 304
    assert response.read() == b""
    assert response.getheader("ETag") == etag
    conn.close()


def test_an_admins_edit_is_visible_on_the_next_request(gateway, admin):
    before = requests.get(gateway.url + "/api/courses", timeout=10)
    name = f"Топология {uuid.uuid4().hex[:6]}"
    created = requests.post(
        gateway.url + "/api/courses",
        json={"name": name, "description": "Через шлюз", "semester": 3},
        headers=admin,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    after = requests.get(
        gateway.url + "/api/courses", headers={"If-None-Match": before.headers["ETag"]}, timeout=10
    )
    assert after.status_code == 200
    assert name in [course["name"] for course in after.json()]


def test_cyrillic_search_through_the_gateway(gateway, catalog):
    query = "?query=%D0%9B%D0%95%D0%9A%D0%A6%D0%98&limit=5"  # "ЛЕКЦИ", percent-encoded
    direct = requests.get(catalog.url + "/api/courses/search" + query, timeout=10)
    via_gateway = requests.get(gateway.url + "/api/courses/search" + query, timeout=10)
    assert via_gateway.status_code == direct.status_code
    assert via_gateway.content == direct.content


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/api/courses/999999999", 404),
        ("/api/courses/search?query=", 400),
        ("/api/courses/1/materials?type=exam", 400),
        ("/api/courses?page=-1", 400),
    ],
)
def test_catalog_errors_arrive_as_the_catalogs_json(gateway, target, status):
    response = requests.get(gateway.url + target, timeout=10)
    assert response.status_code == status
    assert response.json()["code"] == status


def test_request_id_reaches_the_catalogs_log(gateway, catalog):
    request_id = f"trace-{uuid.uuid4().hex}"
    response = requests.get(
        gateway.url + "/api/semesters", headers={"X-Request-ID": request_id}, timeout=10
    )
    assert response.headers["X-Request-ID"] == request_id
    assert request_id in catalog.output()


def test_merged_docs_cover_auth_and_catalog(gateway):
    response = requests.get(gateway.url + "/api/docs/openapi.json", timeout=10)
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/courses", "/api/semesters", "/api/auth/login", "/api/auth/jwks.json"):
        assert path in paths, path
    assert any(path.startswith("/api/courses/{") for path in paths)
    assert not any(path.startswith("/.well-known") for path in paths)
    assert "favorites" in response.json()["info"]["description"]  # not started here
