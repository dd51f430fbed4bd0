"""Storing, removing and reordering favourites in the database (no catalog involved)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from favorites_service import services
from favorites_service.models import UserCourse
from service_kit import Conflict, InvalidInput
from tests.support.databases import schema_differences


def stored(session: Session, user_id: int) -> list[tuple[int, int]]:
    """(course_id, position) of a user's rows, in saved order, read fresh."""
    session.expire_all()
    rows = session.execute(
        select(UserCourse.course_id, UserCourse.position)
        .where(UserCourse.user_id == user_id)
        .order_by(UserCourse.position)
    )
    return [tuple(row) for row in rows]


def test_store_appends_at_the_end(session):
    first, created_first = services.store_favorite(session, 1, 30)
    second, created_second = services.store_favorite(session, 1, 10)
    assert created_first and created_second
    assert (first.position, second.position) == (0, 1)
    assert first.added_at.tzinfo is not None
    assert stored(session, 1) == [(30, 0), (10, 1)]


def test_store_twice_keeps_one_row_and_its_place(session):
    services.store_favorite(session, 1, 30)
    services.store_favorite(session, 1, 10)
    again, created = services.store_favorite(session, 1, 30)
    assert not created
    assert (again.course_id, again.position) == (30, 0)
    assert stored(session, 1) == [(30, 0), (10, 1)]


def test_users_do_not_share_favourites(session):
    services.store_favorite(session, 1, 30)
    entry, created = services.store_favorite(session, 2, 30)
    assert created and entry.position == 0
    services.remove_favorite(session, 2, 30)
    assert stored(session, 1) == [(30, 0)]
    assert stored(session, 2) == []


def test_limit_of_one_hundred(session):
    for course_id in range(1, services.MAX_FAVORITES + 1):
        services.store_favorite(session, 1, course_id)
    with pytest.raises(Conflict):
        services.store_favorite(session, 1, 1000)
    session.rollback()
    # A course already there is still answered as such when the Sider is full.
    entry, created = services.store_favorite(session, 1, 50)
    assert not created and entry.position == 49
    assert len(stored(session, 1)) == services.MAX_FAVORITES


def test_remove_closes_the_gap(session):
    for course_id in (5, 6, 7, 8):
        services.store_favorite(session, 1, course_id)
    services.remove_favorite(session, 1, 6)
    assert stored(session, 1) == [(5, 0), (7, 1), (8, 2)]
    entry, _ = services.store_favorite(session, 1, 9)
    assert entry.position == 3


def test_remove_of_an_absent_course_changes_nothing(session):
    services.store_favorite(session, 1, 5)
    services.remove_favorite(session, 1, 6)
    services.remove_favorite(session, 2, 5)
    assert stored(session, 1) == [(5, 0)]


def test_reorder_saves_the_new_positions(session):
    for course_id in (5, 6, 7):
        services.store_favorite(session, 1, course_id)
    services.store_favorite(session, 2, 5)
    services.reorder_favorites(session, 1, [7, 5, 6])
    assert stored(session, 1) == [(7, 0), (5, 1), (6, 2)]
    assert stored(session, 2) == [(5, 0)]


@pytest.mark.parametrize(
    ("course_ids", "problem"),
    [
        ([5, 6], "Missing from the new order: 7."),
        ([5, 6, 7, 8], "Not among your favourites: 8."),
        ([5, 6, 6, 7], "Listed more than once: 6."),
        ([5, 5, 6], "Missing from the new order: 7."),
        ([], "Missing from the new order: 5, 6, 7."),
    ],
)
def test_reorder_needs_a_permutation(session, course_ids, problem):
    for course_id in (5, 6, 7):
        services.store_favorite(session, 1, course_id)
    with pytest.raises(InvalidInput) as error:
        services.reorder_favorites(session, 1, course_ids)
    assert problem in error.value.errors["json"]["course_ids"]
    session.rollback()
    assert stored(session, 1) == [(5, 0), (6, 1), (7, 2)]


def test_reorder_cannot_touch_another_users_rows(session):
    services.store_favorite(session, 1, 5)
    services.store_favorite(session, 1, 6)
    with pytest.raises(InvalidInput):
        services.reorder_favorites(session, 2, [6, 5])
    session.rollback()
    assert stored(session, 1) == [(5, 0), (6, 1)]


def run_together(engine, count: int, work) -> list:
    """`work(session, index)` in `count` threads released at once, each with its own session."""
    barrier = threading.Barrier(count)

    def one(index):
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait()
            return work(session, index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_concurrent_adds_of_one_course_store_one_row(engine, session):
    results = run_together(engine, 16, lambda s, _: services.store_favorite(s, 1, 42)[1])
    assert results.count(True) == 1
    assert stored(session, 1) == [(42, 0)]


def test_concurrent_adds_of_different_courses_keep_positions_distinct(engine, session):
    run_together(engine, 16, lambda s, index: services.store_favorite(s, 1, 100 + index))
    positions = [position for _, position in stored(session, 1)]
    assert positions == list(range(16))


def test_concurrent_adds_never_pass_the_limit(engine, session):
    for course_id in range(1, services.MAX_FAVORITES - 2):
        services.store_favorite(session, 1, course_id)

    def add(s, index):
        try:
            return services.store_favorite(s, 1, 1000 + index)[1]
        except Conflict:
            return "full"

    results = run_together(engine, 12, add)
    assert results.count(True) == 3 and results.count("full") == 9
    count = session.scalar(select(func.count()).where(UserCourse.user_id == 1))
    assert count == services.MAX_FAVORITES


def test_migration_matches_the_models(engine):
    from favorites_service.models import Base

    url = engine.url.render_as_string(hide_password=False)
    assert schema_differences("favorites_service", Base.metadata, url) == []
