"""Operator commands shared by every service: `python -m <service> migrate`, ..."""

import click

from .config import env_config
from .migrations import upgrade


def service_cli(service: str, package: str) -> click.Group:
    """A click group with `migrate`; the service adds its own commands to it."""

    @click.group(help=f"Operator commands of the {service} service.")
    def cli():
        pass

    @cli.command()
    def migrate():
        """Apply the database migrations (alembic upgrade head)."""
        upgrade(package, env_config(service)["DATABASE_URL"])
        click.echo(f"{service}: database is at the latest migration")

    return cli
