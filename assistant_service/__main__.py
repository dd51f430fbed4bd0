"""Operator commands: `python -m assistant_service migrate`."""

from service_kit.cli import service_cli

cli = service_cli("assistant", "assistant_service")

if __name__ == "__main__":
    cli()
