"""SIGTERM, as Kubernetes and compose send it: gunicorn stops accepting, lets the requests in
flight finish within GUNICORN_GRACEFUL_TIMEOUT, then exits cleanly."""

import threading
import time

import pytest
import requests

from .conftest import Gunicorn

pytestmark = pytest.mark.e2e

APP = "tests.deploy.ops_app:create_app()"


def _request_in_background(url: str) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def call():
        try:
            response = requests.get(url, timeout=30)
            outcome["status"], outcome["body"] = response.status_code, response.json()
        except requests.RequestException as error:
            outcome["error"] = error

    thread = threading.Thread(target=call)
    thread.start()
    return thread, outcome


def _wait_for(path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, "the slow request never started"
        time.sleep(0.02)


def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    marker = tmp_path / "started"
    with Gunicorn(APP, {"GUNICORN_GRACEFUL_TIMEOUT": "10"}) as server:
        thread, outcome = _request_in_background(f"{server.url}/slow?seconds=2&marker={marker}")
        _wait_for(marker)
        signalled = time.monotonic()
        server.terminate()

        time.sleep(0.5)  # the master closes its listening socket at once
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/health/live", timeout=2)

        thread.join(15)
        assert outcome == {"status": 200, "body": {"slept": 2.0}}
        assert server.process.wait(15) == 0
        # It waited for the request, not for the whole graceful timeout.
        assert time.monotonic() - signalled < 8


def test_requests_longer_than_the_graceful_timeout_are_cut_off(tmp_path):
    marker = tmp_path / "started"
    with Gunicorn(APP, {"GUNICORN_GRACEFUL_TIMEOUT": "1"}) as server:
        thread, outcome = _request_in_background(f"{server.url}/slow?seconds=20&marker={marker}")
        _wait_for(marker)
        signalled = time.monotonic()
        server.terminate()
        server.process.wait(15)
        stopped_after = time.monotonic() - signalled
        thread.join(15)

    assert stopped_after < 6
    assert "error" in outcome, outcome
