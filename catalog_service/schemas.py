"""What the catalog API reads and writes (marshmallow 4)."""

import re
import unicodedata
from urllib.parse import urlparse

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, post_dump, validate, validates

from service_kit.pagination import PaginationQueryArgsSchema

from . import search
from .models import MAX_ID
from .services import (
    IDS_MAX,
    SEARCH_LIMIT_DEFAULT,
    SEARCH_LIMIT_MAX,
    SEARCH_QUERY_MAX_LENGTH,
    fold,
)

SEMESTERS = validate.Range(1, 12)
NAME_MAX = 200
TITLE_MAX = 300
DESCRIPTION_MAX = 5000
URL_MAX = 2000
BODY_MAX = 200_000
LESSON_MAX = 1000
_ASCII_ID = re.compile(r"[0-9]{1,19}")


def _has_forbidden_characters(value: str, *, multiline: bool) -> bool:
    """Control characters and lone surrogates (which Postgres cannot store) are refused."""
    allowed = "\n\r\t" if multiline else ""
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in value)


def single_line_text(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")
    if _has_forbidden_characters(value, multiline=False):
        raise ValidationError("Must not contain control characters.")


def multiline_text(value: str) -> None:
    if _has_forbidden_characters(value, multiline=True):
        raise ValidationError("Must not contain control characters.")


def web_url(value: str) -> None:
    """Only absolute http(s) links: no javascript:, data:, file: or relative URLs."""
    url = value.strip()
    parsed = urlparse(url)
    if (
        parsed.scheme.lower() not in ("http", "https")
        or not parsed.hostname
        or any(ch.isspace() for ch in url)
        or _has_forbidden_characters(url, multiline=False)
    ):
        raise ValidationError("Must be an absolute http:// or https:// URL.")


class CourseIdList(fields.Field):
    """`ids=1,2,3`: distinct positive course ids, at most IDS_MAX of them."""

    def _deserialize(self, value, attr, data, **kwargs) -> list[int]:
        if not isinstance(value, str):
            raise ValidationError("Must be comma-separated course ids.")
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not parts:
            raise ValidationError("Must name at least one course id.")
        if len(parts) > IDS_MAX:
            raise ValidationError(f"At most {IDS_MAX} ids at once.")
        ids = []
        for part in parts:
            if not _ASCII_ID.fullmatch(part) or not 1 <= int(part) <= MAX_ID:
                raise ValidationError(f"Course ids are integers from 1 to {MAX_ID}.")
            ids.append(int(part))
        return ids


# --- reading -------------------------------------------------------------------------------


class CourseSchema(Schema):
    id = fields.Int(dump_only=True)
    name = fields.Str()
    description = fields.Str()
    semester = fields.Int()


class CourseDetailsSchema(CourseSchema):
    is_active = fields.Bool()
    teacher_ids = fields.List(fields.Int(), metadata={"description": "auth user ids"})
    material_counts = fields.Dict(
        keys=fields.Str(),
        values=fields.Int(),
        metadata={"description": "number of materials per type code"},
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class SemesterSchema(Schema):
    semester = fields.Int()
    title = fields.Str(metadata={"example": "1-й семестр"})
    courses = fields.List(fields.Nested(CourseSchema))


class CourseQueryArgsSchema(PaginationQueryArgsSchema):
    """Without `page` or `page_size`, the whole list."""

    semester = fields.Int(validate=SEMESTERS)
    ids = CourseIdList(
        metadata={"description": f"comma-separated course ids, at most {IDS_MAX}", "type": "string"}
    )


class CourseSearchQueryArgsSchema(Schema):
    query = fields.Str(required=True, validate=validate.Length(max=SEARCH_QUERY_MAX_LENGTH))
    limit = fields.Int(
        load_default=SEARCH_LIMIT_DEFAULT, validate=validate.Range(1, SEARCH_LIMIT_MAX)
    )

    @validates("query")
    def _has_text(self, value: str, **kwargs) -> None:
        if not fold(value):
            raise ValidationError("Must contain some text.")


class SearchQueryArgsSchema(Schema):
    query = fields.Str(
        required=True,
        validate=validate.Length(max=search.QUERY_MAX_LENGTH),
        metadata={"description": "words to find, all of them, in any order"},
    )
    course_id = fields.Int(
        validate=validate.Range(1, MAX_ID), metadata={"description": "only this course's materials"}
    )
    type = fields.Str(
        validate=validate.Length(max=100),
        metadata={"description": "only materials of this type (code or Russian label)"},
    )
    limit = fields.Int(
        load_default=search.LIMIT_DEFAULT, validate=validate.Range(1, search.LIMIT_MAX)
    )

    @validates("query")
    def _has_text(self, value: str, **kwargs) -> None:
        if not fold(value):
            raise ValidationError("Must contain some text.")


class SnippetSegmentSchema(Schema):
    text = fields.Str()
    match = fields.Bool(metadata={"description": "a word of the query: show it highlighted"})


class SearchCourseSchema(Schema):
    id = fields.Int()
    name = fields.Str()
    semester = fields.Int()


class SearchMaterialSchema(Schema):
    id = fields.Int()
    title = fields.Str()
    lesson_number = fields.Int()
    material_type = fields.Str()
    material_type_code = fields.Str()


class SearchHitSchema(Schema):
    kind = fields.Str(metadata={"description": "course or material"})
    course = fields.Nested(SearchCourseSchema)
    material = fields.Nested(SearchMaterialSchema)
    score = fields.Float()
    snippet = fields.List(
        fields.Nested(SnippetSegmentSchema),
        metadata={"description": "text to show as is (never as HTML), matches marked"},
    )

    @post_dump
    def _only_materials_have_a_material(self, data: dict, **kwargs) -> dict:
        if data.get("material") is None:
            data.pop("material", None)
        return data


class MaterialQueryArgsSchema(Schema):
    type = fields.Str(
        validate=validate.Length(max=100),
        metadata={"description": "a type code (lecture, seminar, lab) or its Russian label"},
    )


class MaterialSummarySchema(Schema):
    id = fields.Int()
    lesson_number = fields.Int()
    material_type = fields.Str(metadata={"example": "Лекция"})
    material_type_code = fields.Str(metadata={"example": "lecture"})
    title = fields.Str()
    file_url = fields.Str(allow_none=True, metadata={"description": "an external link, or null"})
    has_text = fields.Bool(metadata={"description": "a body or a file's extracted text"})
    has_file = fields.Function(lambda material: material.file_sha256 is not None)


class CourseMaterialsSchema(Schema):
    course_id = fields.Int()
    course_name = fields.Str()
    materials = fields.List(fields.Nested(MaterialSummarySchema))


class MaterialTypeSchema(Schema):
    code = fields.Str(metadata={"example": "lecture"})
    label = fields.Str(metadata={"example": "Лекция"})
    group_label = fields.Str(metadata={"example": "Лекции"})
    sort_order = fields.Int()


class MaterialFileSchema(Schema):
    name = fields.Str(metadata={"example": "Лекция 1.pdf"})
    size = fields.Int(metadata={"description": "bytes"})
    content_type = fields.Str(metadata={"example": "application/pdf"})
    sha256 = fields.Str()
    url = fields.Str(metadata={"description": "where to download it"})


class MaterialSchema(MaterialSummarySchema):
    course_id = fields.Int()
    description = fields.Str()
    body = fields.Str(metadata={"description": "Markdown"})
    body_html = fields.Str(metadata={"description": "the body rendered and sanitised"})
    file = fields.Nested(MaterialFileSchema, allow_none=True)
    text_status = fields.Str(
        metadata={"description": "the file's text: none, pending, ready or failed"}
    )
    text_error = fields.Str(allow_none=True, metadata={"description": "why extraction failed"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


# --- writing -------------------------------------------------------------------------------


class CourseCreateSchema(Schema):
    name = fields.Str(required=True, validate=[validate.Length(max=NAME_MAX), single_line_text])
    description = fields.Str(
        load_default="", validate=[validate.Length(max=DESCRIPTION_MAX), multiline_text]
    )
    semester = fields.Int(required=True, strict=True, validate=SEMESTERS)
    is_active = fields.Bool(load_default=True)


class CourseUpdateSchema(Schema):
    name = fields.Str(validate=[validate.Length(max=NAME_MAX), single_line_text])
    description = fields.Str(validate=[validate.Length(max=DESCRIPTION_MAX), multiline_text])
    semester = fields.Int(strict=True, validate=SEMESTERS)
    is_active = fields.Bool()


class MaterialCreateSchema(Schema):
    lesson_number = fields.Int(required=True, strict=True, validate=validate.Range(1, LESSON_MAX))
    material_type_code = fields.Str(
        required=True,
        validate=validate.Length(max=32),
        metadata={"description": "lecture, seminar or lab"},
    )
    title = fields.Str(required=True, validate=[validate.Length(max=TITLE_MAX), single_line_text])
    description = fields.Str(
        load_default="", validate=[validate.Length(max=DESCRIPTION_MAX), multiline_text]
    )
    file_url = fields.Str(
        load_default=None, allow_none=True, validate=[validate.Length(max=URL_MAX), web_url]
    )
    body = fields.Str(load_default="", validate=[validate.Length(max=BODY_MAX), multiline_text])


class MaterialUpdateSchema(Schema):
    lesson_number = fields.Int(strict=True, validate=validate.Range(1, LESSON_MAX))
    material_type_code = fields.Str(validate=validate.Length(max=32))
    title = fields.Str(validate=[validate.Length(max=TITLE_MAX), single_line_text])
    description = fields.Str(validate=[validate.Length(max=DESCRIPTION_MAX), multiline_text])
    file_url = fields.Str(allow_none=True, validate=[validate.Length(max=URL_MAX), web_url])
    body = fields.Str(validate=[validate.Length(max=BODY_MAX), multiline_text])


class MaterialPreviewSchema(Schema):
    body = fields.Str(required=True, validate=[validate.Length(max=BODY_MAX), multiline_text])


class RenderedSchema(Schema):
    html = fields.Str()


class MaterialTextSchema(Schema):
    text = fields.Str()
    source = fields.Str(metadata={"description": "body, file or both"})
    chars = fields.Int()
    sha256 = fields.Str(metadata={"description": "of the text, UTF-8"})


class FileUploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "the file (multipart field `file`)"})
