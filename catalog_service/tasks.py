"""The catalog's background work, run by `catalog-worker`:
`huey_consumer catalog_service.tasks.huey` (see the Procfile, compose and k8s).

The web process only enqueues. Both sides read the queue's location (REDIS_URL, or a SQLite file
under var/) and the database and storage settings from the same environment; `create_app` binds
the tasks to its own config, so a test running the queue in immediate mode uses the test's
database and storage.
"""

import logging
from datetime import timedelta
from functools import cache

from huey import crontab

from service_kit.config import env_config
from service_kit.tasks import TaskRuntime, task_queue

from . import content, settings
from .storage import FileStorage, storage_from_config

log = logging.getLogger(__name__)


@cache
def _environment_config() -> dict:
    return {**env_config("catalog"), **settings.from_environment()}


huey = task_queue("catalog", _environment_config()["REDIS_URL"])


class Runtime(TaskRuntime):
    """What a task needs: the database and the file storage, made on first use (after fork)."""

    def __init__(self, config: dict):
        super().__init__(config)
        self._storage: FileStorage | None = None

    @property
    def storage(self) -> FileStorage:
        if self._storage is None:
            self._storage = storage_from_config(self.config)
        return self._storage


_runtime: Runtime | None = None


def bind(config: dict, storage: FileStorage | None = None) -> None:
    """Run tasks of this process against `config` (the app's) instead of the environment."""
    global _runtime
    _runtime = Runtime(config)
    _runtime._storage = storage


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(_environment_config())
    return _runtime


@huey.task(retries=3, retry_delay=10)
def extract_material_text(material_id: int) -> str:
    """Read the text of a material's file (idempotent; see content.extract_text)."""
    current = runtime()
    with current.database.session() as session:
        status = content.extract_text(
            session,
            current.storage,
            material_id,
            timeout=current.config["TEXT_EXTRACTION_TIMEOUT"],
            max_chars=current.config["TEXT_MAX_CHARS"],
        )
    log.info("material %s: text %s", material_id, status)
    return status


@huey.periodic_task(crontab(minute="*/5"))
def sweep_files() -> None:
    """Purge the recycle bin's expired courses and materials, remove objects no material points
    at, and queue again extractions whose task was lost."""
    current = runtime()
    config = current.config
    with current.database.session() as session:
        courses, materials = content.purge(session, config["CATALOG_RECYCLE_DAYS"])
        removed = content.sweep(session, current.storage)
        lost = content.stale_pending(session, timedelta(seconds=config["TEXT_PENDING_RETRY_AFTER"]))
    for material_id in lost:
        extract_material_text(material_id)
    if courses or materials:
        log.info("sweep: purged %s course(s) and %s material(s)", courses, materials)
    if removed or lost:
        log.info("sweep: %s object(s) removed, %s extraction(s) queued again", removed, len(lost))


def sweep_now(grace: timedelta = content.SWEEP_GRACE) -> int:
    """The sweep, run at once (operators, tests): returns how many objects were removed."""
    current = runtime()
    with current.database.session() as session:
        return content.sweep(session, current.storage, grace)
