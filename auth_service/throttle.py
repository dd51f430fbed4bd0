"""Login and registration throttling: atomic, per account *and* client, with progressive delay.

What is counted (OWASP Authentication and Credential Stuffing cheat sheets):

- per account+client: every attempt counts as a failure *before* the password hash runs (the
  check and the count are one atomic step, so parallel guesses cannot slip past the limit); a
  correct password takes its own attempt back and clears the pair. After `free_failures`, each
  further attempt of that account from that client must wait, doubling from `delay_base_seconds`
  up to `delay_max_seconds` (429 with `Retry-After`). The owner's correct password from any other
  client is never refused because of someone else's failures: there is no account lock-out.
- per client (all accounts): failures in the window. Past `failures_per_client` (someone behind
  that address is guessing), each account gets a single free failure from that client before
  the delays begin, so repeated guesses at one account slow down at once, while an account the
  client has not failed on is still checked (a classmate behind the same NAT logs in). Every
  attempt, right or wrong, also counts towards a generous `attempts_per_client` per
  `attempts_window_seconds`, which only bounds the CPU one address can spend on hashes (a
  classroom of 300 logging in within a minute stays far below it).
- per account (all clients): failures in the window. Past `account_alarm_failures` (a spread-out
  attack), every client likewise gets a single free failure for that account; a client without
  failures on the account is still never refused.

The counts must be shared by every gunicorn worker and replica, so they live in Redis when
REDIS_URL is set (one Lua script per decision), else in the auth database (`login_throttle`, rows
read and written under a row lock and committed before the hash), never in process memory.
"""

import hashlib
import ipaddress
import logging
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import redis
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service_kit import DomainError, UpstreamUnavailable

from .models import LoginThrottleCounter

log = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class LoginThrottled(DomainError):
    """Too many attempts; try again in `retry_after` seconds (429)."""

    status = 429

    def __init__(self, retry_after: int, message: str = "Too many failed login attempts."):
        super().__init__(f"{message} Try again later.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class LoginLimits:
    # Failures of one account from one client before further attempts are delayed.
    free_failures: int = 5
    delay_base_seconds: float = 5.0
    delay_max_seconds: float = 15 * 60
    # How long failures are remembered (after the pair's last one; from the client's first).
    window_seconds: int = 15 * 60
    failures_per_client: int = 50
    attempts_per_client: int = 600
    attempts_window_seconds: int = 60
    account_alarm_failures: int = 50
    # Each registration costs an argon2 hash and a row: bounded per client address, loosely
    # enough for a whole classroom behind one address. Every registration request counts, also
    # one for an email that is taken, so probing for accounts is as slow as registering.
    registrations_per_client: int = 100
    registration_window_seconds: int = 60 * 60
    # "Забыли пароль?": requests per client address (then 429, for every address alike), and
    # mails per email address (past it, the answer is the same and no mail goes out: nobody
    # floods an inbox through the portal).
    reset_requests_per_client: int = 30
    reset_mails_per_address: int = 3
    reset_window_seconds: int = 60 * 60
    # One more verification mail per account at most this often.
    verification_resend_seconds: int = 60

    def delay(self, count: int, free: int) -> float:
        """The wait after the `count`-th failure of a pair that had `free` free failures."""
        if count < free:
            return 0.0
        return min(self.delay_max_seconds, self.delay_base_seconds * 2 ** min(count - free, 40))


@dataclass(frozen=True)
class Keys:
    """The counters of one login attempt."""

    pair: str
    client_failures: str
    client_attempts: str
    account_failures: str


class ThrottleStore(Protocol):
    def reserve(self, keys: Keys, limits: LoginLimits, now: float) -> float:
        """Check and count one attempt as a failure, atomically: 0 when it may go ahead, else
        the seconds to wait (nothing counted)."""

    def forgive(self, keys: Keys) -> None:
        """The attempt succeeded: clear the pair, take its failure back from the others."""

    def hit(self, key: str, limit: int, window_seconds: int, now: float) -> float:
        """Count one event; 0 while at most `limit` fell in the window, else seconds to wait."""


# ---- Redis ---------------------------------------------------------------------------------

_RESERVE = """
local now = tonumber(ARGV[1])
local pair = redis.call('HMGET', KEYS[1], 'count', 'not_before')
local count = tonumber(pair[1]) or 0
local not_before = tonumber(pair[2]) or 0
if now < not_before then return tostring(not_before - now) end
local function wait(key)
  local ms = redis.call('PTTL', key)
  if ms < 0 then ms = 1000 end
  return tostring(ms / 1000)
end
if (tonumber(redis.call('GET', KEYS[3])) or 0) >= tonumber(ARGV[7]) then return wait(KEYS[3]) end
local free = tonumber(ARGV[3])
if (tonumber(redis.call('GET', KEYS[2])) or 0) >= tonumber(ARGV[6])
    or (tonumber(redis.call('GET', KEYS[4])) or 0) >= tonumber(ARGV[9]) then
  free = 1
end
count = count + 1
not_before = 0
if count >= free then
  not_before = now + math.min(tonumber(ARGV[5]), tonumber(ARGV[4]) * 2 ^ math.min(count - free, 40))
end
redis.call('HSET', KEYS[1], 'count', count, 'not_before', tostring(not_before))
redis.call('EXPIRE', KEYS[1], ARGV[2])
local ttls = {ARGV[2], ARGV[8], ARGV[2]}
for index = 2, 4 do
  if redis.call('INCR', KEYS[index]) == 1 then
    redis.call('EXPIRE', KEYS[index], ttls[index - 1])
  end
end
return '0'
"""

_FORGIVE = """
redis.call('DEL', KEYS[1])
for index = 2, #KEYS do
  if (tonumber(redis.call('GET', KEYS[index])) or 0) > 0 then redis.call('DECR', KEYS[index]) end
end
return 0
"""

_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if count <= tonumber(ARGV[2]) then return '0' end
local ms = redis.call('PTTL', KEYS[1])
if ms < 0 then ms = 1000 end
return tostring(ms / 1000)
"""


class RedisThrottleStore:
    """Counters in Redis; each decision is one Lua script, so it is atomic across replicas."""

    def __init__(self, client: redis.Redis, prefix: str = "auth:throttle:"):
        self.client = client
        self.prefix = prefix
        self._reserve = client.register_script(_RESERVE)
        self._forgive = client.register_script(_FORGIVE)
        self._hit = client.register_script(_HIT)

    def _names(self, keys: Iterable[str]) -> list[str]:
        return [self.prefix + key for key in keys]

    def reserve(self, keys: Keys, limits: LoginLimits, now: float) -> float:
        names = self._names((keys.pair, keys.client_failures, keys.client_attempts,
                             keys.account_failures))  # fmt: skip
        arguments = [
            repr(now), int(limits.window_seconds), limits.free_failures,
            repr(float(limits.delay_base_seconds)), repr(float(limits.delay_max_seconds)),
            limits.failures_per_client, limits.attempts_per_client,
            int(limits.attempts_window_seconds), limits.account_alarm_failures,
        ]  # fmt: skip
        return float(self._run(self._reserve, names, arguments))

    def forgive(self, keys: Keys) -> None:
        names = self._names((keys.pair, keys.client_failures, keys.account_failures))
        self._run(self._forgive, names, [])

    def hit(self, key: str, limit: int, window_seconds: int, now: float) -> float:
        return float(self._run(self._hit, self._names([key]), [int(window_seconds), limit]))

    @staticmethod
    def _run(script, keys: list[str], arguments: list):
        try:
            return script(keys=keys, args=arguments)
        except redis.RedisError as error:
            # Without its counts the throttle cannot protect logins: refuse rather than skip it.
            raise UpstreamUnavailable("Login is unavailable for a moment.") from error


# ---- the database ----------------------------------------------------------------------------


@dataclass
class _Counter:
    count: int = 0
    not_before: float = 0.0
    expires_at: float = 0.0


class DatabaseThrottleStore:
    """Rows of `login_throttle`, locked while read and written (`INSERT … ON CONFLICT DO UPDATE`
    takes the row lock on PostgreSQL and the write lock on SQLite), then committed at once, so
    concurrent requests of every worker see each other's counts before any hash runs.

    It commits the session it is given: use it first in a request, before anything else is
    written in that session.
    """

    CLEANUP_PROBABILITY = 0.01

    def __init__(self, session: Session):
        self.session = session

    def _lock(self, keys: Iterable[str], now: float) -> dict[str, _Counter]:
        keys = sorted(set(keys))  # one lock order for everybody: no deadlocks
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        for key in keys:
            insert = dialect.insert(LoginThrottleCounter).values(
                key=key, count=0, not_before=0.0, expires_at=0.0
            )
            self.session.execute(
                insert.on_conflict_do_update(
                    index_elements=["key"], set_={"count": LoginThrottleCounter.count}
                )
            )
        rows = self.session.execute(
            select(LoginThrottleCounter).where(LoginThrottleCounter.key.in_(keys))
        ).scalars()
        counters = {key: _Counter() for key in keys}
        for row in rows:
            if row.expires_at > now:
                counters[row.key] = _Counter(row.count, row.not_before, row.expires_at)
        return counters

    def _save(self, counters: dict[str, _Counter], now: float) -> None:
        for key, counter in counters.items():
            self.session.execute(
                update(LoginThrottleCounter)
                .where(LoginThrottleCounter.key == key)
                .values(
                    count=counter.count,
                    not_before=counter.not_before,
                    expires_at=counter.expires_at,
                )
            )
        if random.random() < self.CLEANUP_PROBABILITY:  # not a secret
            self.session.execute(
                delete(LoginThrottleCounter).where(LoginThrottleCounter.expires_at < now)
            )

    def _finish(self, counters: dict[str, _Counter] | None, now: float) -> None:
        try:
            if counters is not None:
                self._save(counters, now)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise

    @staticmethod
    def _incremented(counter: _Counter, now: float, ttl: float) -> None:
        if counter.count == 0:
            counter.expires_at = now + ttl  # a fixed window from the first event
        counter.count += 1

    def reserve(self, keys: Keys, limits: LoginLimits, now: float) -> float:
        counters = self._lock(
            (keys.pair, keys.client_failures, keys.client_attempts, keys.account_failures), now
        )
        pair = counters[keys.pair]
        attempts = counters[keys.client_attempts]
        client = counters[keys.client_failures]
        wait = 0.0
        if now < pair.not_before:
            wait = pair.not_before - now
        elif attempts.count >= limits.attempts_per_client:
            wait = attempts.expires_at - now
        if wait > 0:
            self._finish(None, now)
            return wait
        free = limits.free_failures
        if (
            client.count >= limits.failures_per_client
            or counters[keys.account_failures].count >= limits.account_alarm_failures
        ):
            free = 1
        pair.count += 1
        delay = limits.delay(pair.count, free)
        pair.not_before = now + delay if delay else 0.0
        pair.expires_at = now + limits.window_seconds  # sliding: from the last attempt
        self._incremented(client, now, limits.window_seconds)
        self._incremented(attempts, now, limits.attempts_window_seconds)
        self._incremented(counters[keys.account_failures], now, limits.window_seconds)
        self._finish(counters, now)
        return 0.0

    def forgive(self, keys: Keys) -> None:
        now = time.time()
        counters = self._lock((keys.pair, keys.client_failures, keys.account_failures), now)
        counters[keys.pair] = _Counter()
        for key in (keys.client_failures, keys.account_failures):
            counters[key].count = max(0, counters[key].count - 1)
        self._finish(counters, now)

    def hit(self, key: str, limit: int, window_seconds: int, now: float) -> float:
        counters = self._lock([key], now)
        counter = counters[key]
        self._incremented(counter, now, window_seconds)
        self._finish(counters, now)
        return 0.0 if counter.count <= limit else counter.expires_at - now


# ---- the throttle --------------------------------------------------------------------------


def _key(kind: str, *values: str) -> str:
    # Hashed: the store keeps no email or address, and hostile input cannot shape the key.
    digest = hashlib.sha256()
    for value in values:
        digest.update(value.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return f"{kind}:{digest.hexdigest()}"


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


class LoginThrottle:
    def __init__(self, store: ThrottleStore, limits: LoginLimits):
        self.store = store
        self.limits = limits

    @staticmethod
    def keys(email: str, client: str) -> Keys:
        return Keys(
            pair=_key("pair", email, client),
            client_failures=_key("client", client),
            client_attempts=_key("attempts", client),
            account_failures=_key("account", email),
        )

    def reserve(self, email: str, client: str) -> None:
        """Check and count this attempt before the hash; raise `LoginThrottled` (nothing
        counted) when this client must wait for this account."""
        wait = self.store.reserve(self.keys(email, client), self.limits, time.time())
        if wait > 0:
            log.warning("login refused by the throttle", extra={"fields": {"client": client}})
            raise LoginThrottled(retry_after=_seconds(wait))

    def succeeded(self, email: str, client: str) -> None:
        """The password was right: the attempt was no failure, and this pair starts afresh."""
        self.store.forgive(self.keys(email, client))

    def check_registration(self, client: str) -> None:
        """Count this registration request; raise `LoginThrottled` past the client's limit."""
        wait = self.store.hit(
            _key("register", client),
            self.limits.registrations_per_client,
            self.limits.registration_window_seconds,
            time.time(),
        )
        if wait > 0:
            raise LoginThrottled(_seconds(wait), "Too many new accounts from this address.")

    def check_reset_request(self, client: str) -> None:
        wait = self.store.hit(
            _key("reset-client", client),
            self.limits.reset_requests_per_client,
            self.limits.reset_window_seconds,
            time.time(),
        )
        if wait > 0:
            raise LoginThrottled(_seconds(wait), "Too many password reset requests.")

    def reset_mail_allowed(self, email: str) -> bool:
        wait = self.store.hit(
            _key("reset-address", email),
            self.limits.reset_mails_per_address,
            self.limits.reset_window_seconds,
            time.time(),
        )
        return wait <= 0

    def check_verification_resend(self, account: str) -> None:
        wait = self.store.hit(
            _key("verify-resend", account), 1, self.limits.verification_resend_seconds, time.time()
        )
        if wait > 0:
            raise LoginThrottled(_seconds(wait), "A verification mail was sent a moment ago.")


# ---- the client's address --------------------------------------------------------------------


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """TRUSTED_PROXIES: comma-separated addresses or networks (`10.0.0.0/8, ::1`)."""
    items = (item.strip() for item in value.split(","))
    return tuple(ipaddress.ip_network(item, strict=False) for item in items if item)


def client_address(
    remote_addr: str | None, forwarded_for: str | None, trusted: tuple[IPNetwork, ...]
) -> str:
    """The client's address: X-Forwarded-For is believed only as far as trusted proxies wrote it.

    The peer (REMOTE_ADDR) is the client unless it is a trusted proxy. A trusted proxy appends
    the address it saw, so walking the header from the right, the first address that is not a
    trusted proxy is the client; anything left of it was written by the client and is never
    read. With no trusted proxies (the default) the header is ignored altogether.
    """
    address = remote_addr or "unknown"
    if not forwarded_for or not _is_trusted(address, trusted):
        return address
    for hop in reversed(forwarded_for.split(",")):
        try:
            address = str(ipaddress.ip_address(hop.strip()))
        except ValueError:
            return address  # a trusted proxy never writes junk; stop at the last sure hop
        if not _is_trusted(address, trusted):
            return address
    return address


def _is_trusted(address: str, trusted: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
