"""What the recycle bin's endpoints answer (marshmallow 4): the item's own fields, and who
deleted it, when, and when it will be purged."""

from marshmallow import Schema, fields

from .schemas import MaterialFileSchema, MaterialSummarySchema


class InRecycleBin(Schema):
    deleted_at = fields.DateTime()
    deleted_by = fields.Int(allow_none=True, metadata={"description": "auth user id"})
    purge_at = fields.DateTime(metadata={"description": "when it is deleted for good"})


class DeletedMaterialSchema(MaterialSummarySchema, InRecycleBin):
    course_id = fields.Int()
    file = fields.Nested(MaterialFileSchema, allow_none=True)


class DeletedCourseSchema(InRecycleBin):
    id = fields.Int()
    name = fields.Str()
    description = fields.Str()
    semester = fields.Int()
    is_active = fields.Bool()
