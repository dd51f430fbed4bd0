"""auth_service: users, roles and permissions, passwords, access and refresh tokens, JWKS."""

import redis
from flask import Flask

from service_kit import create_service_app, get_session
from service_kit.auth import TokenVerifier, init_auth
from service_kit.errors import error_response
from service_kit.health import add_readiness_check

from . import settings, tasks
from .keys import SigningKeys
from .mail import mail_settings
from .oidc import init_oidc
from .passwords import PasswordHasher
from .routes import blp, jwks_blp
from .services import TokenSettings, recent_revocations
from .throttle import (
    DatabaseThrottleStore,
    LoginLimits,
    LoginThrottle,
    LoginThrottled,
    RedisThrottleStore,
    parse_networks,
)


def create_app(config: dict | None = None) -> Flask:
    app, api = create_service_app(
        "auth", __name__, config, title="Auth", settings=settings.from_environment
    )
    # Tests lower the argon2 cost through here; deployments keep OWASP's parameters.
    app.config.setdefault("PASSWORD_HASH_PARAMETERS", {})
    app.config.setdefault("LOGIN_LIMITS", LoginLimits())

    app.extensions["password_hasher"] = PasswordHasher(**app.config["PASSWORD_HASH_PARAMETERS"])
    app.extensions["trusted_proxies"] = parse_networks(app.config["TRUSTED_PROXIES"])
    init_signing(app)
    init_login_throttle(app)
    init_oidc(app)
    # Built once: a wrong SMTP_TLS stops the service at start, not at the first registration.
    app.extensions["mail"] = mail_settings(app.config)
    tasks.bind(app.config)
    api.register_blueprint(blp)
    api.register_blueprint(jwks_blp)
    app.register_error_handler(LoginThrottled, _throttled)
    return app


def init_signing(app: Flask) -> None:
    keys = SigningKeys(
        app.config["JWT_PRIVATE_KEY_FILE"],
        generate_if_missing=app.config["JWT_GENERATE_MISSING_KEY"],
    )
    settings = TokenSettings(app.config["JWT_ISSUER"], app.config["JWT_AUDIENCE"], keys)
    app.extensions["auth_tokens"] = settings
    # auth verifies its own tokens from the key files, not over HTTP from itself; reading them is
    # cheap, so a new kid is looked up at once. Its revocations come from its own database, read
    # afresh for every write (one indexed query), so they apply at once here.
    verifier = TokenVerifier(
        None,
        settings.issuer,
        settings.audience,
        jwks_source=keys.jwks,
        refetch_interval=0,
        max_key_age=10,
        revocations_source=lambda: {"revocations": recent_revocations(get_session())},
        revocations_interval=0,
    )
    init_auth(app, verifier)


def init_login_throttle(app: Flask) -> None:
    """Login and registration counters in Redis when REDIS_URL is set, else in the database."""
    limits = app.config["LOGIN_LIMITS"]
    if app.config["REDIS_URL"]:
        client = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_timeout=1, socket_connect_timeout=1
        )
        # Tests give each run its own prefix, so parallel runs never share counts.
        store = RedisThrottleStore(
            client, app.config.get("LOGIN_THROTTLE_PREFIX", "auth:throttle:")
        )
        throttle = LoginThrottle(store, limits)
        app.extensions["login_throttle"] = lambda _session: throttle
        add_readiness_check(app, "redis", client.ping)
    else:
        app.extensions["login_throttle"] = lambda session: LoginThrottle(
            DatabaseThrottleStore(session), limits
        )


def _throttled(error: LoginThrottled):
    return error_response(429, error.message, headers={"Retry-After": str(error.retry_after)})
