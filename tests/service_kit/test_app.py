"""The shared app factory: one JSON error shape, health, request ids, body cap."""

import json

import pytest
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import text

from service_kit import NotFound, create_service_app, get_session
from service_kit.request_log import JsonFormatter
from tests.support.processes import free_port

blp = Blueprint("things", __name__, url_prefix="/api/things")


@blp.route("/<id:thing_id>")
class Thing(MethodView):
    def get(self, thing_id):
        """A thing that never exists."""
        raise NotFound(f"Thing {thing_id} does not exist.")


@blp.route("/boom")
class Boom(MethodView):
    def get(self):
        """Fails unexpectedly."""
        raise RuntimeError("secret internal detail")


@blp.route("/count")
class Count(MethodView):
    def get(self):
        """Asks the database."""
        return {"one": get_session().execute(text("SELECT 1")).scalar()}


@blp.route("/echo")
class Echo(MethodView):
    def post(self):
        """Reads the body."""
        from flask import request

        return {"size": len(request.get_data())}


@pytest.fixture
def app(tmp_path):
    app, api = create_service_app(
        "things",
        __name__,
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'things.db'}"},
        title="Things",
    )
    api.register_blueprint(blp)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def assert_error(response, code):
    assert response.status_code == code
    assert response.is_json
    body = response.get_json()
    assert body["code"] == code
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_domain_error_becomes_json(client):
    body = assert_error(client.get("/api/things/7"), 404)
    assert body["message"] == "Thing 7 does not exist."


def test_unknown_route_and_method_are_json(client):
    assert_error(client.get("/no/such/page"), 404)
    assert_error(client.delete("/api/things/echo"), 405)


def test_unexpected_error_hides_the_trace(client):
    response = client.get("/api/things/boom")
    body = assert_error(response, 500)
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert "Traceback" not in body["message"]


def test_a_database_that_cannot_be_reached_is_503_not_500():
    app, api = create_service_app(
        "things",
        __name__,
        {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"},
        title="Things",
    )
    api.register_blueprint(blp)
    response = app.test_client().get("/api/things/count")
    body = assert_error(response, 503)
    assert response.headers["Retry-After"] == "2"
    assert "database" in body["message"] and "Traceback" not in body["message"]


def test_body_over_one_mebibyte_is_413(client):
    assert_error(client.post("/api/things/echo", data=b"x" * (1024 * 1024 + 1)), 413)
    assert client.post("/api/things/echo", data=b"x" * 1024).get_json() == {"size": 1024}


def test_request_id_is_kept_when_safe_and_replaced_when_not(client):
    kept = client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["X-Request-ID"] == "abc-123"
    hostile_id = "<script>" + "x" * 200
    hostile = client.get("/health/live", headers={"X-Request-ID": hostile_id})
    assert hostile.headers["X-Request-ID"] != hostile_id
    assert len(hostile.headers["X-Request-ID"]) == 32
    assert client.get("/health/live").headers["X-Request-ID"]


def test_health_live_and_ready(client):
    assert client.get("/health/live").get_json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok"}


def test_ready_is_503_when_the_database_is_unreachable(tmp_path):
    app, _ = create_service_app(
        "things",
        __name__,
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"},
        title="Things",
    )
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unavailable"


def test_one_json_line_per_request(client, caplog):
    client.get("/api/things/3", headers={"X-Request-ID": "req-42"})
    records = [r for r in caplog.records if r.name == "request"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["path"] == "/api/things/3"
    assert line["method"] == "GET"
    assert line["status"] == 404
    assert line["request_id"] == "req-42"
    assert line["duration_ms"] >= 0


def test_openapi_is_served(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["info"]["title"] == "Things"
    assert "/api/things/{thing_id}" in spec["paths"]


@pytest.mark.parametrize("raw_id", ["0", "-1", "١", "2147483648", "9" * 40, "1e3", "%201"])
def test_ids_outside_ascii_digits_or_the_column_range_do_not_match(client, raw_id):
    body = assert_error(client.get(f"/api/things/{raw_id}"), 404)
    assert "does not exist" not in body["message"]  # the route itself did not match


def test_postgres_urls_from_config_use_psycopg(tmp_path):
    app, _ = create_service_app(
        "things", __name__, {"DATABASE_URL": "postgresql://u@127.0.0.1/x"}, title="Things"
    )
    assert app.config["DATABASE_URL"] == "postgresql+psycopg://u@127.0.0.1/x"
