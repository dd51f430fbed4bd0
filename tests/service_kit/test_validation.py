"""Hostile input the shared parser and text fields refuse: clear 4xx JSON errors, never a 500."""

import json

import pytest
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields
from marshmallow.validate import Range

from service_kit import create_service_app
from service_kit.api import MAX_JSON_DEPTH, Blueprint, load_json_body, too_deep
from service_kit.validation import (
    Email,
    MultiLineText,
    PatchSchema,
    SingleLineText,
    Str,
    check_multi_line,
    check_single_line,
)

SURROGATE = "\ud800"
BIDI_AND_INVISIBLE = [
    "\u202egnp.exe",  # RIGHT-TO-LEFT OVERRIDE: shows as "exe.png"
    "a\u202ab",
    "a\u2066b\u2069",
    "a\u200bb",  # zero-width space
    "a\u200db",  # zero-width joiner
    "\ufeffa",  # BOM
    "a\u00adb",  # soft hyphen
    "a\u2028b",  # line separator
    "a\u0000b",
    "a\nb",
    "a\tb",
    "a\x7fb",
]


class BodySchema(Schema):
    name = SingleLineText(required=True)
    text = MultiLineText()
    email = Email()
    anything = Str()
    number = fields.Int(strict=True, validate=Range(0, 100))


class ChangesSchema(PatchSchema):
    name = SingleLineText()
    flag = fields.Bool()


@pytest.fixture
def client():
    app, api = create_service_app("test", __name__, {"TESTING": True}, title="t", database=False)
    blp = Blueprint("t", __name__, url_prefix="/api")

    @blp.route("/things")
    class Things(MethodView):
        @blp.arguments(BodySchema)
        @blp.response(201, BodySchema)
        def post(self, body):
            return body

        @blp.arguments(ChangesSchema)
        @blp.response(200, ChangesSchema)
        def patch(self, changes):
            return changes

    api.register_blueprint(blp)
    return app.test_client()


def post_raw(client, raw: str | bytes, method="post"):
    return client.open("/api/things", method=method, data=raw, content_type="application/json")


def assert_json_error(response, *statuses) -> dict:
    assert response.status_code in statuses, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == response.status_code and body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deep_nesting_is_400(client, depth, opener):
    closer = "]" if opener == "[" else "}"
    raw = opener * depth + "1" + closer * depth
    body = assert_json_error(post_raw(client, raw), 400)
    assert "Nested more than" in str(body["errors"])


def test_nesting_up_to_the_limit_parses():
    raw = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert not too_deep(raw)
    assert load_json_body(raw.encode()) is not None


def test_brackets_inside_strings_are_not_nesting():
    raw = json.dumps({"name": "[" * 5000 + "{" * 5000, "text": '\\"[[[['})
    assert not too_deep(raw)


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": "\\ud800"}',
        '{"name": "ok", "anything": "x\\udfffy"}',
        '{"\\ud800": 1, "name": "ok"}',  # an unknown key would be echoed in the error
        '{"name": "ok", "number": ["\\udc00"]}',
        '["\\ud800"]',
        '"\\ud800"',
    ],
)
def test_lone_surrogates_anywhere_are_422(client, raw):
    body = assert_json_error(post_raw(client, raw), 422)
    assert "lone surrogate" in str(body["errors"])


def test_a_surrogate_pair_is_text(client):
    response = post_raw(client, '{"name": "\\ud83d\\ude00"}')
    assert response.status_code == 201 and response.get_json()["name"] == "😀"


@pytest.mark.parametrize(
    "raw",
    ['{"name": NaN}', '{"number": Infinity}', '{"number": -Infinity}', "1" + "0" * 5000, "\xff"],
)
def test_not_json_is_400(client, raw):
    assert_json_error(post_raw(client, raw.encode("latin-1")), 400)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "number": 10**4000},
        {"name": "x", "number": 1e308},
        {"name": "x", "number": 1.5},
        {"name": 1},
        {"name": ["x"]},
        {"name": None},
        [],
        "x",
        1,
        None,
        True,
    ],
)
def test_wrong_types_are_422(client, body):
    assert_json_error(post_raw(client, json.dumps(body)), 422)


def test_an_infinite_number_is_400(client):
    assert_json_error(post_raw(client, '{"name": "x", "number": 1e999}'), 400)


@pytest.mark.parametrize("value", BIDI_AND_INVISIBLE)
def test_single_line_refuses_control_and_format_characters(client, value):
    body = assert_json_error(client.post("/api/things", json={"name": value}), 422)
    assert "U+" in body["errors"]["json"]["name"][0]


@pytest.mark.parametrize("value", ["", "   ", "\u3000"])
def test_single_line_refuses_blank(value):
    with pytest.raises(ValidationError, match="blank"):
        check_single_line(value)


@pytest.mark.parametrize(
    "value", ["Алгоритмы и структуры данных", "C++ / C#", "Ёлка 🎄", "عربي", "日本語", "a b"]
)
def test_single_line_takes_real_names(value):
    check_single_line(value)


@pytest.mark.parametrize(
    "value",
    [
        "Строка 1\nСтрока 2\r\n\tотступ",
        "👩\u200d💻 emoji sequences need the joiner",
        "می\u200cخواهم",  # Persian needs the zero-width non-joiner
        "Hyphen\u00adation",
        "abc \u200f עברית",  # right-to-left mark
    ],
)
def test_multi_line_takes_real_text(value):
    check_multi_line(value)


@pytest.mark.parametrize(
    "value",
    ["a\u202eb", "a\u2066b", "a\u200bb", "a\ufeffb", "a\u0000b", "a\x1bb", "a\u2060b", SURROGATE],
)
def test_multi_line_refuses_what_reorders_or_hides(value):
    with pytest.raises(ValidationError):
        check_multi_line(value)


def test_every_string_field_refuses_surrogates():
    for field in (Str(), Email(), SingleLineText(), MultiLineText()):
        with pytest.raises(ValidationError, match="surrogate"):
            field.deserialize("a" + SURROGATE)


def test_email_is_checked_as_an_email():
    with pytest.raises(ValidationError):
        Email().deserialize("not an email")
    assert Email().deserialize("a@example.edu") == "a@example.edu"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {}},
        {},
        {"data": "", "content_type": "application/json"},
        {"data": "name=x", "content_type": "application/x-www-form-urlencoded"},
    ],
)
def test_patch_needs_at_least_one_field(client, kwargs):
    body = assert_json_error(client.patch("/api/things", **kwargs), 422)
    assert "at least one of: flag, name" in str(body["errors"])


def test_patch_with_one_field(client):
    assert client.patch("/api/things", json={"flag": False}).get_json() == {"flag": False}


def test_the_spec_says_what_it_checks(client):
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    name = schemas["Body"]["properties"]["name"]
    assert name["pattern"] == r"\S" and "bidi" in name["description"]
    assert schemas["Changes"].get("minProperties") == 1
