"""Configuration from environment variables (12-factor), with local defaults.

The keys every service shares are read here; a service's own keys are read by its package's
`settings.from_environment()` and merged by `create_service_app`. A test gathers the names from
both, so `.env.example`, docker-compose and the Kubernetes ConfigMap are checked against one list.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024

# Local defaults: the services on loopback, as `make run` starts them.
DEFAULT_PORTS = {
    "gateway": 8000,
    "catalog": 8001,
    "favorites": 8002,
    "auth": 8003,
    "assistant": 8004,
}


def var_dir() -> Path:
    """Where the embedded SQLite files and the local signing key live."""
    return Path(os.environ.get("VAR_DIR") or REPO_ROOT / "var")


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_url(service: str) -> str:
    return f"sqlite:///{var_dir() / (service + '.db')}"


# Connections per pool and worker unless DATABASE_POOL_SIZE / DATABASE_MAX_OVERFLOW say otherwise.
DEFAULT_POOL_SIZE = 10
DEFAULT_MAX_OVERFLOW = 10


def env_config(service: str) -> dict:
    """The shared part of one service's Flask config, read from the environment."""
    env = os.environ.get
    local = "http://127.0.0.1:{}".format
    return {
        "SERVICE_NAME": service,
        "DATABASE_URL": normalize_database_url(env("DATABASE_URL") or sqlite_url(service)),
        # Per pool and worker process (two pools each: transactions and the hottest reads), so
        # workers x 2 x (size + overflow) across replicas must stay under the server's limit.
        "DATABASE_POOL_SIZE": whole_number(
            "DATABASE_POOL_SIZE", DEFAULT_POOL_SIZE, 1, 200, "connections"
        ),
        "DATABASE_MAX_OVERFLOW": whole_number(
            "DATABASE_MAX_OVERFLOW", DEFAULT_MAX_OVERFLOW, 0, 200, "connections"
        ),
        "REDIS_URL": env("REDIS_URL") or None,
        "CATALOG_URL": env("CATALOG_URL") or local(DEFAULT_PORTS["catalog"]),
        "FAVORITES_URL": env("FAVORITES_URL") or local(DEFAULT_PORTS["favorites"]),
        "AUTH_URL": env("AUTH_URL") or local(DEFAULT_PORTS["auth"]),
        "ASSISTANT_URL": env("ASSISTANT_URL") or local(DEFAULT_PORTS["assistant"]),
        "AUTH_JWKS_URL": env("AUTH_JWKS_URL")
        or local(DEFAULT_PORTS["auth"]) + "/.well-known/jwks.json",
        "JWT_ISSUER": env("JWT_ISSUER") or "course-portal-auth",
        "JWT_AUDIENCE": env("JWT_AUDIENCE") or "course-portal",
        "JWT_PRIVATE_KEY_FILE": env("JWT_PRIVATE_KEY_FILE") or str(var_dir() / "jwt-private.pem"),
        "LOG_LEVEL": env("LOG_LEVEL") or "INFO",
        "MAX_CONTENT_LENGTH": MiB,
    }


def seconds(name: str, default: float) -> float:
    """A duration from the environment; a value that is not one stops the start-up, clearly."""
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


def whole_number(name: str, default: int, low: int, high: int, unit: str) -> int:
    """A whole number from the environment within [low, high]; otherwise the start-up stops,
    saying which variable is wrong."""
    raw = os.environ.get(name)
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(
            f"{name} must be a whole number of {unit} from {low} to {high}, got {raw!r}"
        )
    return int(raw)


def megabytes(name: str, default: int) -> int:
    """A size in MiB from the environment."""
    return whole_number(name, default, 1, 10_240, "MiB")


def days(name: str, default: int) -> int:
    """A number of days from the environment."""
    return whole_number(name, default, 1, 3650, "days")


def choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    """One of `allowed` (any letter case) from the environment."""
    value = (os.environ.get(name) or default).lower()
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value
