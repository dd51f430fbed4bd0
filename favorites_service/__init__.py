"""favorites_service: each user's favourite courses, the Sider."""

from flask import Flask

from service_kit import create_service_app
from service_kit.auth import init_auth

from . import settings
from .catalog import init_catalog
from .routes import blp


def create_app(config: dict | None = None) -> Flask:
    app, api = create_service_app(
        "favorites",
        __name__,
        config,
        title="Favourites (Sider)",
        settings=settings.from_environment,
    )
    init_auth(app)
    init_catalog(app)
    api.register_blueprint(blp)
    return app
