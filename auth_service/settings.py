"""auth's own settings, read from the environment (merged over service_kit's)."""

import os

from service_kit.config import var_dir

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
        # Mail (verification, password reset) leaves through this SMTP server; no host: .eml
        # files under MAIL_DIR, their links in the log (`make run`).
        "SMTP_HOST": os.environ.get("SMTP_HOST") or "",
        "SMTP_PORT": os.environ.get("SMTP_PORT") or "",
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME") or "",
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD") or "",
        "SMTP_FROM": os.environ.get("SMTP_FROM") or "Портал учебных материалов <noreply@localhost>",
        "SMTP_TLS": os.environ.get("SMTP_TLS") or "starttls",
        "MAIL_DIR": os.environ.get("MAIL_DIR") or str(var_dir() / "mail"),
        # Seconds before a failed delivery is tried again (5 times; then the minute's sweep).
        "MAIL_RETRY_SECONDS": int(os.environ.get("MAIL_RETRY_SECONDS") or 30),
        # Only these email domains may register (comma-separated); empty: any.
        "REGISTRATION_EMAIL_DOMAINS": parse_domains(
            os.environ.get("REGISTRATION_EMAIL_DOMAINS") or ""
        ),
    }
