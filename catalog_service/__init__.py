"""catalog_service: courses, semesters, materials, teacher assignments, search, caching."""

from flask import Flask

from service_kit import create_service_app
from service_kit.auth import init_auth

from . import settings
from .cache import init_response_cache
from .routes import blp


def create_app(config: dict | None = None) -> Flask:
    app, api = create_service_app(
        "catalog", __name__, config, title="Catalog service", settings=settings.from_environment
    )
    init_auth(app, keys_gate_readiness=False)  # public reads need no keys
    init_response_cache(app)
    api.register_blueprint(blp)
    return app
