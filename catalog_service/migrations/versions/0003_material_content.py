"""material content: a Markdown body, one uploaded file, its extracted text; stored files;
the material types' group headings

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


GROUP_LABELS = {"lecture": "Лекции", "seminar": "Семинары", "lab": "Лабораторные работы"}


def upgrade() -> None:
    with op.batch_alter_table("material_types") as batch_op:
        batch_op.add_column(sa.Column("group_label", sa.String(100), nullable=True))
    types = sa.table(
        "material_types", sa.column("code"), sa.column("label"), sa.column("group_label")
    )
    op.execute(types.update().values(group_label=types.c.label))
    for code, group_label in GROUP_LABELS.items():
        op.execute(types.update().where(types.c.code == code).values(group_label=group_label))
    with op.batch_alter_table("material_types") as batch_op:
        batch_op.alter_column("group_label", existing_type=sa.String(100), nullable=False)
    with op.batch_alter_table("materials") as batch_op:
        batch_op.alter_column("file_url", existing_type=sa.String(2000), nullable=True)
        batch_op.add_column(
            sa.Column("body", sa.Text(), server_default=sa.text("''"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("body_html", sa.Text(), server_default=sa.text("''"), nullable=False)
        )
        batch_op.add_column(sa.Column("file_sha256", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("file_name", sa.String(255), nullable=True))
        batch_op.add_column(sa.Column("file_size", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("file_kind", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("file_content_type", sa.String(100), nullable=True))
        batch_op.add_column(
            sa.Column(
                "text_status", sa.String(16), server_default=sa.text("'none'"), nullable=False
            )
        )
        batch_op.add_column(sa.Column("text_error", sa.String(500), nullable=True))
        batch_op.add_column(sa.Column("extracted_text", sa.Text(), nullable=True))
        batch_op.create_index("ix_materials_file_sha256", ["file_sha256"])
    op.create_table(
        "stored_files",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )


def downgrade() -> None:
    with op.batch_alter_table("material_types") as batch_op:
        batch_op.drop_column("group_label")
    op.drop_table("stored_files")
    with op.batch_alter_table("materials") as batch_op:
        batch_op.drop_index("ix_materials_file_sha256")
        for column in (
            "extracted_text", "text_error", "text_status", "file_content_type", "file_kind",
            "file_size", "file_name", "file_sha256", "body_html", "body",
        ):  # fmt: skip
            batch_op.drop_column(column)
        batch_op.alter_column("file_url", existing_type=sa.String(2000), nullable=False)
