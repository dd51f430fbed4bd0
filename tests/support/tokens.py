"""Access tokens for tests: the real RS256 path, with the JWKS served over real HTTP."""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import RSAAlgorithm

from service_kit.permissions import ROLE_PERMISSIONS


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(value: dict) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


class TokenIssuer:
    """Mints RS256 access tokens like auth_service does and serves their JWKS on a free port.

    Usable as a context manager or a session fixture; it serves auth's revocation list too
    (`revoke()`). `rotate()` adds a new signing key,
    `stop()` takes the JWKS server down; the `token_*` methods make the forgeries every
    verifier must refuse.
    """

    ISSUER = "course-portal-auth"  # the JWT_ISSUER / JWT_AUDIENCE defaults of env_config
    AUDIENCE = "course-portal"

    def __init__(self, issuer: str = ISSUER, audience: str = AUDIENCE):
        self.issuer = issuer
        self.audience = audience
        self.jwks_requests = 0
        # What auth's /.well-known/revocations.json would list: user id (str) -> not before.
        self.revocations: dict[str, int] = {}
        self.revocations_requests = 0
        self._keys: list[tuple[str, RSAPrivateKey]] = []  # newest first, all published
        self.rotate()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.jwks_url = f"http://127.0.0.1:{self._server.server_port}/.well-known/jwks.json"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class JwksHandler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/revocations.json":
                    issuer.revocations_requests += 1
                    document = {"revocations": dict(issuer.revocations)}
                elif self.path == "/.well-known/jwks.json":
                    issuer.jwks_requests += 1
                    document = issuer.jwks()
                else:
                    self.send_error(404)
                    return
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass  # keep test output readable

        return JwksHandler

    @property
    def kid(self) -> str:
        return self._keys[0][0]

    @property
    def private_key(self) -> RSAPrivateKey:
        return self._keys[0][1]

    def jwks(self) -> dict:
        keys = []
        for kid, private_key in self._keys:
            jwk = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def rotate(self, *, keep_previous: bool = True) -> str:
        """Sign with a new key from now on; the new kid is returned."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = uuid.uuid4().hex
        self._keys = [(kid, private_key), *(self._keys[:1] if keep_previous else [])]
        return kid

    def revoke(self, user_id: int | str, not_before: int | None = None) -> None:
        """Publish a revocation: the user's tokens issued before `not_before` (default: the
        next second, so every token issued so far) are refused for writes."""
        self.revocations[str(user_id)] = int(time.time()) + 1 if not_before is None else not_before

    def stop(self) -> None:
        """Take the JWKS server down (verifiers then keep the keys they already have)."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "TokenIssuer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def claims(
        self, user_id: int | str, role: str = "student", permissions=None, **overrides
    ) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "role": role,
            "perms": list(ROLE_PERMISSIONS.get(role, ()) if permissions is None else permissions),
            "iat": now,
            "exp": now + 900,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self,
        user_id: int | str,
        role: str = "student",
        permissions=None,
        *,
        headers: dict | None = None,
        signing_key: RSAPrivateKey | None = None,
        **claim_overrides,
    ) -> str:
        """A signed access token; a claim or header given as None is left out."""
        header = {"kid": self.kid, "typ": "at+jwt", **(headers or {})}
        header = {name: value for name, value in header.items() if value is not None}
        return jwt.encode(
            self.claims(user_id, role, permissions, **claim_overrides),
            signing_key or self.private_key,
            algorithm="RS256",
            headers=header,
        )

    def token_alg_none(self, user_id: int | str, role: str = "admin") -> str:
        header = {"alg": "none", "typ": "at+jwt", "kid": self.kid}
        return f"{_b64url_json(header)}.{_b64url_json(self.claims(user_id, role))}."

    def token_hs256_public_key(self, user_id: int | str, role: str = "admin") -> str:
        """HMAC-signed with the public key PEM as the secret: the classic algorithm confusion."""
        pem = self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = {"alg": "HS256", "typ": "at+jwt", "kid": self.kid}
        signing_input = f"{_b64url_json(header)}.{_b64url_json(self.claims(user_id, role))}"
        signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}"

    def token_expired(self, user_id: int | str, role: str = "student") -> str:
        now = int(time.time())
        return self.token(user_id, role, iat=now - 3600, exp=now - 600)

    def token_wrong_audience(self, user_id: int | str, role: str = "student") -> str:
        return self.token(user_id, role, aud="another-system")

    def token_wrong_issuer(self, user_id: int | str, role: str = "student") -> str:
        return self.token(user_id, role, iss="https://attacker.example")

    def token_tampered(self, user_id: int | str) -> str:
        """A genuine student token whose payload was rewritten to an admin's."""
        header, _, signature = self.token(user_id, "student").split(".")
        return f"{header}.{_b64url_json(self.claims(user_id, 'admin'))}.{signature}"

    def token_foreign_key(self, user_id: int | str, role: str = "admin") -> str:
        """Signed by a key nobody published, under the kid of the real one."""
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.token(user_id, role, signing_key=stranger)

    def forged_tokens(self, user_id: int | str) -> dict[str, str]:
        """Every kind of token a verifier must refuse, by name (for parametrised tests)."""
        return {
            "alg none": self.token_alg_none(user_id),
            "HS256 with the public key": self.token_hs256_public_key(user_id),
            "expired": self.token_expired(user_id),
            "wrong audience": self.token_wrong_audience(user_id),
            "wrong issuer": self.token_wrong_issuer(user_id),
            "tampered": self.token_tampered(user_id),
            "foreign key": self.token_foreign_key(user_id),
            "no kid": self.token(user_id, headers={"kid": None}),
            "unknown kid": self.token(user_id, headers={"kid": "not-a-published-key"}),
            "no exp": self.token(user_id, exp=None),
            "no iat": self.token(user_id, iat=None),
            "no sub": self.token(user_id, sub=None),
            "sub not a user id": self.token("admin"),
            "sub negative": self.token(-1),
            "not an access token": self.token(user_id, headers={"typ": "JWT"}),
            "garbage": "not.a.token",
            "empty segments": "..",
        }
