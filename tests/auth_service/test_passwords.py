"""argon2id hashing: OWASP parameters by default, a dummy check for unknown users."""

import time

from auth_service.passwords import OWASP_PARAMETERS, PasswordHasher


def test_the_default_is_argon2id_with_owasp_parameters():
    password_hash = PasswordHasher().hash("correct-horse")
    assert password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert OWASP_PARAMETERS == {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}


def test_verify_accepts_only_the_right_password(hasher):
    password_hash = hasher.hash("correct-horse")
    assert hasher.verify(password_hash, "correct-horse")
    assert not hasher.verify(password_hash, "correct-horsE")
    assert not hasher.verify(password_hash, "")


def test_a_broken_stored_hash_is_a_mismatch_not_a_crash(hasher):
    assert not hasher.verify("not-a-hash", "correct-horse")
    assert not hasher.verify("$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB", "correct-horse")


def test_an_unknown_user_costs_a_hash_too():
    hasher = PasswordHasher()
    real = hasher.hash("correct-horse")
    hasher.verify(None, "warm-up")  # the dummy hash is made once, on first use

    def duration(password_hash):
        started = time.perf_counter()
        assert not hasher.verify(password_hash, "wrong-password")
        return time.perf_counter() - started

    known = min(duration(real) for _ in range(3))
    unknown = min(duration(None) for _ in range(3))
    # Same argon2 work either way; a missing user must not answer in a fraction of the time.
    assert unknown > known * 0.5


def test_hashes_made_with_other_parameters_need_a_rehash(hasher):
    assert PasswordHasher().needs_rehash(hasher.hash("correct-horse"))
    assert not hasher.needs_rehash(hasher.hash("correct-horse"))
