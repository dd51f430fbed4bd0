"""drop the `courses:read` permission: catalog reads are public, so nothing ever checked it

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

permissions = sa.table("permissions", sa.column("id", sa.Integer), sa.column("name", sa.String))
roles = sa.table("roles", sa.column("id", sa.Integer), sa.column("name", sa.String))
role_permissions = sa.table(
    "role_permissions",
    sa.column("role_id", sa.Integer),
    sa.column("permission_id", sa.Integer),
)


def upgrade() -> None:
    dropped = sa.select(permissions.c.id).where(permissions.c.name == "courses:read")
    op.execute(role_permissions.delete().where(role_permissions.c.permission_id.in_(dropped)))
    op.execute(permissions.delete().where(permissions.c.name == "courses:read"))


def downgrade() -> None:
    op.execute(permissions.insert().values(name="courses:read"))
    granted = (
        sa.select(roles.c.id, permissions.c.id)
        .select_from(roles.join(permissions, sa.true()))  # every role, as before the drop
        .where(permissions.c.name == "courses:read")
    )
    op.execute(role_permissions.insert().from_select(["role_id", "permission_id"], granted))
