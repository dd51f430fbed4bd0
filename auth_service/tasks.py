"""auth's background work, run by `auth-worker`: `huey_consumer auth_service.tasks.huey`
(see the Procfile, compose and k8s) — delivering the outbox's mail.

The web process writes a message to the outbox and enqueues its id; the worker sends it,
retrying while the SMTP server is down, and a sweep every minute queues again any message
whose task was lost (Redis restarted, the web process died between commit and enqueue).
"""

import logging
from datetime import timedelta
from functools import cache

from huey import crontab

from service_kit.config import env_config
from service_kit.tasks import TaskRuntime, task_queue

from . import email_links, settings
from .mail import MailSettings, Transport, mail_settings, transport_for

log = logging.getLogger(__name__)

# A failed delivery is tried again after MAIL_RETRY_SECONDS, 5 times; then the sweep takes over
# (every minute, up to email_links.MAX_ATTEMPTS attempts in all).
DELIVERY_RETRIES = 5
SWEEP_AFTER = timedelta(minutes=2)


@cache
def _environment_config() -> dict:
    return {**env_config("auth"), **settings.from_environment()}


huey = task_queue("auth", _environment_config()["REDIS_URL"])


class Runtime(TaskRuntime):
    """What a task needs: the database and the mail transport, made on first use (after fork)."""

    def __init__(self, config: dict, transport: Transport | None = None):
        super().__init__(config)
        self.mail: MailSettings = mail_settings(config)
        self._transport = transport

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = transport_for(self.mail)
        return self._transport


_runtime: Runtime | None = None


def bind(config: dict, transport: Transport | None = None) -> None:
    """Run tasks of this process against `config` (the app's) instead of the environment."""
    global _runtime
    _runtime = Runtime(config, transport)


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(_environment_config())
    return _runtime


@huey.task(retries=DELIVERY_RETRIES, retry_delay=_environment_config()["MAIL_RETRY_SECONDS"])
def deliver_mail(message_id: int) -> bool:
    current = runtime()
    with current.database.session() as session:
        return email_links.deliver(session, current.mail, current.transport, message_id)


@huey.periodic_task(crontab(minute="*"))
def deliver_waiting_mail() -> None:
    current = runtime()
    with current.database.session() as session:
        waiting = email_links.waiting_mail(session, SWEEP_AFTER)
    for message_id in waiting:
        deliver_mail(message_id)
    if waiting:
        log.info("mail sweep: %s message(s) queued again", len(waiting))


def enqueue_delivery(message_id: int) -> None:
    """Hand a committed message to the worker. The queue may be down: the sweep sends it then,
    so the request that wrote it still succeeds."""
    try:
        deliver_mail(message_id)
    except Exception:
        log.warning("mail queued for the sweep: the task queue is unavailable", exc_info=True)
