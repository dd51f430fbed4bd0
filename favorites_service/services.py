"""The Sider's rules: a user's favourite courses, their order, and the catalog details beside them.

Every function takes the caller's user id from the route (which has it from the token) and
touches that user's rows only.
"""

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service_kit import Conflict, InvalidInput, NotFound, UpstreamUnavailable
from service_kit.db import Database, utcnow

from .catalog import Catalog, CourseSummary
from .models import UserCourse

log = logging.getLogger(__name__)

# The Sider is a quick-access panel; the catalog also answers at most this many ids at once.
MAX_FAVORITES = 100


@dataclass(frozen=True)
class Favorite:
    """A favourite as the Sider shows it.

    `available` is True when the catalog lists the course, False when the catalog answered
    without it (deleted or deactivated: the favourite stays stored), None when the catalog could
    not be asked (`course` is None then too).
    """

    course_id: int
    added_at: datetime
    position: int
    course: CourseSummary | None
    available: bool | None


@dataclass(frozen=True)
class Sider:
    favorites: list[Favorite]
    catalog_available: bool


def list_favorites(database: Database, catalog: Catalog, user_id: int) -> Sider:
    """The user's favourites in their saved order, with course details when the catalog answers."""
    # The Sider is read on every page: one autocommit read of three columns, on the pool without
    # the pre-ping round trip, and no connection held while the catalog may be asked.
    entries = database.read(lambda connection: saved_favorites(connection, user_id))
    try:
        courses = catalog.listed_courses([entry.course_id for entry in entries])
    except UpstreamUnavailable as error:
        log.warning("favourites listed without course details: %s", error)
        return Sider([_favorite(entry, None, None) for entry in entries], False)
    favorites = [
        _favorite(entry, courses.get(entry.course_id), entry.course_id in courses)
        for entry in entries
    ]
    return Sider(favorites, True)


# Built once: the Sider is read on every page, and building the statement cost a tenth of a read.
_SAVED_FAVORITES = (
    select(UserCourse.course_id, UserCourse.added_at, UserCourse.position)
    .where(UserCourse.user_id == bindparam("user_id"))
    .order_by(UserCourse.position, UserCourse.id)
)


def saved_favorites(connection: Connection, user_id: int) -> Sequence[Row]:
    """The user's stored favourites (course_id, added_at, position) in their saved order."""
    return connection.execute(_SAVED_FAVORITES, {"user_id": user_id}).all()


def add_favorite(
    session: Session, catalog: Catalog, user_id: int, course_id: int
) -> tuple[Favorite, bool]:
    """Add an active course at the end of the Sider; True when it was not there before."""
    try:
        course = catalog.active_courses([course_id]).get(course_id)
    except UpstreamUnavailable as error:
        raise UpstreamUnavailable(
            "The course catalog cannot be reached right now, so the course was not added. "
            "Please try again in a moment."
        ) from error
    if course is None:
        raise NotFound(f"There is no course with id {course_id}.")
    entry, created = store_favorite(session, user_id, course_id)
    return _favorite(entry, course, True), created


def store_favorite(session: Session, user_id: int, course_id: int) -> tuple[UserCourse, bool]:
    """Store a favourite the catalog has vouched for; True when it was not there before.

    Concurrent adds of one course meet at UNIQUE(user_id, course_id): the insert does nothing
    on conflict and the existing row is returned. The per-user lock keeps the count behind the
    limit and the next position true while other adds of the same user run.
    """
    _lock_favorites_of(session, user_id)
    count = session.scalar(
        select(func.count()).select_from(UserCourse).where(UserCourse.user_id == user_id)
    )
    created = False
    if count < MAX_FAVORITES:
        insert = postgresql.insert if _on_postgres(session) else sqlite.insert
        statement = (
            insert(UserCourse)
            .values(user_id=user_id, course_id=course_id, position=count, added_at=utcnow())
            .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
            .returning(UserCourse.id)
        )
        created = session.scalar(statement) is not None
    entry = _entry(session, user_id, course_id)
    if entry is None:
        raise Conflict(
            f"The Sider holds at most {MAX_FAVORITES} courses; remove one before adding another."
        )
    session.commit()
    return entry, created


def remove_favorite(session: Session, user_id: int, course_id: int) -> None:
    """Remove a favourite if it is there; the ones after it move up one place."""
    _lock_favorites_of(session, user_id)
    position = session.scalar(
        delete(UserCourse)
        .where(UserCourse.user_id == user_id, UserCourse.course_id == course_id)
        .returning(UserCourse.position)
    )
    if position is not None:
        session.execute(
            update(UserCourse)
            .where(UserCourse.user_id == user_id, UserCourse.position > position)
            .values(position=UserCourse.position - 1)
        )
    session.commit()


def reorder_favorites(session: Session, user_id: int, course_ids: list[int]) -> None:
    """Save a new order, given as every favourite course id exactly once."""
    _lock_favorites_of(session, user_id)
    entries = {
        entry.course_id: entry
        for entry in session.scalars(select(UserCourse).where(UserCourse.user_id == user_id))
    }
    problems = _permutation_problems(course_ids, set(entries))
    if problems:
        raise InvalidInput(
            "course_ids must list each of your favourite courses exactly once.",
            errors={"json": {"course_ids": problems}},
        )
    for position, course_id in enumerate(course_ids):
        entries[course_id].position = position
    session.commit()


def _permutation_problems(course_ids: list[int], favorite_ids: set[int]) -> list[str]:
    problems = []
    duplicates = sorted(course_id for course_id, n in Counter(course_ids).items() if n > 1)
    if duplicates:
        problems.append(f"Listed more than once: {_id_list(duplicates)}.")
    unknown = sorted(set(course_ids) - favorite_ids)
    if unknown:
        problems.append(f"Not among your favourites: {_id_list(unknown)}.")
    missing = sorted(favorite_ids - set(course_ids))
    if missing:
        problems.append(f"Missing from the new order: {_id_list(missing)}.")
    return problems


def _id_list(ids: list[int]) -> str:
    return ", ".join(map(str, ids))


def _entry(session: Session, user_id: int, course_id: int) -> UserCourse | None:
    return session.scalar(
        select(UserCourse).where(UserCourse.user_id == user_id, UserCourse.course_id == course_id)
    )


def _favorite(
    entry: UserCourse | Row, course: CourseSummary | None, available: bool | None
) -> Favorite:
    return Favorite(entry.course_id, entry.added_at, entry.position, course, available)


def _on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _lock_favorites_of(session: Session, user_id: int) -> None:
    """Serialise the writes of one user's favourites until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock keyed by the user, so other users' writes
    run in parallel. SQLite has a single writer anyway; BEGIN IMMEDIATE takes that write lock
    when the transaction starts rather than at its first write, so what it reads stays true.
    """
    if _on_postgres(session):
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"favorites.user_courses:{user_id}"},
        )
    else:
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")
