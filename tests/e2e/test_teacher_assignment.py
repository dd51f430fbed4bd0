"""Teacher assignment asks the real auth service, through the gateway: an existing active user
is assigned, an unknown one is 404, a deactivated one 409, and with auth down 503 — nothing
stored in any of those cases."""

import pytest

from tests.browser.system import DEMO_ADMIN, PortalSystem
from tests.support.databases import database_backends

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    with PortalSystem(tmp_path_factory.mktemp("teachers"), database_backends()[-1]) as system:
        yield system


def teachers(portal, course_id) -> list[int]:
    return portal.api("GET", f"/api/courses/{course_id}").json()["teacher_ids"]


def test_assignment_checks_the_account_with_auth(portal):
    admin = portal.access_token(*DEMO_ADMIN)
    email, password = portal.register_user()
    user_id = portal.api("GET", "/api/auth/me", portal.access_token(email, password)).json()["id"]
    course = portal.api("GET", "/api/courses").json()[0]["id"]
    before = teachers(portal, course)

    assigned = portal.api("PUT", f"/api/courses/{course}/teachers/{user_id}", admin)
    assert assigned.status_code == 200, assigned.text
    assert user_id in assigned.json()["teacher_ids"]
    assert (
        portal.api("DELETE", f"/api/courses/{course}/teachers/{user_id}", admin).status_code == 204
    )

    unknown = portal.api("PUT", f"/api/courses/{course}/teachers/999999", admin)
    assert unknown.status_code == 404 and "No such user" in unknown.json()["message"]

    off = portal.api("PATCH", f"/api/auth/users/{user_id}", admin, json={"is_active": False})
    assert off.status_code == 200, off.text
    deactivated = portal.api("PUT", f"/api/courses/{course}/teachers/{user_id}", admin)
    assert deactivated.status_code == 409 and deactivated.json()["code"] == 409

    portal.stop("auth")
    try:
        down = portal.api("PUT", f"/api/courses/{course}/teachers/999998", admin)
        assert down.status_code == 503 and down.json()["code"] == 503
    finally:
        portal.start("auth")
    assert teachers(portal, course) == before
