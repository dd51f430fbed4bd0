"""full-text search: Snowball stems of courses and materials, indexed by FTS5 (SQLite) or GIN
over a stored tsvector column (PostgreSQL)

SQLite's FTS5 tables are kept by triggers on `courses` and `materials`. A later migration that
rebuilds one of those tables (alembic's batch mode on SQLite) must create its triggers again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from catalog_service.search import course_columns, material_columns

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("courses", "materials")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table, sa.Column("title_stems", sa.Text(), server_default=sa.text("''"), nullable=False)
        )
        op.add_column(
            table, sa.Column("text_stems", sa.Text(), server_default=sa.text("''"), nullable=False)
        )
    _fill_stems()
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            # Stored, so neither matching nor ranking parses the stems again per row.
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN search_fts tsvector GENERATED ALWAYS AS ("
                "setweight(to_tsvector('simple'::regconfig, title_stems), 'A') || "
                "setweight(to_tsvector('simple'::regconfig, text_stems), 'B')) STORED"
            )
            op.execute(f"CREATE INDEX ix_{table}_fts ON {table} USING gin (search_fts)")
    else:
        for table in TABLES:
            _create_fts5(table)


def _fill_stems() -> None:
    connection = op.get_bind()
    courses = sa.table(
        "courses", sa.column("id"), sa.column("name"), sa.column("description"),
        sa.column("title_stems"), sa.column("text_stems"),
    )  # fmt: skip
    for row in connection.execute(sa.select(courses.c.id, courses.c.name, courses.c.description)):
        connection.execute(
            courses.update()
            .where(courses.c.id == row.id)
            .values(course_columns(row.name, row.description))
        )
    materials = sa.table(
        "materials", sa.column("id"), sa.column("title"), sa.column("description"),
        sa.column("body"), sa.column("extracted_text"), sa.column("text_status"),
        sa.column("title_stems"), sa.column("text_stems"),
    )  # fmt: skip
    rows = connection.execute(
        sa.select(
            materials.c.id, materials.c.title, materials.c.description, materials.c.body,
            materials.c.extracted_text, materials.c.text_status,
        )
    ).all()  # fmt: skip
    for row in rows:
        extracted = row.extracted_text if row.text_status == "ready" else None
        connection.execute(
            materials.update()
            .where(materials.c.id == row.id)
            .values(material_columns(row.title, row.description, row.body, extracted))
        )


def _create_fts5(table: str) -> None:
    fts = f"{table}_fts"
    # remove_diacritics 0: "й" must stay "й" (with 1 it would become "и").
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5(title_stems, text_stems, content='{table}', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES('rebuild')")
    new = (
        f"INSERT INTO {fts}(rowid, title_stems, text_stems) "
        "VALUES (new.id, new.title_stems, new.text_stems);"
    )
    old = (
        f"INSERT INTO {fts}({fts}, rowid, title_stems, text_stems) "
        "VALUES ('delete', old.id, old.title_stems, old.text_stems);"
    )
    op.execute(f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {new} END")
    op.execute(f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {old} END")
    op.execute(
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF title_stems, text_stems ON {table} "
        f"BEGIN {old} {new} END"
    )


def downgrade() -> None:
    on_postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if on_postgres:
            op.execute(f"DROP INDEX ix_{table}_fts")
            op.execute(f"ALTER TABLE {table} DROP COLUMN search_fts")
        else:
            for trigger in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER {table}_fts_{trigger}")
            op.execute(f"DROP TABLE {table}_fts")
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("text_stems")
            batch_op.drop_column("title_stems")
