"""`/health/live` (the process answers) and `/health/ready` (its dependencies answer)."""

import logging
from collections.abc import Callable

from flask import Blueprint, Flask, current_app, jsonify

from .db import get_database

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], None]  # raises when the dependency is not usable

health = Blueprint("health", __name__)


@health.get("/health/live")
def live():
    return jsonify(status="ok")


@health.get("/health/ready")
def ready():
    results, healthy = {}, True
    for name, check in current_app.extensions["readiness_checks"].items():
        try:
            check()
            results[name] = "ok"
        except Exception as error:  # a failing dependency, whatever its kind, means not ready
            log.warning("readiness check %s failed: %s", name, error)
            results[name] = "unavailable"
            healthy = False
    response = jsonify(status="ok" if healthy else "unavailable", checks=results)
    response.status_code = 200 if healthy else 503
    return response


def add_readiness_check(app: Flask, name: str, check: ReadinessCheck) -> None:
    app.extensions.setdefault("readiness_checks", {})[name] = check


def init_health(app: Flask, *, database: bool = True) -> None:
    app.extensions.setdefault("readiness_checks", {})
    if database:
        add_readiness_check(app, "database", lambda: get_database().ping())
    app.register_blueprint(health)
