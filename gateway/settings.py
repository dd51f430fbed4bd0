"""The gateway's own settings, read from the environment (merged over service_kit's)."""

from service_kit.config import seconds


def from_environment() -> dict:
    return {
        # Seconds to connect to a service, and for each read from it (then 504).
        "GATEWAY_UPSTREAM_CONNECT_TIMEOUT": seconds("GATEWAY_UPSTREAM_CONNECT_TIMEOUT", 2.0),
        "GATEWAY_UPSTREAM_READ_TIMEOUT": seconds("GATEWAY_UPSTREAM_READ_TIMEOUT", 10.0),
    }
