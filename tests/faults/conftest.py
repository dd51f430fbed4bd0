"""Fault tests: real processes, real PostgreSQL and Redis, real signals.

Each test breaks one thing on purpose (a SIGKILL, a database restart, Redis stopped) and checks
what the README's Operations part promises: what keeps working, and that everything recovers by
itself. They print their figures (outage lengths, request counts) and time nothing as pass/fail;
every wait is bounded.

The PostgreSQL and Redis tests need TEST_DATABASE_URL / TEST_REDIS_URL. Without them they skip
locally; under CI=true they fail instead, so CI never passes them by skipping.
"""

import contextlib
import os
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from service_kit.auth import Principal
from service_kit.config import normalize_database_url
from service_kit.migrations import upgrade
from service_kit.permissions import ROLE_PERMISSIONS

FIGURES: list[str] = []


def require_environment(name: str) -> str:
    """The variable's value; a skip without it locally, a failure under CI."""
    value = os.environ.get(name)
    if value:
        return value
    message = f"{name} is not set: this fault test needs the real server"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI must run it)")
    pytest.skip(message)


def report(title: str, **figures) -> None:
    """One line of figures, printed in the run's summary (and at once with `-s`)."""
    shown = ", ".join(f"{name}={value}" for name, value in figures.items())
    FIGURES.append(f"{title}: {shown}")
    print(f"\n[faults] {title}: {shown}", flush=True)


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("fault figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


def wait_until(condition, timeout: float, interval: float = 0.1) -> float:
    """Poll `condition` until it is true; the seconds it took. Fails after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(interval)
    pytest.fail(f"not within {timeout} s: {getattr(condition, '__doc__', None) or condition}")


ADMIN_PRINCIPAL = Principal(
    user_id=1, role="admin", permissions=frozenset(ROLE_PERMISSIONS["admin"])
)


@contextlib.contextmanager
def postgres_database(package: str) -> Iterator[str]:
    """A migrated database of `package` on TEST_DATABASE_URL's server, dropped afterwards.

    Unlike tests/support's, it keeps no pooled server connection across the test: a test that
    restarts PostgreSQL would leave that connection dead for the drop.
    """
    server = normalize_database_url(require_environment("TEST_DATABASE_URL"))
    name = f"test_faults_{uuid.uuid4().hex[:10]}"

    def admin(statement: str) -> None:
        engine = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with engine.connect() as connection:
            connection.execute(text(statement))
        engine.dispose()

    admin(
        f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
        "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
    )
    try:
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        upgrade(package, url)
        yield url
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
