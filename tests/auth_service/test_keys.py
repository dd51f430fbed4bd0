"""The signing key files: generation, RFC 7638 kids, rotation, and reloading when they change."""

import stat
import threading

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from auth_service.keys import (
    SigningKeys,
    create_key_file,
    previous_key_path,
    public_jwk,
    rotate_key_file,
)


def test_the_kid_is_the_rfc_7638_thumbprint():
    # The worked example of RFC 7638 §3.1.
    n = int.from_bytes(
        jwt.utils.base64url_decode(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
            "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65Y"
            "GjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrd"
            "kt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKn"
            "qDKgw"
        ),
        "big",
    )
    public_key = rsa.RSAPublicNumbers(65537, n).public_key()
    assert public_jwk(public_key)["kid"] == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_a_generated_key_file_is_private_to_its_owner(tmp_path):
    path = tmp_path / "var" / "jwt-private.pem"
    assert create_key_file(path) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert create_key_file(path) is False  # never overwritten


def test_workers_starting_together_agree_on_one_key(tmp_path):
    path = tmp_path / "jwt-private.pem"
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(create_key_file(path))) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1
    assert list(tmp_path.iterdir()) == [path]  # no temporary files left behind


def test_a_missing_key_is_generated_only_when_allowed(tmp_path):
    with pytest.raises(FileNotFoundError):
        SigningKeys(tmp_path / "absent.pem").current()
    keys = SigningKeys(tmp_path / "local.pem", generate_if_missing=True)
    assert keys.current().kid == keys.jwks()["keys"][0]["kid"]


def test_a_weak_key_is_refused(tmp_path):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = tmp_path / "weak.pem"
    path.write_bytes(
        weak.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValueError):
        SigningKeys(path).current()


def test_the_jwks_publishes_only_public_members(tmp_path):
    keys = SigningKeys(tmp_path / "k.pem", generate_if_missing=True)
    (published,) = keys.jwks()["keys"]
    assert set(published) == {"kty", "n", "e", "kid", "use", "alg"}
    assert published["alg"] == "RS256" and published["use"] == "sig"


def test_rotation_publishes_the_new_and_the_previous_key(tmp_path):
    path = tmp_path / "k.pem"
    keys = SigningKeys(path, generate_if_missing=True)
    old_kid = keys.current().kid
    new_kid = rotate_key_file(path)
    assert new_kid != old_kid
    # The running service notices the changed files without a restart.
    assert keys.current().kid == new_kid
    assert [key["kid"] for key in keys.jwks()["keys"]] == [new_kid, old_kid]
    # Only the public half of the retired key is kept.
    assert b"PRIVATE" not in previous_key_path(path).read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_second_rotation_retires_the_oldest_key(tmp_path):
    path = tmp_path / "k.pem"
    keys = SigningKeys(path, generate_if_missing=True)
    first = keys.current().kid
    second = rotate_key_file(path)
    third = rotate_key_file(path)
    kids = [key["kid"] for key in keys.jwks()["keys"]]
    assert kids == [third, second]
    assert first not in kids


def test_a_private_previous_key_is_published_as_public(tmp_path):
    """Operators may mount the old private key as `.previous`; only its public half goes out."""
    path = tmp_path / "k.pem"
    create_key_file(path)
    old_kid = SigningKeys(path).current().kid
    previous_key_path(path).write_bytes(path.read_bytes())
    path.unlink()
    create_key_file(path)
    published = SigningKeys(path).jwks()["keys"]
    assert published[1]["kid"] == old_kid
    assert "d" not in published[1]
