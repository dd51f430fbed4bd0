"""recycle bin: courses and materials deleted softly (deleted_at, deleted_by), purged later

Plain `add_column` (no batch mode): SQLite's FTS5 triggers on `courses` and `materials` (0004)
would not survive a rebuilt table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("courses", "materials")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("deleted_by", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # What is in the recycle bin is purged: nothing could tell it apart any more.
    deleted_courses = "SELECT id FROM courses WHERE deleted_at IS NOT NULL"
    op.execute(
        f"DELETE FROM materials WHERE deleted_at IS NOT NULL OR course_id IN ({deleted_courses})"
    )
    op.execute(f"DELETE FROM course_teachers WHERE course_id IN ({deleted_courses})")
    op.execute("DELETE FROM courses WHERE deleted_at IS NOT NULL")
    for table in TABLES:
        # SQLite (3.35+) drops a plain column in place, so the FTS5 triggers stay.
        op.drop_column(table, "deleted_by")
        op.drop_column(table, "deleted_at")
