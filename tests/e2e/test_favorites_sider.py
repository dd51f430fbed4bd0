"""The Sider end to end: favourites and catalog under gunicorn, behind the gateway, over HTTP.

Runs on each database backend. The catalog holds its demo courses; tests that stop or replace
the catalog get processes of their own.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from favorites_service.models import Base
from service_kit.config import REPO_ROOT, normalize_database_url
from tests.support.databases import clear_tables, migrated_database
from tests.support.processes import ServerProcess, free_port
from tests.support.tokens import TokenIssuer

pytestmark = pytest.mark.e2e

SIDER = "/api/user/courses"
# The favourites service gives the catalog 2 s per read and asks three times at most.
CATALOG_GIVE_UP_SECONDS = 3 * 2.0 + 1.0


@pytest.fixture(scope="module")
def issuer():
    with TokenIssuer() as token_issuer:
        yield token_issuer


@pytest.fixture(scope="module")
def catalog_database(tmp_path_factory):
    """A catalog database with the demo courses, as `make run` loads them."""
    with migrated_database("catalog_service", "sqlite", tmp_path_factory.mktemp("catalog")) as url:
        subprocess.run(
            [sys.executable, "-m", "catalog_service", "seed-demo"],
            cwd=REPO_ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            capture_output=True,
        )
        yield url


def start_catalog(catalog_database, issuer) -> ServerProcess:
    env = {"DATABASE_URL": catalog_database, "AUTH_JWKS_URL": issuer.jwks_url}
    return ServerProcess("catalog_service:create_app()", env).start()


def start_favorites(database_url, catalog_url, issuer) -> ServerProcess:
    env = {
        "DATABASE_URL": database_url,
        "CATALOG_URL": catalog_url,
        "AUTH_JWKS_URL": issuer.jwks_url,
    }
    return ServerProcess("favorites_service:create_app()", env, workers=2, threads=8).start()


@pytest.fixture(scope="module")
def catalog(catalog_database, issuer):
    process = start_catalog(catalog_database, issuer)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def courses(catalog) -> list[dict]:
    response = requests.get(f"{catalog.url}/api/courses", timeout=5)
    assert response.status_code == 200
    courses = [
        {key: course[key] for key in ("id", "name", "description", "semester")}
        for course in response.json()
    ]
    assert len(courses) >= 4
    return courses


@pytest.fixture(scope="module")
def favorites_database(database_backend, tmp_path_factory):
    directory = tmp_path_factory.mktemp("favorites")
    with migrated_database("favorites_service", database_backend, directory) as url:
        yield url


@pytest.fixture(scope="module")
def favorites(favorites_database, catalog, issuer):
    process = start_favorites(favorites_database, catalog.url, issuer)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def gateway(favorites, catalog, issuer):
    env = {
        "CATALOG_URL": catalog.url,
        "FAVORITES_URL": favorites.url,
        "AUTH_URL": f"http://127.0.0.1:{free_port()}",  # not needed here
        "AUTH_JWKS_URL": issuer.jwks_url,
        # Every thread may wait on the favourites service: these tests are about what the
        # service does with a burst, not about the gateway's share for one service (its own
        # tests), which on a slow machine turned a burst of slow SQLite writes away.
        "GATEWAY_UPSTREAM_CONCURRENCY": "8",
    }
    process = ServerProcess("gateway:create_app()", env, workers=2, threads=8).start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def empty_sider(favorites_database):
    clear_tables(favorites_database, Base.metadata)


@pytest.fixture
def student(issuer):
    """`student(user_id)`: a requests session carrying that student's access token."""
    sessions = []

    def make(user_id: int) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {issuer.token(user_id)}"
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


def stored_rows(database_url: str, user_id: int) -> list[tuple[int, int]]:
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT course_id, position FROM user_courses "
                    "WHERE user_id = :user_id ORDER BY position"
                ),
                {"user_id": user_id},
            )
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def course_ids(response) -> list[int]:
    return [favorite["course_id"] for favorite in response.json()]


def test_a_students_day_with_the_sider(gateway, student, courses, favorites_database):
    alice = student(7)
    first, second, third = courses[0], courses[1], courses[2]
    api = gateway.url + SIDER

    added = alice.post(api, json={"course_id": first["id"]}, timeout=10)
    assert added.status_code == 201
    assert added.json()["course"] == first and added.json()["available"] is True
    again = alice.post(api, json={"course_id": first["id"]}, timeout=10)
    assert again.status_code == 200 and again.json() == added.json()
    for course in (second, third):
        assert alice.post(api, json={"course_id": course["id"]}, timeout=10).status_code == 201

    listed = alice.get(api, headers={"X-Request-ID": "sider-e2e-1"}, timeout=10)
    assert listed.status_code == 200
    assert listed.headers["X-Catalog-Status"] == "ok"
    assert listed.headers["X-Request-ID"] == "sider-e2e-1"
    assert [f["course"] for f in listed.json()] == [first, second, third]
    assert [f["position"] for f in listed.json()] == [0, 1, 2]

    new_order = [third["id"], first["id"], second["id"]]
    reordered = alice.put(f"{api}/order", json={"course_ids": new_order}, timeout=10)
    assert reordered.status_code == 200 and course_ids(reordered) == new_order
    assert course_ids(alice.get(api, timeout=10)) == new_order

    for _ in range(2):
        removed = alice.delete(f"{api}/{first['id']}", timeout=10)
        assert removed.status_code == 204
    remaining = alice.get(api, timeout=10).json()
    assert [(f["course_id"], f["position"]) for f in remaining] == [
        (third["id"], 0),
        (second["id"], 1),
    ]
    assert stored_rows(favorites_database, 7) == [(third["id"], 0), (second["id"], 1)]


def test_the_gateway_turns_away_callers_without_a_token(gateway):
    for method in ("get", "post"):
        response = getattr(requests, method)(gateway.url + SIDER, json={"course_id": 1}, timeout=10)
        assert response.status_code == 401 and response.json()["code"] == 401


def test_32_concurrent_adds_of_one_course_store_one_row(
    gateway, issuer, courses, favorites_database
):
    course_id = courses[3]["id"]
    token = issuer.token(11)
    barrier = threading.Barrier(32)

    def add(_):
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            barrier.wait()
            response = session.post(gateway.url + SIDER, json={"course_id": course_id}, timeout=30)
            return response.status_code, response.json()

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(add, range(32)))

    statuses = [status for status, _ in results]
    assert statuses.count(201) == 1 and statuses.count(200) == 31, statuses
    assert (
        len({(body["course_id"], body["added_at"], body["position"]) for _, body in results}) == 1
    )
    assert stored_rows(favorites_database, 11) == [(course_id, 0)]


def test_students_never_see_or_change_each_others_sider(gateway, student, courses):
    alice, bob = student(21), student(22)
    api = gateway.url + SIDER
    for course in courses[:2]:
        alice.post(api, json={"course_id": course["id"]}, timeout=10)
    alices = [course["id"] for course in courses[:2]]

    spoofed = {"X-User-Id": "21", "X-User-ID": "21", "X-User-Role": "admin"}
    assert bob.get(api, headers=spoofed, timeout=10).json() == []
    assert bob.get(f"{api}?user_id=21", timeout=10).json() == []
    assert bob.delete(f"{api}/{alices[0]}", headers=spoofed, timeout=10).status_code == 204
    reorder = bob.put(f"{api}/order", json={"course_ids": alices[::-1]}, timeout=10)
    assert reorder.status_code == 422
    sneaky_add = bob.post(api, json={"course_id": alices[0], "user_id": 21}, timeout=10)
    assert sneaky_add.status_code == 422

    assert course_ids(alice.get(api, timeout=10)) == alices
    assert bob.get(api, timeout=10).json() == []


def test_the_sider_outlives_a_catalog_outage(
    catalog_database, favorites_database, issuer, student, courses
):
    catalog = start_catalog(catalog_database, issuer)
    favorites = start_favorites(favorites_database, catalog.url, issuer)
    alice = student(31)
    api = favorites.url + SIDER
    try:
        for course in courses[:2]:
            assert alice.post(api, json={"course_id": course["id"]}, timeout=10).status_code == 201

        catalog.stop()
        started = time.monotonic()
        degraded = alice.get(api, timeout=15)
        assert time.monotonic() - started < CATALOG_GIVE_UP_SECONDS
        assert degraded.status_code == 200
        assert degraded.headers["X-Catalog-Status"] == "unavailable"
        assert course_ids(degraded) == [course["id"] for course in courses[:2]]
        assert all(f["course"] is None and f["available"] is None for f in degraded.json())

        refused = alice.post(api, json={"course_id": courses[2]["id"]}, timeout=15)
        assert refused.status_code == 503
        assert "catalog" in refused.json()["message"]
        assert stored_rows(favorites_database, 31) == [(courses[0]["id"], 0), (courses[1]["id"], 1)]

        catalog.start()
        recovered = alice.get(api, timeout=10)
        assert recovered.headers["X-Catalog-Status"] == "ok"
        assert [f["course"] for f in recovered.json()] == courses[:2]
        assert alice.post(api, json={"course_id": courses[2]["id"]}, timeout=10).status_code == 201
    finally:
        favorites.stop()
        catalog.stop()


@pytest.fixture
def hanging_catalog():
    """A catalog that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # the kernel completes handshakes; nobody ever reads or replies
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_hanging_catalog_gets_a_degraded_answer_not_a_hang(
    favorites, favorites_database, hanging_catalog, issuer, student, courses
):
    alice = student(41)
    alice.post(favorites.url + SIDER, json={"course_id": courses[0]["id"]}, timeout=10)
    stuck = start_favorites(favorites_database, hanging_catalog, issuer)
    try:
        started = time.monotonic()
        response = alice.get(stuck.url + SIDER, timeout=30)
        waited = time.monotonic() - started
        assert 2.0 <= waited < CATALOG_GIVE_UP_SECONDS
        assert response.status_code == 200
        assert response.headers["X-Catalog-Status"] == "unavailable"
        assert [(f["course_id"], f["course"]) for f in response.json()] == [
            (courses[0]["id"], None)
        ]

        started = time.monotonic()
        refused = alice.post(stuck.url + SIDER, json={"course_id": courses[1]["id"]}, timeout=30)
        assert time.monotonic() - started < CATALOG_GIVE_UP_SECONDS
        assert refused.status_code == 503
        assert stored_rows(favorites_database, 41) == [(courses[0]["id"], 0)]
    finally:
        stuck.stop()
