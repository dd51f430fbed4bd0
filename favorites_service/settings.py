"""The favourites service's own settings, read from the environment (merged over service_kit's)."""

from service_kit.config import seconds


def from_environment() -> dict:
    return {
        # How long this process uses its copy of the catalog's course list before it asks again
        # whether the list changed (a conditional request, answered 304 while it has not).
        "FAVORITES_CATALOG_REFRESH_SECONDS": seconds("FAVORITES_CATALOG_REFRESH_SECONDS", 1.0),
    }
