"""The gateway's own settings, read from the environment (merged over service_kit's)."""

import os

from service_kit.config import MiB, megabytes, seconds


def from_environment() -> dict:
    return {
        # Seconds to connect to a service, and for each read from it (then 504): between two
        # reads, not for a whole body, so long uploads, downloads and event streams still work.
        "GATEWAY_UPSTREAM_CONNECT_TIMEOUT": seconds("GATEWAY_UPSTREAM_CONNECT_TIMEOUT", 2.0),
        "GATEWAY_UPSTREAM_READ_TIMEOUT": seconds("GATEWAY_UPSTREAM_READ_TIMEOUT", 5.0),
        # How many of a worker's threads may wait on one service at a time; past that, 503 at
        # once, so a hung service cannot take the threads the other services' routes need.
        "GATEWAY_UPSTREAM_CONCURRENCY": upstream_concurrency(),
        # Streamed file uploads may be this large (the catalog applies MATERIAL_FILE_MAX_MB);
        # every other request body keeps the 1 MiB cap.
        "GATEWAY_UPLOAD_MAX_BYTES": megabytes("GATEWAY_UPLOAD_MAX_MB", 100) * MiB,
    }


def upstream_concurrency() -> int:
    """GATEWAY_UPSTREAM_CONCURRENCY, or three quarters of the worker's threads (GUNICORN_THREADS,
    default 4), leaving the rest to the other services: 8 threads -> 6, 4 -> 3, 2 -> 1."""
    raw = os.environ.get("GATEWAY_UPSTREAM_CONCURRENCY")
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
            raise ValueError(f"GATEWAY_UPSTREAM_CONCURRENCY must be from 1 to 10000, got {raw!r}")
        return int(raw)
    threads_raw = os.environ.get("GUNICORN_THREADS") or "4"
    threads = int(threads_raw) if threads_raw.isdigit() and int(threads_raw) > 0 else 4
    return max(1, threads - max(1, threads // 4))
