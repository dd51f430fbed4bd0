"""The auth API (/api/auth/...), the public keys (/.well-known/jwks.json) and the recent token
revocations (/.well-known/revocations.json, service-internal)."""

import logging
import time
from urllib.parse import urlencode, urlsplit

from flask import current_app, jsonify, redirect, request
from flask.views import MethodView
from werkzeug.http import dump_cookie

from service_kit import Forbidden, NotFound, Unauthorized, UpstreamUnavailable, get_session
from service_kit.api import QUERY_ARGS, Blueprint
from service_kit.auth import current_principal, require_auth, require_permission
from service_kit.pagination import PAGINATION_HEADER, pagination_header
from service_kit.permissions import USERS_ADMIN

from . import email_links, services, tasks
from .oidc import OidcClients, Provider, SignInFailed, safe_next_path
from .schemas import (
    IdentityProviderSchema,
    LoginSchema,
    LogoutSchema,
    MeSchema,
    MessageSchema,
    PasswordResetRequestSchema,
    PasswordResetSchema,
    ProviderLinkSchema,
    ProviderLoginQueryArgsSchema,
    RefreshRequestSchema,
    RegisterSchema,
    TokenPairSchema,
    UserQueryArgsSchema,
    UserSchema,
    UserUpdateSchema,
    VerifyEmailSchema,
)
from .services import BAD_REFRESH_TOKEN, REFRESH_TOKEN_LIFETIME, TokenPair
from .throttle import client_address

log = logging.getLogger(__name__)

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Accounts and tokens.")
jwks_blp = Blueprint("jwks", __name__, description="The public keys that verify access tokens.")

RETRY_AFTER_HEADER = {"Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}}
SET_COOKIE_HEADER = {
    "Set-Cookie": {
        "description": "portal_refresh: the refresh token (HttpOnly, SameSite=Strict, "
        "Path=/api/auth)",
        "schema": {"type": "string"},
    }
}

# The refresh token's cookie, for the web UI: scripts cannot read it (HttpOnly), other sites
# cannot make the browser send it (SameSite=Strict), and only the auth endpoints get it.
REFRESH_COOKIE = "portal_refresh"
COOKIE_PATH = "/api/auth"
# The header a browser client sends on every auth call. A cross-site form cannot send a custom
# header, and a cross-site script could only after a CORS preflight nobody answers: it proves the
# request comes from the portal's own pages. With it, the refresh token travels only in the
# cookie (never in the JSON body, where a script could read it).
CSRF_HEADER = "X-CSRF"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


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


def _mail():
    return current_app.extensions["mail"]


def _throttle():
    return current_app.extensions["login_throttle"](get_session())


@blp.route("/register")
class Register(MethodView):
    @blp.arguments(RegisterSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(403, description="Registration is not open to this address's domain")
    @blp.alt_response(409, description="An account with this email already exists")
    @blp.alt_response(429, description="Too many new accounts", headers=RETRY_AFTER_HEADER)
    def post(self, body):
        """Create a student account; a verification link goes to its address."""
        session = get_session()
        user = services.register(
            session,
            _hasher(),
            _throttle(),
            client=_client(),
            provider_only_domains=current_app.config["OIDC_ONLY_DOMAINS"],
            allowed_domains=current_app.config["REGISTRATION_EMAIL_DOMAINS"],
            **body,
        )
        message = email_links.start_verification(session, _mail(), user)
        session.commit()
        tasks.enqueue_delivery(message.id)
        return user


@blp.route("/verify-email")
class VerifyEmail(MethodView):
    @blp.arguments(VerifyEmailSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(400, description="Not a link of ours (tampered or cut short)")
    @blp.alt_response(410, description="The link expired or was used")
    def post(self, body):
        """Verify the account's address with the token of the verification mail's link."""
        return email_links.verify_email(get_session(), body["token"])


@blp.route("/verify-email/resend")
class ResendVerification(MethodView):
    @require_auth
    @blp.response(202, MessageSchema)
    @blp.alt_response(409, description="The address is verified already")
    @blp.alt_response(429, description="One was sent a moment ago", headers=RETRY_AFTER_HEADER)
    def post(self):
        """Send the caller a new verification link."""
        session = get_session()
        user = services.active_user(session, current_principal().user_id)
        message = email_links.resend_verification(session, _mail(), _throttle(), user)
        session.commit()
        tasks.enqueue_delivery(message.id)
        return {"message": f"A new link is on its way to {user.email}."}, 202


@blp.route("/password-reset")
class PasswordResetRequest(MethodView):
    @blp.arguments(PasswordResetRequestSchema)
    @blp.response(202, MessageSchema)
    @blp.alt_response(429, description="Too many requests", headers=RETRY_AFTER_HEADER)
    def post(self, body):
        """Ask for a link to set a new password; the answer never says whether the account
        exists."""
        session = get_session()
        message = email_links.request_password_reset(
            session, _mail(), _throttle(), body["email"], _client()
        )
        if message is not None:
            session.commit()
            tasks.enqueue_delivery(message.id)
        return {"message": email_links.RESET_REQUESTED}, 202


@blp.route("/password-reset/confirm")
class PasswordReset(MethodView):
    @blp.arguments(PasswordResetSchema)
    @blp.response(204)
    @blp.alt_response(400, description="Not a link of ours (tampered or cut short)")
    @blp.alt_response(410, description="The link expired or was used")
    def post(self, body):
        """Set a new password with the token of the reset mail's link; every login ends."""
        notice = email_links.reset_password(
            get_session(),
            _hasher(),
            body["token"],
            body["password"],
            current_app.config["OIDC_ONLY_DOMAINS"],
        )
        tasks.enqueue_delivery(notice.id)
        return None, 204


def _public_host() -> str:
    """The host the client asked for: the gateway passes it on as X-Forwarded-Host."""
    return (request.headers.get("X-Forwarded-Host") or request.host or "").split(",")[0].strip()


def _is_browser() -> bool:
    return request.headers.get(CSRF_HEADER) == "1"


def _check_origin() -> None:
    """A browser names the page that sent the request: when it does, it must be the portal's.

    Compared with the host the browser asked for (Host, or X-Forwarded-Host from the gateway):
    a page of another site cannot make a browser send either of them with another value."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    netloc = urlsplit(origin).netloc if origin != "null" else ""
    hosts = {_without_default_port(host) for host in (request.host, _public_host()) if host}
    if not netloc or _without_default_port(netloc) not in hosts:
        raise Forbidden("This request must come from the portal's own pages.")


def _without_default_port(netloc: str) -> str:
    netloc = netloc.lower()
    for suffix in (":80", ":443"):
        if netloc.endswith(suffix):
            return netloc[: -len(suffix)]
    return netloc


def _cookie_token() -> str | None:
    """The refresh token of the cookie, for a request that proves it comes from the portal."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        return None
    if not _is_browser():
        raise Forbidden(f"Send the header `{CSRF_HEADER}: 1` with a cookie-authenticated request.")
    return token


def _cookie(value: str, max_age: int) -> str:
    """The refresh cookie: Secure except over plain http to a loopback host (`make run`)."""
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    secure = not (proto == "http" and urlsplit("//" + _public_host()).hostname in LOOPBACK_HOSTS)
    return dump_cookie(
        REFRESH_COOKIE,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="Strict",
    )


def _refresh_cookie(pair: TokenPair) -> str:
    return _cookie(pair.refresh_token, int(REFRESH_TOKEN_LIFETIME.total_seconds()))


def _pair_answer(pair: TokenPair):
    """The pair as JSON (without the refresh token for a browser) and the refresh cookie."""
    cookie = _refresh_cookie(pair)
    body = {
        "access_token": pair.access_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
    }
    if not _is_browser():
        body["refresh_token"] = pair.refresh_token  # API clients (curl, Postman) keep the body
    return body, 200, {"Set-Cookie": cookie}


def _cleared_cookie() -> dict:
    return {"Set-Cookie": _cookie("", 0)}


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema, headers=SET_COOKIE_HEADER)
    @blp.alt_response(401, description="Incorrect email or password")
    @blp.alt_response(403, description="Sent from another site's page (Origin)")
    @blp.alt_response(429, description="Too many failed attempts", headers=RETRY_AFTER_HEADER)
    def post(self, body):
        """Exchange email and password for an access token and a refresh token.

        The refresh token comes in the JSON body and in an HttpOnly cookie; with `X-CSRF: 1`
        (the web UI) only in the cookie."""
        _check_origin()
        pair = services.login(
            get_session(),
            _hasher(),
            _throttle(),
            _tokens(),
            client=_client(),
            provider_only_domains=current_app.config["OIDC_ONLY_DOMAINS"],
            **body,
        )
        return _pair_answer(pair)


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshRequestSchema)
    @blp.response(200, TokenPairSchema, headers=SET_COOKIE_HEADER)
    @blp.alt_response(401, description="Invalid, expired, revoked or reused refresh token")
    @blp.alt_response(403, description="Cookie without `X-CSRF: 1`, or from another site")
    def post(self, body):
        """Spend a refresh token (from the body, or the cookie with `X-CSRF: 1`) for a new pair."""
        _check_origin()
        token = body.get("refresh_token") or _cookie_token()
        if not token:
            raise Unauthorized(BAD_REFRESH_TOKEN)
        return _pair_answer(services.refresh(get_session(), _tokens(), token))


@blp.route("/logout")
class Logout(MethodView):
    @blp.arguments(RefreshRequestSchema)
    @blp.response(204, headers=SET_COOKIE_HEADER)
    @blp.alt_response(
        200,
        schema=LogoutSchema,
        headers=SET_COOKIE_HEADER,
        description="The login came through a provider that ends its own session at this URL",
    )
    @blp.alt_response(403, description="Cookie without `X-CSRF: 1`, or from another site")
    def post(self, body):
        """Revoke a refresh token (body, or cookie with `X-CSRF: 1`) and its whole login."""
        _check_origin()
        token = body.get("refresh_token") or _cookie_token()
        provider = services.logout(get_session(), token) if token else None
        oidc = _oidc()
        end_session_url = oidc.end_session_url(provider) if oidc and provider else None
        if end_session_url:
            return jsonify({"end_session_url": end_session_url}), 200, _cleared_cookie()
        return None, 204, _cleared_cookie()


def _oidc() -> OidcClients | None:
    return current_app.extensions["oidc"]


def _provider(name: str) -> Provider:
    oidc = _oidc()
    provider = oidc.get(name) if oidc else None
    if provider is None:
        raise NotFound("No such sign-in provider.")
    return provider


def _back_to_portal(path: str, error: SignInFailed | None = None, provider: str = ""):
    """A redirect to a page of the web UI; a failed sign-in names its error code (and the
    provider, to link an account to) there."""
    location = _oidc().public_base_url + path
    if error is not None:
        log.info(
            "sign-in through a provider failed",
            extra={"fields": {"code": error.code, "reason": error.message, "provider": provider}},
        )
        location += ("&" if "?" in path else "?") + urlencode(
            {"signin_error": error.code, "provider": provider}
        )
    return redirect(location, 302)


@blp.route("/providers")
class IdentityProviders(MethodView):
    @blp.response(200, IdentityProviderSchema(many=True))
    def get(self):
        """The university sign-in providers (an empty list: password accounts only)."""
        oidc = _oidc()
        if oidc is None:
            return []
        return [
            {
                "name": provider.name,
                "label": provider.button_label,
                "login_url": f"/api/auth/oidc/{provider.name}/login",
            }
            for provider in oidc.providers.values()
        ]


@blp.route("/oidc/<provider_name>/login")
class ProviderLogin(MethodView):
    @blp.arguments(ProviderLoginQueryArgsSchema, **QUERY_ARGS)
    @blp.response(302, description="To the provider's sign-in page")
    @blp.alt_response(404, description="No such provider")
    def get(self, args, provider_name):
        """Sign in through a provider: open in the browser, it comes back logged in."""
        provider = _provider(provider_name)
        try:
            url = _oidc().authorization_url(provider, args.get("next"))
        except SignInFailed as error:
            return _back_to_portal(safe_next_path(args.get("next")), error, provider.name)
        return redirect(url, 302)


@blp.route("/oidc/<provider_name>/link")
class ProviderLink(MethodView):
    @require_auth
    @blp.arguments(ProviderLoginQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, ProviderLinkSchema)
    @blp.alt_response(404, description="No such provider")
    @blp.alt_response(503, description="The provider does not answer")
    def post(self, args, provider_name):
        """Link a university account to the caller's: where to sign in at the provider."""
        _check_origin()
        provider = _provider(provider_name)
        user = services.active_user(get_session(), current_principal().user_id)
        try:
            url = _oidc().authorization_url(provider, args.get("next"), link_user_id=user.id)
        except SignInFailed as error:
            raise UpstreamUnavailable(error.message) from None
        return {"authorization_url": url}


@blp.route("/oidc/<provider_name>/callback")
class ProviderCallback(MethodView):
    @blp.response(302, headers=SET_COOKIE_HEADER, description="Back to the web UI")
    @blp.alt_response(404, description="No such provider")
    def get(self, provider_name):
        """Where the provider sends the browser back: logged in, or with `signin_error`."""
        provider = _provider(provider_name)
        try:
            callback = _oidc().finish(provider)
            pair = services.sign_in_with_provider(
                get_session(), _tokens(), callback.identity, callback.link_user_id
            )
        except SignInFailed as error:
            return _back_to_portal("/#/", error, provider.name)
        response = _back_to_portal(callback.next_path)
        response.headers.add("Set-Cookie", _refresh_cookie(pair))
        return response


@blp.route("/logout-all")
class LogoutEverywhere(MethodView):
    @require_auth
    @blp.response(204, headers=SET_COOKIE_HEADER)
    def post(self):
        """End every login of the caller: refresh tokens at once, access tokens for writes."""
        _check_origin()
        services.logout_everywhere(get_session(), current_principal().user_id)
        return None, 204, _cleared_cookie()


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
    @blp.response(200, UserSchema)
    @blp.alt_response(404, description="No such user")
    def get(self, user_id):
        """One user (admin): other services ask whether an account exists and is active."""
        return services.get_user(get_session(), user_id)

    @require_permission(USERS_ADMIN)
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, description="No such user")
    @blp.alt_response(409, description="Admins cannot deactivate or demote themselves")
    def patch(self, changes, user_id):
        """Change a user's role or deactivate them (admin)."""
        actor = current_principal().user_id
        return services.update_user(get_session(), actor, user_id, changes)


@jwks_blp.route("/.well-known/revocations.json")
def revocations():
    """Users whose tokens issued before a moment are revoked: {user id: not before (epoch s)}.

    Service-internal (the gateway does not route it): every service's verifier polls it every
    few seconds and refuses such tokens for writes. Only revocations within an access token's
    lifetime are listed, so it stays short."""
    revoked = services.recent_revocations(get_session())
    response = jsonify({"revocations": revoked, "generated_at": int(time.time())})
    response.headers["Cache-Control"] = "no-store"
    return response


JWK_SET = {
    "type": "object",
    "required": ["keys"],
    "properties": {
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kty", "kid"],
                "properties": {
                    "kty": {"type": "string", "example": "RSA"},
                    "kid": {"type": "string"},
                    "use": {"type": "string", "example": "sig"},
                    "alg": {"type": "string", "example": "RS256"},
                    "n": {"type": "string"},
                    "e": {"type": "string"},
                },
            },
        }
    },
}


@jwks_blp.route("/.well-known/jwks.json")
@jwks_blp.route("/api/auth/jwks.json", endpoint="jwks_via_gateway")
@jwks_blp.doc(
    responses={
        "200": {
            "description": "A JWK Set (RFC 7517)",
            "content": {"application/json": {"schema": JWK_SET}},
        }
    }
)
def jwks():
    """The public signing keys (current and previous), as a JWK Set."""
    response = jsonify(current_app.extensions["auth_tokens"].keys.jwks())
    # Verifiers refetch on an unknown kid anyway; a short cache spares auth the steady polling.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
