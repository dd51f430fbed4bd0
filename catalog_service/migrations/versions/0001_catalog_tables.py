"""catalog tables: courses, material types, materials, teachers, catalog version

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    on_postgres = op.get_bind().dialect.name == "postgresql"
    if on_postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("semester", sa.SmallInteger(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_courses_active_semester_name", "courses", ["is_active", "semester", "name"])
    if on_postgres:
        op.create_index(
            "ix_courses_search_text_trgm",
            "courses",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )

    material_types = op.create_table(
        "material_types",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("sort_order", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
        sa.UniqueConstraint("label"),
    )
    op.bulk_insert(
        material_types,
        [
            {"code": "lecture", "label": "Лекция", "sort_order": 1},
            {"code": "seminar", "label": "Семинар", "sort_order": 2},
            {"code": "lab", "label": "Лабораторная работа", "sort_order": 3},
        ],
    )

    op.create_table(
        "materials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("lesson_number", sa.Integer(), nullable=False),
        sa.Column("type_code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("file_url", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["type_code"], ["material_types.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_materials_course_type_lesson",
        "materials",
        ["course_id", "type_code", "lesson_number"],
    )

    op.create_table(
        "course_teachers",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("course_id", "user_id"),
    )
    op.create_index("ix_course_teachers_user_id", "course_teachers", ["user_id"])

    catalog_version = op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(catalog_version, [{"id": 1, "version": 1, "epoch": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("catalog_version")
    op.drop_index("ix_course_teachers_user_id", table_name="course_teachers")
    op.drop_table("course_teachers")
    op.drop_index("ix_materials_course_type_lesson", table_name="materials")
    op.drop_table("materials")
    op.drop_table("material_types")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_courses_search_text_trgm", table_name="courses")
    op.drop_index("ix_courses_active_semester_name", table_name="courses")
    op.drop_table("courses")
