"""Test helpers: real databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set),
real processes under gunicorn on free ports, and real RS256 access tokens (`TokenIssuer`)."""

import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url

from .config import REPO_ROOT, normalize_database_url
from .migrations import upgrade


def database_backends() -> list[str]:
    """`sqlite` always; `postgresql` too when TEST_DATABASE_URL points at a server."""
    return ["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def empty_database(backend: str, directory: Path, name: str) -> Iterator[str]:
    """A new, empty database for the length of the block; its URL is yielded."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / (name + '-' + uuid.uuid4().hex[:8] + '.db')}"
        return
    server_url = normalize_database_url(os.environ["TEST_DATABASE_URL"])
    database = f"test_{name}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        # With the C locale Postgres does not fold Cyrillic; C.UTF-8 does.
        connection.execute(
            text(
                f"CREATE DATABASE \"{database}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            )
        )
    try:
        yield make_url(server_url).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def migrated_database(package: str, backend: str, directory: Path) -> Iterator[str]:
    """An empty database brought to the latest migration of `package`."""
    with empty_database(backend, directory, package) as url:
        upgrade(package, url)
        yield url


def clear_tables(url: str, metadata: MetaData, keep: tuple[str, ...] = ()) -> None:
    """Delete every row except in `keep` (reference data seeded by migrations)."""
    engine = create_engine(normalize_database_url(url))
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            if table.name not in keep:
                connection.execute(table.delete())
    engine.dispose()


class ServerProcess:
    """One real service under gunicorn, on a free port, stopped with SIGTERM."""

    def __init__(
        self,
        app_spec: str,
        env: dict[str, str],
        *,
        workers: int = 1,
        threads: int = 4,
        cwd: Path = REPO_ROOT,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app_spec = app_spec
        self.env = {**os.environ, **env}
        self.workers = workers
        self.threads = threads
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server's logging.
        self.log = tempfile.NamedTemporaryFile(prefix="server-", suffix=".log", delete=False)  # noqa: SIM115 (lives as long as the process)

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", self.app_spec,
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            "--no-control-socket",
            "--graceful-timeout", "10",
        ]  # fmt: skip

    def start(self, timeout: float = 20.0) -> "ServerProcess":
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.app_spec} exited: {self.output()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/health/live", timeout=0.5).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.app_spec} did not answer on port {self.port}: {self.output()}")

    def output(self) -> str:
        """What the server has logged so far."""
        return Path(self.log.name).read_text(errors="replace")

    def terminate(self) -> None:
        """SIGTERM: gunicorn stops accepting and lets requests in flight finish."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# Access tokens for tests: the real RS256 path, with the JWKS served over real HTTP.

ROLE_PERMISSIONS = {
    "student": ("courses:read", "favorites:write"),
    "teacher": ("courses:read", "favorites:write", "materials:write"),
    "admin": (
        "courses:read",
        "favorites:write",
        "materials:write",
        "courses:admin",
        "users:admin",
    ),
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(value: dict) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


class TokenIssuer:
    """Mints RS256 access tokens like auth_service does and serves their JWKS on a free port.

    Usable as a context manager or a session fixture. `rotate()` adds a new signing key,
    `stop()` takes the JWKS server down; the `token_*` methods make the forgeries every
    verifier must refuse.
    """

    ISSUER = "course-portal-auth"  # the JWT_ISSUER / JWT_AUDIENCE defaults of env_config
    AUDIENCE = "course-portal"

    def __init__(self, issuer: str = ISSUER, audience: str = AUDIENCE):
        self.issuer = issuer
        self.audience = audience
        self.jwks_requests = 0
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
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                issuer.jwks_requests += 1
                body = json.dumps(issuer.jwks()).encode()
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


def schema_differences(package: str, metadata: MetaData, url: str) -> list:
    """What `alembic upgrade head` built in `url` but the models do not describe, or the other
    way round (alembic's autogenerate diff; empty when they match). Schema objects the models
    create only on another backend (`ddl_if`) are left out."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(normalize_database_url(url))
    dialect = engine.dialect.name

    def meant_for_this_backend(obj, name, type_, reflected, compare_to):
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect in (None, dialect)

    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "version_table": f"alembic_version_{package}",
                    "include_object": meant_for_this_backend,
                },
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()
