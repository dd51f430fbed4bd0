"""Login throttling: failed attempts per account and per client, in a sliding window.

Checked before the password hash runs, so guessing costs the attacker time and the server no CPU.
Only failures count: a classroom behind one address can log in at once, and a user who logs in
successfully clears their account's count. Nothing locks an account for good: once the oldest
failure leaves the window, the next attempt is allowed.

The counts must be shared by every gunicorn worker and replica, so they live in Redis when
REDIS_URL is set, else in the auth database (`login_failures`), never in process memory.
"""

import hashlib
import ipaddress
import math
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import redis
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from service_kit import DomainError, UpstreamUnavailable
from service_kit.db import utcnow

from .models import LoginFailure

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class LoginThrottled(DomainError):
    """Too many failed logins; try again in `retry_after` seconds (429)."""

    status = 429

    def __init__(self, retry_after: int, message: str = "Too many failed login attempts."):
        super().__init__(f"{message} Try again later.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class LoginLimits:
    failures_per_account: int = 5
    failures_per_client: int = 50
    window_seconds: int = 15 * 60
    # Each registration costs an argon2 hash and a row: bounded per client address, loosely
    # enough for a whole classroom behind one address.
    registrations_per_client: int = 100
    registration_window_seconds: int = 60 * 60


class FailureStore(Protocol):
    def failures(self, key: str, window_seconds: int) -> tuple[int, float | None]:
        """How many failures `key` had within the window, and when the oldest was (epoch s)."""

    def add_failure(self, key: str, window_seconds: int) -> None: ...

    def clear(self, key: str) -> None: ...


class RedisFailureStore:
    """A sorted set per key, scored by time; entries older than the window are trimmed."""

    def __init__(self, client: redis.Redis, prefix: str = "auth:login-failures:"):
        self.client = client
        self.prefix = prefix

    def failures(self, key: str, window_seconds: int) -> tuple[int, float | None]:
        name = self.prefix + key
        pipeline = self.client.pipeline()
        pipeline.zremrangebyscore(name, "-inf", time.time() - window_seconds)
        pipeline.zrange(name, 0, 0, withscores=True)
        pipeline.zcard(name)
        _trimmed, oldest, count = self._run(pipeline)
        return count, (oldest[0][1] if oldest else None)

    def add_failure(self, key: str, window_seconds: int) -> None:
        name = self.prefix + key
        pipeline = self.client.pipeline()
        pipeline.zadd(name, {uuid.uuid4().hex: time.time()})
        pipeline.expire(name, window_seconds)
        self._run(pipeline)

    def clear(self, key: str) -> None:
        self._run(self.client.pipeline().delete(self.prefix + key))

    @staticmethod
    def _run(pipeline) -> list:
        try:
            return pipeline.execute()
        except redis.RedisError as error:
            # Without its counts the throttle cannot protect logins: refuse rather than skip it.
            raise UpstreamUnavailable("Login is unavailable for a moment.") from error


class DatabaseFailureStore:
    """Rows in `login_failures`; written in the caller's session, which the caller commits."""

    def __init__(self, session: Session):
        self.session = session

    def failures(self, key: str, window_seconds: int) -> tuple[int, float | None]:
        since = utcnow() - timedelta(seconds=window_seconds)
        count, oldest = self.session.execute(
            select(func.count(), func.min(LoginFailure.failed_at)).where(
                LoginFailure.key == key, LoginFailure.failed_at > since
            )
        ).one()
        return count, (oldest.timestamp() if oldest else None)

    def add_failure(self, key: str, window_seconds: int) -> None:
        now = utcnow()
        # Old rows of this key go as new ones come, so the table stays small.
        self.session.execute(
            delete(LoginFailure).where(
                LoginFailure.key == key,
                LoginFailure.failed_at <= now - timedelta(seconds=window_seconds),
            )
        )
        self.session.add(LoginFailure(key=key, failed_at=now))

    def clear(self, key: str) -> None:
        self.session.execute(delete(LoginFailure).where(LoginFailure.key == key))


def _key(kind: str, value: str) -> str:
    # Hashed: the store keeps no email or address, and hostile input cannot shape the key.
    return f"{kind}:{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()}"


class LoginThrottle:
    def __init__(self, store: FailureStore, limits: LoginLimits):
        self.store = store
        self.limits = limits

    def check(self, email: str, client: str) -> None:
        """Raise `LoginThrottled` when the account or the client has used up its failures."""
        window = self.limits.window_seconds
        waits = []
        for key, limit in (
            (_key("account", email), self.limits.failures_per_account),
            (_key("client", client), self.limits.failures_per_client),
        ):
            count, oldest = self.store.failures(key, window)
            if count >= limit and oldest is not None:
                waits.append(oldest + window - time.time())
        if waits:
            raise LoginThrottled(retry_after=max(1, math.ceil(max(waits))))

    def record_failure(self, email: str, client: str) -> None:
        window = self.limits.window_seconds
        self.store.add_failure(_key("account", email), window)
        self.store.add_failure(_key("client", client), window)

    def record_success(self, email: str) -> None:
        self.store.clear(_key("account", email))

    def check_registration(self, client: str) -> None:
        """Raise `LoginThrottled` when the client has registered too many accounts lately."""
        window = self.limits.registration_window_seconds
        count, oldest = self.store.failures(_key("register", client), window)
        if count >= self.limits.registrations_per_client and oldest is not None:
            wait = max(1, math.ceil(oldest + window - time.time()))
            raise LoginThrottled(wait, "Too many new accounts from this address.")

    def record_registration(self, client: str) -> None:
        self.store.add_failure(_key("register", client), self.limits.registration_window_seconds)


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """TRUSTED_PROXIES: comma-separated addresses or networks (`10.0.0.0/8, ::1`)."""
    items = (item.strip() for item in value.split(","))
    return tuple(ipaddress.ip_network(item, strict=False) for item in items if item)


def client_address(
    remote_addr: str | None, forwarded_for: str | None, trusted: tuple[IPNetwork, ...]
) -> str:
    """The client's address: X-Forwarded-For is believed only as far as trusted proxies wrote it.

    Walking the header from the right, each entry was written by the hop after it; the first
    entry not written by a trusted proxy is the client. A client can prepend anything it likes,
    so entries left of that are never read.
    """
    address = remote_addr or "unknown"
    if not forwarded_for:
        return address
    for hop in reversed(forwarded_for.split(",")):
        if not _is_trusted(address, trusted):
            return address
        try:
            address = str(ipaddress.ip_address(hop.strip()))
        except ValueError:
            return address  # a trusted proxy never writes junk; stop at the last sure hop
    return address


def _is_trusted(address: str, trusted: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
