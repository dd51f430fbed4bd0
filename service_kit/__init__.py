"""What every service of the portal shares: app factory, config, database session, errors,
health, request logging and service-to-service HTTP."""

from .app import create_service_app
from .db import get_session
from .errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamUnavailable,
)

__all__ = [
    "BadRequest",
    "Conflict",
    "DomainError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "Unauthorized",
    "UnsupportedMediaType",
    "UpstreamUnavailable",
    "create_service_app",
    "get_session",
]
