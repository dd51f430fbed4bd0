"""Login throttling on the database and on Redis: per account and client, atomic, progressive;
and whose address a request comes from."""

import threading
import time

import pytest
import redis
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from auth_service import settings as auth_settings
from auth_service.throttle import (
    DatabaseThrottleStore,
    LoginLimits,
    LoginThrottle,
    LoginThrottled,
    RedisThrottleStore,
    client_address,
)
from auth_service.throttle import parse_networks as networks

from .conftest import redis_url

LIMITS = LoginLimits(free_failures=3, failures_per_client=5, window_seconds=60)
OWNER, ATTACKER = "192.0.2.10", "203.0.113.66"


@pytest.fixture
def throttle(throttle_store):
    return LoginThrottle(throttle_store, LIMITS)


def fail(throttle, email, client, times):
    """`times` wrong passwords (the attempt is counted as a failure when it is checked)."""
    for _ in range(times):
        throttle.reserve(email, client)


def succeed(throttle, email, client):
    throttle.reserve(email, client)
    throttle.succeeded(email, client)


def test_failures_elsewhere_never_refuse_the_owners_correct_password(throttle):
    # Before: five failures from anywhere made the owner's right password answer 429.
    fail(throttle, "ann@example.edu", ATTACKER, 3)
    with pytest.raises(LoginThrottled):
        throttle.reserve("ann@example.edu", ATTACKER)
    for _ in range(10):
        succeed(throttle, "ann@example.edu", OWNER)


def test_a_pairs_waits_grow_exponentially(throttle_store):
    limits = LoginLimits(free_failures=2, delay_base_seconds=10, delay_max_seconds=35)
    throttle = LoginThrottle(throttle_store, limits)
    fail(throttle, "ann@example.edu", ATTACKER, 2)
    waits = []
    for _ in range(4):
        with pytest.raises(LoginThrottled) as raised:
            throttle.reserve("ann@example.edu", ATTACKER)
        waits.append(raised.value.retry_after)
        _expire_wait(throttle_store, throttle, "ann@example.edu", ATTACKER)
        throttle.reserve("ann@example.edu", ATTACKER)  # allowed once the wait is over
    assert waits[0] == 10 and waits[1] == 20 and waits[2] == 35 and waits[3] == 35


def _expire_wait(store, throttle, email, client):
    """Let a pair's current wait run out without sleeping through it."""
    key = throttle.keys(email, client).pair
    if isinstance(store, RedisThrottleStore):
        store.client.hset(store.prefix + key, "not_before", "0")
    else:
        from auth_service.models import LoginThrottleCounter

        store.session.query(LoginThrottleCounter).filter_by(key=key).update({"not_before": 0})
        store.session.commit()


def test_a_wait_runs_out_so_there_is_no_lockout(throttle_store):
    throttle = LoginThrottle(throttle_store, LoginLimits(free_failures=1, delay_base_seconds=1))
    fail(throttle, "ann@example.edu", ATTACKER, 1)
    with pytest.raises(LoginThrottled) as raised:
        throttle.reserve("ann@example.edu", ATTACKER)
    assert raised.value.retry_after == 1
    time.sleep(1.1)
    succeed(throttle, "ann@example.edu", ATTACKER)


def test_a_success_clears_the_pair(throttle):
    fail(throttle, "ann@example.edu", OWNER, 2)
    succeed(throttle, "ann@example.edu", OWNER)
    fail(throttle, "ann@example.edu", OWNER, 2)
    succeed(throttle, "ann@example.edu", OWNER)


def test_a_classroom_behind_one_address_is_unaffected(throttle_store):
    # 300 students from one address within a minute, each with their own account, while a
    # classmate guesses at other accounts until the room is far past its failure limit.
    throttle = LoginThrottle(throttle_store, LoginLimits())
    room = "198.51.100.20"
    for number in range(60):
        fail(throttle, f"victim{number}@example.edu", room, 1)
    for number in range(300):
        succeed(throttle, f"student{number}@example.edu", room)
    # A typo in the room now costs its author a few seconds' wait, nothing more.
    fail(throttle, "student7@example.edu", room, 1)
    with pytest.raises(LoginThrottled) as raised:
        throttle.reserve("student7@example.edu", room)
    assert raised.value.retry_after == LoginLimits().delay_base_seconds


def test_a_client_past_its_failures_is_slowed_at_once_on_accounts_it_failed_on(throttle):
    for number in range(5):
        fail(throttle, f"user{number}@example.edu", ATTACKER, 1)
    fail(throttle, "user0@example.edu", ATTACKER, 1)  # the first failure on it was free
    with pytest.raises(LoginThrottled):
        throttle.reserve("user0@example.edu", ATTACKER)
    # An account this client has not failed on is still checked (its owner may sit there) ...
    succeed(throttle, "someone-else@example.edu", ATTACKER)
    # ... and other clients are not affected at all.
    succeed(throttle, "user0@example.edu", OWNER)


def test_every_attempt_of_a_client_is_bounded_generously(throttle_store):
    throttle = LoginThrottle(throttle_store, LoginLimits(attempts_per_client=3))
    for number in range(3):
        succeed(throttle, f"user{number}@example.edu", ATTACKER)
    with pytest.raises(LoginThrottled) as raised:
        throttle.reserve("user9@example.edu", ATTACKER)
    assert 0 < raised.value.retry_after <= 60
    succeed(throttle, "user9@example.edu", OWNER)


def test_a_spread_out_attack_leaves_each_new_client_one_free_failure(throttle_store):
    limits = LoginLimits(free_failures=5, account_alarm_failures=4)
    throttle = LoginThrottle(throttle_store, limits)
    for number in range(4):
        fail(throttle, "ann@example.edu", f"203.0.113.{number}", 1)
    fail(throttle, "ann@example.edu", "203.0.113.200", 1)  # the first attempt is checked
    with pytest.raises(LoginThrottled):
        throttle.reserve("ann@example.edu", "203.0.113.200")
    succeed(throttle, "ann@example.edu", OWNER)  # a client without failures: never refused


def test_hostile_account_names_are_just_keys(throttle):
    for number, email in enumerate(["", "x" * 5000, "😀@ü.example", "a\x00b", "\ud800"]):
        fail(throttle, email, f"junk\x00 ü {number}", 3)
        with pytest.raises(LoginThrottled):
            throttle.reserve(email, f"junk\x00 ü {number}")


def test_registrations_are_counted_per_client(throttle_store):
    throttle = LoginThrottle(throttle_store, LoginLimits(registrations_per_client=2))
    throttle.check_registration(ATTACKER)
    throttle.check_registration(ATTACKER)
    with pytest.raises(LoginThrottled) as raised:
        throttle.check_registration(ATTACKER)
    assert 3500 < raised.value.retry_after <= 3600
    throttle.check_registration(OWNER)


# Atomicity: parallel guesses, each in its own worker -----------------------------------------


@pytest.fixture(params=["database", "redis"])
def store_factory(request, database_url, redis_prefix):
    """A new store per thread (its own session or connection), as in separate workers."""
    if request.param == "database":
        engines = []

        def make():
            engine = create_engine(database_url)
            engines.append(engine)
            return DatabaseThrottleStore(Session(engine))

        yield make
        for engine in engines:
            engine.dispose()
        return
    url = redis_url()
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    yield lambda: RedisThrottleStore(redis.Redis.from_url(url), prefix=redis_prefix)


def test_parallel_guesses_cannot_pass_one_check_together(store_factory):
    # Before: the check and the count were separate steps, and 11 of 20 parallel guesses were
    # checked against a limit of 5.
    limits = LoginLimits(free_failures=5, delay_base_seconds=60)
    stores = [store_factory() for _ in range(20)]
    barrier = threading.Barrier(len(stores))
    checked, refused, errors = [], [], []

    def guess(store):
        barrier.wait()
        try:
            LoginThrottle(store, limits).reserve("ann@example.edu", ATTACKER)
            checked.append(1)
        except LoginThrottled:
            refused.append(1)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=guess, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(checked) == 5 and len(refused) == 15


# Whose address --------------------------------------------------------------------------------


TRUSTED = networks("127.0.0.1, 10.1.0.0/16, ::1")


@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        ("203.0.113.5", None, "203.0.113.5"),
        # An untrusted caller cannot choose its address.
        ("203.0.113.5", "1.2.3.4", "203.0.113.5"),
        # The gateway (trusted) says who connected to it.
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
        # A client's own X-Forwarded-For entries, left of the proxy's, are ignored.
        ("127.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        # A chain of trusted proxies is walked through: the right-most untrusted address.
        ("127.0.0.1", "198.51.100.7, 10.1.2.3", "198.51.100.7"),
        ("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.1.2.3", "198.51.100.7"),
        ("::1", "2001:db8::1", "2001:db8::1"),
        # Junk where a proxy's entry should be: stop at the last address known for sure.
        ("127.0.0.1", "not-an-ip", "127.0.0.1"),
        ("127.0.0.1", "198.51.100.7, ", "127.0.0.1"),
        # Only trusted hops: the leftmost is as far as we can see.
        ("127.0.0.1", "10.1.0.9", "10.1.0.9"),
        (None, None, "unknown"),
    ],
)
def test_client_address_believes_only_trusted_proxies(remote, forwarded, client):
    assert client_address(remote, forwarded, TRUSTED) == client


def test_by_default_no_forwarded_address_is_believed(monkeypatch):
    # Before: 127.0.0.1 was trusted by default, so anything on the host (a sidecar, a local
    # client) could name any address and dodge the per-client counts.
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    trusted = networks(auth_settings.from_environment()["TRUSTED_PROXIES"])
    assert trusted == ()
    assert client_address("127.0.0.1", "198.51.100.7", trusted) == "127.0.0.1"


def test_trusted_proxies_parse_addresses_and_networks():
    assert [str(n) for n in networks(" 127.0.0.1 ,10.0.0.0/8,,::1")] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    with pytest.raises(ValueError):
        networks("localhost")
