"""The recycle bin end to end through the gateway, with the catalog and its worker as real
processes: a deleted material (and its file) is gone from every read but listed in the bin and
restorable; the worker's sweep purges it after CATALOG_RECYCLE_DAYS and then its file goes; an
admin deletes and restores a course."""

import hashlib
import os
import subprocess
import sys
from datetime import timedelta

import pytest
import requests
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from catalog_service import services
from catalog_service.models import Material, StoredFile
from service_kit.config import REPO_ROOT
from service_kit.db import utcnow
from tests.support import documents
from tests.support.databases import migrated_database
from tests.support.processes import ServerProcess, TaskConsumer, free_port

pytestmark = pytest.mark.e2e

TEACHER_ID = 20


def run_sweep(env: dict) -> None:
    """Queue the worker's periodic sweep now (it runs every five minutes by itself)."""
    subprocess.run(
        [sys.executable, "-c", "from catalog_service import tasks; tasks.sweep_files()"],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        check=True,
    )


def test_delete_restore_and_purge_through_the_gateway(database_backend, token_issuer, tmp_path):
    files = tmp_path / "files"
    with migrated_database("catalog_service", database_backend, tmp_path) as url:
        engine = create_engine(url)
        with Session(engine) as session:
            course = services.create_course(session, name="Курс с корзиной", semester=4)
            services.assign_teacher(session, course.id, TEACHER_ID)
        env = {
            "DATABASE_URL": url,
            "AUTH_JWKS_URL": token_issuer.jwks_url,
            "REDIS_URL": "",
            "VAR_DIR": str(tmp_path),
            "FILE_STORAGE": "local",
            "FILE_STORAGE_DIR": str(files),
            "LOG_LEVEL": "WARNING",
        }
        worker = TaskConsumer(
            "catalog_service.tasks.huey", env, tmp_path / "worker.log", workers=1
        ).start()
        gateway_env = {
            "AUTH_URL": f"http://127.0.0.1:{free_port()}",
            "FAVORITES_URL": f"http://127.0.0.1:{free_port()}",
            "AUTH_JWKS_URL": token_issuer.jwks_url,
        }
        try:
            with (
                ServerProcess("catalog_service:create_app()", env) as catalog,
                ServerProcess(
                    "gateway:create_app()", {**gateway_env, "CATALOG_URL": catalog.url}
                ) as gateway,
            ):
                teacher = {"Authorization": f"Bearer {token_issuer.token(TEACHER_ID, 'teacher')}"}
                admin = {"Authorization": f"Bearer {token_issuer.token(1, 'admin')}"}
                student = {"Authorization": f"Bearer {token_issuer.token(31, 'student')}"}
                api = f"{gateway.url}/api/courses/{course.id}"
                material = requests.post(
                    f"{api}/materials",
                    json={"lesson_number": 1, "material_type_code": "lecture", "title": "Слайды"},
                    headers=teacher,
                    timeout=10,
                ).json()
                one = f"{api}/materials/{material['id']}"
                data = documents.pdf("Слайды лекции")
                sha256 = hashlib.sha256(data).hexdigest()
                put = requests.put(
                    f"{one}/file",
                    files={"file": ("slides.pdf", data, "application/pdf")},
                    headers=teacher,
                    timeout=30,
                )
                assert put.status_code == 200, put.text
                stored = [path for path in files.rglob("*") if path.is_file()]
                assert any(sha256 in path.name for path in stored), stored

                assert requests.delete(one, headers=teacher, timeout=10).status_code == 204
                assert requests.get(one, timeout=10).status_code == 404
                assert requests.get(f"{one}/file", timeout=10).status_code == 404
                assert requests.get(f"{api}/materials", timeout=10).json()["materials"] == []
                bin_url = f"{api}/recycle-bin"
                assert requests.get(bin_url, headers=student, timeout=10).status_code == 403
                [entry] = requests.get(bin_url, headers=teacher, timeout=10).json()
                assert entry["id"] == material["id"] and entry["file"]["sha256"] == sha256

                run_sweep(env)  # a sweep while it is in the bin keeps its file
                restored = requests.post(f"{one}/restore", headers=teacher, timeout=10)
                assert restored.status_code == 200
                download = requests.get(f"{one}/file", timeout=10)
                assert download.status_code == 200 and download.content == data

                # Deleted 31 days ago: the worker's sweep purges it, then its file.
                assert requests.delete(one, headers=teacher, timeout=10).status_code == 204
                with engine.begin() as connection:
                    connection.execute(
                        update(Material).values(deleted_at=utcnow() - timedelta(days=31))
                    )
                    # Uploaded long enough ago that no upload of it can be in flight.
                    connection.execute(
                        update(StoredFile).values(created_at=utcnow() - timedelta(days=31))
                    )
                run_sweep(env)

                def purged() -> bool:
                    return requests.get(bin_url, headers=teacher, timeout=10).json() == []

                _wait(purged, 30)
                _wait(lambda: not any(sha256 in p.name for p in files.rglob("*")), 30)
                assert (
                    requests.post(f"{one}/restore", headers=teacher, timeout=10).status_code == 404
                )

                # A course: admins delete, list and restore it.
                assert requests.delete(api, headers=teacher, timeout=10).status_code == 403
                assert requests.delete(api, headers=admin, timeout=10).status_code == 204
                assert requests.get(api, timeout=10).status_code == 404
                deleted = requests.get(
                    f"{gateway.url}/api/recycle-bin/courses", headers=admin, timeout=10
                )
                assert [c["id"] for c in deleted.json()] == [course.id]
                back = requests.post(f"{api}/restore", headers=admin, timeout=10)
                assert back.status_code == 200 and back.json()["teacher_ids"] == [TEACHER_ID]
                assert requests.get(api, timeout=10).status_code == 200
        finally:
            worker.stop()
            engine.dispose()


def _wait(condition, timeout: float) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout} s")
