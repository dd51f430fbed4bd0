"""Access-token verification, the same in the gateway and in every service.

auth_service signs RS256 access tokens and publishes its public keys as a JWKS. A
`TokenVerifier` checks a token against those keys without any Flask machinery, so the gateway can
call `verifier.verify(token)` on its forwarding path; `init_auth`, `current_principal`,
`require_auth` and `require_permission` bind it to a Flask service.

Keys are fetched lazily (never at import or in `create_app`), parsed once and cached. An unknown
`kid` triggers a refetch, at most once per `refetch_interval`, so a flood of forged kids cannot
turn into a flood of JWKS requests. A failed refetch keeps the keys already known.

The last good JWKS is also kept in a file (`JWKS_CACHE_FILE`, by default under VAR_DIR): a
process that starts while auth is down verifies tokens with those keys instead of refusing every
one, and keeps trying auth as usual. The file holds public keys only; it is used only for the
JWKS URL it was written for.

Revocation: auth publishes, next to its JWKS, the users whose earlier tokens were revoked lately
(`/.well-known/revocations.json`: user id -> "not before", epoch seconds; set on deactivation,
role change, password change and "log out everywhere"). For writes (any method but GET, HEAD,
OPTIONS), `require_auth` and `require_permission` refuse a token whose `iat` is before its
user's not-before (401). The list is fetched lazily on the first write, kept, and refreshed when
older than `revocations_interval` (5 s), by one thread at a time with the JWKS's timeout and no
retries; other threads use the list they have meanwhile. If it cannot be refreshed, the last one
is used for up to `revocations_grace` (30 s) after it was loaded, then writes fail closed (503)
until auth answers again; reads never need the list. The gateway checks signatures only.
"""

import base64
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from flask import Flask, current_app, g, request
from flask_smorest import Blueprint
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized as HTTPUnauthorized

from .config import var_dir
from .errors import Forbidden, UpstreamUnavailable
from .health import add_readiness_check
from .http_client import ServiceClient

log = logging.getLogger(__name__)

ALGORITHM = "RS256"
# Without "require", pyjwt accepts a token that simply leaves exp (or the others) out.
DECODE_OPTIONS = {"require": ["exp", "iat", "sub", "iss", "aud"]}
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 `typ`
MIN_RSA_KEY_BITS = 2048
# Far above any token auth_service signs; stops megabyte headers before any parsing.
MAX_TOKEN_LENGTH = 8192
# A positive id that fits a BIGINT: no sign, no leading zero, no spaces, no unicode digits.
_USER_ID = re.compile(r"[1-9][0-9]{0,17}")
SECURITY_SCHEME = "bearerAuth"
# Methods that change nothing: revoked tokens are refused only for the others.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Far more than auth ever publishes (the users revoked within one token lifetime).
MAX_REVOCATIONS = 200_000


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or not meant for this audience."""


class KeysUnavailable(UpstreamUnavailable):
    """No signing key could be loaded at all, so no token can be judged (503, not 401)."""


class RevocationsUnavailable(UpstreamUnavailable):
    """The revocation list is too old to trust for a write (503): the write fails closed."""


class TokenRevoked(InvalidToken):
    """The token was issued before its user's tokens were revoked."""


JwksSource = Callable[[], Any]  # returns the JWKS document (a dict with "keys")
RevocationsSource = Callable[[], Any]  # returns the revocations document


def revocations_url_for(jwks_url: str) -> str:
    """auth publishes the revocations beside its JWKS: `.../revocations.json`."""
    return urljoin(jwks_url, "revocations.json")


def parse_revocations(document: Any) -> dict[int, float]:
    """`{"revocations": {"<user id>": <not before, epoch s>, ...}}` -> {user id: not before}.
    Not-before is to the microsecond, as is a token's `iat`: a token issued within the same
    second as a revocation, before or after it, is told apart."""
    members = document.get("revocations") if isinstance(document, dict) else None
    if not isinstance(members, dict):
        raise ValueError("the revocation list has no revocations")
    if len(members) > MAX_REVOCATIONS:
        raise ValueError("the revocation list is implausibly long")
    revoked = {}
    for user_id, not_before in members.items():
        if (
            not isinstance(user_id, str)
            or not _USER_ID.fullmatch(user_id)
            or not isinstance(not_before, int | float)
            or isinstance(not_before, bool)
            or not math.isfinite(not_before)
        ):
            raise ValueError("the revocation list holds a malformed entry")
        revoked[int(user_id)] = not_before
    return revoked


class RevocationList:
    """auth's recent per-user revocations, fetched lazily and kept fresh; thread-safe."""

    def __init__(
        self,
        source: RevocationsSource,
        *,
        interval: float = 5.0,
        grace: float = 30.0,
        retry_interval: float = 1.0,
        name: str = "auth revocations",
    ):
        self._source = source
        self.interval = interval
        self.grace = grace
        self.retry_interval = retry_interval
        self.name = name
        self._revoked: dict[int, float] = {}
        self._loaded_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = threading.Lock()

    def _load(self) -> None:
        self._attempted_at = time.monotonic()
        try:
            revoked = parse_revocations(self._source())
        except Exception as error:  # any failure: keep the list we have, judged by its age
            log.warning("could not refresh the revocation list (%s): %s", self.name, error)
            return
        self._revoked, self._loaded_at = revoked, time.monotonic()

    def current(self) -> dict[int, float]:
        """The list, refreshed when older than `interval`; raises `RevocationsUnavailable`
        when it is older than `grace` and cannot be refreshed."""
        now = time.monotonic()
        if now - self._loaded_at > self.interval:
            # Within the grace a stale list will do while another thread refreshes it; past
            # it (or before the first load), wait for that thread's answer, then judge.
            must_wait = now - self._loaded_at > self.grace
            if self._lock.acquire(blocking=must_wait):
                try:
                    now = time.monotonic()
                    if now - self._loaded_at > self.interval and now - self._attempted_at >= min(
                        self.retry_interval, self.interval
                    ):
                        self._load()
                finally:
                    self._lock.release()
        if time.monotonic() - self._loaded_at > self.grace:
            raise RevocationsUnavailable(
                "Changes are unavailable for a moment: token revocations cannot be checked."
            )
        return self._revoked

    def not_before(self, user_id: int) -> float | None:
        return self.current().get(user_id)


def revocation_list(
    url: str | None,
    source: RevocationsSource | None,
    interval: float,
    grace: float,
    timeout: float,
) -> RevocationList | None:
    if source is None and url:
        source = http_revocations_source(url, timeout)
    if source is None:
        return None
    return RevocationList(source, interval=interval, grace=grace)


def http_revocations_source(url: str, timeout: float = 2.0) -> RevocationsSource:
    """Fetch the revocations over HTTP like the JWKS: pooled, `timeout` s, no retries."""
    client = ServiceClient(
        url, name="auth revocations", connect_timeout=timeout, read_timeout=timeout, retries=0
    )
    return lambda: client.get_json("", expect=dict)


def http_jwks_source(jwks_url: str, timeout: float = 2.0) -> JwksSource:
    """Fetch the JWKS over HTTP: pooled connection, `timeout` seconds, no retries, no redirects."""
    client = ServiceClient(
        jwks_url, name="auth JWKS", connect_timeout=timeout, read_timeout=timeout, retries=0
    )
    return lambda: client.get_json("", expect=dict)


def parse_jwks(document: Any) -> dict[str, RSAPublicKey]:
    """The usable RS256 signing keys of a JWKS, by kid; other members are skipped."""
    members = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(members, list):
        raise ValueError("the JWKS has no key list")
    keys = {}
    for member in members:
        if not isinstance(member, dict):
            continue
        kid = member.get("kid")
        if (
            not isinstance(kid, str)
            or not kid
            or member.get("kty") != "RSA"
            or member.get("use", "sig") != "sig"
            or member.get("alg", ALGORITHM) != ALGORITHM
        ):
            continue
        try:
            key = jwt.PyJWK(member, ALGORITHM).key
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        if isinstance(key, RSAPublicKey) and key.key_size >= MIN_RSA_KEY_BITS:
            keys[kid] = key
    if not keys:
        raise ValueError("the JWKS has no usable RS256 key")
    return keys


# --- The JWKS cache file: the last good key set, for a start while auth is unreachable --------


def jwks_cache_file() -> Path:
    """Where the last good JWKS is kept: JWKS_CACHE_FILE, or VAR_DIR/jwks-cache.json."""
    return Path(os.environ.get("JWKS_CACHE_FILE") or var_dir() / "jwks-cache.json")


def save_jwks_cache(path: Path, jwks_url: str | None, document: Any) -> None:
    """Keep `document` (already parsed successfully) for the next start; never raises. Written
    to a temporary file and renamed, so another process never reads half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_text(json.dumps({"jwks_url": jwks_url, "jwks": document}))
        os.replace(temporary, path)
    except (OSError, TypeError, ValueError) as error:
        log.warning("could not keep the JWKS in %s: %s", path, error)


def load_jwks_cache(path: Path, jwks_url: str | None) -> dict[str, RSAPublicKey] | None:
    """The usable keys kept in `path` for `jwks_url`, or None (no file, another URL, junk)."""
    try:
        saved = json.loads(path.read_text())
        if not isinstance(saved, dict) or saved.get("jwks_url") != jwks_url:
            return None
        return parse_jwks(saved.get("jwks"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("ignoring the JWKS cache %s: %s", path, error)
        return None


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, to pick the key; pyjwt parses and checks the whole token afterwards.

    Decoding just this segment here (pyjwt's own helper decodes all three) halves the parsing.
    """
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError) as error:  # binascii.Error and JSON errors are ValueErrors
        raise InvalidToken("malformed token") from error
    if not isinstance(header, dict):
        raise InvalidToken("malformed token")
    return header


class TokenVerifier:
    """Verifies RS256 access tokens against the keys of a JWKS; thread-safe, no Flask needed."""

    def __init__(
        self,
        jwks_url: str | None,
        issuer: str,
        audience: str,
        *,
        leeway: float = 30.0,
        fetch_timeout: float = 2.0,
        refetch_interval: float = 10.0,
        max_key_age: float = 600.0,
        cache_size: int = 10_000,
        jwks_source: JwksSource | None = None,
        cache_file: Path | str | None = None,
        revocations_url: str | None = None,
        revocations_source: "RevocationsSource | None" = None,
        revocations_interval: float = 5.0,
        revocations_grace: float = 30.0,
    ):
        if jwks_source is None:
            if not jwks_url:
                raise ValueError("a JWKS URL or a JWKS source is needed")
            jwks_source = http_jwks_source(jwks_url, fetch_timeout)
        # None: this verifier does not check revocations (signature only, like the gateway's).
        self.revocations = revocation_list(
            revocations_url, revocations_source, revocations_interval, revocations_grace,
            fetch_timeout,
        )  # fmt: skip
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.refetch_interval = refetch_interval
        # Keys are refetched now and then even when every kid is known, so a key that auth
        # withdrew (e.g. after a leak) stops being accepted.
        self.max_key_age = max_key_age
        self._source = jwks_source
        # The last good JWKS on disk (None: not kept), and the document last written there.
        self.cache_file = Path(cache_file) if cache_file else None
        self._saved_document: Any = None
        self._keys: dict[str, RSAPublicKey] = {}
        self._loaded_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = threading.Lock()
        # Token -> claims of tokens already verified: a client sends the same token for up to
        # 15 minutes, and a cache hit skips the RSA check and pyjwt's parsing (~100 µs).
        self.cache_size = cache_size
        self._verified: dict[str, dict[str, Any]] = {}
        self._verified_with: Any = frozenset()  # the kids the cached tokens were checked with

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def refresh(self) -> None:
        """Load the JWKS now; raises when it cannot be loaded (the known keys stay)."""
        with self._lock:
            self._attempted_at = time.monotonic()
            try:
                keys = self._fetch_keys()
            except Exception as error:
                if not self._use_cached_keys():
                    raise KeysUnavailable(f"The JWKS cannot be loaded: {error}") from error
                return
            self._use(keys)

    def _fetch_keys(self) -> dict[str, RSAPublicKey]:
        """The keys of the JWKS fetched now; a good, changed document is kept in the file."""
        document = self._source()
        keys = parse_jwks(document)
        if self.cache_file is not None and document != self._saved_document:
            save_jwks_cache(self.cache_file, self.jwks_url, document)
            self._saved_document = document
        return keys

    def _use_cached_keys(self) -> bool:
        """With no key known yet, take the file's (marked stale, so auth is asked again at the
        usual pace); whether keys are known now."""
        if not self._keys and self.cache_file is not None:
            keys = load_jwks_cache(self.cache_file, self.jwks_url)
            if keys:
                log.warning("the JWKS is unreachable: using the keys in %s", self.cache_file)
                self._use(keys, loaded_at=float("-inf"))
        return bool(self._keys)

    def _use(self, keys: dict[str, RSAPublicKey], *, loaded_at: float | None = None) -> None:
        self._keys = keys
        self._loaded_at = time.monotonic() if loaded_at is None else loaded_at
        if keys.keys() != self._verified_with:
            # A withdrawn key must take the tokens it signed with it.
            self._verified = {}
            self._verified_with = keys.keys()

    def ensure_keys(self) -> None:
        """The readiness check: fine when keys are known, else try to load them (raises)."""
        if not self._keys:
            self.refresh()

    def _refresh_rate_limited(self) -> None:
        with self._lock:
            # With no key at all every token waits on auth: ask again soon, not in 10 s.
            interval = self.refetch_interval if self._keys else min(1.0, self.refetch_interval)
            if time.monotonic() - self._attempted_at < interval:
                return  # another thread just tried, or a recent attempt failed
            self._attempted_at = time.monotonic()
            try:
                keys = self._fetch_keys()
            except Exception as error:  # a JWKS failure of any kind must not break verification
                log.warning("could not refresh the JWKS from %s: %s", self.jwks_url, error)
                self._use_cached_keys()
                return
            self._use(keys)

    def _key(self, kid: str) -> RSAPublicKey:
        key = self._keys.get(kid)
        if key is None or time.monotonic() - self._loaded_at > self.max_key_age:
            self._refresh_rate_limited()
            key = self._keys.get(kid)
        if key is None:
            if not self._keys:
                raise KeysUnavailable("The signing keys of the auth service cannot be loaded.")
            raise InvalidToken("unknown signing key")
        return key

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token (do not modify them); raises `InvalidToken`."""
        if not isinstance(token, str):
            raise InvalidToken("malformed token")
        claims = self._verified.get(token)
        if (
            claims is not None
            and claims["exp"] + self.leeway > time.time()
            and time.monotonic() - self._loaded_at <= self.max_key_age  # else recheck the keys
        ):
            return claims
        claims = self._verify(token)
        if len(self._verified) >= self.cache_size:
            self._verified = {}  # crude, but bounded and rare: tokens live 15 minutes
        self._verified[token] = claims
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("malformed token")
        header = _unverified_header(token)
        kid = header.get("kid")
        # pyjwt pins the algorithm too; checking first spares a key lookup for forgeries.
        if header.get("alg") != ALGORITHM or not isinstance(kid, str) or not kid:
            raise InvalidToken("wrong algorithm or no key id")
        key = self._key(kid)
        try:
            decoded = jwt.decode_complete(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options=DECODE_OPTIONS,
            )
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise InvalidToken(str(error)) from error
        claims = decoded["payload"]
        typ = decoded["header"].get("typ")
        is_access = (isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES) or (
            claims.get("type") == "access"
        )
        if not is_access:
            raise InvalidToken("not an access token")
        sub = claims["sub"]
        if not isinstance(sub, str) or not _USER_ID.fullmatch(sub):
            raise InvalidToken("the subject is not a user id")
        role, perms = claims.get("role", ""), claims.get("perms", [])
        if not isinstance(role, str) or not (
            isinstance(perms, list) and all(isinstance(p, str) for p in perms)
        ):
            raise InvalidToken("malformed role or permissions")
        return claims

    def principal(self, token: str) -> "Principal":
        return Principal.from_claims(self.verify(token))

    def check_not_revoked(self, claims: dict[str, Any]) -> None:
        """Raise `TokenRevoked` when the token was issued before its user's revocation;
        `RevocationsUnavailable` when that cannot be known (see the module's docstring)."""
        if self.revocations is None:
            return
        not_before = self.revocations.not_before(int(claims["sub"]))
        iat = claims.get("iat")
        if not_before is not None and (not isinstance(iat, int | float) or iat < not_before):
            raise TokenRevoked("the token was issued before its user's tokens were revoked")


@dataclass(frozen=True)
class Principal:
    """The caller, as the access token describes them."""

    user_id: int
    role: str
    permissions: frozenset[str]
    claims: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> "Principal":
        return cls(
            user_id=int(claims["sub"]),
            role=claims.get("role", ""),
            permissions=frozenset(claims.get("perms", ())),
            claims=claims,
        )

    def has(self, *permissions: str) -> bool:
        return self.permissions.issuperset(permissions)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def init_auth(
    app: Flask, verifier: TokenVerifier | None = None, *, keys_gate_readiness: bool = True
) -> TokenVerifier:
    """Bind a verifier (by default from AUTH_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE) to the app.

    `keys_gate_readiness=False` for a service whose main traffic needs no token: an auth outage
    must not take its public reads out of rotation."""
    if verifier is None:
        verifier = TokenVerifier(
            app.config["AUTH_JWKS_URL"],
            app.config["JWT_ISSUER"],
            app.config["JWT_AUDIENCE"],
            cache_file=app.config.get("JWKS_CACHE_FILE") or jwks_cache_file(),
            revocations_url=revocations_url_for(app.config["AUTH_JWKS_URL"]),
        )
    app.extensions["token_verifier"] = verifier
    if keys_gate_readiness:
        add_readiness_check(app, "jwks", verifier.ensure_keys)
    for api in app.extensions.get("flask-smorest", {}).get("apis", {}).values():
        components = api["ext_obj"].spec.components
        if SECURITY_SCHEME not in components.security_schemes:
            components.security_scheme(
                SECURITY_SCHEME, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            )
    return verifier


def get_verifier() -> TokenVerifier:
    return current_app.extensions["token_verifier"]


def _challenge(message: str, error: str | None = None) -> HTTPUnauthorized:
    parameters = {"error": error} if error else {}
    return HTTPUnauthorized(message, www_authenticate=WWWAuthenticate("Bearer", parameters))


def current_principal() -> Principal:
    """The caller of this request; 401 when the bearer token is missing or invalid."""
    principal = g.get("principal")
    if principal is not None:
        return principal
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise _challenge("A bearer access token is required.")
    try:
        principal = get_verifier().principal(token)
    except InvalidToken as error:
        log.info("rejected access token: %s", error)
        raise _challenge("The access token is invalid or expired.", "invalid_token") from None
    g.principal = principal
    g.user_id = principal.user_id  # the request log line carries it
    return principal


def _refuse_revoked_on_writes(principal: Principal) -> None:
    """For a write, 401 when the caller's token was revoked since it was issued."""
    if request.method in SAFE_METHODS or principal.claims is None:
        return
    try:
        get_verifier().check_not_revoked(principal.claims)
    except TokenRevoked as error:
        log.info("rejected access token: %s", error)
        raise _challenge(
            "The access token was revoked (the account changed or signed out everywhere); "
            "sign in again.",
            "invalid_token",
        ) from None


_RESPONSE_NAMES = {401: "UNAUTHORIZED", 403: "FORBIDDEN"}  # flask-smorest's error responses


def _documented(view: Callable, *statuses: int) -> Callable:
    responses = {str(status): _RESPONSE_NAMES[status] for status in statuses}
    return Blueprint.doc(security=[{SECURITY_SCHEME: []}], responses=responses)(view)


def require_auth(view: Callable) -> Callable:
    """A view (or MethodView method) for authenticated callers only; put it above @blp.arguments
    so a caller without a token gets 401 before the body is judged. For writes, a token revoked
    since it was issued is refused too (401)."""

    @wraps(view)
    def authenticated(*args, **kwargs):
        _refuse_revoked_on_writes(current_principal())
        return view(*args, **kwargs)

    return _documented(authenticated, 401)


def require_permission(*permissions: str) -> Callable[[Callable], Callable]:
    """A view for callers whose token grants every one of `permissions` (403 otherwise)."""
    if not permissions:
        raise ValueError("name at least one permission")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def permitted(*args, **kwargs):
            principal = current_principal()
            missing = sorted(set(permissions) - principal.permissions)
            if missing:
                raise Forbidden(f"This needs the permission {', '.join(missing)}.")
            # After the permission check: a token that could not do this anyway stays a 403.
            _refuse_revoked_on_writes(principal)
            return view(*args, **kwargs)

        return _documented(permitted, 401, 403)

    return decorator
