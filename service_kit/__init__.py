"""What every service of the portal shares: app factory, config, database session, errors,
health, request logging, service-to-service HTTP and test helpers."""

from .app import create_service_app
from .db import get_session
from .errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    UpstreamUnavailable,
)

__all__ = [
    "BadRequest",
    "Conflict",
    "DomainError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "Unauthorized",
    "UpstreamUnavailable",
    "create_service_app",
    "get_session",
]
