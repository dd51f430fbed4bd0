"""The catalog worker killed (SIGKILL, with its extraction child) in the middle of a file: the
material stays `pending` with nothing half-written, and once a worker runs again the sweep
queues the lost task again (after TEXT_PENDING_RETRY_AFTER), which ends `ready` with the full
text."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from catalog_service import services
from service_kit.config import REPO_ROOT
from tests.support import documents
from tests.support.databases import migrated_database
from tests.support.processes import ServerProcess, TaskConsumer

from .conftest import report, wait_until

pytestmark = pytest.mark.e2e

TEACHER_ID = 20
PAGES = 400
RETRY_AFTER = 2


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def start_worker(env: dict, log: Path) -> TaskConsumer:
    # Its own process group: killed together with its extraction child.
    return TaskConsumer("catalog_service.tasks.huey", env, log, workers=1, new_session=True).start()


def test_a_worker_killed_mid_extraction_is_retried_to_the_full_text(
    database_backend, token_issuer, tmp_path
):
    with migrated_database("catalog_service", database_backend, tmp_path) as url:
        engine = create_engine(url)
        with Session(engine) as session:
            course = services.create_course(session, name="Курс с большим файлом", semester=1)
            services.assign_teacher(session, course.id, TEACHER_ID)
        engine.dispose()
        env = {
            "DATABASE_URL": url,
            "AUTH_JWKS_URL": token_issuer.jwks_url,
            "REDIS_URL": "",  # the queue: a SQLite file in this test's VAR_DIR
            "VAR_DIR": str(tmp_path),
            "FILE_STORAGE": "local",
            "FILE_STORAGE_DIR": str(tmp_path / "files"),
            "TEXT_PENDING_RETRY_AFTER": str(RETRY_AFTER),
            "LOG_LEVEL": "WARNING",
        }
        teacher = {"Authorization": f"Bearer {token_issuer.token(TEACHER_ID, 'teacher')}"}
        worker = start_worker(env, tmp_path / "worker-1.log")
        try:
            with ServerProcess("catalog_service:create_app()", env) as catalog:
                api = f"{catalog.url}/api/courses/{course.id}/materials"
                material = requests.post(
                    api,
                    json={"lesson_number": 1, "material_type_code": "lecture", "title": "Книга"},
                    headers=teacher,
                    timeout=10,
                ).json()
                data = documents.pdf("Глава о сортировках. " * 20, pages=PAGES)
                uploaded = requests.put(
                    f"{api}/{material['id']}/file",
                    files={"file": ("book.pdf", data, "application/pdf")},
                    headers=teacher,
                    timeout=60,
                )
                assert uploaded.status_code == 200, uploaded.text
                started = time.monotonic()
                # The extraction runs in a child of the worker: kill them both mid-file.
                wait_until(lambda: children(worker.process.pid), 60, interval=0.02)
                time.sleep(0.2)
                worker.kill_group()
                killed_after = time.monotonic() - started

                def state():
                    return requests.get(f"{api}/{material['id']}", timeout=10).json()

                assert state()["text_status"] == "pending"
                assert requests.get(f"{api}/{material['id']}/text", timeout=10).status_code == 404

                # A worker runs again (the supervisor restarts it); its sweep finds the lost task.
                worker = start_worker(env, tmp_path / "worker-2.log")
                time.sleep(RETRY_AFTER + 0.5)
                restarted = time.monotonic()
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "from catalog_service import tasks; tasks.sweep_files()",
                    ],
                    env={**os.environ, **env},
                    cwd=REPO_ROOT,
                    check=True,
                )  # the periodic sweep, queued now instead of at the next five minutes
                statuses = set()

                def finished():
                    statuses.add(state()["text_status"])
                    return statuses & {"ready", "failed"}

                wait_until(finished, 120, interval=0.5)
                ready_after = time.monotonic() - restarted
                text = requests.get(f"{api}/{material['id']}/text", timeout=10).json()
        finally:
            worker.kill_group()
    report(
        "catalog worker SIGKILLed mid-extraction",
        pages=PAGES,
        killed_after_s=round(killed_after, 2),
        ready_after_retry_s=round(ready_after, 2),
        chars=text["chars"],
    )
    assert statuses <= {"pending", "ready"}, statuses
    assert text["source"] == "file"
    # Every page, in order: the text of the retried task, whole.
    pages = [int(number) for number in re.findall(r"Страница (\d+)", text["text"])]
    assert pages == list(range(1, PAGES + 1))
