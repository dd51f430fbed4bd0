"""What the Sider's endpoints take and give."""

from marshmallow import Schema, fields
from marshmallow.validate import Length, Range

from service_kit.routing import MAX_ID

from .services import MAX_FAVORITES


class CourseId(fields.Integer):
    """A course id: a JSON integer within the catalog's id range; "7", 7.5 or true are not
    (marshmallow's strict integers already refuse booleans)."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, validate=Range(min=1, max=MAX_ID), **kwargs)


class CourseSummarySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    semester = fields.Integer()


class FavoriteSchema(Schema):
    course_id = fields.Integer()
    added_at = fields.DateTime()
    position = fields.Integer(metadata={"description": "0-based place in the saved order"})
    course = fields.Nested(
        CourseSummarySchema,
        allow_none=True,
        metadata={"description": "null when the catalog is unreachable or no longer lists it"},
    )
    available = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "true: the catalog lists the course; false: it no longer does "
            "(deleted or deactivated); null: the catalog could not be asked "
            "(the response then carries X-Catalog-Status: unavailable)"
        },
    )


class FavoriteCreateSchema(Schema):
    course_id = CourseId(required=True)


class FavoriteOrderSchema(Schema):
    course_ids = fields.List(
        CourseId(),
        required=True,
        validate=Length(max=MAX_FAVORITES),
        metadata={"description": "every favourite course id exactly once, in the new order"},
    )
