"""courses.search_name: the folded name alone, with its own trigram index on Postgres

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    on_postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("courses", sa.Column("search_name", sa.Text(), nullable=True))
    # search_text is the folded name, one "\n", the folded description: the name is its first
    # line, already folded exactly as services.search_name_of folds it.
    if on_postgres:
        op.execute("UPDATE courses SET search_name = split_part(search_text, E'\\n', 1)")
    else:
        op.execute(
            "UPDATE courses "
            "SET search_name = substr(search_text, 1, instr(search_text, char(10)) - 1)"
        )
    with op.batch_alter_table("courses") as batch_op:
        batch_op.alter_column("search_name", existing_type=sa.Text(), nullable=False)
    if on_postgres:
        op.create_index(
            "ix_courses_search_name_trgm",
            "courses",
            ["search_name"],
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_courses_search_name_trgm", table_name="courses")
    with op.batch_alter_table("courses") as batch_op:
        batch_op.drop_column("search_name")
