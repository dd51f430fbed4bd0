"""The catalog as the favourites service sees it: which of some course ids are active courses.

Two ways to ask, over one pooled `ServiceClient` made per app:

- `active_courses(ids)`: one batched `GET /api/courses?ids=...`, always fresh. Adding a
  favourite asks this way: the catalog vouches for the course at that moment.
- `listed_courses(ids)`: the same answer from this process's copy of the catalog's whole course
  list (`CourseDirectory`). The Sider is read on every page; with the copy, a read costs the
  favourites' own query and no catalog round trip that returns data. The copy is revalidated
  with the list's ETag at most every FAVORITES_CATALOG_REFRESH_SECONDS (a 304 while nothing
  changed), so a renamed or withdrawn course shows within one revalidation. An id the copy does
  not hold (withdrawn, or a course newer than the copy) is asked for by id, as before.

Whatever goes wrong on the way (down, slow, an error status, a document of the wrong shape)
reaches the caller as `UpstreamUnavailable`, so the Sider can degrade instead of fail.
"""

import threading
import time
from collections.abc import Callable, Collection
from typing import TypedDict

from flask import Flask, current_app

from service_kit import UpstreamUnavailable
from service_kit.http_client import ServiceClient


class CourseSummary(TypedDict):
    id: int
    name: str
    description: str
    semester: int


class Catalog:
    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 0.5,
        read_timeout: float = 2.0,
        refresh_seconds: float = 1.0,
    ):
        self.client = ServiceClient(
            base_url,
            name="catalog",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self.directory = CourseDirectory(self.client, refresh_seconds)

    def listed_courses(self, course_ids: Collection[int]) -> dict[int, CourseSummary]:
        """The active courses among `course_ids`, by id, from the revalidated copy of the list."""
        if not course_ids:
            return {}  # an empty Sider needs no catalog
        courses = self.directory.courses()
        found = {course_id: courses[course_id] for course_id in course_ids if course_id in courses}
        missing = set(course_ids) - found.keys()
        if missing:
            # Withdrawn, or created since the copy was taken: only the catalog can say which.
            found.update(self.active_courses(missing))
        return found

    def active_courses(self, course_ids: Collection[int]) -> dict[int, CourseSummary]:
        """The active courses among `course_ids` (at most 100), by id; unknown or inactive ids
        are absent."""
        wanted = set(course_ids)
        if not wanted:
            return {}
        body = self.client.get_json(
            "/api/courses", params={"ids": ",".join(map(str, sorted(wanted)))}, expect=list
        )
        courses = [_course_summary(item) for item in body]
        return {course["id"]: course for course in courses if course["id"] in wanted}


class CourseDirectory:
    """This process's copy of the catalog's active courses, by id; safe to share between threads.

    One thread at a time revalidates it; meanwhile the others read the copy they have (only the
    very first load is waited for). A failed revalidation raises and is tried again on the next
    read, so a catalog that is down is seen as down, not hidden behind an old copy.
    """

    def __init__(
        self,
        client: ServiceClient,
        refresh_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._courses: dict[int, CourseSummary] | None = None
        self._etag: str | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def courses(self) -> dict[int, CourseSummary]:
        copy = self._courses
        if copy is not None and self.clock() - self._checked < self.refresh_seconds:
            return copy
        if not self._lock.acquire(blocking=copy is None):
            return copy  # another thread is revalidating it
        try:
            if self._courses is not None and self.clock() - self._checked < self.refresh_seconds:
                return self._courses  # revalidated while this thread waited
            return self._revalidate()
        finally:
            self._lock.release()

    def _revalidate(self) -> dict[int, CourseSummary]:
        asked_at = self.clock()
        conditional = {"If-None-Match": self._etag} if self._courses is not None else {}
        response = self.client.request("GET", "/api/courses", headers=conditional)
        if response.status_code == 304 and self._courses is not None:
            self._checked = asked_at
            return self._courses
        body = self.client.json_of(response, expect=list)
        courses = {course["id"]: course for course in map(_course_summary, body)}
        self._courses, self._etag = courses, response.headers.get("ETag")
        self._checked = asked_at
        return courses


def _course_summary(item: object) -> CourseSummary:
    """The fields the Sider shows, or `UpstreamUnavailable` if the item is not a course."""
    if not isinstance(item, dict):
        raise UpstreamUnavailable("The catalog service sent an unexpected document.")
    course_id, name = item.get("id"), item.get("name")
    description, semester = item.get("description") or "", item.get("semester")
    if not (
        _is_int(course_id)
        and isinstance(name, str)
        and isinstance(description, str)
        and _is_int(semester)
    ):
        raise UpstreamUnavailable("The catalog service sent an unexpected document.")
    return {"id": course_id, "name": name, "description": description, "semester": semester}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def init_catalog(app: Flask) -> Catalog:
    """One catalog client per app, so its connections are pooled across requests."""
    catalog = Catalog(
        app.config["CATALOG_URL"], refresh_seconds=app.config["FAVORITES_CATALOG_REFRESH_SECONDS"]
    )
    app.extensions["catalog"] = catalog
    return catalog


def get_catalog() -> Catalog:
    return current_app.extensions["catalog"]
