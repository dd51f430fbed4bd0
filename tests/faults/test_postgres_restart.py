"""PostgreSQL restarted under load: requests fail while it is down (503, never a hang), and once
it is back the catalog serves every request again — its pooled connections are checked before
use (pool_pre_ping), so none of them hands out a dead connection."""

import os
import subprocess
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from catalog_service import services
from tests.support.processes import ServerProcess

from .conftest import ADMIN_PRINCIPAL, postgres_database, report, wait_until

pytestmark = pytest.mark.e2e

AFTER_RECOVERY = 300


def restart_postgres() -> float:
    """Restart the local cluster as the README says; the seconds it took."""
    versions = os.listdir("/etc/postgresql")
    assert len(versions) == 1, versions
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "restart"],
        check=True,
        timeout=120,
    )
    return time.monotonic() - started


def test_the_catalog_recovers_from_a_postgres_restart_with_no_failed_request(token_issuer):
    with postgres_database("catalog_service") as url:
        engine = create_engine(url)
        with Session(engine) as session:
            course = services.create_course(session, name="Курс под нагрузкой", semester=1)
            material = services.create_material(
                session,
                ADMIN_PRINCIPAL,
                course.id,
                {"lesson_number": 1, "material_type_code": "lecture", "title": "Лекция"},
            )
        engine.dispose()
        env = {
            "DATABASE_URL": url,
            "AUTH_JWKS_URL": token_issuer.jwks_url,
            "REDIS_URL": "",
            "CATALOG_CACHE": "off",  # every request reaches the database
            "LOG_LEVEL": "WARNING",
        }
        with ServerProcess("catalog_service:create_app()", env, workers=2, threads=4) as catalog:
            paths = [
                f"/api/courses/{course.id}",
                f"/api/courses/{course.id}/materials",
                f"/api/courses/{course.id}/materials/{material.id}",
            ]
            log: list[tuple[float, int]] = []  # (when, status or 0 for no answer)
            stop = threading.Event()

            def load():
                with requests.Session() as http:
                    while not stop.is_set():
                        for path in paths:
                            try:
                                status = http.get(catalog.url + path, timeout=10).status_code
                            except requests.RequestException:
                                status = 0
                            log.append((time.monotonic(), status))

            threads = [threading.Thread(target=load) for _ in range(4)]
            for thread in threads:
                thread.start()
            try:
                time.sleep(1)
                restart_seconds = restart_postgres()
                ready_after = wait_until(
                    lambda: requests.get(catalog.url + "/health/ready", timeout=5).ok, 60
                )
                recovered = time.monotonic()
                time.sleep(2)  # the load goes on against the recovered database
            finally:
                stop.set()
                for thread in threads:
                    thread.join()

            # Every pooled connection was cut by the restart; the next use of each is checked.
            after = [status for when, status in log if when > recovered]
            with requests.Session() as http:
                for index in range(AFTER_RECOVERY):
                    after.append(http.get(catalog.url + paths[index % 3], timeout=10).status_code)
            title = f"Новая лекция {uuid.uuid4().hex[:6]}"
            created = requests.post(
                f"{catalog.url}/api/courses/{course.id}/materials",
                json={"lesson_number": 2, "material_type_code": "lecture", "title": title},
                headers={"Authorization": f"Bearer {token_issuer.token(1, 'admin')}"},
                timeout=10,
            )
            during = [status for when, status in log if when <= recovered]
            failed_during = sum(status != 200 for status in during)
            report(
                "PostgreSQL restarted",
                restart_s=round(restart_seconds, 2),
                ready_after_restart_s=round(ready_after, 2),
                statuses_before_recovery=sorted(set(during)),
                requests_before_recovery=len(during),
                failed_before_recovery=failed_during,
                requests_after_recovery=len(after),
                failed_after_recovery=sum(status != 200 for status in after),
            )
            # While the database is down a request is answered or told to retry, never a 500.
            assert set(during) <= {200, 503}, sorted(set(during))
            assert [status for status in after if status != 200] == []
            assert created.status_code == 201, created.text
