"""Teacher assignment only for accounts auth knows: the service rule with a fake directory,
the API's answers, and the auth client against a stand-in auth over real HTTP."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from catalog_service import services
from catalog_service.users import AuthUsers
from service_kit import Conflict, Forbidden, NotFound, Unauthorized, UpstreamUnavailable
from service_kit.http_client import ServiceClient
from tests.catalog_service.fake_users import FakeUsers, route_users


class AuthDown:
    def account(self, user_id):
        raise UpstreamUnavailable("The auth service is unavailable.")


def teacher_ids(session, course_id) -> list[int]:
    return services.get_course(session, course_id).teacher_ids


# --- the service rule ------------------------------------------------------------------------


def test_an_active_user_is_assigned(session, catalog):
    users = FakeUsers({5: True})
    details = services.assign_teacher(session, catalog.python.id, 5, users=users)
    assert details.teacher_ids == [5] and users.asked == [5]


@pytest.mark.parametrize(
    ("users", "error"),
    [
        (FakeUsers({}), NotFound),
        (FakeUsers({6: False}), Conflict),
        (AuthDown(), UpstreamUnavailable),
    ],
)
def test_unknown_deactivated_or_unanswered_stores_nothing(session, catalog, users, error):
    with pytest.raises(error):
        services.assign_teacher(session, catalog.python.id, 6, users=users)
    session.rollback()
    assert teacher_ids(session, catalog.python.id) == []


def test_an_unknown_course_is_404_before_auth_is_asked(session, catalog):
    users = FakeUsers(everyone=True)
    with pytest.raises(NotFound):
        services.assign_teacher(session, 2_000_000_000, 5, users=users)
    assert users.asked == []


def test_unassigning_needs_no_directory(session, catalog):
    """A deleted account's assignments must stay removable."""
    services.assign_teacher(session, catalog.python.id, 9, users=FakeUsers({9: True}))
    services.unassign_teacher(session, catalog.python.id, 9)
    assert teacher_ids(session, catalog.python.id) == []


# --- the API ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("users", "status"),
    [(FakeUsers({}), 404), (FakeUsers({44: False}), 409), (AuthDown(), 503)],
)
def test_api_answers(client, catalog, bearer, monkeypatch, users, status):
    route_users(monkeypatch, users)
    course = catalog.python.id
    response = client.put(f"/api/courses/{course}/teachers/44", headers=bearer(1, "admin"))
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == status and body["message"]
    assert client.get(f"/api/courses/{course}").get_json()["teacher_ids"] == []


def test_api_spec_documents_the_answers(client):
    spec = client.get("/openapi.json").get_json()
    put = spec["paths"]["/api/courses/{course_id}/teachers/{user_id}"]["put"]
    assert {"200", "404", "409", "503"} <= set(put["responses"])


# --- the auth client -------------------------------------------------------------------------


class StandInAuth:
    """A stand-in for auth's GET /api/auth/users/{id}: answers what the test sets, records the
    Authorization headers it was sent."""

    def __init__(self):
        self.status, self.body = 200, {}
        self.authorizations: list[str | None] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stand_in.authorizations.append(self.headers.get("Authorization"))
                payload = (
                    stand_in.body
                    if isinstance(stand_in.body, bytes)
                    else json.dumps(stand_in.body).encode()
                )
                self.send_response(stand_in.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in():
    auth = StandInAuth()
    yield auth
    auth.close()


def auth_users(stand_in, authorization="Bearer admin-token"):
    return AuthUsers(ServiceClient(stand_in.url, name="auth", retries=0), authorization)


def test_auth_client_forwards_the_callers_token(stand_in):
    stand_in.body = {"id": 7, "is_active": True, "email": "t@example.edu"}
    account = auth_users(stand_in).account(7)
    assert (account.id, account.is_active) == (7, True)
    assert stand_in.authorizations == ["Bearer admin-token"]
    stand_in.body = {"id": 7, "is_active": False}
    assert auth_users(stand_in).account(7).is_active is False


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (404, {"code": 404}, None),
        (401, {"code": 401}, Unauthorized),
        (403, {"code": 403}, Forbidden),
        (500, {"code": 500}, UpstreamUnavailable),
        (200, b"not json", UpstreamUnavailable),
        (200, {"id": 8, "is_active": True}, UpstreamUnavailable),  # another user
        (200, {"id": 7, "is_active": "yes"}, UpstreamUnavailable),
        (200, [1, 2], UpstreamUnavailable),
    ],
)
def test_auth_client_trusts_only_a_clear_answer(stand_in, status, body, outcome):
    stand_in.status, stand_in.body = status, body
    if outcome is None:
        assert auth_users(stand_in).account(7) is None
    else:
        with pytest.raises(outcome):
            auth_users(stand_in).account(7)


def test_auth_client_with_auth_down():
    client = ServiceClient("http://127.0.0.1:9", name="auth", retries=0)
    with pytest.raises(UpstreamUnavailable):
        AuthUsers(client, "Bearer x").account(7)
