"""The assistant's background work, run by `assistant-worker`:
`huey_consumer assistant_service.tasks.huey` (see the Procfile, compose and k8s).

The web process only enqueues; the worker calls the provider. Both read the queue's location
(REDIS_URL, or a SQLite file under var/) and the database and provider settings from the same
environment; `create_app` binds the tasks to its own config, so a test running the queue in
immediate mode uses the test's database and provider.
"""

import contextlib
import logging
import threading
from functools import cache

from huey import crontab
from huey.exceptions import TaskLockedException

from service_kit.config import env_config
from service_kit.tasks import TaskRuntime, task_queue

from . import demo, evaluation, fine_tuning, generation, settings
from .catalog import Catalog

log = logging.getLogger(__name__)


@cache
def _environment_config() -> dict:
    return {**env_config("assistant"), **settings.from_environment()}


huey = task_queue("assistant", _environment_config()["REDIS_URL"])


class Runtime(TaskRuntime):
    """What a task needs, made on first use (after the consumer forks or starts its threads)."""

    def __init__(self, config: dict):
        super().__init__(config)
        self.provider = generation.Provider.from_config(config)

    def catalog(self) -> Catalog:
        return Catalog(self.config["CATALOG_URL"])


_runtime: Runtime | None = None


def bind(config: dict) -> None:
    """Run tasks of this process against `config` (the app's) instead of the environment."""
    global _runtime
    _runtime = Runtime(config)


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(_environment_config())
    return _runtime


@huey.task(retries=3, retry_delay=15)
def generate_examples(run_id: int) -> str:
    """Generate a dataset's examples with the teacher model (resumes where a run stopped)."""
    current = runtime()
    with current.database.session() as session:
        return generation.run(session, current.provider, run_id)


@huey.task(retries=5, retry_delay=30)
def submit_fine_tuning_job(job_id: int) -> str:
    """Give a fine-tuning job to the provider (once; a retry adopts what it finds there)."""
    current = runtime()
    return _submit(current, current.provider.client(), job_id)


def _submit(current: "Runtime", client, job_id: int) -> str:
    # One submitter per job at a time, so two can never both find nothing and both create.
    with huey.lock_task(f"fine-tuning-submit-{job_id}"), current.database.session() as session:
        status = fine_tuning.submit(session, client, job_id)
    if status not in fine_tuning.FINISHED:
        follow_fine_tuning_job.schedule(
            (job_id,), delay=current.config["ASSISTANT_JOB_POLL_SECONDS"]
        )
    return status


@huey.task(retries=3, retry_delay=10)
def follow_fine_tuning_job(job_id: int) -> str:
    """Follow one job, and again after ASSISTANT_JOB_POLL_SECONDS until it ends (the live loss
    curve moves at that pace)."""
    current = runtime()
    with current.database.session() as session:
        status = fine_tuning.follow(session, current.provider.client(), job_id)
    if status not in fine_tuning.FINISHED:
        follow_fine_tuning_job.schedule(
            (job_id,), delay=current.config["ASSISTANT_JOB_POLL_SECONDS"]
        )
    return status


@huey.periodic_task(crontab(minute="*"))
def follow_fine_tuning_jobs() -> None:
    """Bring every unfinished job up to date from the provider (every minute); submit a job
    whose submission was lost."""
    current = runtime()
    if not current.provider.configured:
        return
    client = current.provider.client()
    with current.database.session() as session:
        unfinished = fine_tuning.unfinished_jobs(session)
    for job_id in unfinished:
        with current.database.session() as session:
            job = fine_tuning.get_job(session, job_id)
            if job.provider_job_id is not None:
                fine_tuning.follow(session, client, job_id)
                continue
        with contextlib.suppress(TaskLockedException):  # its submission is running now
            _submit(current, client, job_id)


@huey.task(retries=3, retry_delay=30)
def run_evaluation(evaluation_id: int) -> str:
    """Answer, judge and measure an evaluation's items (resumes where it stopped)."""
    current = runtime()
    with current.database.session() as session:
        return evaluation.run(session, current.provider.client(), evaluation_id)


@huey.periodic_task(crontab(minute="*/5"))
def requeue_stalled_runs() -> None:
    """Queue again the generation runs whose worker stopped mid-run (they resume)."""
    with runtime().database.session() as session:
        lost = generation.stalled(session)
    for run_id in lost:
        generate_examples(run_id)
    if lost:
        log.info("generation runs queued again: %s", lost)


@huey.task(retries=30, retry_delay=5)
def seed_demo_dataset() -> str:
    """The curated demo dataset, once the catalog answers (retried until it does). One loader
    at a time: a second one waits for the lock, then finds the dataset there."""
    current = runtime()
    with huey.lock_task("assistant-demo-dataset"), current.database.session() as session:
        return demo.seed(session, current.catalog())


_seed_queued = threading.Lock()


@huey.on_startup()
def _seed_demo_on_start() -> None:
    # Every worker thread runs the start-up hooks; one of them queues the load.
    if runtime().config["ASSISTANT_DEMO_DATASET"] and _seed_queued.acquire(blocking=False):
        seed_demo_dataset()
