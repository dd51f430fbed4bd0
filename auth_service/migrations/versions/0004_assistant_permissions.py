"""the course assistant's permissions: `assistant:use` for every role, `assistant:build` for
teachers (the assistant checks with the catalog that they teach the course) and admins

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

permissions = sa.table("permissions", sa.column("id", sa.Integer), sa.column("name", sa.String))
roles = sa.table("roles", sa.column("id", sa.Integer), sa.column("name", sa.String))
role_permissions = sa.table(
    "role_permissions",
    sa.column("role_id", sa.Integer),
    sa.column("permission_id", sa.Integer),
)

GRANTS = {
    "assistant:use": ("student", "teacher", "admin"),
    "assistant:build": ("teacher", "admin"),
}


def upgrade() -> None:
    for name, role_names in GRANTS.items():
        op.execute(permissions.insert().values(name=name))
        granted = (
            sa.select(roles.c.id, permissions.c.id)
            .select_from(roles.join(permissions, sa.true()))
            .where(permissions.c.name == name, roles.c.name.in_(role_names))
        )
        op.execute(role_permissions.insert().from_select(["role_id", "permission_id"], granted))


def downgrade() -> None:
    dropped = sa.select(permissions.c.id).where(permissions.c.name.in_(GRANTS))
    op.execute(role_permissions.delete().where(role_permissions.c.permission_id.in_(dropped)))
    op.execute(permissions.delete().where(permissions.c.name.in_(GRANTS)))
