"""Pages of a list, the same in every service: `page`/`page_size` query arguments, a count and a
slice of one statement, and flask-smorest's `X-Pagination` header describing the page."""

import json
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
PAGE_MAX = 1_000_000  # far past any real list; keeps OFFSET arithmetic small

PAGINATION_HEADER = {
    "X-Pagination": {
        "description": "JSON: total, total_pages, first_page, last_page, page, "
        "previous_page, next_page",
        "schema": {"type": "string"},
    }
}


class PaginationQueryArgsSchema(Schema):
    page = fields.Int(validate=validate.Range(1, PAGE_MAX))
    page_size = fields.Int(validate=validate.Range(1, PAGE_SIZE_MAX))


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    page_size: int
    total: int

    @property
    def total_pages(self) -> int:
        return -(-self.total // self.page_size) if self.total else 0


def paginate(
    session: Session, statement: Select, page: int | None = None, page_size: int | None = None
) -> Page:
    """One page of `statement`'s rows (in its order) and the count of all of them."""
    page, page_size = page or 1, page_size or PAGE_SIZE_DEFAULT
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = session.scalars(statement.offset((page - 1) * page_size).limit(page_size))
    return Page(list(items), page, page_size, total or 0)


def pagination_header(page: Page) -> dict[str, str]:
    """flask-smorest's X-Pagination format, so clients of every service read one shape."""
    metadata: dict[str, int] = {"total": page.total, "total_pages": page.total_pages}
    if page.total_pages:
        metadata.update(first_page=1, last_page=page.total_pages)
        if page.page <= page.total_pages:
            metadata["page"] = page.page
            if page.page > 1:
                metadata["previous_page"] = page.page - 1
            if page.page < page.total_pages:
                metadata["next_page"] = page.page + 1
    return {"X-Pagination": json.dumps(metadata)}
