"""Operator commands: `python -m favorites_service migrate`."""

from service_kit.cli import service_cli

cli = service_cli("favorites", "favorites_service")

if __name__ == "__main__":
    cli()
