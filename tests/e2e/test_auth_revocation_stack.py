"""Revocation and the refresh cookie end to end: the gateway, auth, catalog and favorites as real
processes. A teacher demoted or deactivated by an admin loses write access within seconds, while
public reads go on; the browser's refresh cookie travels through the gateway."""

import time
import uuid

import pytest
import requests

from tests.browser.system import DEMO_ADMIN, DEMO_TEACHER, PortalSystem
from tests.support.databases import database_backends

pytestmark = pytest.mark.e2e

# The verifiers refresh the revocation list every 5 s; allow for a busy machine.
WITHIN_SECONDS = 12


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    backend = database_backends()[-1]
    with PortalSystem(tmp_path_factory.mktemp("portal"), backend) as system:
        yield system


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def material(title: str) -> dict:
    return {"lesson_number": 1, "material_type_code": "lecture", "title": title}


def new_admin(portal: PortalSystem, admin: str) -> tuple[int, str]:
    """A fresh admin (who may write any course's materials): their user id and access token."""
    email, password = portal.register_user()
    user_id = portal.api("GET", "/api/auth/me", portal.access_token(email, password)).json()["id"]
    assert portal.api("PATCH", f"/api/auth/users/{user_id}", admin, json={"role": "admin"}).ok
    return user_id, portal.access_token(email, password)


def write_until_refused(portal: PortalSystem, token: str, course_id: int) -> float:
    """Seconds until a write with `token` is refused with 401."""
    started = time.monotonic()
    while time.monotonic() - started < WITHIN_SECONDS:
        path = f"/api/courses/{course_id}/materials"
        answer = portal.api("POST", path, token, json=material(f"probe {uuid.uuid4().hex[:6]}"))
        if answer.status_code == 401:
            assert "revoked" in answer.json()["message"]
            return time.monotonic() - started
        assert answer.status_code == 201, answer.text
        time.sleep(0.5)
    pytest.fail(f"the old token could still write after {WITHIN_SECONDS} s")


@pytest.fixture(scope="module")
def admin(portal):
    return portal.access_token(*DEMO_ADMIN)


@pytest.fixture(scope="module")
def course_id(portal):
    token = portal.access_token(*DEMO_TEACHER)
    return portal.api("GET", "/api/teacher/courses", token).json()[0]["id"]


def check_revoked_within_seconds(portal, admin, course_id, user_id, token, change):
    path = f"/api/courses/{course_id}/materials"
    assert portal.api("POST", path, token, json=material("before")).status_code == 201
    assert portal.api("PATCH", f"/api/auth/users/{user_id}", admin, json=change).ok
    assert write_until_refused(portal, token, course_id) < WITHIN_SECONDS
    # Public reads are untouched, with or without the old token.
    assert portal.api("GET", path).status_code == 200
    assert portal.api("GET", "/api/semesters", token).status_code == 200


def test_a_deactivated_admins_old_token_stops_writing_within_seconds(portal, admin, course_id):
    user_id, token = new_admin(portal, admin)
    check_revoked_within_seconds(portal, admin, course_id, user_id, token, {"is_active": False})


def test_a_demoted_teachers_old_token_stops_writing_within_seconds(portal, admin, course_id):
    # Before: such a token still created materials (201) for up to 15 minutes.
    token = portal.access_token(*DEMO_TEACHER)
    user_id = portal.api("GET", "/api/auth/me", token).json()["id"]
    check_revoked_within_seconds(portal, admin, course_id, user_id, token, {"role": "student"})


def test_logout_everywhere_ends_writes_of_earlier_tokens(portal):
    email, password = portal.register_user()
    token = portal.access_token(email, password)
    assert portal.api("POST", "/api/user/courses", token, json={"course_id": 1}).ok
    assert portal.api("POST", "/api/auth/logout-all", token).status_code == 204
    started = time.monotonic()
    while portal.api("DELETE", "/api/user/courses/1", token).status_code != 401:
        assert time.monotonic() - started < WITHIN_SECONDS
        time.sleep(0.5)
    fresh = portal.access_token(email, password)
    assert portal.api("DELETE", "/api/user/courses/1", fresh).status_code == 204


def test_the_refresh_cookie_travels_through_the_gateway(portal):
    email, password = portal.register_user()
    browser = requests.Session()
    headers = {"X-CSRF": "1"}
    url = portal.url + "/api/auth"
    login = browser.post(
        url + "/login", json={"email": email, "password": password}, headers=headers, timeout=10
    )
    assert login.status_code == 200 and "refresh_token" not in login.json()
    assert "HttpOnly" in login.headers["Set-Cookie"]
    renewed = browser.post(url + "/refresh", json={}, headers=headers, timeout=10)
    assert renewed.status_code == 200 and renewed.json()["access_token"]
    forged = browser.post(url + "/refresh", json={}, timeout=10)  # no X-CSRF
    assert forged.status_code == 403
    assert browser.post(url + "/logout", json={}, headers=headers, timeout=10).status_code == 204
    assert browser.post(url + "/refresh", json={}, headers=headers, timeout=10).status_code == 401
