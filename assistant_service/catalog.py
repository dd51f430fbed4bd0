"""The catalog as the assistant sees it: a course, who teaches it, its materials and their text.

Every call goes over one pooled `ServiceClient`; whatever goes wrong on the way reaches the caller
as `UpstreamUnavailable` (503). "Does this user teach that course?" is asked often (every
request of a teacher) and changes rarely, so answers are kept for a short while.
"""

import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from service_kit import NotFound, UpstreamUnavailable
from service_kit.http_client import ServiceClient


@dataclass(frozen=True)
class Course:
    id: int
    name: str
    teacher_ids: frozenset[int]


@dataclass(frozen=True)
class MaterialSummary:
    id: int
    title: str
    material_type_code: str
    lesson_number: int
    has_text: bool


@dataclass(frozen=True)
class MaterialText:
    text: str
    sha256: str


class Catalog:
    def __init__(self, base_url: str, *, cache_seconds: float = 30.0, read_timeout: float = 5.0):
        self.client = ServiceClient(base_url, name="catalog", read_timeout=read_timeout)
        self.cache_seconds = cache_seconds
        self._courses: dict[int, tuple[float, Course]] = {}
        self._lock = threading.Lock()

    def course(self, course_id: int) -> Course:
        """The active course (kept for `cache_seconds`); NotFound when the catalog has none."""
        now = time.monotonic()
        with self._lock:
            cached = self._courses.get(course_id)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        body = self._get(f"/api/courses/{course_id}", "No such course.")
        course = Course(
            id=_integer(body.get("id")),
            name=_string(body.get("name")),
            teacher_ids=frozenset(_integer(item) for item in _list(body.get("teacher_ids"))),
        )
        with self._lock:
            if len(self._courses) > 10_000:
                self._courses.clear()
            self._courses[course_id] = (now, course)
        return course

    def find_course(self, name: str) -> Course | None:
        """The active course called exactly `name`, if any."""
        listed = self.client.get_json("/api/courses", expect=list)
        for item in map(_object, listed):
            if item.get("name") == name:
                return self.course(_integer(item.get("id")))
        return None

    def materials(self, course_id: int) -> list[MaterialSummary]:
        body = self._get(f"/api/courses/{course_id}/materials", "No such course.")
        return [
            MaterialSummary(
                id=_integer(item.get("id")),
                title=_string(item.get("title")),
                material_type_code=_string(item.get("material_type_code")),
                lesson_number=_integer(item.get("lesson_number")),
                has_text=item.get("has_text") is True,
            )
            for item in map(_object, _list(body.get("materials")))
        ]

    def material_text(self, course_id: int, material_id: int) -> MaterialText | None:
        """The material's text, or None when it stores none (or is gone)."""
        path = f"/api/courses/{course_id}/materials/{material_id}/text"
        response = self.client.request("GET", path)
        if response.status_code == 404:
            return None
        body = self._json(response)
        return MaterialText(text=_string(body.get("text")), sha256=_string(body.get("sha256")))

    def _get(self, path: str, not_found: str) -> dict[str, Any]:
        response = self.client.request("GET", path)
        if response.status_code == 404:
            raise NotFound(not_found)
        return self._json(response)

    def _json(self, response) -> dict[str, Any]:
        return self.client.json_of(response, expect=dict)


def _unexpected() -> UpstreamUnavailable:
    return UpstreamUnavailable("The catalog service sent an unexpected document.")


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _unexpected()
    return value


def _list(value: object) -> list:
    if not isinstance(value, list):
        raise _unexpected()
    return value


def _integer(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _unexpected()
    return value


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _unexpected()
    return value


def init_catalog(app: Flask) -> Catalog:
    """One catalog client per app, so its connections are pooled across requests."""
    catalog = Catalog(
        app.config["CATALOG_URL"], cache_seconds=app.config["ASSISTANT_TEACHING_CACHE_SECONDS"]
    )
    app.extensions["catalog"] = catalog
    return catalog


def get_catalog() -> Catalog:
    return current_app.extensions["catalog"]
