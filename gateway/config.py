"""The gateway's own settings, read from the environment like every other setting."""

import os

DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_READ_TIMEOUT = 10.0


def gateway_env_config() -> dict:
    """Timeouts (seconds) of the calls to the services: connecting, and each read."""
    return {
        "GATEWAY_UPSTREAM_CONNECT_TIMEOUT": _seconds(
            "GATEWAY_UPSTREAM_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT
        ),
        "GATEWAY_UPSTREAM_READ_TIMEOUT": _seconds(
            "GATEWAY_UPSTREAM_READ_TIMEOUT", DEFAULT_READ_TIMEOUT
        ),
    }


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from error
    if not 0 < value <= 3600:
        raise ValueError(f"{name} must be between 0 and 3600 seconds, got {raw!r}")
    return value
