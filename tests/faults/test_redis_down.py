"""Redis stopped: the catalog's reads go on uncached (no error), logins fail closed (503: the
failed-login counts cannot be checked), and both recover by themselves once Redis is back.
Redis is started again in a `finally`, whatever happens."""

import contextlib
import subprocess
import sys
import uuid
from urllib.parse import urlsplit

import pytest
import redis
import requests
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from catalog_service import services
from service_kit.config import REPO_ROOT
from tests.support.databases import migrated_database
from tests.support.processes import ServerProcess

from .conftest import report, require_environment, wait_until

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
READS = 60


def redis_answers(url: str) -> bool:
    with contextlib.suppress(redis.RedisError, OSError):
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    return False


def start_redis(url: str) -> None:
    """As the README starts it locally."""
    port = str(urlsplit(url).port or 6379)
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", port,
         "--save", "", "--appendonly", "no"],
        check=True,
        timeout=30,
    )  # fmt: skip
    wait_until(lambda: redis_answers(url), 30)


def stop_redis(url: str) -> None:
    with contextlib.suppress(redis.ConnectionError):
        redis.Redis.from_url(url).shutdown(nosave=True)
    wait_until(lambda: not redis_answers(url), 30)


def login(auth: ServerProcess, email: str) -> int:
    try:
        return requests.post(
            f"{auth.url}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
        ).status_code
    except requests.RequestException:
        return 0


def test_redis_down_degrades_reads_to_uncached_and_logins_fail_closed(token_issuer, tmp_path):
    redis_url = require_environment("TEST_REDIS_URL")
    assert redis_answers(redis_url), "Redis must be up before the test"
    with (
        migrated_database("catalog_service", "sqlite", tmp_path) as catalog_db,
        migrated_database("auth_service", "sqlite", tmp_path) as auth_db,
    ):
        engine = create_engine(catalog_db)
        with Session(engine) as session:
            course = services.create_course(session, name="Курс без кэша", semester=2)
        engine.dispose()
        email = f"student-{uuid.uuid4().hex[:6]}@example.edu"
        auth_env = {
            "DATABASE_URL": auth_db,
            "REDIS_URL": redis_url,
            "VAR_DIR": str(tmp_path),
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [sys.executable, "-m", "auth_service", "create-user", "--email", email,
             "--password", PASSWORD, "--role", "student"],
            env={**ServerProcess("x", auth_env).env}, cwd=REPO_ROOT, check=True,
        )  # fmt: skip
        catalog_env = {
            "DATABASE_URL": catalog_db,
            "REDIS_URL": redis_url,
            "AUTH_JWKS_URL": token_issuer.jwks_url,
            "LOG_LEVEL": "WARNING",
        }
        with (
            ServerProcess("catalog_service:create_app()", catalog_env) as catalog,
            ServerProcess("auth_service:create_app()", auth_env) as auth,
        ):
            paths = ["/api/courses", "/api/semesters", f"/api/courses/{course.id}"]

            def reads() -> list[int]:
                statuses = []
                for index in range(READS):
                    try:
                        url = catalog.url + paths[index % len(paths)]
                        statuses.append(requests.get(url, timeout=10).status_code)
                    except requests.RequestException:
                        statuses.append(0)
                return statuses

            assert login(auth, email) == 200
            assert set(reads()) == {200}
            admin = {"Authorization": f"Bearer {token_issuer.token(1, 'admin')}"}
            try:
                stop_redis(redis_url)
                down_reads = reads()
                # A write while Redis is down is seen by the very next read (no stale cache).
                renamed = requests.patch(
                    f"{catalog.url}/api/courses/{course.id}",
                    json={"name": "Курс переименован"},
                    headers=admin,
                    timeout=10,
                )
                name_after = requests.get(f"{catalog.url}/api/courses/{course.id}", timeout=10)
                down_logins = [login(auth, email) for _ in range(3)]
            finally:
                start_redis(redis_url)
            login_back_after = wait_until(lambda: login(auth, email) == 200, 60, interval=0.5)
            up_reads = reads()
            report(
                "Redis stopped",
                catalog_reads_while_down=len(down_reads),
                failed=sum(status != 200 for status in down_reads),
                logins_while_down=down_logins,
                logins_back_after_s=round(login_back_after, 2),
                catalog_reads_after=len(up_reads),
                failed_after=sum(status != 200 for status in up_reads),
            )
            assert set(down_reads) == {200}, down_reads
            assert renamed.status_code == 200 and name_after.json()["name"] == "Курс переименован"
            assert down_logins == [503, 503, 503]
            assert set(up_reads) == {200}
