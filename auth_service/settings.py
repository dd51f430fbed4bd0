"""auth's own settings, read from the environment (merged over service_kit's)."""

import os


def from_environment() -> dict:
    return {
        # Addresses whose X-Forwarded-For is believed (the gateway). Comma-separated, CIDR ok.
        "TRUSTED_PROXIES": os.environ.get("TRUSTED_PROXIES") or "127.0.0.1,::1",
        # A missing key file is generated only for local development (no JWT_PRIVATE_KEY_FILE
        # set); a deployment's missing secret must fail, not fork new keys.
        "JWT_GENERATE_MISSING_KEY": not os.environ.get("JWT_PRIVATE_KEY_FILE"),
    }
