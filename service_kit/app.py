"""The app factory every service builds on: config, logging, database, health, docs, errors."""

from collections.abc import Callable

from flask import Flask
from flask_smorest import Api

from .config import env_config, normalize_database_url
from .db import init_db
from .errors import register_error_handlers
from .health import init_health
from .metrics import init_metrics
from .request_log import init_request_logging
from .routing import IdConverter


def create_service_app(
    service: str,
    import_name: str,
    config: dict | None = None,
    *,
    title: str,
    settings: Callable[[], dict] | None = None,
    database: bool = True,
) -> tuple[Flask, Api]:
    """Build a Flask app with everything services share; the caller adds its blueprints.

    The config is layered: the shared keys, then the service's own `settings()` (read from the
    environment by its package), then `config` (tests and callers override anything).
    """
    app = Flask(import_name)
    app.config.update(env_config(service))
    app.config.update(settings() if settings else {})
    app.config.update(
        API_TITLE=title,
        API_VERSION="1.0",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.config.update(config or {})
    app.config["DATABASE_URL"] = normalize_database_url(app.config["DATABASE_URL"])
    app.url_map.converters["id"] = IdConverter
    app.json.ensure_ascii = False  # Cyrillic as text, not \u escapes
    app.json.sort_keys = False  # keep fields in schema order

    init_request_logging(app)
    init_metrics(app)
    if database:
        init_db(app)
    init_health(app, database=database)
    api = Api(app)
    register_error_handlers(app)  # after Api, so one handler shapes every error
    return app, api
