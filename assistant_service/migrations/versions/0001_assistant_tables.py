"""assistant tables: snapshots of course texts, chunks, datasets, examples, generation runs,
and the price table seeded with the published prices

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prices",
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("training", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column("input", sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column("cached_input", sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column("output", sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model"),
    )
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("course_name", sa.Text(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_snapshots_course", "snapshots", ["course_id", "id"])

    op.create_table(
        "source_texts",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("chars", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["text_sha256"], ["source_texts.sha256"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("text_sha256", "position", name="uq_chunks_text_position"),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("split_seed", sa.Integer(), nullable=False),
        sa.Column("split_shares", sa.JSON(), nullable=False),
        sa.Column("review_position", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["snapshots.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_datasets_course", "datasets", ["course_id", "id"])

    op.create_table(
        "snapshot_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("material_type_code", sa.String(length=32), nullable=False),
        sa.Column("lesson_number", sa.Integer(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshots.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["text_sha256"],
            ["source_texts.sha256"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("snapshot_id", "material_id", name="uq_snapshot_sources_material"),
    )
    op.create_table(
        "examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("split", sa.String(length=16), nullable=True),
        sa.Column("chunk_id", sa.Integer(), nullable=True),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chunk_id"],
            ["chunks.id"],
        ),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_examples_dataset_split", "examples", ["dataset_id", "split"])
    op.create_index("ix_examples_dataset_status", "examples", ["dataset_id", "status", "id"])

    op.create_table(
        "generation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("questions_per_chunk", sa.Integer(), nullable=False),
        sa.Column("chunk_ids", sa.JSON(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("examples_created", sa.Integer(), nullable=False),
        sa.Column("duplicates_dropped", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_generation_runs_dataset", "generation_runs", ["dataset_id", "id"])

    # USD per 1M tokens. Fine-tuned gpt-4o-mini as published with the fine-tuning guide; gpt-4o
    # (the default teacher and judge model) at its list price. Admins update them through the API.
    prices = sa.table(
        "prices",
        sa.column("model", sa.String),
        sa.column("training", sa.Numeric),
        sa.column("input", sa.Numeric),
        sa.column("cached_input", sa.Numeric),
        sa.column("output", sa.Numeric),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    seeded = datetime(2026, 12, 7, tzinfo=UTC)
    op.bulk_insert(
        prices,
        [
            {"model": "gpt-4o-mini-2024-07-18", "training": Decimal("3.00"),
             "input": Decimal("0.30"), "cached_input": Decimal("0.15"),
             "output": Decimal("1.20"), "updated_at": seeded},
            {"model": "gpt-4o", "training": None, "input": Decimal("2.50"),
             "cached_input": Decimal("1.25"), "output": Decimal("10.00"), "updated_at": seeded},
        ],
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_generation_runs_dataset", table_name="generation_runs")

    op.drop_table("generation_runs")
    op.drop_index("ix_examples_dataset_status", table_name="examples")
    op.drop_index("ix_examples_dataset_split", table_name="examples")

    op.drop_table("examples")
    op.drop_table("snapshot_sources")
    op.drop_index("ix_datasets_course", table_name="datasets")

    op.drop_table("datasets")
    op.drop_table("chunks")
    op.drop_table("source_texts")
    op.drop_index("ix_snapshots_course", table_name="snapshots")

    op.drop_table("snapshots")
    op.drop_table("prices")
