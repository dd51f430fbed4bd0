"""the students' chat: conversations and their messages (sources, citations, usage, feedback),
each course's monthly chat spend, and the course settings for the chat (model, budget, on/off)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_conversations_user", "conversations", ["user_id", "updated_at"])

    op.create_table(
        "course_spend",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("spent_usd", sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column("reserved_usd", sa.Numeric(precision=12, scale=6), nullable=False),
        sa.PrimaryKeyConstraint("course_id", "month"),
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column("feedback", sa.Integer(), nullable=True),
        sa.Column("feedback_comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chat_messages_user_created", "chat_messages", ["user_id", "created_at"])

    with op.batch_alter_table("course_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("monthly_chat_budget_usd", sa.Numeric(precision=12, scale=2), nullable=True)
        )
        batch_op.add_column(sa.Column("chat_model", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("previous_chat_model", sa.String(length=256), nullable=True))
        batch_op.add_column(
            sa.Column("chat_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )

    # The base chat model's list price (USD per 1M tokens); fine-tuned gpt-4o-mini is seeded.
    prices = sa.table(
        "prices",
        sa.column("model", sa.String),
        sa.column("training", sa.Numeric),
        sa.column("input", sa.Numeric),
        sa.column("cached_input", sa.Numeric),
        sa.column("output", sa.Numeric),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        prices,
        [
            {"model": "gpt-4o-mini", "training": None, "input": Decimal("0.15"),
             "cached_input": Decimal("0.075"), "output": Decimal("0.60"),
             "updated_at": datetime(2026, 12, 7, tzinfo=UTC)},
        ],
    )  # fmt: skip


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM prices WHERE model = 'gpt-4o-mini'"))
    with op.batch_alter_table("course_settings", schema=None) as batch_op:
        batch_op.drop_column("chat_enabled")
        batch_op.drop_column("previous_chat_model")
        batch_op.drop_column("chat_model")
        batch_op.drop_column("monthly_chat_budget_usd")

    op.drop_index("ix_chat_messages_user_created", table_name="chat_messages")

    op.drop_table("chat_messages")
    op.drop_table("course_spend")
    op.drop_index("ix_conversations_user", table_name="conversations")

    op.drop_table("conversations")
