"""auth's own settings, read from the environment (merged over service_kit's)."""

import os

from .oidc import parse_domains, providers_from_environment


def from_environment() -> dict:
    return {
        # Addresses whose X-Forwarded-For is believed (the gateway). Comma-separated, CIDR ok.
        # Unset: nobody's, so the peer address is the client. Never trust a network clients can
        # connect from: they could then choose their own address and dodge the login throttle.
        "TRUSTED_PROXIES": os.environ.get("TRUSTED_PROXIES") or "",
        # A missing key file is generated only for local development (no JWT_PRIVATE_KEY_FILE
        # set); a deployment's missing secret must fail, not fork new keys.
        "JWT_GENERATE_MISSING_KEY": not os.environ.get("JWT_PRIVATE_KEY_FILE"),
        # Where browsers reach the portal: the OIDC redirect URI and the page after logout are
        # built from it, and each must be registered at the provider exactly.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8000",
        # Sign-in through OpenID Connect providers (see oidc.py); none configured: no change.
        "OIDC_PROVIDERS": providers_from_environment(),
        "OIDC_STATE_SECRET": os.environ.get("OIDC_STATE_SECRET") or "",
        # Addresses of these domains sign in through a provider only: no password login, no
        # registration (their accounts are the directory's).
        "OIDC_ONLY_DOMAINS": parse_domains(os.environ.get("OIDC_ONLY_DOMAINS") or ""),
    }
