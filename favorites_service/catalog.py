"""The catalog as the favourites service sees it: which of some course ids are active courses.

One batched `GET /api/courses?ids=...` per lookup, over a pooled `ServiceClient` made once per
app. Whatever goes wrong on the way (down, slow, an error status, a document of the wrong
shape) reaches the caller as `UpstreamUnavailable`, so the Sider can degrade instead of fail.
"""

from collections.abc import Collection
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
    def __init__(self, base_url: str, *, connect_timeout: float = 0.5, read_timeout: float = 2.0):
        self.client = ServiceClient(
            base_url,
            name="catalog",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )

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
    catalog = Catalog(app.config["CATALOG_URL"])
    app.extensions["catalog"] = catalog
    return catalog


def get_catalog() -> Catalog:
    return current_app.extensions["catalog"]
