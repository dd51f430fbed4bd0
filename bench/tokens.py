"""Access tokens for the authenticated scenarios, made the way auth_service makes them.

The auth process signs with a key file the benchmark generates (JWT_PRIVATE_KEY_FILE). A few
real users register and log in through the gateway; their tokens are the template (header with
the `kid` the auth service publishes, claim names and lifetime), and tokens for the thousands
of generated users are minted from it with the same key, so each user of the favourites table
has a valid token without thousands of password hashes.
"""

import time
import uuid
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from service_kit.permissions import ROLE_PERMISSIONS

PASSWORD = "bench-password-1"


def write_private_key(path: Path) -> RSAPrivateKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key


def login_real_users(gateway_url: str, count: int = 2) -> list[str]:
    """Register `count` users and log them in through the gateway; their access tokens."""
    tokens = []
    for number in range(1, count + 1):
        email = f"bench-{number}-{uuid.uuid4().hex[:8]}@example.edu"
        body = {"email": email, "password": PASSWORD, "full_name": f"Студент {number}"}
        response = requests.post(f"{gateway_url}/api/auth/register", json=body, timeout=10)
        if response.status_code != 201:
            raise RuntimeError(f"register answered {response.status_code}: {response.text[:300]}")
        response = requests.post(
            f"{gateway_url}/api/auth/login",
            json={"email": email, "password": PASSWORD},
            timeout=10,
        )
        if response.status_code != 200:
            raise RuntimeError(f"login answered {response.status_code}: {response.text[:300]}")
        tokens.append(response.json()["access_token"])
    return tokens


class TokenMinter:
    """Tokens like `template` (a real one from auth_service) for any user id."""

    def __init__(self, private_key: RSAPrivateKey, template: str):
        self.private_key = private_key
        self.header = jwt.get_unverified_header(template)
        claims = jwt.decode(template, options={"verify_signature": False})
        # The bench's users stand for students who verified their address: the template's
        # user registered a moment ago, and has no permissions until then.
        self.claims = {
            **claims,
            "perms": list(ROLE_PERMISSIONS[claims["role"]]),
            "email_verified": True,
        }
        self.lifetime = int(self.claims["exp"]) - int(self.claims["iat"])

    def token(self, user_id: int, **overrides) -> str:
        """A token for `user_id`; `overrides` replace claims (say, `role` and `perms`)."""
        now = int(time.time())
        claims = {
            **self.claims,
            **overrides,
            "sub": str(user_id),
            "iat": now,
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
        }
        headers = {k: v for k, v in self.header.items() if k not in ("alg", "typ")}
        headers["typ"] = self.header.get("typ", "JWT")
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)
