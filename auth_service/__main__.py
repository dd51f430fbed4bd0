"""Operator commands, with the configuration of the running service:

python -m auth_service migrate
python -m auth_service create-user --email E --password P --role admin|teacher|student
python -m auth_service seed-demo              demo accounts (local development only)
python -m auth_service user-id --email E      prints the id, e.g. for catalog's seed-demo
python -m auth_service rotate-key             new signing key; the old one stays published
"""

from pathlib import Path

import click
from marshmallow import ValidationError, validate

from service_kit import get_session
from service_kit.cli import service_cli

from . import create_app, services
from .keys import create_key_file, rotate_key_file
from .schemas import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

cli = service_cli("auth", "auth_service")


@cli.command("create-user")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option("--role", required=True, type=click.Choice(["admin", "teacher", "student"]))
@click.option("--full-name", default=None, help="Defaults to the part of the email before @.")
def create_user(email: str, password: str, role: str, full_name: str | None):
    """Create an account, or reset the password and role of an existing one."""
    try:
        validate.Email()(email)
    except ValidationError as error:
        raise click.BadParameter("not an email address", param_hint="--email") from error
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise click.BadParameter(
            f"must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters",
            param_hint="--password",
        )
    app = create_app()
    with app.app_context():
        user, created = services.save_user(
            get_session(), app.extensions["password_hasher"], email, password, role, full_name
        )
        click.echo(f"{'created' if created else 'updated'} user {user.id} {user.email} ({role})")


@cli.command("seed-demo")
def seed_demo():
    """Create the demo accounts that do not exist yet (their passwords are public)."""
    app = create_app()
    with app.app_context():
        for user, created in services.seed_demo_accounts(
            get_session(), app.extensions["password_hasher"]
        ):
            state = "created" if created else "exists"
            click.echo(f"{state}: user {user.id} {user.email} ({user.role.name})")


@cli.command("user-id")
@click.option("--email", required=True)
def user_id(email: str):
    """Print the id of the account with this email (exit status 1 if there is none)."""
    app = create_app()
    with app.app_context():
        user = services.find_user(get_session(), email)
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    click.echo(user.id)


@cli.command("create-key")
def create_key():
    """Create the signing key file (mode 0600) unless it exists; `make run` calls this."""
    path = Path(create_app().config["JWT_PRIVATE_KEY_FILE"])
    created = create_key_file(path)
    click.echo(f"{'created' if created else 'kept'} the signing key in {path}")


@cli.command("rotate-key")
def rotate_key():
    """Sign with a new key from now on; the previous key stays in the JWKS for verification."""
    app = create_app()
    path = Path(app.config["JWT_PRIVATE_KEY_FILE"])
    if create_key_file(path):
        click.echo(f"created the first signing key in {path}")
        return
    kid = rotate_key_file(path)
    click.echo(f"new signing key {kid} in {path}; the previous one stays published until the next")


if __name__ == "__main__":
    cli()
