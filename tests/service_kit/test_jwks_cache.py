"""The last good JWKS survives a restart: a process that starts while auth is down verifies
tokens with the keys kept on disk, and goes back to auth's keys as soon as it answers."""

import json

import pytest

from service_kit import create_service_app
from service_kit.auth import (
    InvalidToken,
    KeysUnavailable,
    TokenVerifier,
    init_auth,
    load_jwks_cache,
    save_jwks_cache,
)
from tests.support.tokens import TokenIssuer


@pytest.fixture
def issuer():
    with TokenIssuer() as token_issuer:
        yield token_issuer


class Source:
    """A JWKS source that can be switched off, like auth during an outage."""

    def __init__(self, issuer: TokenIssuer):
        self.issuer = issuer
        self.up = True
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if not self.up:
            raise ConnectionError("auth is down")
        return self.issuer.jwks()


def verifier(issuer, source, cache_file, **options) -> TokenVerifier:
    return TokenVerifier(
        issuer.jwks_url,
        issuer.issuer,
        issuer.audience,
        jwks_source=source,
        cache_file=cache_file,
        **options,
    )


def test_a_restart_during_an_auth_outage_uses_the_kept_keys(issuer, tmp_path):
    cache_file = tmp_path / "jwks.json"
    source = Source(issuer)
    token = issuer.token(5, "teacher")
    assert verifier(issuer, source, cache_file).verify(token)["sub"] == "5"
    assert cache_file.exists()

    source.up = False  # auth goes down; the process restarts
    restarted = verifier(issuer, source, cache_file)
    restarted.ensure_keys()  # readiness: keys known
    assert restarted.verify(token)["sub"] == "5"
    with pytest.raises(InvalidToken):
        restarted.verify(issuer.token_foreign_key(5))


def test_without_a_kept_file_an_outage_still_means_no_keys(issuer, tmp_path):
    source = Source(issuer)
    source.up = False
    fresh = verifier(issuer, source, tmp_path / "none.json")
    with pytest.raises(KeysUnavailable):
        fresh.ensure_keys()
    with pytest.raises(KeysUnavailable):
        fresh.verify(issuer.token(5))


def test_kept_keys_are_replaced_by_auths_as_soon_as_it_answers(issuer, tmp_path):
    cache_file = tmp_path / "jwks.json"
    source = Source(issuer)
    verifier(issuer, source, cache_file).ensure_keys()
    source.up = False
    restarted = verifier(issuer, source, cache_file, refetch_interval=0.0)
    restarted.ensure_keys()
    old_kid = issuer.kid
    issuer.rotate(keep_previous=False)  # auth withdrew the old key meanwhile
    source.up = True
    # The kept keys are stale: the next verification asks auth again and drops the old key.
    assert restarted.verify(issuer.token(6))["sub"] == "6"
    assert restarted.key_ids == {issuer.kid}
    kept = json.loads(cache_file.read_text())["jwks"]["keys"]
    assert old_kid not in [key["kid"] for key in kept]


def test_no_keys_at_all_asks_auth_again_within_a_second(issuer, tmp_path, monkeypatch):
    source = Source(issuer)
    source.up = False
    fresh = verifier(issuer, source, None)
    with pytest.raises(KeysUnavailable):
        fresh.verify(issuer.token(5))
    calls = source.calls
    source.up = True
    clock = [fresh._attempted_at + 1.01]
    monkeypatch.setattr("service_kit.auth.time.monotonic", lambda: clock[0])
    assert fresh.verify(issuer.token(5))["sub"] == "5"
    assert source.calls == calls + 1


def test_the_file_is_used_only_for_its_own_jwks_url(issuer, tmp_path):
    cache_file = tmp_path / "jwks.json"
    save_jwks_cache(cache_file, issuer.jwks_url, issuer.jwks())
    assert set(load_jwks_cache(cache_file, issuer.jwks_url)) == {issuer.kid}
    assert load_jwks_cache(cache_file, "http://elsewhere/jwks.json") is None


@pytest.mark.parametrize("content", ["", "{", "[]", '{"jwks_url": null, "jwks": {"keys": []}}'])
def test_a_damaged_file_is_ignored(tmp_path, content):
    cache_file = tmp_path / "jwks.json"
    cache_file.write_text(content)
    assert load_jwks_cache(cache_file, None) is None


def test_an_unwritable_place_does_not_break_verification(issuer, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    source = Source(issuer)
    checker = verifier(issuer, source, blocked / "jwks.json")  # a directory that cannot exist
    assert checker.verify(issuer.token(5))["sub"] == "5"


def test_services_keep_the_keys_in_the_configured_file(issuer, tmp_path):
    cache_file = tmp_path / "kept" / "jwks.json"
    app, _api = create_service_app(
        "demo",
        __name__,
        {"AUTH_JWKS_URL": issuer.jwks_url, "JWKS_CACHE_FILE": str(cache_file)},
        title="demo",
        database=False,
    )
    init_auth(app).verify(issuer.token(5))
    assert json.loads(cache_file.read_text())["jwks_url"] == issuer.jwks_url
