"""auth's own settings, read from the environment (merged over service_kit's)."""

import os


def from_environment() -> dict:
    return {
        # Addresses whose X-Forwarded-For is believed (the gateway). Comma-separated, CIDR ok.
        # Unset: nobody's, so the peer address is the client. Never trust a network clients can
        # connect from: they could then choose their own address and dodge the login throttle.
        "TRUSTED_PROXIES": os.environ.get("TRUSTED_PROXIES") or "",
        # A missing key file is generated only for local development (no JWT_PRIVATE_KEY_FILE
        # set); a deployment's missing secret must fail, not fork new keys.
        "JWT_GENERATE_MISSING_KEY": not os.environ.get("JWT_PRIVATE_KEY_FILE"),
    }
