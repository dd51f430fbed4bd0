"""Gunicorn settings for every service, read from the environment.

Used by the container images (`gunicorn -c /app/gunicorn.conf.py ...`) and usable locally
(`gunicorn -c deploy/gunicorn.conf.py 'catalog_service:create_app()'`).

PORT                       the port to listen on (the images set each service's own)
GUNICORN_BIND              full bind address; overrides PORT (default 0.0.0.0:$PORT)
GUNICORN_WORKERS           worker processes (default 2)
GUNICORN_THREADS           threads per worker (default 4; the gateway and the assistant run 64:
                           a streamed answer holds a thread of each while the model writes)
GUNICORN_TIMEOUT           seconds a request may take before its worker is replaced (default 30)
GUNICORN_GRACEFUL_TIMEOUT  seconds in-flight requests get to finish after SIGTERM (default 20)
GUNICORN_KEEPALIVE         seconds an idle keep-alive connection stays open (default 5)
PROMETHEUS_MULTIPROC_DIR   when set, workers share metrics through files in this directory
"""

import os
import shutil
from pathlib import Path


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"
workers = _int("GUNICORN_WORKERS", 2)
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
timeout = _int("GUNICORN_TIMEOUT", 30)
# Kubernetes allows 30 s between SIGTERM and SIGKILL; a 5 s preStop pause comes first.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
# Longer than a load balancer's idle timeout would cut connections mid-request; shorter wastes
# the pooled upstream connections the gateway keeps.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Several instances share one default socket path otherwise; nothing here uses the interface.
control_socket_disable = True
# The heartbeat file goes to /tmp, which is writable even with a read-only root filesystem.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or "/tmp"
# Request lines are logged as JSON by the app itself (service_kit.request_log).
accesslog = None
errorlog = "-"


def on_starting(server):
    """Start with an empty metrics directory: files of an earlier run would be counted again."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    """Forget a dead worker's live gauges; its counters stay in the totals."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
