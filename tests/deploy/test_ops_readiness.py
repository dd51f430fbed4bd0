"""/health/ready follows the database: 503 while PostgreSQL cannot be reached, 200 as soon as
it can again, with no restart; /health/live stays 200 throughout (no restart loop)."""

import contextlib
import os
import socket
import threading
import time

import pytest
import requests
from sqlalchemy.engine import make_url

from service_kit.config import normalize_database_url
from tests.support.processes import free_port

from .conftest import Gunicorn

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL (TEST_DATABASE_URL)"
    ),
]

APP = "tests.deploy.ops_app:create_app()"


class TcpForwarder:
    """Forwards a local port to the database server; `stop()` makes the database unreachable
    (connection refused, open connections cut) the way a failed server or network would."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self.lock:
            if self.listener is not None:
                self.listener.close()
                self.listener = None
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _ready_status(server) -> tuple[int, dict]:
    response = requests.get(server.url + "/health/ready", timeout=10)
    return response.status_code, response.json()


def _wait_until_ready_is(server, status: int, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        current, body = _ready_status(server)
        if current == status:
            return body
        assert time.monotonic() < deadline, f"/health/ready stayed {current}: {body}"
        time.sleep(0.2)


def test_readiness_follows_the_database():
    database = make_url(normalize_database_url(os.environ["TEST_DATABASE_URL"]))
    forwarder = TcpForwarder((database.host or "127.0.0.1", database.port or 5432))
    forwarder.start()
    url = database.set(host="127.0.0.1", port=forwarder.port)
    env = {"DATABASE_URL": url.render_as_string(hide_password=False), "GUNICORN_WORKERS": "2"}
    try:
        with Gunicorn(APP, env) as server:
            assert _ready_status(server) == (200, {"status": "ok", "checks": {"database": "ok"}})

            forwarder.stop()
            body = _wait_until_ready_is(server, 503)
            assert body == {"status": "unavailable", "checks": {"database": "unavailable"}}
            assert requests.get(server.url + "/health/live", timeout=5).status_code == 200

            forwarder.start()
            _wait_until_ready_is(server, 200)
            for _ in range(5):  # and stays ready
                assert _ready_status(server)[0] == 200
    finally:
        forwarder.stop()
