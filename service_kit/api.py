"""The flask-smorest Blueprint every service uses, with a body parser that never lets bad JSON
become a 500.

The parser answers 400 "Invalid JSON body" for anything `json.loads` alone would let through
only to fail later, and 422 for a document that is JSON but not text:

- nesting deeper than `MAX_JSON_DEPTH` (checked on the text, before `json.loads`, whose C
  scanner would otherwise raise RecursionError ~1,000 levels down; no body of this API nests
  more than three levels);
- `NaN`, `Infinity` and `-Infinity`, which are not JSON, and numbers like `1e999` that only
  a float's infinity could hold;
- integers of more than 4,300 digits (Python refuses to convert them: a plain ValueError);
- (422) strings or keys holding a lone surrogate (`"\\ud800"` is legal JSON syntax, but it is
  not text: it cannot be encoded for the database, the password hasher or a JSON response, so
  it is refused before any schema, which would echo an unknown key back, sees it).
"""

import json
import math
import re
from collections.abc import Callable
from functools import wraps

import flask_smorest
from apispec.ext.marshmallow.common import resolve_schema_instance
from flask import request
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser, abort, is_json_request

from .validation import PatchSchema, has_lone_surrogate

MAX_JSON_DEPTH = 32
# Strings (with their escapes) removed, the brackets left are the structure.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class InvalidJson(json.JSONDecodeError):
    """webargs turns a JSONDecodeError with a non-empty document into its 400."""

    def __init__(self, reason: str):
        super().__init__(reason, "<request body>", 0)


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON `text` nests arrays/objects more than `limit` levels deep."""
    if text.count("[") + text.count("{") <= limit:  # the common case: nothing to scan
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class NotUnicodeText(ValueError):
    """A JSON document whose strings are not all valid Unicode text."""


def _not_json(constant: str):
    raise InvalidJson(f"{constant} is not a JSON number.")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise InvalidJson(f"The number {literal[:40]} is out of range.")
    return number


def holds_lone_surrogate(document) -> bool:
    """Whether any string or key of a parsed JSON document is not valid Unicode text."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_lone_surrogate(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def load_json_body(data: bytes) -> object:
    """The request body as a JSON document, or InvalidJson (a JSONDecodeError) saying why not.

    An empty body raises a JSONDecodeError with an empty document: webargs reads that as
    "no body at all". A lone surrogate raises NotUnicodeText.
    """
    try:
        text = data.decode("utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else data.decode()
    except UnicodeDecodeError as error:
        raise InvalidJson(f"The body is not UTF-8: {error.reason}.") from error
    if not text:
        raise json.JSONDecodeError("Empty body", "", 0)
    if too_deep(text):
        raise InvalidJson(f"Nested more than {MAX_JSON_DEPTH} levels deep.")
    try:
        document = json.loads(text, parse_constant=_not_json, parse_float=_finite_float)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        # e.g. an integer of more than 4,300 digits.
        raise InvalidJson(str(error)) from error
    if holds_lone_surrogate(document):
        raise NotUnicodeText(
            "Strings must be valid Unicode text; this body holds a lone surrogate."
        )
    return document


class SafeJsonParser(FlaskParser):
    """webargs' Flask parser over `load_json_body`: hostile JSON is a 400, never a 500."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return super()._raw_load_json(req)  # `missing`: not a JSON body
        try:
            return load_json_body(req.get_data(cache=True))
        except NotUnicodeText as error:
            abort(422, exc=error, messages={"json": [str(error)]})

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        abort(400, exc=error, messages={"json": [f"Invalid JSON body: {reason}"]})


# A multipart body holds its file and a little more: the boundaries and the part headers.
MULTIPART_OVERHEAD = 64 * 1024


def accepts_upload_of(max_bytes: Callable[[], int]) -> Callable[[Callable], Callable]:
    """Let a view's multipart body hold a file of up to `max_bytes()` (read per request, from
    the app's config); every other request keeps MAX_CONTENT_LENGTH (1 MiB)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            request.max_content_length = max_bytes() + MULTIPART_OVERHEAD
            return view(*args, **kwargs)

        return wrapper

    return decorator


# `@blp.arguments(XQueryArgsSchema, **QUERY_ARGS)`: a bad query string is a 400, not a 422, and
# so is an unknown parameter (webargs would drop it silently: junk that still varies the URL).
QUERY_ARGS = {"location": "query", "error_status_code": 400, "unknown": RAISE}


def document_patch_bodies(converter) -> None:
    """PATCH bodies (`PatchSchema`) need at least one field: say so in the spec too
    (`minProperties: 1`), as apispec has no Meta option for it."""
    if getattr(converter, "documents_patch_bodies", False):
        return
    to_jsonschema = converter.schema2jsonschema

    def schema2jsonschema(schema):
        jsonschema = to_jsonschema(schema)
        if isinstance(resolve_schema_instance(schema), PatchSchema):
            jsonschema["minProperties"] = 1
        return jsonschema

    converter.schema2jsonschema = schema2jsonschema
    converter.documents_patch_bodies = True


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = SafeJsonParser()

    def register_views_in_doc(self, api, app, spec, *, name, parameters):
        document_patch_bodies(api.ma_plugin.converter)
        return super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)
