"""Text a request may carry, checked the same way in every service.

Three kinds of string field, for every request schema of every service:

- `Str`: any string, but valid Unicode: a lone surrogate (`"\\ud800"` is legal JSON) cannot be
  encoded, so it would fail later in the database, the password hasher or the JSON response.
- `SingleLineText`: names, titles, full names. Not blank; no control characters (Cc), no format
  characters (Cf: bidi embeddings/overrides/isolates, zero-width space/joiners, BOM, soft hyphen,
  invisible operators...), no line or paragraph separators (Zl, Zp). One line of visible text
  must read as what it is: `"\\u202egnp.exe"` would show as "exe.png".
- `MultiLineText`: descriptions and Markdown bodies. Tabs and line breaks are fine; other control
  characters are not, nor the format characters that reorder or hide text (`DECEPTIVE_FORMAT`).
  The joiners (ZWJ, ZWNJ), soft hyphen and the direction marks (LRM, RLM, ALM) stay allowed:
  emoji sequences, Persian and Indic scripts and right-to-left text need them, and they cannot
  reverse a run of text.

Each refusal is a marshmallow `ValidationError` naming the first offending code point, so the
API answers 422 (400 for query arguments) with a message the client can act on.
"""

import unicodedata
from typing import Any

from marshmallow import Schema, ValidationError, fields, validates_schema

# Embeddings, overrides (LRE RLE PDF LRO RLO) and isolates (LRI RLI FSI PDI): they reorder text.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What reorders or hides text in a multi-line text: the bidi controls, the zero-width space,
# the word joiner and invisible operators, BOM / zero-width no-break space, interlinear
# annotation marks, and the deprecated format controls.
DECEPTIVE_FORMAT = BIDI_CONTROLS | frozenset(
    "\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\ufff9\ufffa\ufffb"
    "\u206a\u206b\u206c\u206d\u206e\u206f"
)
MULTILINE_CONTROLS = frozenset("\t\n\r")
_SINGLE_LINE_REFUSED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


def has_lone_surrogate(value: str) -> bool:
    """True when `value` cannot be encoded as UTF-8 (it holds an unpaired surrogate)."""
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_unicode(value: str) -> None:
    if has_lone_surrogate(value):
        raise ValidationError("Must be valid Unicode text (it holds a lone surrogate).")


def check_single_line(value: str) -> None:
    """Visible text on one line: see the module's docstring."""
    check_unicode(value)
    if not value.strip():
        raise ValidationError("Must not be blank.")
    if value.isascii():
        bad = next((ch for ch in value if not " " <= ch <= "~"), None)
    else:
        bad = next((ch for ch in value if unicodedata.category(ch) in _SINGLE_LINE_REFUSED), None)
    if bad is not None:
        raise ValidationError(
            "Must not contain control characters or invisible formatting characters "
            f"(bidi controls, zero-width characters, BOM); found {_code_point(bad)}."
        )


def check_multi_line(value: str) -> None:
    """Text with line breaks and tabs, nothing that reorders or hides it."""
    check_unicode(value)
    for ch in value:
        if ch in DECEPTIVE_FORMAT or (
            unicodedata.category(ch) == "Cc" and ch not in MULTILINE_CONTROLS
        ):
            raise ValidationError(
                "Must not contain control characters or characters that reorder or hide "
                f"text (bidi controls, zero-width space, BOM); found {_code_point(ch)}."
            )


def check_no_format_characters(value: str) -> None:
    """For text that is neither shown nor stored as prose (URLs, codes): no Cc, Cf, Zl, Zp."""
    check_unicode(value)
    bad = next((ch for ch in value if unicodedata.category(ch) in _SINGLE_LINE_REFUSED), None)
    if bad is not None:
        raise ValidationError(
            "Must not contain control or invisible formatting characters; "
            f"found {_code_point(bad)}."
        )


class Str(fields.String):
    """A string that is valid Unicode. Every string a request schema reads is one of these."""

    checker = staticmethod(check_unicode)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        self.checker(text)
        return text


def _described(kwargs: dict, rule: str, **schema) -> dict:
    """The field's metadata with `rule` added to its OpenAPI description (and `schema` keys)."""
    metadata = dict(kwargs.pop("metadata", None) or {})
    described = metadata.get("description")
    metadata["description"] = f"{described}. {rule}" if described else rule
    for key, value in schema.items():
        metadata.setdefault(key, value)
    return metadata


class SingleLineText(Str):
    """A name, title or full name: one line of visible text, not blank."""

    checker = staticmethod(check_single_line)

    def __init__(self, **kwargs):
        # What JSON Schema can say of it (`pattern`); the characters are checked on load.
        metadata = _described(
            kwargs,
            "One line of visible text, not blank: no control characters, bidi controls, "
            "zero-width characters or BOM (Unicode categories Cc, Cf, Zl, Zp).",
            pattern=r"\S",
        )
        super().__init__(metadata=metadata, **kwargs)


class MultiLineText(Str):
    """A description or Markdown body: line breaks and tabs allowed, nothing deceptive."""

    checker = staticmethod(check_multi_line)

    def __init__(self, **kwargs):
        metadata = _described(
            kwargs,
            "Line breaks and tabs allowed; no other control characters, no bidi controls, "
            "zero-width space or BOM.",
        )
        super().__init__(metadata=metadata, **kwargs)


class Email(fields.Email, Str):
    """An email address that is valid Unicode (the check runs before the address format's)."""


class PatchSchema(Schema):
    """A PATCH body: any subset of the fields, but at least one (`{}` or no body is a 422)."""

    @validates_schema
    def _not_empty(self, data: dict, **kwargs) -> None:
        if not data:
            raise ValidationError(
                "Send at least one of: " + ", ".join(sorted(self.load_fields)) + ".",
                "_schema",
            )
