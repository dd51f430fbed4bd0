"""The RS256 signing key: loaded from JWT_PRIVATE_KEY_FILE, published with its predecessor.

The current private key lives in JWT_PRIVATE_KEY_FILE; the previous key's public half in
`<file>.previous`, so tokens signed just before a rotation stay valid until they expire. Both files
are re-read when they change on disk, so `python -m auth_service rotate-key` (or an updated
Kubernetes secret) takes effect without a restart.
"""

import base64
import contextlib
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

KEY_BITS = 2048


def _b64url_uint(value: int) -> str:
    data = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: RSAPublicKey) -> dict[str, str]:
    """The key as a JWK with its RFC 7638 thumbprint as `kid`."""
    numbers = public_key.public_numbers()
    members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    # RFC 7638: the required members only, in lexicographic order, no whitespace.
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    return {**members, "kid": kid, "use": "sig", "alg": "RS256"}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: RSAPrivateKey


def previous_key_path(path: Path) -> Path:
    return path.with_name(path.name + ".previous")


def _private_pem(private_key: RSAPrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_pem(public_key: RSAPublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write_new(path: Path, data: bytes) -> bool:
    """Create `path` with `data` (mode 0600) unless it exists; the file appears complete or not
    at all, so workers starting together never read half a key. True when this call wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.link(temporary, path)  # fails if another process got there first
        return True
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _replace(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def generate_private_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def create_key_file(path: Path) -> bool:
    """Write a new private key to `path` unless one is there; True when one was written."""
    return _write_new(path, _private_pem(generate_private_key()))


def rotate_key_file(path: Path) -> str:
    """Make a new current key; the current one's public half becomes the previous key.

    The current file is replaced in one step, so it always holds a whole key.
    """
    current = _load_private(path)
    _replace(previous_key_path(path), _public_pem(current.public_key()))
    new_key = generate_private_key()
    _replace(path, _private_pem(new_key))
    return public_jwk(new_key.public_key())["kid"]


def _load_private(path: Path) -> RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, RSAPrivateKey) or key.key_size < KEY_BITS:
        raise ValueError(f"{path} does not hold an RSA private key of at least {KEY_BITS} bits")
    return key


def _load_public(path: Path) -> RSAPublicKey:
    """The previous key may be kept as a public key (what rotate-key writes) or a private one."""
    data = path.read_bytes()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    if not isinstance(key, RSAPublicKey):
        raise ValueError(f"{path} does not hold an RSA key")
    return key


def _file_version(path: Path) -> tuple | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_mtime_ns, status.st_size, status.st_ino


class SigningKeys:
    """The current signing key and the JWKS; re-read only when the key files change."""

    def __init__(self, path: str | Path, *, generate_if_missing: bool = False):
        self.path = Path(path)
        self.generate_if_missing = generate_if_missing
        self._lock = threading.Lock()
        # (file versions, current key, JWKS), swapped as one so readers never see a mix.
        self._state: tuple[tuple, SigningKey, dict] | None = None

    def _loaded(self) -> tuple[tuple, SigningKey, dict]:
        if self.generate_if_missing and not self.path.exists():
            create_key_file(self.path)
        previous_path = previous_key_path(self.path)
        version = (_file_version(self.path), _file_version(previous_path))
        state = self._state
        if state is not None and state[0] == version:
            return state
        with self._lock:
            private_key = _load_private(self.path)
            current_jwk = public_jwk(private_key.public_key())
            keys = [current_jwk]
            if version[1] is not None:
                previous_jwk = public_jwk(_load_public(previous_path))
                if previous_jwk["kid"] != current_jwk["kid"]:
                    keys.append(previous_jwk)
            self._state = (version, SigningKey(current_jwk["kid"], private_key), {"keys": keys})
            return self._state

    def current(self) -> SigningKey:
        return self._loaded()[1]

    def jwks(self) -> dict:
        """The public keys: current first, then the previous one if there is one."""
        return self._loaded()[2]
