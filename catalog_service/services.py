"""The catalog's rules: plain functions, a session and values in, objects out.

Every write goes through here, so `search_text` and `search_name` are always computed by
`search_text_of` and `search_name_of`, and the catalog version is bumped in the same
transaction as the change it announces.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FunctionElement,
    Integer,
    Select,
    and_,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, contains_eager

from service_kit import BadRequest, Conflict, Forbidden, InvalidInput, NotFound
from service_kit.auth import Principal
from service_kit.db import utcnow
from service_kit.pagination import Page, paginate
from service_kit.permissions import COURSES_ADMIN, MATERIALS_WRITE
from service_kit.text import LIKE_ESCAPE, escape_like, fold

from . import search
from .models import (
    MAX_ID,
    MAX_USER_ID,
    CatalogVersion,
    Course,
    CourseTeacher,
    Material,
    MaterialType,
)
from .rendering import render_markdown
from .users import UserDirectory

SEARCH_QUERY_MAX_LENGTH = 100
SEARCH_LIMIT_DEFAULT = 50
SEARCH_LIMIT_MAX = 100
IDS_MAX = 100


# --- search text ---------------------------------------------------------------------------


def search_text_of(name: str, description: str) -> str:
    # Folding leaves no newline inside either part, so text before the one "\n" is the name.
    return f"{fold(name)}\n{fold(description)}"


def search_name_of(name: str) -> str:
    return fold(name)


# --- catalog version -----------------------------------------------------------------------


_version_table = CatalogVersion.__table__
# Built once: every cached GET runs it, and it needs no ORM machinery.
_READ_VERSION = select(_version_table.c.epoch, _version_table.c.version).where(
    _version_table.c.id == 1
)


def catalog_version(bind: Session | Connection) -> tuple[str, int] | None:
    """(epoch, version) of the catalog's data; None if the row is missing (then nothing caches)."""
    connection = bind.connection() if isinstance(bind, Session) else bind
    row = connection.execute(_READ_VERSION).first()
    return (row.epoch, row.version) if row else None


def _bump_version(session: Session) -> None:
    session.execute(
        update(CatalogVersion)
        .where(CatalogVersion.id == 1)
        .values(version=CatalogVersion.version + 1)
    )


def commit_change(session: Session) -> None:
    """Commit a change to the catalog, bumping its version (the caches' and ETags' key)."""
    _bump_version(session)
    session.commit()


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseDetails:
    """A course as `GET /api/courses/{id}` shows it."""

    id: int
    name: str
    description: str
    semester: int
    is_active: bool
    teacher_ids: list[int]
    material_counts: dict[str, int]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CourseListing:
    """A course as lists show it (the fields of CourseSchema). Whole lists are read as these
    four columns rather than as Course rows: loading 3,000 full rows, search columns and all,
    was most of the cost of rendering `GET /api/courses`."""

    id: int
    name: str
    description: str
    semester: int


_LISTED_COLUMNS = (Course.id, Course.name, Course.description, Course.semester)  # field order


@dataclass(frozen=True)
class Semester:
    semester: int
    title: str
    courses: list[CourseListing]


@dataclass(frozen=True)
class CourseMaterials:
    course_id: int
    course_name: str
    materials: list[Material]


def semester_title(semester: int) -> str:
    return f"{semester}-й семестр"


def _active_courses():
    return (
        select(Course)
        .where(Course.is_active.is_(True), Course.deleted_at.is_(None))
        .order_by(Course.semester, Course.name, Course.id)
    )


def list_courses(
    session: Session,
    *,
    semester: int | None = None,
    ids: Iterable[int] | None = None,
    page: int | None = None,
    page_size: int | None = None,
) -> list[CourseListing] | Page:
    """Active courses by semester then name; a `Page` when `page` or `page_size` is given."""
    statement = _active_courses()
    if semester is not None:
        statement = statement.where(Course.semester == semester)
    if ids is not None:
        ids = _valid_ids(ids)
        if not ids:
            return [] if page is None and page_size is None else Page([], page or 1, 0, 0)
        statement = statement.where(Course.id.in_(ids))
    if page is None and page_size is None:
        return _listings(session, statement)
    # A page is at most PAGE_SIZE_MAX rows: whole Course rows cost nothing worth avoiding there.
    return paginate(session, statement, page, page_size)


def _listings(session: Session, statement: Select) -> list[CourseListing]:
    """`statement`'s courses (its filters and order) as listings."""
    rows = session.execute(statement.with_only_columns(*_LISTED_COLUMNS))
    return [CourseListing(*row) for row in rows]


def _valid_ids(ids: Iterable[int]) -> list[int]:
    unique = sorted(set(ids))
    if len(unique) > IDS_MAX:
        raise BadRequest(f"At most {IDS_MAX} ids at once.")
    if any(not 1 <= course_id <= MAX_ID for course_id in unique):
        raise BadRequest(f"Course ids are integers from 1 to {MAX_ID}.")
    return unique


def list_semesters(session: Session) -> list[Semester]:
    semesters: dict[int, list[CourseListing]] = {}
    for course in _listings(session, _active_courses()):
        semesters.setdefault(course.semester, []).append(course)
    return [
        Semester(number, semester_title(number), courses) for number, courses in semesters.items()
    ]


def search_courses(session: Session, query: str, limit: int = SEARCH_LIMIT_DEFAULT) -> list[Course]:
    """Active courses whose name and description together contain every word of `query`, in
    any order; courses whose name alone has them all come first."""
    needle = fold(query)
    if not needle or len(query) > SEARCH_QUERY_MAX_LENGTH:
        raise BadRequest(f"The query must be 1 to {SEARCH_QUERY_MAX_LENGTH} characters of text.")
    if not 1 <= limit <= SEARCH_LIMIT_MAX:
        raise BadRequest(f"The limit must be between 1 and {SEARCH_LIMIT_MAX}.")
    words = list(dict.fromkeys(needle.split()))
    in_name = _contains_all(Course.search_name, words, indexed="every word")
    # Name matches, then description-only matches, each query in the list's own order: an
    # order an index serves lets Postgres stop after `limit` rows of a common (or 1-2 letter)
    # text instead of sorting every match, and the trigram index still finds rare text.
    found = list(session.scalars(_active_courses().where(in_name).limit(limit)))
    if len(found) < limit:
        in_description = _contains_all(Course.search_text, words, indexed="longest") & ~in_name
        found += session.scalars(_active_courses().where(in_description).limit(limit - len(found)))
    return found


def _contains_all(column, words: list[str], *, indexed: str) -> ColumnElement[bool]:
    """`column` contains every word, written so that Postgres judges the plan well.

    A word is a LIKE that its trigram index can serve when it has three letters or more and,
    with `indexed="longest"`, is the longest such word; the others are plain substring tests,
    which no index claims to serve. A word under three letters has no trigram: as a LIKE it
    made the index hand over every row to recheck (600 ms for "кв" on 200,000 courses). And a
    LIKE per word of a description made Postgres multiply their selectivities as if the words
    were independent, so a phrase ("учет погрешностей", in 19,000 descriptions) looked rare
    and was read through the index and sorted (100 ms) instead of in list order up to the
    limit (4 ms). Names are short and their words rarely come as phrases: there every word
    keeps its index, which finds "поток 250" at once."""
    long_words = [word for word in words if len(word) >= 3]
    if indexed == "longest":
        long_words = sorted(long_words, key=len, reverse=True)[:1]
    return and_(
        *(
            column.like(f"%{escape_like(word)}%", escape=LIKE_ESCAPE)
            if word in long_words
            else substring_position(column, word) > 0
            for word in words
        )
    )


class substring_position(FunctionElement):
    """Where `needle` starts in `text` (1-based), 0 when it does not occur (SQLite's instr,
    Postgres's strpos)."""

    type = Integer()
    inherit_cache = True


@compiles(substring_position)
def _substring_position_sqlite(element, compiler, **kw) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


@compiles(substring_position, "postgresql")
def _substring_position_postgresql(element, compiler, **kw) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


def _course(
    session: Session,
    course_id: int,
    *,
    include_inactive: bool = False,
    include_deleted: bool = False,
) -> Course:
    """The course; a deleted one (in the recycle bin) exists only for `include_deleted`."""
    course = session.get(Course, course_id) if 1 <= course_id <= MAX_ID else None
    if (
        course is None
        or not (course.is_active or include_inactive)
        or (course.deleted_at is not None and not include_deleted)
    ):
        raise NotFound(f"Course {course_id} does not exist.")
    return course


def _details(session: Session, course: Course) -> CourseDetails:
    teacher_ids = session.scalars(
        select(CourseTeacher.user_id)
        .where(CourseTeacher.course_id == course.id)
        .order_by(CourseTeacher.user_id)
    )
    counts = dict(
        session.execute(
            select(Material.type_code, func.count())
            .where(Material.course_id == course.id, Material.deleted_at.is_(None))
            .group_by(Material.type_code)
        ).all()
    )
    return CourseDetails(
        id=course.id,
        name=course.name,
        description=course.description,
        semester=course.semester,
        is_active=course.is_active,
        teacher_ids=list(teacher_ids),
        material_counts={code: counts.get(code, 0) for code in _type_codes(session)},
        created_at=course.created_at,
        updated_at=course.updated_at,
    )


def get_course(session: Session, course_id: int) -> CourseDetails:
    """One active course with its teachers and material counts per type."""
    return _details(session, _course(session, course_id))


def material_types(session: Session) -> list[MaterialType]:
    return list(session.scalars(select(MaterialType).order_by(MaterialType.sort_order)))


def _type_codes(session: Session) -> list[str]:
    return [material_type.code for material_type in material_types(session)]


def resolve_material_type(session: Session, value: str) -> str:
    """The code of a material type named by its code or its label, in any letter case."""
    wanted = fold(value)
    types = material_types(session)
    for material_type in types:
        if wanted in (fold(material_type.code), fold(material_type.label)):
            return material_type.code
    allowed = ", ".join([t.code for t in types] + [t.label for t in types])
    raise BadRequest(
        f"Unknown material type. Allowed: {allowed}.",
        {"type": [f"Must be one of: {allowed}."]},
    )


def list_materials(
    session: Session, course_id: int, material_type: str | None = None
) -> CourseMaterials:
    """The materials of an active course by type order, then lesson number."""
    course = _course(session, course_id)
    statement = (
        select(Material)
        .join(Material.type)
        .options(contains_eager(Material.type))
        .where(Material.course_id == course.id, Material.deleted_at.is_(None))
        .order_by(MaterialType.sort_order, Material.lesson_number, Material.id)
    )
    if material_type is not None:
        statement = statement.where(
            Material.type_code == resolve_material_type(session, material_type)
        )
    return CourseMaterials(course.id, course.name, list(session.scalars(statement)))


def get_material(
    session: Session, course_id: int, material_id: int, *, include_deleted: bool = False
) -> Material:
    """One material of an active course; a deleted one exists only for `include_deleted`."""
    course = _course(session, course_id)
    material = session.get(Material, material_id) if 1 <= material_id <= MAX_ID else None
    if (
        material is None
        or material.course_id != course.id
        or (material.deleted_at is not None and not include_deleted)
    ):
        raise NotFound(f"Material {material_id} of course {course_id} does not exist.")
    return material


def teacher_courses(session: Session, user_id: int) -> list[Course]:
    """The active courses `user_id` teaches, by semester then name."""
    return list(
        session.scalars(
            _active_courses().join(CourseTeacher).where(CourseTeacher.user_id == user_id)
        )
    )


# --- writing: courses (admin) --------------------------------------------------------------

COURSE_FIELDS = ("name", "description", "semester", "is_active")
MATERIAL_FIELDS = ("lesson_number", "type_code", "title", "description", "file_url", "body")


def new_course(
    *, name: str, description: str = "", semester: int, is_active: bool = True
) -> Course:
    """A course row with its search columns filled; the caller adds it to a session."""
    name, description = name.strip(), description.strip()
    now = utcnow()
    return Course(
        name=name,
        description=description,
        semester=semester,
        is_active=is_active,
        search_text=search_text_of(name, description),
        search_name=search_name_of(name),
        **search.course_columns(name, description),
        created_at=now,
        updated_at=now,
    )


def create_course(session: Session, **values: Any) -> CourseDetails:
    """Create a course (admin); `values` are `new_course`'s."""
    course = new_course(**values)
    session.add(course)
    session.flush()
    commit_change(session)
    return _details(session, course)


def update_course(session: Session, course_id: int, changes: dict[str, Any]) -> CourseDetails:
    """Edit any subset of a course's fields; `is_active=False` hides it everywhere."""
    course = _course(session, course_id, include_inactive=True)
    if _apply(course, changes, COURSE_FIELDS):
        course.search_text = search_text_of(course.name, course.description)
        course.search_name = search_name_of(course.name)
        for column, value in search.course_columns(course.name, course.description).items():
            setattr(course, column, value)
        course.updated_at = utcnow()
        commit_change(session)
    return _details(session, course)


def _apply(target: Any, changes: dict[str, Any], fields: tuple[str, ...]) -> bool:
    """Set the given fields; True if any value differs from what was stored."""
    changed = False
    for field in fields:
        if field not in changes:
            continue
        value = changes[field]
        if isinstance(value, str):
            value = value.strip()
        if getattr(target, field) != value:
            setattr(target, field, value)
            changed = True
    return changed


def assign_teacher(
    session: Session, course_id: int, user_id: int, users: UserDirectory | None = None
) -> CourseDetails:
    """Make `user_id` a teacher of the course (idempotent): only an existing, active account.

    `users` answers whether the account exists (the API passes auth's users, asked as the
    admin making the request). Only operator commands whose ids come from auth itself
    (`seed-demo --teacher-id`) and tests leave it out. Nothing is stored unless `users` said
    yes; when it cannot answer (auth down), its UpstreamUnavailable reaches the caller.
    """
    course = _course(session, course_id, include_inactive=True)
    _check_user_id(user_id)
    if users is not None:
        account = users.account(user_id)
        if account is None:
            raise NotFound(f"No such user: {user_id}.")
        if not account.is_active:
            raise Conflict(f"User {user_id} is deactivated and cannot teach a course.")
    if session.get(CourseTeacher, (course.id, user_id)) is None:
        session.add(CourseTeacher(course_id=course.id, user_id=user_id))
        session.flush()
        commit_change(session)
    return _details(session, course)


def unassign_teacher(session: Session, course_id: int, user_id: int) -> None:
    """Remove `user_id` from the course's teachers (fine when they were not one)."""
    course = _course(session, course_id, include_inactive=True)
    _check_user_id(user_id)
    removed = session.execute(
        delete(CourseTeacher).where(
            CourseTeacher.course_id == course.id, CourseTeacher.user_id == user_id
        )
    )
    if removed.rowcount:
        commit_change(session)


def _check_user_id(user_id: int) -> None:
    if not 1 <= user_id <= MAX_USER_ID:
        raise NotFound(f"User {user_id} does not exist.")


# --- writing: materials (teachers of the course, admins) -----------------------------------


def editable_course(session: Session, editor: Principal, course_id: int) -> Course:
    """The active course if `editor` may change its materials: an admin, or a teacher of it."""
    is_admin = editor.has(COURSES_ADMIN)
    if not (is_admin or editor.has(MATERIALS_WRITE)):
        raise Forbidden("Only teachers and admins can change materials.")
    course = _course(session, course_id)
    if not is_admin and session.get(CourseTeacher, (course.id, editor.user_id)) is None:
        raise Forbidden("Only teachers of this course can change its materials.")
    return course


def editable_material(
    session: Session, editor: Principal, course_id: int, material_id: int
) -> Material:
    """The material if `editor` may change it (see `editable_course`)."""
    editable_course(session, editor, course_id)
    return get_material(session, course_id, material_id)


def _check_type_code(session: Session, code: str) -> None:
    codes = _type_codes(session)
    if code not in codes:
        raise InvalidInput(
            "Unknown material type.",
            {"material_type_code": [f"Must be one of: {', '.join(codes)}."]},
        )


def new_material(
    course_id: int,
    *,
    lesson_number: int,
    material_type_code: str,
    title: str,
    description: str = "",
    file_url: str | None = None,
    body: str = "",
) -> Material:
    """A material row; the caller adds it to a session (the type code is checked by the caller
    or by the foreign key)."""
    now = utcnow()
    body = body.strip()
    return Material(
        course_id=course_id,
        lesson_number=lesson_number,
        type_code=material_type_code,
        title=title.strip(),
        description=description.strip(),
        file_url=file_url.strip() if file_url else None,
        body=body,
        body_html=render_markdown(body),
        **search.material_columns(title, description, body, None),
        created_at=now,
        updated_at=now,
    )


def create_material(
    session: Session, editor: Principal, course_id: int, values: dict[str, Any]
) -> Material:
    course = editable_course(session, editor, course_id)
    _check_type_code(session, values["material_type_code"])
    material = new_material(course.id, **values)
    session.add(material)
    session.flush()
    commit_change(session)
    return _reload_material(session, material)


def update_material(
    session: Session, editor: Principal, course_id: int, material_id: int, changes: dict[str, Any]
) -> Material:
    material = editable_material(session, editor, course_id, material_id)
    changes = dict(changes)
    if "material_type_code" in changes:
        _check_type_code(session, changes["material_type_code"])
        changes["type_code"] = changes.pop("material_type_code")
    if "file_url" in changes and not changes["file_url"]:
        changes["file_url"] = None  # "" or null: the link is removed
    if _apply(material, changes, MATERIAL_FIELDS):
        material.body_html = render_markdown(material.body)
        reindex_material(session, material)
        material.updated_at = utcnow()
        commit_change(session)
    return _reload_material(session, material)


def reindex_material(session: Session, material: Material) -> None:
    """Recompute the material's search stems from its current title and text."""
    columns = search.material_columns(
        material.title, material.description, material.body, material.extracted_text
    )
    for column, value in columns.items():
        setattr(material, column, value)


def delete_material(session: Session, editor: Principal, course_id: int, material_id: int) -> None:
    """Move a material to its course's recycle bin: hidden everywhere, restorable until it is
    purged (its file, and the file's object, stay until then)."""
    material = editable_material(session, editor, course_id, material_id)
    material.deleted_at = utcnow()
    material.deleted_by = editor.user_id
    commit_change(session)


# --- the recycle bin -----------------------------------------------------------------------


@dataclass(frozen=True)
class Deleted:
    """A course or material in the recycle bin: who deleted it, when, and when it goes."""

    item: Any
    deleted_at: datetime
    deleted_by: int | None
    purge_at: datetime

    def __getattr__(self, name: str) -> Any:
        return getattr(self.item, name)  # the item's own fields, for the answer's schema


def _in_bin(item: Course | Material, keep_days: int) -> Deleted:
    return Deleted(item, item.deleted_at, item.deleted_by, item.deleted_at + timedelta(keep_days))


def recycle_bin(
    session: Session, editor: Principal, course_id: int, *, keep_days: int
) -> list[Deleted]:
    """The deleted materials of a course, most recent first (its teachers and admins)."""
    course = editable_course(session, editor, course_id)
    materials = session.scalars(
        select(Material)
        .where(Material.course_id == course.id, Material.deleted_at.is_not(None))
        .order_by(Material.deleted_at.desc(), Material.id)
    )
    return [_in_bin(material, keep_days) for material in materials]


def restore_material(
    session: Session, editor: Principal, course_id: int, material_id: int
) -> Material:
    """Take a material out of the recycle bin (its teachers and admins); a no-op if it is not
    in it. Once purged it is gone: 404."""
    editable_course(session, editor, course_id)
    material = get_material(session, course_id, material_id, include_deleted=True)
    if material.deleted_at is not None:
        material.deleted_at = None
        material.deleted_by = None
        commit_change(session)
    return _reload_material(session, material)


def delete_course(session: Session, editor: Principal, course_id: int) -> None:
    """Move a course, with its materials, to the recycle bin (admin): hidden everywhere,
    restorable until it is purged."""
    course = _course(session, course_id, include_inactive=True)
    course.deleted_at = utcnow()
    course.deleted_by = editor.user_id
    commit_change(session)


def deleted_courses(session: Session, *, keep_days: int) -> list[Deleted]:
    """The courses in the recycle bin, most recent first (admin)."""
    courses = session.scalars(
        select(Course).where(Course.deleted_at.is_not(None)).order_by(Course.deleted_at.desc())
    )
    return [_in_bin(course, keep_days) for course in courses]


def restore_course(session: Session, course_id: int) -> CourseDetails:
    """Take a course out of the recycle bin (admin), with the materials it had; a no-op if
    it is not in it."""
    course = _course(session, course_id, include_inactive=True, include_deleted=True)
    if course.deleted_at is not None:
        course.deleted_at = None
        course.deleted_by = None
        commit_change(session)
    return _details(session, course)


def purge_deleted(session: Session, *, older_than: timedelta) -> tuple[int, int]:
    """Delete for good the courses and materials in the recycle bin longer than `older_than`;
    returns (courses, materials). Their files' objects go with the sweep that follows."""
    cutoff = utcnow() - older_than
    expired_courses = select(Course.id).where(Course.deleted_at < cutoff).scalar_subquery()
    materials = session.execute(
        delete(Material)
        .where((Material.deleted_at < cutoff) | Material.course_id.in_(expired_courses))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        delete(CourseTeacher)
        .where(CourseTeacher.course_id.in_(expired_courses))
        .execution_options(synchronize_session=False)
    )
    courses = session.execute(
        delete(Course)
        .where(Course.deleted_at < cutoff)
        .execution_options(synchronize_session=False)
    ).rowcount
    if courses or materials:
        commit_change(session)
    else:
        session.rollback()
    session.expunge_all()  # rows deleted in bulk: what the session held may be gone
    return courses, materials


def _reload_material(session: Session, material: Material) -> Material:
    """The material with its type loaded afresh (the type code may just have changed)."""
    session.refresh(material, attribute_names=["type"])
    return material
