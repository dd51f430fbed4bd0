"""The catalog's tables: courses, material types, materials, teacher assignments, version."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from service_kit.db import UTCDateTime, utcnow
from service_kit.routing import MAX_ID, MAX_USER_ID  # noqa: F401 (re-exported)


class Base(DeclarativeBase):
    pass


class Course(Base):
    __tablename__ = "courses"
    __table_args__ = (
        # The list, the semester view and `?semester=` all read active courses in this order.
        Index("ix_courses_active_semester_name", "is_active", "semester", "name"),
        # Substring search; Postgres only (pg_trgm), SQLite scans the small table instead.
        Index(
            "ix_courses_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        # Name matches come first; a word common in descriptions but not in names (say
        # "экзамен") needs this index to find them without rechecking every description hit.
        Index(
            "ix_courses_search_name_trgm",
            "search_name",
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    semester: Mapped[int] = mapped_column(SmallInteger)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Case-folded "name\ndescription" (ё→е), written by services.py on every change.
    search_text: Mapped[str] = mapped_column(Text)
    # The folded name alone, for the name-matches-first part of search.
    search_name: Mapped[str] = mapped_column(Text)
    # Snowball stems of the name and of the description, for full-text search (search.py).
    title_stems: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    text_stems: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # In the recycle bin since then, deleted by that user (an admin); purged after
    # CATALOG_RECYCLE_DAYS. Every read leaves a deleted course out.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by: Mapped[int | None] = mapped_column(BigInteger)

    teachers: Mapped[list["CourseTeacher"]] = relationship(
        back_populates="course", cascade="all, delete-orphan", passive_deletes=True
    )


class MaterialType(Base):
    __tablename__ = "material_types"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(100), unique=True)
    # The heading over a group of them: "Лекции" over "Лекция 1", "Лекция 2", ...
    group_label: Mapped[str] = mapped_column(String(100))
    sort_order: Mapped[int] = mapped_column(SmallInteger)


class Material(Base):
    __tablename__ = "materials"
    __table_args__ = (
        Index("ix_materials_course_type_lesson", "course_id", "type_code", "lesson_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    lesson_number: Mapped[int] = mapped_column(Integer)
    type_code: Mapped[str] = mapped_column(ForeignKey("material_types.code"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    # An external link (slides elsewhere); the uploaded file, if any, is described below.
    file_url: Mapped[str | None] = mapped_column(String(2000))
    # The teacher's Markdown, and its sanitised HTML rendered when it is written.
    body: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    body_html: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    # The uploaded file: its content's sha256 is its key in the file storage.
    file_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_kind: Mapped[str | None] = mapped_column(String(16))
    file_content_type: Mapped[str | None] = mapped_column(String(100))
    # Text extracted from the file by the worker: none | pending | ready | failed (+ why).
    text_status: Mapped[str] = mapped_column(
        String(16), default="none", server_default=text("'none'")
    )
    text_error: Mapped[str | None] = mapped_column(String(500))
    extracted_text: Mapped[str | None] = mapped_column(Text, deferred=True)
    # Snowball stems of the title and of all the text (description, body, file), for search.
    title_stems: Mapped[str] = mapped_column(
        Text, default="", server_default=text("''"), deferred=True
    )
    text_stems: Mapped[str] = mapped_column(
        Text, default="", server_default=text("''"), deferred=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # In the recycle bin since then, deleted by that user (a teacher of the course or an admin);
    # purged after CATALOG_RECYCLE_DAYS. Until then it keeps its file (and the file's object).
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by: Mapped[int | None] = mapped_column(BigInteger)

    type: Mapped[MaterialType] = relationship(lazy="joined", innerjoin=True)
    course: Mapped[Course] = relationship(lazy="raise_on_sql")

    @property
    def has_text(self) -> bool:
        return bool(self.body.strip()) or self.text_status == "ready"

    @property
    def file(self) -> dict | None:
        if self.file_sha256 is None:
            return None
        return {
            "name": self.file_name,
            "size": self.file_size,
            "content_type": self.file_content_type,
            "sha256": self.file_sha256,
            "url": f"/api/courses/{self.course_id}/materials/{self.id}/file",
        }

    @property
    def material_type(self) -> str:
        return self.type.label

    @property
    def material_type_code(self) -> str:
        return self.type_code


class StoredFile(Base):
    """Every object written to the file storage, recorded *before* it is written.

    A material points at an object by its sha256; an object no material points at (its upload's
    transaction failed, the process died, the material was deleted or given another file) is
    removed by the sweep once it is older than any upload in flight.
    """

    __tablename__ = "stored_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CourseTeacher(Base):
    __tablename__ = "course_teachers"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    # A user of auth_service (a token's `sub`, up to BIGINT): no foreign key across services.
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)

    course: Mapped[Course] = relationship(back_populates="teachers")


class CatalogVersion(Base):
    """One row, bumped in the same transaction as every write: it keys the response cache.

    `epoch` is random per database, so a cache that outlives a recreated database (a Redis
    kept across a reset) never serves the old database's entries for a reused version number.
    """

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[str] = mapped_column(String(32))
