"""The task queue every worker uses: huey, on Redis when REDIS_URL is set (compose, k8s, CI),
else on a SQLite file under var/ (`make run` needs no Redis).

Tasks are idempotent and driven by the row's state, so a retry, a duplicate or a second worker
does no harm: a task re-reads what it is about and does nothing when the work is already done.
"""

import logging
import os

from huey import Huey, RedisHuey, SqliteHuey

from .config import var_dir
from .db import Database
from .request_log import configure_logging


def task_queue(name: str, redis_url: str | None) -> Huey:
    """The queue `name` (one per service): on Redis when a URL is given, else on SQLite."""
    # A worker's own lines (a text extracted, a mail written with its links) go out as JSON
    # like the services'; huey's consumer logs its own lines through its own handler, which
    # must then not reach the root one too.
    configure_logging(os.environ.get("LOG_LEVEL") or "INFO")
    logging.getLogger("huey").propagate = False
    if redis_url:
        return RedisHuey(name, url=redis_url, utc=True)
    directory = var_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(directory / f"{name}-tasks.db"), utc=True)


class TaskRuntime:
    """What a service's tasks need, made on first use (after the consumer forks or starts its
    threads): its config and its database. Each service's tasks module adds its own parts."""

    def __init__(self, config: dict):
        self.config = config
        self._database: Database | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database.from_config(self.config)
        return self._database
