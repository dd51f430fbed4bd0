"""Sign-in through the university's OpenID Connect providers (Keycloak, Entra ID, Google, ADFS).

Authlib's Flask client does the protocol: discovery from the issuer's
`.well-known/openid-configuration`, the authorization code flow with PKCE (S256), `state` and
`nonce` kept in a short-lived signed cookie bound to the browser, the code exchange, and the ID
token's signature (the provider's JWKS), issuer, audience, expiry and nonce. This module reads the
providers' settings, starts and finishes that flow, and turns every way it can fail into one of a
few error codes the web UI explains in words. What an account is and which tokens it gets stay in
`services` (`sign_in_with_provider`): after the callback the portal issues its own tokens, exactly
as for a password login.
"""

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, request, session
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError

log = logging.getLogger(__name__)

DEFAULT_SCOPES = "openid email profile"
DEFAULT_BUTTON_LABEL = "Войти через университет"
DEFAULT_PROVIDER_NAME = "university"
ROLES = ("admin", "teacher", "student")  # the strongest role a user's groups map to wins
# How long a started sign-in may take at the provider before its state is void.
STATE_LIFETIME_SECONDS = 10 * 60
# The ID token's times are checked with this much tolerance for clock drift.
CLOCK_LEEWAY_SECONDS = 60
PROVIDER_TIMEOUT_SECONDS = 5
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
# Where the provider may send a user back to in the portal: a hash route of the web UI only.
_NEXT = re.compile(r"^/#/[A-Za-z0-9/_?=&.%-]{0,200}$")

# The error codes a failed sign-in ends with; the web UI words each one.
CANCELLED = "cancelled"  # the user cancelled or refused at the provider
DENIED = "denied"  # the portal refused the account (deactivated, or already linked elsewhere)
LINK_REQUIRED = "link_required"  # a password account has this address: prove it first
MISCONFIGURED = "misconfigured"  # the client registration or the provider's metadata is wrong
UNAVAILABLE = "unavailable"  # the provider did not answer
STATE_INVALID = "state_invalid"  # no sign-in of this browser waits for this answer
CODE_REJECTED = "code_rejected"  # the provider refused the code (used, expired, not ours)
TOKEN_INVALID = "token_invalid"  # the ID token failed a check: its signature, a claim
TOKEN_EXPIRED = "token_expired"
WRONG_ISSUER = "wrong_issuer"  # the ID token names another issuer
WRONG_AUDIENCE = "wrong_audience"  # the ID token was issued to another client
WRONG_NONCE = "wrong_nonce"  # the ID token answers another sign-in


class SignInFailed(Exception):
    """A sign-in through a provider that ends without an account: `code` is one of the above."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Provider:
    """One OpenID Connect provider the portal trusts, as configured by the environment."""

    name: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: str = DEFAULT_SCOPES
    button_label: str = DEFAULT_BUTTON_LABEL
    # The ID token claim that lists the user's groups or roles (a dotted path such as
    # `realm_access.roles` reaches into Keycloak's nested claim); None: roles are the portal's.
    role_claim: str | None = None
    # Claim value -> portal role, e.g. {"teachers": "teacher"}.
    role_map: Mapping[str, str] = field(default_factory=dict)

    @property
    def metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def role_for(self, claims: Mapping[str, Any]) -> str | None:
        """The portal role the directory gives these claims; None when roles are not taken
        from the directory. A user in no mapped group is a student."""
        if not self.role_claim:
            return None
        value: Any = claims
        for part in self.role_claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        granted = {self.role_map.get(item) for item in values if isinstance(item, str)}
        return next((role for role in ROLES if role in granted), "student")


# The settings of a provider; OIDC_<SETTING> (the first provider) or OIDC_<NAME>_<SETTING>.
SETTINGS = (
    "ISSUER",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "SCOPES",
    "BUTTON_LABEL",
    "ROLE_CLAIM",
    "ROLE_MAP",
)


def providers_from_environment(environ: Mapping[str, str] | None = None) -> tuple[Provider, ...]:
    """The providers named by OIDC_PROVIDERS (default "university" when OIDC_ISSUER is set).

    Each setting of provider NAME is read from OIDC_<NAME>_<SETTING>; the first provider also
    reads the plain OIDC_<SETTING>, so one provider needs no prefix at all."""
    environ = os.environ if environ is None else environ
    plain = {key: (environ.get(f"OIDC_{key}") or "").strip() for key in SETTINGS}
    names = [
        name.strip().lower()
        for name in (environ.get("OIDC_PROVIDERS") or "").split(",")
        if name.strip()
    ]
    if not names and plain["ISSUER"]:
        names = [DEFAULT_PROVIDER_NAME]
    providers = []
    for index, name in enumerate(names):
        if not _NAME.match(name):
            raise ValueError(f"OIDC_PROVIDERS: {name!r} is not a valid name (a-z, 0-9, - and _)")
        prefix = f"OIDC_{name.upper().replace('-', '_')}_"
        values = {
            key: (environ.get(prefix + key) or "").strip() or (plain[key] if index == 0 else "")
            for key in SETTINGS
        }
        if not values["ISSUER"] or not values["CLIENT_ID"]:
            raise ValueError(f"OIDC provider {name!r} needs an ISSUER and a CLIENT_ID")
        providers.append(
            Provider(
                name=name,
                issuer=values["ISSUER"],
                client_id=values["CLIENT_ID"],
                client_secret=values["CLIENT_SECRET"],
                scopes=values["SCOPES"] or DEFAULT_SCOPES,
                button_label=values["BUTTON_LABEL"] or DEFAULT_BUTTON_LABEL,
                role_claim=values["ROLE_CLAIM"] or None,
                role_map=parse_role_map(values["ROLE_MAP"]),
            )
        )
    return tuple(providers)


def parse_role_map(text: str) -> dict[str, str]:
    """ "teachers=teacher, portal-admins=admin" -> {"teachers": "teacher", ...}."""
    mapping = {}
    for item in text.split(","):
        if not item.strip():
            continue
        claim_value, sign, role = item.rpartition("=")
        if not sign or not claim_value.strip() or role.strip() not in ROLES:
            raise ValueError(
                f"OIDC_ROLE_MAP: {item.strip()!r} must read `group=role`, role one of {ROLES}"
            )
        mapping[claim_value.strip()] = role.strip()
    return mapping


def parse_domains(text: str) -> frozenset[str]:
    return frozenset(
        domain.strip().lower().lstrip("@") for domain in text.split(",") if domain.strip()
    )


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: verified claims of its ID token."""

    provider: str
    issuer: str
    subject: str
    email: str | None
    full_name: str | None
    role: str | None


@dataclass(frozen=True)
class Callback:
    identity: Identity
    next_path: str
    link_user_id: int | None


class OidcClients:
    """The configured providers and their Authlib clients."""

    def __init__(self, app: Flask, providers: tuple[Provider, ...], public_base_url: str):
        self.providers = {provider.name: provider for provider in providers}
        self.public_base_url = public_base_url.rstrip("/")
        self.oauth = OAuth(app)
        for provider in providers:
            self.oauth.register(
                name=provider.name,
                client_id=provider.client_id,
                client_secret=provider.client_secret or None,
                server_metadata_url=provider.metadata_url,
                client_kwargs={
                    "scope": provider.scopes,
                    "code_challenge_method": "S256",
                    "default_timeout": PROVIDER_TIMEOUT_SECONDS,
                },
            )
            self.oauth.create_client(provider.name).framework.expires_in = STATE_LIFETIME_SECONDS

    def get(self, name: str) -> Provider | None:
        return self.providers.get(name)

    def redirect_uri(self, provider: Provider) -> str:
        return f"{self.public_base_url}/api/auth/oidc/{provider.name}/callback"

    def post_logout_uri(self) -> str:
        return f"{self.public_base_url}/"

    def authorization_url(
        self, provider: Provider, next_path: str | None, link_user_id: int | None = None
    ) -> str:
        """Start a sign-in: the provider's authorization URL; state, nonce and PKCE verifier
        go into this browser's sign-in cookie."""
        client = self.oauth.create_client(provider.name)
        redirect_uri = self.redirect_uri(provider)
        try:
            self._check_metadata(provider, client)
            started = client.create_authorization_url(redirect_uri)
        except (requests.RequestException, ValueError) as error:
            log.warning(
                "OIDC discovery failed",
                extra={"fields": {"provider": provider.name, "error": str(error)}},
            )
            raise SignInFailed(UNAVAILABLE, "The sign-in provider does not answer.") from error
        client.framework.set_state_data(
            session,
            started["state"],
            {
                **started,
                "redirect_uri": redirect_uri,
                "next": safe_next_path(next_path),
                "link_user_id": link_user_id,
            },
        )
        return started["url"]

    def finish(self, provider: Provider) -> Callback:
        """The provider's answer at the callback, checked; raises SignInFailed."""
        client = self.oauth.create_client(provider.name)
        provider_error = request.args.get("error")
        if provider_error:
            raise _provider_error(provider_error, request.args.get("error_description"))
        state = request.args.get("state") or ""
        started = client.framework.get_state_data(session, state) if state else None
        if not started or not request.args.get("code"):
            raise SignInFailed(
                STATE_INVALID,
                "This sign-in was not started in this browser, or has expired: start it again.",
            )
        try:
            token = client.authorize_access_token(
                claims_options={
                    "iss": {"essential": True, "value": provider.issuer},
                    "aud": {"essential": True, "values": [provider.client_id]},
                },
                leeway=CLOCK_LEEWAY_SECONDS,
            )
        except MismatchingStateError as error:
            raise SignInFailed(STATE_INVALID, "This sign-in has already been used.") from error
        except OAuthError as error:  # the token endpoint refused
            raise _token_endpoint_error(error) from error
        except requests.RequestException as error:
            raise SignInFailed(UNAVAILABLE, "The sign-in provider does not answer.") from error
        except ExpiredTokenError as error:
            raise SignInFailed(TOKEN_EXPIRED, "The provider's ID token has expired.") from error
        except ClaimError as error:
            raise _claim_error(error.claim) from error
        except (JoseError, AuthlibBaseError, ValueError) as error:
            raise SignInFailed(
                TOKEN_INVALID, f"The provider's ID token is not valid: {error}"
            ) from error
        claims = token.get("userinfo")
        if not claims:
            raise SignInFailed(MISCONFIGURED, "The provider sent no ID token (scope `openid`).")
        return Callback(
            identity=Identity(
                provider=provider.name,
                issuer=claims["iss"],
                subject=str(claims["sub"]),
                email=_verified_email(claims),
                full_name=_full_name(claims),
                role=provider.role_for(claims),
            ),
            next_path=started.get("next") or "/#/",
            link_user_id=started.get("link_user_id"),
        )

    def end_session_url(self, name: str | None) -> str | None:
        """Where the browser ends its session at the provider (RP-initiated logout), if the
        provider supports it; None for a password login."""
        provider = self.providers.get(name or "")
        if provider is None:
            return None
        client = self.oauth.create_client(provider.name)
        try:
            endpoint = client.load_server_metadata().get("end_session_endpoint")
        except (requests.RequestException, ValueError):
            return None
        if not endpoint:
            return None
        query = urlencode(
            {"client_id": provider.client_id, "post_logout_redirect_uri": self.post_logout_uri()}
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    @staticmethod
    def _check_metadata(provider: Provider, client) -> None:
        metadata = client.load_server_metadata()
        # OpenID Connect Discovery §4.3: the document must name the very issuer it was read
        # from, or tokens of another issuer could be taken for this one's.
        if metadata.get("issuer", "").rstrip("/") != provider.issuer.rstrip("/"):
            raise SignInFailed(
                MISCONFIGURED,
                f"The provider's discovery document names issuer {metadata.get('issuer')!r}, "
                f"not {provider.issuer!r}.",
            )


def init_oidc(app: Flask) -> None:
    """Bind the configured providers; with none, nothing changes."""
    providers = app.config["OIDC_PROVIDERS"]
    app.extensions["oidc"] = None
    if not providers:
        return
    public_base_url = app.config["PUBLIC_BASE_URL"]
    # The sign-in cookie carries state, nonce and PKCE verifier between the start and the
    # callback: signed with OIDC_STATE_SECRET (the same on every replica), sent only to the OIDC
    # endpoints, and SameSite=Lax because the callback is a top-level navigation coming from the
    # provider's site.
    secret = app.config["OIDC_STATE_SECRET"]
    if len(secret) < 32:
        raise ValueError("OIDC_STATE_SECRET must be set to at least 32 random characters")
    app.secret_key = secret
    app.config.update(
        SESSION_COOKIE_NAME="portal_oidc",
        SESSION_COOKIE_PATH="/api/auth/oidc",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=urlsplit(public_base_url).scheme == "https",
        PERMANENT_SESSION_LIFETIME=STATE_LIFETIME_SECONDS,
    )
    app.extensions["oidc"] = OidcClients(app, providers, public_base_url)


def safe_next_path(next_path: str | None) -> str:
    """A web UI route to land on after signing in; anything else (another site, a path of the
    API) becomes the start page, so the callback is no open redirect."""
    if next_path and _NEXT.match(next_path):
        return next_path
    return "/#/"


def _verified_email(claims: Mapping[str, Any]) -> str | None:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None
    # Providers that say whether they checked the address are believed; one that says it did
    # not gives no address the portal could match an account by.
    if claims.get("email_verified") is False:
        return None
    return email


def _full_name(claims: Mapping[str, Any]) -> str | None:
    for key in ("name", "preferred_username"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:200]
    parts = [claims.get("given_name"), claims.get("family_name")]
    joined = " ".join(part for part in parts if isinstance(part, str) and part.strip())
    return joined[:200] or None


def _provider_error(error: str, description: str | None) -> SignInFailed:
    detail = f"{error}: {description}" if description else error
    if error in {"access_denied", "login_required", "interaction_required", "consent_required"}:
        return SignInFailed(CANCELLED, f"The sign-in was cancelled at the provider ({detail}).")
    if error in {"temporarily_unavailable", "server_error"}:
        return SignInFailed(UNAVAILABLE, f"The provider could not sign you in now ({detail}).")
    return SignInFailed(MISCONFIGURED, f"The provider refused the portal's request ({detail}).")


def _token_endpoint_error(error: OAuthError) -> SignInFailed:
    detail = f"{error.error}: {error.description}" if error.description else str(error.error)
    if error.error in {"invalid_client", "unauthorized_client", "unsupported_grant_type"}:
        return SignInFailed(MISCONFIGURED, f"The provider refused the portal's client ({detail}).")
    return SignInFailed(
        CODE_REJECTED,
        f"The provider refused the sign-in code: used already, expired or not ours ({detail}).",
    )


_CLAIM_ERRORS = {
    "iss": (WRONG_ISSUER, "The ID token comes from another issuer."),
    "aud": (WRONG_AUDIENCE, "The ID token was issued to another client, not this portal."),
    "azp": (WRONG_AUDIENCE, "The ID token was issued to another client, not this portal."),
    "nonce": (WRONG_NONCE, "The ID token answers another sign-in (its nonce does not match)."),
    "exp": (TOKEN_EXPIRED, "The provider's ID token has expired."),
}


def _claim_error(claim: str) -> SignInFailed:
    code, message = _CLAIM_ERRORS.get(
        claim, (TOKEN_INVALID, f"The ID token's claim {claim!r} is not valid.")
    )
    return SignInFailed(code, message)
