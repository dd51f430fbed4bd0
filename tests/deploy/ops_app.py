"""A minimal service on the shared app factory, for the tests of how the processes are run:
slow requests for graceful shutdown, numbered items for metrics, a database for readiness."""

import os
import time
from pathlib import Path

from flask import Flask, request

from service_kit import create_service_app
from service_kit.metrics import init_metrics


def create_app() -> Flask:
    app, _api = create_service_app(
        "ops",
        __name__,
        title="Operations test service",
        database=bool(os.environ.get("DATABASE_URL")),
    )
    init_metrics(app)

    @app.get("/slow")
    def slow():
        marker = request.args.get("marker")
        if marker:
            Path(marker).touch()  # tells the test the request is in flight
        seconds = float(request.args.get("seconds", "1"))
        time.sleep(seconds)
        return {"slept": seconds}

    @app.get("/items/<int:item_id>")
    def item(item_id: int):
        return {"id": item_id}, 200, {"X-Worker-Pid": str(os.getpid())}

    return app
