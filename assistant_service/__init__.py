"""assistant_service: the course assistant — fine-tuning datasets from a course's texts."""

from flask import Flask

from service_kit import create_service_app
from service_kit.auth import init_auth

from . import chat, settings, tasks
from .catalog import init_catalog
from .routes import blp


def create_app(config: dict | None = None) -> Flask:
    app, api = create_service_app(
        "assistant", __name__, config, title="Course assistant", settings=settings.from_environment
    )
    init_auth(app)
    init_catalog(app)
    init_tasks(app)
    api.register_blueprint(blp)
    return app


def init_tasks(app: Flask) -> None:
    """Long work goes to the worker's queue; tasks of this process use the app's config."""
    app.extensions["queue_generation"] = tasks.generate_examples
    app.extensions["queue_fine_tuning"] = tasks.submit_fine_tuning_job
    app.extensions["queue_evaluation"] = tasks.run_evaluation
    app.extensions["chat_indexes"] = chat.IndexCache()
    tasks.bind(app.config)
