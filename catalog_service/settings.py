"""The catalog's own settings, read from the environment (merged over service_kit's)."""

import os


def from_environment() -> dict:
    return {
        # "off" renders every answer afresh (ETags and 304s stay), to measure the cache.
        "CATALOG_CACHE": os.environ.get("CATALOG_CACHE") or "on",
    }
