"""What the catalog API reads and writes (marshmallow 4)."""

import re
from urllib.parse import urlparse

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, post_dump, validate, validates

from service_kit.pagination import PaginationQueryArgsSchema
from service_kit.validation import (
    MultiLineText,
    PatchSchema,
    SingleLineText,
    Str,
    check_no_format_characters,
)

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
# The material types the migrations create (codes, then their Russian labels); `type` filters
# take either, in any letter case.
MATERIAL_TYPE_CODES = ("lecture", "seminar", "lab")
MATERIAL_TYPE_LABELS = ("Лекция", "Семинар", "Лабораторная работа")
# What the query string's `ids` looks like (the service also forgives spaces and a last comma).
IDS_PATTERN = rf"^[0-9]{{1,10}}(,[0-9]{{1,10}}){{0,{IDS_MAX - 1}}}$"
# Search text: something besides white space (control characters alone are refused too).
QUERY_PATTERN = r"\S"


def web_url(value: str) -> None:
    """Only absolute http(s) links: no javascript:, data:, file: or relative URLs, and nothing
    invisible that could make one link look like another."""
    url = value.strip()
    try:
        check_no_format_characters(url)
        parsed = urlparse(url)
        valid = (
            parsed.scheme.lower() in ("http", "https")
            and bool(parsed.hostname)
            and not any(ch.isspace() for ch in url)
        )
    except (ValidationError, ValueError):  # urlparse: e.g. an invalid IPv6 host
        valid = False
    if not valid:
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
        metadata={
            "description": f"comma-separated course ids (1 to {MAX_ID}), at most {IDS_MAX}",
            "type": "string",
            "minLength": 1,
            "pattern": IDS_PATTERN,
        }
    )


class CourseSearchQueryArgsSchema(Schema):
    query = Str(
        required=True,
        validate=validate.Length(min=1, max=SEARCH_QUERY_MAX_LENGTH),
        metadata={"pattern": QUERY_PATTERN, "description": "text to find; not blank"},
    )
    limit = fields.Int(
        load_default=SEARCH_LIMIT_DEFAULT, validate=validate.Range(1, SEARCH_LIMIT_MAX)
    )

    @validates("query")
    def _has_text(self, value: str, **kwargs) -> None:
        if not fold(value):
            raise ValidationError("Must contain some text.")


class SearchQueryArgsSchema(Schema):
    query = Str(
        required=True,
        validate=validate.Length(min=1, max=search.QUERY_MAX_LENGTH),
        metadata={
            "description": "words to find, all of them, in any order; not blank",
            "pattern": QUERY_PATTERN,
        },
    )
    course_id = fields.Int(
        validate=validate.Range(1, MAX_ID), metadata={"description": "only this course's materials"}
    )
    type = Str(
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "only materials of this type: a code or its Russian label, "
            "in any letter case",
            "enum": [*MATERIAL_TYPE_CODES, *MATERIAL_TYPE_LABELS],
        },
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
    type = Str(
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "a type code (lecture, seminar, lab) or its Russian label, in any "
            "letter case",
            "enum": [*MATERIAL_TYPE_CODES, *MATERIAL_TYPE_LABELS],
        },
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

NAME = {"validate": validate.Length(max=NAME_MAX)}
TITLE = {"validate": validate.Length(max=TITLE_MAX)}
DESCRIPTION = {"validate": validate.Length(max=DESCRIPTION_MAX)}
BODY = {"validate": validate.Length(max=BODY_MAX), "metadata": {"description": "Markdown"}}
FILE_URL = {"allow_none": True, "validate": [validate.Length(max=URL_MAX), web_url]}
LESSON = {"strict": True, "validate": validate.Range(1, LESSON_MAX)}
TYPE_CODE = {
    "validate": validate.Length(max=32),
    "metadata": {"description": "lecture, seminar or lab", "enum": list(MATERIAL_TYPE_CODES)},
}


class CourseCreateSchema(Schema):
    name = SingleLineText(required=True, **NAME)
    description = MultiLineText(load_default="", **DESCRIPTION)
    semester = fields.Int(required=True, strict=True, validate=SEMESTERS)
    is_active = fields.Bool(load_default=True)


class CourseUpdateSchema(PatchSchema):
    name = SingleLineText(**NAME)
    description = MultiLineText(**DESCRIPTION)
    semester = fields.Int(strict=True, validate=SEMESTERS)
    is_active = fields.Bool()


class MaterialCreateSchema(Schema):
    lesson_number = fields.Int(required=True, **LESSON)
    material_type_code = Str(required=True, **TYPE_CODE)
    title = SingleLineText(required=True, **TITLE)
    description = MultiLineText(load_default="", **DESCRIPTION)
    file_url = Str(load_default=None, **FILE_URL)
    body = MultiLineText(load_default="", **BODY)


class MaterialUpdateSchema(PatchSchema):
    lesson_number = fields.Int(**LESSON)
    material_type_code = Str(**TYPE_CODE)
    title = SingleLineText(**TITLE)
    description = MultiLineText(**DESCRIPTION)
    file_url = Str(**FILE_URL)
    body = MultiLineText(**BODY)


class MaterialPreviewSchema(Schema):
    body = MultiLineText(required=True, **BODY)


class RenderedSchema(Schema):
    html = fields.Str()


class MaterialTextSchema(Schema):
    text = fields.Str()
    source = fields.Str(metadata={"description": "body, file or both"})
    chars = fields.Int()
    sha256 = fields.Str(metadata={"description": "of the text, UTF-8"})


class FileUploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "the file (multipart field `file`)"})
