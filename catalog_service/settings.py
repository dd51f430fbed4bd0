"""The catalog's own settings, read from the environment (merged over service_kit's)."""

import os

from service_kit.config import MiB, choice, days, megabytes, seconds, var_dir


def from_environment() -> dict:
    env = os.environ.get
    return {
        # "off" renders every answer afresh (ETags and 304s stay), to measure the cache.
        "CATALOG_CACHE": env("CATALOG_CACHE") or "on",
        # Uploaded files: "local" (a directory) or "s3" (any S3-compatible store, via boto3,
        # which also reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY itself).
        "FILE_STORAGE": choice("FILE_STORAGE", ("local", "s3"), "local"),
        "FILE_STORAGE_DIR": env("FILE_STORAGE_DIR") or str(var_dir() / "files"),
        "S3_ENDPOINT_URL": env("S3_ENDPOINT_URL") or None,
        "S3_BUCKET": env("S3_BUCKET") or "course-materials",
        "S3_REGION": env("S3_REGION") or None,
        "MATERIAL_FILE_MAX_BYTES": megabytes("MATERIAL_FILE_MAX_MB", 50) * MiB,
        # The worker's limits for reading one file's text.
        "TEXT_EXTRACTION_TIMEOUT": seconds("TEXT_EXTRACTION_TIMEOUT", 60.0),
        "TEXT_MAX_CHARS": 1_000_000,
        # A material still "pending" this long lost its extraction task (a worker killed
        # mid-file): the sweep queues it again.
        "TEXT_PENDING_RETRY_AFTER": seconds("TEXT_PENDING_RETRY_AFTER", 600.0),
        # Deleted courses and materials stay restorable this long, then the sweep purges them.
        "CATALOG_RECYCLE_DAYS": days("CATALOG_RECYCLE_DAYS", 30),
    }
