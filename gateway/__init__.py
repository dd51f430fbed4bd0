"""The edge of the portal: /api requests go through a lean proxy to the services; Flask serves
the gateway's own pages (web UI, health, API docs)."""

from flask import Flask, request

from service_kit import create_service_app
from service_kit.auth import InvalidToken, TokenVerifier, bearer_token, init_auth

from . import settings
from .docs import init_docs
from .pages import pages
from .proxy import ApiProxy
from .routes import ROUTES, RouteTable, service_urls
from .security import add_headers, headers_for_path

GATEWAY_OWN_API_PREFIX = "/api/docs"


def create_app(config: dict | None = None) -> Flask:
    app, _api = create_service_app(
        "gateway",
        __name__,
        config,
        title="Course portal gateway",
        settings=settings.from_environment,
        database=False,
    )
    routes = RouteTable(ROUTES)
    urls = service_urls(app.config, routes)
    # Not ready only when it cannot serve at all: without auth's keys the public reads still
    # work, and protected routes answer 503 "Sign-in cannot be checked right now".
    verifier = init_auth(app, keys_gate_readiness=False)
    app.register_blueprint(pages)
    init_docs(app, routes, urls)
    proxy = ApiProxy(
        urls,
        routes=routes,
        connect_timeout=app.config["GATEWAY_UPSTREAM_CONNECT_TIMEOUT"],
        read_timeout=app.config["GATEWAY_UPSTREAM_READ_TIMEOUT"],
        max_body_bytes=app.config["MAX_CONTENT_LENGTH"],
        max_upload_bytes=app.config["GATEWAY_UPLOAD_MAX_BYTES"],
        upstream_concurrency=app.config["GATEWAY_UPSTREAM_CONCURRENCY"],
        token_check=bearer_user_id(verifier),
    )
    app.extensions["api_proxy"] = proxy

    @app.after_request
    def security_headers(response):
        add_headers(response.headers, headers_for_path(request.path))
        return response

    app.wsgi_app = EdgeDispatcher(proxy, app.wsgi_app)
    return app


def bearer_user_id(verifier: TokenVerifier):
    """The edge's token check: `Authorization: Bearer <valid access token>` -> its user id."""

    def check(authorization: str) -> int:
        token = bearer_token(authorization)
        if token is None:
            raise InvalidToken("not a bearer token")
        return int(verifier.verify(token)["sub"])  # the verifier vouches it is ASCII digits

    return check


class EdgeDispatcher:
    """Sends /api requests straight to the proxy, bypassing Flask; the rest to Flask."""

    def __init__(self, proxy, flask_wsgi_app):
        self.proxy = proxy
        self.flask_wsgi_app = flask_wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if (path == "/api" or path.startswith("/api/")) and not _is_gateway_own(path):
            return self.proxy(environ, start_response)
        return self.flask_wsgi_app(environ, start_response)


def _is_gateway_own(path: str) -> bool:
    return path == GATEWAY_OWN_API_PREFIX or path.startswith(GATEWAY_OWN_API_PREFIX + "/")
