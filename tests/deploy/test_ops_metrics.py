"""/metrics under real gunicorn, configured as the images run it (multiprocess mode): every
request is counted once, whichever worker served it and whichever worker answers the scrape."""

import contextlib
import os
import re
import signal
import threading
import time
import uuid

import pytest
import requests

from .conftest import Gunicorn

pytestmark = pytest.mark.e2e

APP = "tests.deploy.ops_app:create_app()"
ITEM_ROUTE = "/items/<int:item_id>"


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of the one sample of `name` whose labels include `labels` (0 if none)."""
    total, found = 0.0, 0
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)\{(.*)\} (\S+)", line)
        if not match or match[1] != name:
            continue
        sample_labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match[2]))
        if all(sample_labels.get(key) == value for key, value in labels.items()):
            total += float(match[3])
            found += 1
    assert found <= 1, f"{found} samples of {name} match {labels}"
    return total


def _start(tmp_path, **env) -> Gunicorn:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from an earlier run")
    server = Gunicorn(APP, {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), **env}).start()
    server.metrics_dir = metrics_dir
    return server


@pytest.fixture
def server(tmp_path):
    running = _start(tmp_path, GUNICORN_WORKERS="2")
    yield running
    running.stop()


def _item(server, item_id: int) -> int:
    response = requests.get(f"{server.url}/items/{item_id}", timeout=5)
    assert response.status_code == 200
    return int(response.headers["X-Worker-Pid"])


def _wait_for_new_worker(server, old_pid: int) -> int:
    """Requests until one is served by a worker other than `old_pid`; how many it took."""
    deadline = time.monotonic() + 20
    sent = 0
    while time.monotonic() < deadline:
        try:
            pid = _item(server, 1000 + sent)
        except requests.ConnectionError:
            time.sleep(0.05)
            continue
        sent += 1
        if pid != old_pid:
            return sent
    raise AssertionError("no new worker took over")


def test_counts_survive_workers_and_add_up_across_them(tmp_path):
    # One worker at a time, replaced halfway: its successor must still report its requests,
    # which only works when every process's samples are added up at scrape time.
    server = _start(tmp_path, GUNICORN_WORKERS="1")
    try:
        pids = {_item(server, item_id) for item_id in range(15)}
        assert len(pids) == 1
        first_pid = pids.pop()
        os.kill(first_pid, signal.SIGTERM)  # gunicorn replaces a worker that exits
        served = 15 + _wait_for_new_worker(server, first_pid)
        for item_id in range(10):
            _item(server, item_id)
        served += 10

        for _scrape in range(3):
            text = requests.get(server.url + "/metrics", timeout=5).text
            count = _sample(
                text, "http_requests_total", service="ops", route=ITEM_ROUTE, status="200"
            )
            assert count == served
            observed = _sample(
                text, "http_request_duration_seconds_count", service="ops", route=ITEM_ROUTE
            )
            assert observed == served
        assert not (server.metrics_dir / "counter_999999.db").exists()
    finally:
        server.stop()


def test_a_killed_worker_leaves_no_phantom_request_in_progress(tmp_path):
    server = _start(tmp_path, GUNICORN_WORKERS="1")
    try:
        pid = _item(server, 1)
        marker = tmp_path / "started"

        def slow_request():
            with contextlib.suppress(requests.RequestException):  # its worker gets killed
                requests.get(f"{server.url}/slow?seconds=30&marker={marker}", timeout=40)

        background = threading.Thread(target=slow_request)
        background.start()
        deadline = time.monotonic() + 10
        while not marker.exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)  # dies mid-request: its gauge file still says 1
        _wait_for_new_worker(server, pid)

        text = requests.get(server.url + "/metrics", timeout=5).text
        # Only the scrape itself is in progress; gunicorn's child_exit retired the dead worker.
        assert _sample(text, "http_requests_in_progress", service="ops") == 1
        background.join(45)
    finally:
        server.stop()


def test_routes_are_labelled_by_template_not_by_path(server):
    junk = f"/no/such/{uuid.uuid4().hex}"
    assert requests.get(server.url + junk, timeout=5).status_code == 404
    assert requests.get(f"{server.url}/items/123456789", timeout=5).status_code == 200

    text = requests.get(server.url + "/metrics", timeout=5).text

    assert "123456789" not in text
    assert junk not in text
    assert _sample(text, "http_requests_total", route="<unmatched>", status="404") == 1
    assert _sample(text, "http_requests_total", route=ITEM_ROUTE, status="200") == 1


def test_metrics_are_not_served_through_a_proxy(server):
    response = requests.get(
        server.url + "/metrics", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=5
    )
    assert response.status_code == 404
    assert response.json()["code"] == 404
