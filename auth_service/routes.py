"""The auth API (/api/auth/...) and the public keys (/.well-known/jwks.json)."""

from flask import current_app, jsonify, request
from flask.views import MethodView

from service_kit import get_session
from service_kit.api import QUERY_ARGS, Blueprint
from service_kit.auth import current_principal, require_auth, require_permission
from service_kit.pagination import PAGINATION_HEADER, pagination_header
from service_kit.permissions import USERS_ADMIN

from . import services
from .schemas import (
    LoginSchema,
    MeSchema,
    RefreshTokenSchema,
    RegisterSchema,
    TokenPairSchema,
    UserQueryArgsSchema,
    UserSchema,
    UserUpdateSchema,
)
from .throttle import client_address

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Accounts and tokens.")
jwks_blp = Blueprint("jwks", __name__, description="The public keys that verify access tokens.")

RETRY_AFTER_HEADER = {"Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}}


@blp.after_request
def _not_stored(response):
    # Tokens and account data: no browser or proxy may keep a copy (RFC 6749 §5.1).
    response.headers["Cache-Control"] = "no-store"
    return response


def _tokens():
    return current_app.extensions["auth_tokens"]


def _hasher():
    return current_app.extensions["password_hasher"]


def _client() -> str:
    return client_address(
        request.remote_addr,
        request.headers.get("X-Forwarded-For"),
        current_app.extensions["trusted_proxies"],
    )


@blp.route("/register")
class Register(MethodView):
    @blp.arguments(RegisterSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(409, description="An account with this email already exists")
    @blp.alt_response(429, description="Too many new accounts", headers=RETRY_AFTER_HEADER)
    def post(self, body):
        """Create a student account."""
        throttle = current_app.extensions["login_throttle"](get_session())
        return services.register(get_session(), _hasher(), throttle, client=_client(), **body)


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="Incorrect email or password")
    @blp.alt_response(429, description="Too many failed attempts", headers=RETRY_AFTER_HEADER)
    def post(self, body):
        """Exchange email and password for an access token and a refresh token."""
        throttle = current_app.extensions["login_throttle"](get_session())
        return services.login(
            get_session(), _hasher(), throttle, _tokens(), client=_client(), **body
        )


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshTokenSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="Invalid, expired, revoked or reused refresh token")
    def post(self, body):
        """Spend a refresh token for a new token pair (the old one stops working)."""
        return services.refresh(get_session(), _tokens(), body["refresh_token"])


@blp.route("/logout")
class Logout(MethodView):
    @blp.arguments(RefreshTokenSchema)
    @blp.response(204)
    def post(self, body):
        """Revoke a refresh token and every token rotated from the same login."""
        services.logout(get_session(), body["refresh_token"])


@blp.route("/me")
class Me(MethodView):
    @require_auth
    @blp.response(200, MeSchema)
    def get(self):
        """The caller's account, role and permissions."""
        return services.active_user(get_session(), current_principal().user_id)


@blp.route("/users")
class Users(MethodView):
    @require_permission(USERS_ADMIN)
    @blp.arguments(UserQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, UserSchema(many=True), headers=PAGINATION_HEADER)
    def get(self, args):
        """List users (admin), optionally those matching `query`."""
        page = services.list_users(get_session(), **args)
        return page.items, pagination_header(page)


@blp.route("/users/<id:user_id>")
class UserById(MethodView):
    @require_permission(USERS_ADMIN)
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, description="No such user")
    @blp.alt_response(409, description="Admins cannot deactivate or demote themselves")
    def patch(self, changes, user_id):
        """Change a user's role or deactivate them (admin)."""
        actor = current_principal().user_id
        return services.update_user(get_session(), actor, user_id, changes)


@jwks_blp.route("/.well-known/jwks.json")
@jwks_blp.route("/api/auth/jwks.json", endpoint="jwks_via_gateway")
def jwks():
    """The public signing keys (current and previous), as a JWK Set."""
    response = jsonify(current_app.extensions["auth_tokens"].keys.jwks())
    # Verifiers refetch on an unknown kid anyway; a short cache spares auth the steady polling.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
