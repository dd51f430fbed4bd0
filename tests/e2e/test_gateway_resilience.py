"""The gateway under gunicorn when a service hangs or auth is down, with real processes.

- A hung service (SIGSTOP) holds at most its share of the gateway's threads: the requests past
  that share are refused at once (503 + Retry-After), and the other services' routes keep
  answering in milliseconds.
- A gateway that starts during an auth outage is ready (public reads work), answers protected
  routes 503 until it has keys, and with keys kept from an earlier run serves them at once.
"""

import concurrent.futures
import contextlib
import os
import signal
import statistics
import time
from pathlib import Path

import pytest
import requests

from tests.support.processes import ServerProcess, free_port
from tests.support.tokens import TokenIssuer

pytestmark = pytest.mark.e2e

UPSTREAM_APP = "tests.e2e.gateway_upstream:create_app()"
GATEWAY_THREADS = 8
HUNG_REQUESTS = 40


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (gunicorn's arbiter and its workers)."""
    pids, index = [pid], 0
    while index < len(pids):
        children = Path(f"/proc/{pids[index]}/task/{pids[index]}/children")
        with contextlib.suppress(OSError):
            pids.extend(int(child) for child in children.read_text().split())
        index += 1
    return pids


@contextlib.contextmanager
def hung(server: ServerProcess):
    """The server's processes stopped (SIGSTOP): connections are accepted by the kernel, and
    nothing ever answers, until the block ends (SIGCONT)."""
    pids = process_tree(server.process.pid)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def issuer():
    with TokenIssuer() as token_issuer:
        yield token_issuer


@pytest.fixture(scope="module")
def catalog():
    with ServerProcess(UPSTREAM_APP, {}, workers=1, threads=4) as process:
        yield process


@pytest.fixture(scope="module")
def auth():
    with ServerProcess(UPSTREAM_APP, {}, workers=1, threads=4) as process:
        yield process


def gateway_process(issuer, catalog_url, auth_url, tmp_path, **extra) -> ServerProcess:
    env = {
        "CATALOG_URL": catalog_url,
        "FAVORITES_URL": f"http://127.0.0.1:{free_port()}",
        "AUTH_URL": auth_url,
        "AUTH_JWKS_URL": issuer.jwks_url,
        "JWKS_CACHE_FILE": str(tmp_path / "jwks-cache.json"),
        "GUNICORN_THREADS": str(GATEWAY_THREADS),  # what the bulkhead is sized from
        **extra,
    }
    return ServerProcess("gateway:create_app()", env, workers=1, threads=GATEWAY_THREADS)


def test_a_hung_service_cannot_take_the_threads_of_the_others(issuer, catalog, auth, tmp_path):
    student = {"Authorization": f"Bearer {issuer.token(7)}"}
    with gateway_process(issuer, catalog.url, auth.url, tmp_path) as gateway:
        me = gateway.url + "/api/auth/me"
        assert requests.get(me, headers=student, timeout=5).status_code == 200  # keys loaded
        idle = [_timed_get(me, student)[1] for _ in range(5)]

        with (
            concurrent.futures.ThreadPoolExecutor(HUNG_REQUESTS) as pool,
            hung(catalog),  # resumed first, then the pool waits for the held requests
        ):
            started = time.perf_counter()
            waiting = [
                pool.submit(_timed_get, gateway.url + "/api/courses/echo", None, 30)
                for _ in range(HUNG_REQUESTS)
            ]
            # The refusals come back at once; the requests holding the catalog's share wait.
            refused = [future.result() for future in _first_done(waiting, HUNG_REQUESTS - 6, 10)]
            burst = time.perf_counter() - started
            during = [_timed_get(me, student) for _ in range(5)]

        outcomes = [future.result() for future in waiting]  # answered after SIGCONT

    statuses = sorted(response.status_code for response, _seconds in outcomes)
    during_ms = [seconds * 1000 for _response, seconds in during]
    print(
        f"\nidle GET /api/auth/me: median {statistics.median(idle) * 1000:.1f} ms; "
        f"with the catalog hung and {HUNG_REQUESTS} requests on it: "
        f"{', '.join(f'{ms:.1f}' for ms in during_ms)} ms; "
        f"{len(refused)} refused within {burst * 1000:.0f} ms; final statuses {statuses}"
    )
    assert all(response.status_code == 200 for response, _seconds in during)
    assert max(during_ms) < 100  # the one timed assertion
    assert statuses.count(503) == HUNG_REQUESTS - 6  # 8 threads: the catalog's share is 6
    for response, _seconds in outcomes:
        if response.status_code == 503:
            assert response.headers["Retry-After"] == "1"
            assert response.json()["message"] == "The catalog service is busy; try again shortly."
    assert statuses.count(200) == 6  # the held ones, answered once the catalog resumed


def test_a_slow_but_streaming_download_outlives_the_read_timeout(issuer, catalog, auth, tmp_path):
    # The read timeout bounds the wait between two reads, not the whole body: a 1 MiB body read
    # slowly by the client still arrives whole with a 1 s read timeout.
    with gateway_process(
        issuer, catalog.url, auth.url, tmp_path, GATEWAY_UPSTREAM_READ_TIMEOUT="1"
    ) as gateway:
        slow = requests.get(gateway.url + "/api/courses/slow?seconds=0.5", timeout=5)
        assert slow.status_code == 200
        with requests.get(gateway.url + "/api/courses/big", stream=True, timeout=5) as response:
            received, started = 0, time.monotonic()
            for chunk in response.iter_content(256 * 1024):
                received += len(chunk)
                time.sleep(0.4)
            assert received == 1024 * 1024
            assert time.monotonic() - started > 1.0
        timed_out = requests.get(gateway.url + "/api/courses/slow?seconds=2", timeout=5)
        assert timed_out.status_code == 504


def test_the_default_read_timeout_is_shorter_than_before():
    from gateway.settings import from_environment

    assert from_environment()["GATEWAY_UPSTREAM_READ_TIMEOUT"] < 10


def test_a_gateway_started_during_an_auth_outage_is_ready(catalog, auth, tmp_path):
    outage = TokenIssuer()
    token = outage.token(7)
    outage.stop()  # auth's JWKS is down before the gateway ever starts
    with gateway_process(outage, catalog.url, auth.url, tmp_path) as gateway:
        ready = requests.get(gateway.url + "/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        assert requests.get(gateway.url + "/api/courses/echo", timeout=5).status_code == 200
        protected = requests.get(
            gateway.url + "/api/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert protected.status_code == 503
        assert protected.json()["message"] == "Sign-in cannot be checked right now."


def test_a_restart_during_an_auth_outage_keeps_serving_signed_in_users(catalog, auth, tmp_path):
    issuer = TokenIssuer()
    student = {"Authorization": f"Bearer {issuer.token(7)}"}
    try:
        with gateway_process(issuer, catalog.url, auth.url, tmp_path) as gateway:
            assert requests.get(gateway.url + "/api/auth/me", headers=student, timeout=5).ok
    finally:
        issuer.stop()  # auth goes down; the gateway restarts meanwhile
    gateway = gateway_process(issuer, catalog.url, auth.url, tmp_path)
    gateway.ready_path = "/health/ready"
    with gateway:
        answers = [
            requests.get(gateway.url + "/api/auth/me", headers=student, timeout=5).status_code
            for _ in range(20)
        ]
    assert answers == [200] * 20


def _timed_get(url, headers=None, timeout=5):
    started = time.perf_counter()
    response = requests.get(url, headers=headers, timeout=timeout)
    return response, time.perf_counter() - started


def _first_done(futures, count: int, timeout: float):
    """The first `count` futures to finish (within `timeout` seconds)."""
    done = []
    for future in concurrent.futures.as_completed(futures, timeout=timeout):
        done.append(future)
        if len(done) == count:
            return done
    return done
