"""catalog_service: courses, semesters, materials and their content, teacher assignments,
search, caching."""

from flask import Flask

from service_kit import create_service_app
from service_kit.auth import init_auth

from . import settings, tasks
from .cache import init_response_cache
from .routes import blp
from .storage import storage_from_config


def create_app(config: dict | None = None) -> Flask:
    app, api = create_service_app(
        "catalog", __name__, config, title="Catalog service", settings=settings.from_environment
    )
    init_auth(app, keys_gate_readiness=False)  # public reads need no keys
    init_response_cache(app)
    init_content(app)
    api.register_blueprint(blp)
    return app


def init_content(app: Flask) -> None:
    """Uploaded files in the configured storage; their text read by the worker's queue."""
    storage = storage_from_config(app.config)
    app.extensions["file_storage"] = storage
    app.extensions["queue_text"] = tasks.extract_material_text
    tasks.bind(app.config, storage)
