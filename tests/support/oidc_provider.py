"""A real OpenID Connect provider process for tests: `oidc-provider-mock` (Authlib's server
side), on a free port.

It runs the whole protocol — discovery, an HTML sign-in form, authorization codes (single use,
bound to the client and redirect URI), RS256 ID tokens signed with its own key and published in
its JWKS, RP-initiated logout — and lets a test set a user's claims before they sign in. Claims
set that way are written into the ID token over the standard ones, which is how a test makes
the provider sign a token with another audience, issuer, nonce or expiry.
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import requests

from tests.support.processes import free_port, stop_process


class OidcProviderProcess:
    def __init__(self, log_path: Path | None = None):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or Path(tempfile.mkdtemp(prefix="oidc-")) / "provider.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> "OidcProviderProcess":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "oidc_provider_mock",
                    "--port",
                    str(self.port),
                    "--require-nonce",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the OIDC provider exited: {self.output()}")
            try:
                response = requests.get(
                    self.issuer + "/.well-known/openid-configuration", timeout=1
                )
                if response.status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the OIDC provider did not answer: {self.output()}")

    def set_user(self, sub: str, claims: dict) -> None:
        """The claims the provider gives `sub` from their next sign-in on."""
        response = requests.put(
            f"{self.issuer}/users/{quote(sub, safe='')}", json=claims, timeout=5
        )
        response.raise_for_status()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> "OidcProviderProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
