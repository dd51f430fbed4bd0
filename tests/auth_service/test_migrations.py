"""The Alembic history builds exactly the schema the models describe, with DESIGN §4's roles."""

from alembic import command
from sqlalchemy import create_engine, inspect, select

from auth_service.models import Base, Permission, Role, role_permissions
from service_kit.migrations import alembic_config
from service_kit.permissions import ROLE_PERMISSIONS
from tests.support.databases import schema_differences

VERSION_TABLE = "alembic_version_auth_service"


def test_upgrade_head_matches_the_models(empty_database_url):
    command.upgrade(alembic_config("auth_service", empty_database_url), "head")
    assert schema_differences("auth_service", Base.metadata, empty_database_url) == []


def test_upgrade_seeds_the_roles_and_their_permissions(empty_database_url):
    command.upgrade(alembic_config("auth_service", empty_database_url), "head")
    engine = create_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Role.name, Permission.name)
                .join(role_permissions, role_permissions.c.role_id == Role.id)
                .join(Permission, Permission.id == role_permissions.c.permission_id)
            ).all()
    finally:
        engine.dispose()
    granted: dict[str, set[str]] = {}
    for role, permission in rows:
        granted.setdefault(role, set()).add(permission)
    # The one list routes and tests use is the one the migrations seed.
    assert granted == {role: set(names) for role, names in ROLE_PERMISSIONS.items()}


def test_downgrade_to_base_removes_every_table(empty_database_url):
    config = alembic_config("auth_service", empty_database_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = create_engine(empty_database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}
    finally:
        engine.dispose()
