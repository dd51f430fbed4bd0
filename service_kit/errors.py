"""One JSON error shape for every status, in every process.

Services raise the domain errors below from plain functions; the handlers registered by
`register_error_handlers` turn them, and every HTTP or unexpected error, into
`{"code", "status", "message", "errors"?}`, flask-smorest's own shape.
"""

import logging
from http import HTTPStatus

from flask import Flask, jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule said no; `status` is the HTTP status it maps to."""

    status = 400
    # Seconds a client should wait before trying again (503s of a dependency that recovers).
    retry_after: int | None = None

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Forbidden(DomainError):
    status = 403


class Unauthorized(DomainError):
    status = 401


class InvalidInput(DomainError):
    status = 422


class BadRequest(DomainError):
    status = 400


class PayloadTooLarge(DomainError):
    status = 413


class UnsupportedMediaType(DomainError):
    status = 415


class UpstreamUnavailable(DomainError):
    status = 503


def error_body(code: int, message: str | None = None, errors: dict | None = None) -> dict:
    status = HTTPStatus(code)
    body = {"code": code, "status": status.phrase, "message": message or status.description}
    if errors:
        body["errors"] = errors
    return body


def error_response(code: int, message: str | None = None, errors: dict | None = None, headers=None):
    response = jsonify(error_body(code, message, errors))
    response.status_code = code
    if headers:
        response.headers.update(headers)
    return response


def _handle_http_exception(error: HTTPException):
    data = getattr(error, "data", None) or {}
    # webargs/flask-smorest put validation messages under data["messages"].
    errors = data.get("errors") or data.get("messages")
    message = data.get("message") or error.description
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return error_response(error.code or 500, message, errors, headers)


def _handle_domain_error(error: DomainError):
    if error.status >= 500:
        # The client gets the plain message; the log keeps what the dependency said.
        log.warning("%s: %s", type(error).__name__, str(error)[:500])
    headers = None
    if error.retry_after is not None:
        headers = {"Retry-After": str(error.retry_after)}
    return error_response(error.status, error.message, error.errors, headers)


def _handle_unexpected(error: Exception):
    log.exception("unhandled error")
    return error_response(500, "The server could not complete the request.")


def _handle_database_unavailable(error: OperationalError):
    # The database is restarting or unreachable: the client may retry, nothing was stored.
    log.warning("database unavailable: %s", str(error).splitlines()[0][:200])
    return error_response(
        503,
        "The service's database is unavailable; try again shortly.",
        headers={"Retry-After": "2"},
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(OperationalError, _handle_database_unavailable)
    app.register_error_handler(Exception, _handle_unexpected)
