"""Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane)."""

import secrets

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet, argon2id minimum configuration.
OWASP_PARAMETERS = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}


class PasswordHasher:
    """Hashes and checks passwords; `verify` costs the same whether or not the user exists."""

    def __init__(self, **parameters):
        self._argon2 = Argon2Hasher(**{**OWASP_PARAMETERS, **parameters})
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches. With no hash (an unknown user) a dummy hash is checked
        anyway, so the answer takes as long as for a real account."""
        if password_hash is None:
            self._matches(self._dummy(), password)
            return False
        return self._matches(password_hash, password)

    def _matches(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters (e.g. after raising the cost)."""
        return self._argon2.check_needs_rehash(password_hash)
