"""Failed-login counting on the database and on Redis, and whose address a request comes from."""

import time

import pytest

from auth_service.throttle import LoginLimits, LoginThrottle, LoginThrottled, client_address
from auth_service.throttle import parse_networks as networks

LIMITS = LoginLimits(failures_per_account=3, failures_per_client=5, window_seconds=60)


@pytest.fixture
def throttle(failure_store):
    return LoginThrottle(failure_store, LIMITS)


def fail(throttle, email, client, times, session):
    for _ in range(times):
        throttle.check(email, client)
        throttle.record_failure(email, client)
    session.commit()


def test_an_account_is_throttled_after_its_failures(throttle, session):
    fail(throttle, "ann@example.edu", "10.0.0.1", 3, session)
    with pytest.raises(LoginThrottled) as raised:
        throttle.check("ann@example.edu", "10.0.0.99")  # from anywhere
    assert 55 <= raised.value.retry_after <= 60
    throttle.check("bob@example.edu", "10.0.0.1")  # other accounts are not affected


def test_a_client_is_throttled_after_its_failures_across_accounts(throttle, session):
    for number in range(5):
        fail(throttle, f"user{number}@example.edu", "10.0.0.1", 1, session)
    with pytest.raises(LoginThrottled):
        throttle.check("someone-else@example.edu", "10.0.0.1")
    throttle.check("someone-else@example.edu", "10.0.0.2")


def test_successes_do_not_count_so_a_classroom_can_log_in(throttle, session):
    for number in range(40):
        throttle.check(f"student{number}@example.edu", "192.0.2.7")
        throttle.record_success(f"student{number}@example.edu")
    session.commit()
    throttle.check("student41@example.edu", "192.0.2.7")


def test_a_success_clears_the_account_count(throttle, session):
    fail(throttle, "ann@example.edu", "10.0.0.1", 2, session)
    throttle.record_success("ann@example.edu")
    fail(throttle, "ann@example.edu", "10.0.0.1", 2, session)
    throttle.check("ann@example.edu", "10.0.0.1")


def test_failures_leave_the_window_so_there_is_no_lockout(failure_store, session):
    throttle = LoginThrottle(failure_store, LoginLimits(1, 10, window_seconds=1))
    fail(throttle, "ann@example.edu", "10.0.0.1", 1, session)
    with pytest.raises(LoginThrottled) as raised:
        throttle.check("ann@example.edu", "10.0.0.1")
    assert raised.value.retry_after == 1
    time.sleep(1.1)
    throttle.check("ann@example.edu", "10.0.0.1")


def test_hostile_account_names_are_just_keys(throttle, session):
    for number, email in enumerate(["", "x" * 5000, "😀@ü.example", "a\x00b", "\ud800"]):
        fail(throttle, email, f"junk\x00 ü {number}", 3, session)
        with pytest.raises(LoginThrottled):
            throttle.check(email, "::1")


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
        # A chain of trusted proxies is walked through.
        ("127.0.0.1", "198.51.100.7, 10.1.2.3", "198.51.100.7"),
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


def test_trusted_proxies_parse_addresses_and_networks():
    assert [str(n) for n in networks(" 127.0.0.1 ,10.0.0.0/8,,::1")] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    with pytest.raises(ValueError):
        networks("localhost")
