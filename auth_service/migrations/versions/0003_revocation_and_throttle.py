"""per-user token revocation, refresh-token rotation time, atomic login throttle counters

- `users.tokens_valid_after`: access tokens issued before it are refused for writes (deactivation,
  role change, password change, "log out everywhere").
- `refresh_tokens.replaced_at`: when a token was spent by rotation, so a racing second use of it
  within a few seconds is told apart from a thief's reuse.
- `login_throttle` replaces `login_failures`: one row per counter, read and written under a row
  lock, so checking and counting an attempt is one atomic step.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("tokens_valid_after", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_users_tokens_valid_after", ["tokens_valid_after"])
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_login_throttle_expires_at", "login_throttle", ["expires_at"])
    op.drop_index("ix_login_failures_key_failed_at", table_name="login_failures")
    op.drop_table("login_failures")


def downgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_key_failed_at", "login_failures", ["key", "failed_at"])
    op.drop_index("ix_login_throttle_expires_at", table_name="login_throttle")
    op.drop_table("login_throttle")
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("replaced_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_tokens_valid_after")
        batch.drop_column("tokens_valid_after")
