"""The operator commands, run as `python -m auth_service ...` would run them."""

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from auth_service.__main__ import cli
from auth_service.keys import SigningKeys
from auth_service.models import User
from auth_service.passwords import PasswordHasher


@pytest.fixture
def run(database_url, tmp_path):
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "JWT_PRIVATE_KEY_FILE": str(tmp_path / "jwt-private.pem"),
    }

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def test_create_user_creates_then_updates(run, session):
    created = run("create-user", "--email", "Op@Example.edu", "--password", "first-pass-1",
                  "--role", "admin", "--full-name", "Operator")  # fmt: skip
    assert created.exit_code == 0 and "created user" in created.output
    updated = run("create-user", "--email", "op@example.edu", "--password", "second-pass-2",
                  "--role", "teacher")  # fmt: skip
    assert updated.exit_code == 0 and "updated user" in updated.output
    (user,) = session.scalars(select(User)).all()
    assert (user.email, user.full_name, user.role.name) == ("op@example.edu", "Operator", "teacher")
    assert PasswordHasher().verify(user.password_hash, "second-pass-2")
    assert "second-pass-2" not in created.output + updated.output


@pytest.mark.parametrize(
    "args",
    [
        ("--email", "not-an-email", "--password", "long-enough", "--role", "admin"),
        ("--email", "a@example.edu", "--password", "short", "--role", "admin"),
        ("--email", "a@example.edu", "--password", "long-enough", "--role", "root"),
    ],
)
def test_create_user_refuses_bad_options(run, session, args):
    result = run("create-user", *args)
    assert result.exit_code == 2
    assert session.scalars(select(User)).all() == []


def test_seed_demo_then_user_id(run):
    first = run("seed-demo")
    assert first.exit_code == 0 and first.output.count("created:") == 3
    again = run("seed-demo")
    assert again.exit_code == 0 and again.output.count("exists:") == 3
    teacher_id = run("user-id", "--email", "teacher@example.edu")
    assert teacher_id.exit_code == 0
    assert teacher_id.output.strip().isdigit()
    assert f"user {teacher_id.output.strip()} teacher@example.edu" in first.output


def test_user_id_of_an_unknown_email_fails(run):
    result = run("user-id", "--email", "nobody@example.edu")
    assert result.exit_code == 1
    assert "no user with email nobody@example.edu" in result.output


def test_create_key_then_rotate_key(run, tmp_path):
    path = tmp_path / "jwt-private.pem"
    assert "created" in run("create-key").output
    assert "kept" in run("create-key").output
    first_kid = SigningKeys(path).current().kid
    rotated = run("rotate-key")
    assert rotated.exit_code == 0
    keys = SigningKeys(path)
    assert keys.current().kid != first_kid
    assert [key["kid"] for key in keys.jwks()["keys"]][1] == first_kid
