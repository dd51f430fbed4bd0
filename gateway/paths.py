"""Which raw request targets the edge is willing to forward.

The path is judged exactly as the client sent it (gunicorn's RAW_URI), before any decoding, and
again after each of two rounds of percent-decoding: an upstream or a framework in between may
decode once more than we expect, and `%252e%252e` must not become `..` behind our back. A path
that passes is forwarded byte for byte, so what the route table matched is what the service sees.
"""

import re
from urllib.parse import unquote

# Printable ASCII without space: what a well-formed request target consists of.
_TARGET_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")
# Escapes that decode to a path separator, a dot, NUL or a second encoding layer.
_DANGEROUS_ESCAPES = re.compile(r"%(?:2f|5c|2e|00|25)", re.IGNORECASE)
_DANGEROUS_CHARACTERS = re.compile(r"[\\@#\x00-\x1f\x7f]")
_DECODING_ROUNDS = 2


def split_target(raw_target: str) -> tuple[str, str]:
    """(`path`, `?query` or '') of a raw request target."""
    path, mark, query = raw_target.partition("?")
    return path, mark + query


def is_safe_target(raw_target: str) -> bool:
    """May this origin-form request target (path and query, undecoded) be forwarded?"""
    if not raw_target.startswith("/") or not _TARGET_CHARACTERS.match(raw_target):
        return False
    path, _query = split_target(raw_target)
    return is_safe_path(path)


def is_safe_path(path: str) -> bool:
    """No dot segments, empty segments, backslashes, `@`, control characters or encoded
    separators, in the raw path or in any of its decodings."""
    if not path.startswith("/"):
        return False
    for _round in range(_DECODING_ROUNDS + 1):
        if _has_dangerous_shape(path):
            return False
        if "%" not in path:
            return True
        path = unquote(path, encoding="latin-1")
    return not _has_dangerous_shape(path)


def _has_dangerous_shape(path: str) -> bool:
    if "//" in path or _DANGEROUS_CHARACTERS.search(path) or _DANGEROUS_ESCAPES.search(path):
        return True
    # Dot segments anywhere, including a trailing "/." or "/..".
    return "/./" in path + "/" or "/../" in path + "/"
